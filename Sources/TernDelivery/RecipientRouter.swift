import TernSMTP

/// Where one routed recipient goes.
public enum RouteDestination: Hashable, Sendable {
    /// A local user's Maildir. `user` is the canonical users-file address
    /// (`alice@example.com`) that the Maildir template expands; `deliveredTo`
    /// is the address written into the `Delivered-To:` field.
    case local(user: String, deliveredTo: Mailbox)
    /// A mailbox elsewhere, for the remote transport.
    case remote(Mailbox)

    /// The key recorded in `RecipientRecord.completedDestinations`.
    public var key: String {
        switch self {
        case .local(let user, _): return "local:\(user.lowercased())"
        case .remote(let mailbox): return "remote:\(mailbox.text)"
        }
    }
}

/// The router's answer for one recipient.
public enum RouteResult: Sendable {
    /// Deliver to each of these (an alias may name several).
    case destinations([RouteDestination])
    /// No such user or alias any more: 550 5.1.1.
    case unknownRecipient
    /// Routing cannot be decided now (a users file that cannot be read): try later.
    case temporaryFailure(String)
    /// Routing can never succeed (an alias loop): fail the recipient.
    case permanentFailure(String)
}

/// Answers, for each recipient, where it goes: alias expansion, local users,
/// remote domains. The accounts module provides the real one; the
/// scheduler only asks. Called on a thread pool, so it may block briefly
/// (re-reading a users file).
public protocol RecipientRouter: Sendable {
    func route(_ recipient: Mailbox) -> RouteResult
}
