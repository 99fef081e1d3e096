import TernSMTP

/// Where one copy of a message for a recipient goes, after alias expansion.
public enum Destination: Hashable, Sendable, CustomStringConvertible {
    /// A mailbox on this host. `user` is the account's canonical name (its
    /// address as written in the users file, `UserEntry.name`); `deliveredTo`
    /// is the recipient exactly as the client gave it in RCPT TO (case and
    /// sub-address kept), for the Delivered-To header.
    case local(user: String, deliveredTo: Mailbox)
    /// An address on another host (an alias forwards there).
    case remote(Mailbox)

    public var description: String {
        switch self {
        case .local(let user, let deliveredTo): return "local \(user) (for \(deliveredTo.text))"
        case .remote(let mailbox): return "remote \(mailbox.text)"
        }
    }
}

/// Why a recipient has no destination.
public enum ExpansionFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// Not a user, not an alias, no catch-all: RCPT gets 550 5.1.1
    /// (RFC 5321 §3.3, RFC 3463 "Bad destination mailbox address").
    case unknownRecipient
    /// The aliases only lead back into themselves and reach no user or
    /// remote address. `path` is the cycle, e.g. `["a@x", "b@x", "a@x"]`.
    case aliasLoop([String])
    /// Expansion needs more than `Accounts.maximumAliasDepth` levels of aliases.
    case tooDeep

    /// A loop or a too-deep chain is a configuration mistake: the message
    /// should wait (4xx) until the administrator fixes the aliases, not bounce.
    public var isPermanent: Bool { self == .unknownRecipient }

    /// RFC 3463 enhanced status code: 5.1.1 bad destination mailbox; 4.4.6
    /// routing loop detected; 4.3.5 system incorrectly configured.
    public var enhancedStatusCode: String {
        switch self {
        case .unknownRecipient: return "5.1.1"
        case .aliasLoop: return "4.4.6"
        case .tooDeep: return "4.3.5"
        }
    }

    public var description: String {
        switch self {
        case .unknownRecipient: return "unknown recipient"
        case .aliasLoop(let path): return "alias loop: \(path.joined(separator: " → "))"
        case .tooDeep: return "alias expansion deeper than \(Accounts.maximumAliasDepth) levels"
        }
    }
}

/// The destinations of a recipient (never empty on success), or why it has none.
public typealias Expansion = Result<[Destination], ExpansionFailure>
