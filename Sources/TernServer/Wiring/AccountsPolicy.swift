import TernAccounts
import TernDelivery
import TernInbound
import TernSMTP

/// The inbound policy of DESIGN "Roles and policy", answered from the
/// current accounts snapshot.
struct AccountsPolicy: InboundPolicy {
    let store: AccountsStore

    /// Unauthenticated senders are not judged here (SPF comes with the
    /// authentication checks); an authenticated user may use only addresses
    /// that are theirs, and `<>`.
    func checkSender(_ path: ReversePath, facts: SessionFacts) -> SMTPReply? {
        guard let user = facts.authenticatedUser, case .mailbox(let address) = path else { return nil }
        return store.accounts.mayUseSender(user: user, address: address) ? nil : Replies.senderNotOwned
    }

    /// Local domains: the recipient must exist (550 5.1.1 at RCPT time).
    /// Elsewhere: only authenticated users may relay (554 5.7.1).
    func checkRecipient(_ mailbox: Mailbox, facts: SessionFacts) -> SMTPReply? {
        let verdict = judge(mailbox, facts: facts, accounts: store.accounts)
        guard verdict == Replies.unknownUser else { return verdict }
        // A user added a moment ago (`tern user add`, then a first message)
        // should not wait for the watcher: look at the files once more.
        guard case .reloaded = store.reloadIfChanged() else { return verdict }
        return judge(mailbox, facts: facts, accounts: store.accounts)
    }

    private func judge(_ mailbox: Mailbox, facts: SessionFacts, accounts: Accounts) -> SMTPReply? {
        if mailbox.domain.isAddressLiteral {
            return facts.authenticatedUser != nil ? nil : Replies.domainLiteralRefused
        }
        if accounts.isLocal(mailbox.domain) {
            switch accounts.expand(mailbox) {
            case .success(let destinations) where !destinations.isEmpty: return nil
            case .failure(let failure) where !failure.isPermanent:
                return Replies.temporaryFailure("recipient cannot be resolved now: \(failure)")
            default: return Replies.unknownUser
            }
        }
        return facts.authenticatedUser != nil ? nil : Replies.relayDenied
    }

    func authenticate(username: String, password: String) -> String? {
        if let user = store.accounts.authenticate(username: username, password: password) { return user }
        // As for recipients: a user or password changed a moment ago counts now.
        guard case .reloaded = store.reloadIfChanged() else { return nil }
        return store.accounts.authenticate(username: username, password: password)
    }
}

/// Routes each spooled recipient through alias expansion at delivery time,
/// so aliases changed after acceptance are honoured.
struct AccountsRouter: RecipientRouter {
    let store: AccountsStore

    func route(_ recipient: Mailbox) -> RouteResult {
        let accounts = store.accounts
        guard accounts.isLocal(recipient.domain) else { return .destinations([.remote(recipient)]) }
        switch accounts.expand(recipient) {
        case .success(let destinations):
            guard !destinations.isEmpty else { return .unknownRecipient }
            return .destinations(destinations.map { destination in
                switch destination {
                case .local(let user, let deliveredTo): return .local(user: user, deliveredTo: deliveredTo)
                case .remote(let mailbox): return .remote(mailbox)
                }
            })
        case .failure(.unknownRecipient):
            return .unknownRecipient
        case .failure(let failure):
            return failure.isPermanent ? .permanentFailure("\(failure)") : .temporaryFailure("\(failure)")
        }
    }
}
