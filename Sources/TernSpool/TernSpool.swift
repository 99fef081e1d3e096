// TernSpool
