// TernAccounts
