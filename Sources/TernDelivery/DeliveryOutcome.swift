import TernSpool

/// How one delivery to one destination went: the one question the queue
/// asks a transport (did it work, and if not, is it permanent?).
public enum DeliveryOutcome: Hashable, Sendable, CustomStringConvertible {
    /// Delivered; the detail says where (a Maildir file, a remote reply).
    case delivered(detail: String)
    /// Try again later (4yz). Counts towards the queue lifetime.
    case temporaryFailure(SpoolReply)
    /// Will never work (5yz): the recipient fails and a bounce is owed.
    case permanentFailure(SpoolReply)
    /// Nothing was tried and nothing counts: the recipient stays as it is
    /// and is looked at again later (remote delivery not configured yet).
    case notAttempted(reason: String)

    /// The outcome of a failed local delivery.
    public init(_ error: DeliveryError) {
        self = error.isPermanent ? .permanentFailure(error.reply) : .temporaryFailure(error.reply)
    }

    /// One word for logs: sent, deferred, bounced, skipped.
    public var status: String {
        switch self {
        case .delivered: return "sent"
        case .temporaryFailure: return "deferred"
        case .permanentFailure: return "bounced"
        case .notAttempted: return "skipped"
        }
    }

    public var description: String {
        switch self {
        case .delivered(let detail): return "sent (\(detail))"
        case .temporaryFailure(let reply): return "deferred (\(reply))"
        case .permanentFailure(let reply): return "bounced (\(reply))"
        case .notAttempted(let reason): return "skipped (\(reason))"
        }
    }
}
