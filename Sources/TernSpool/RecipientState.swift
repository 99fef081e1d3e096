import Foundation
import TernSMTP

/// Whether a failure notice (RFC 3464 DSN) is owed to the sender for a
/// failed recipient. The bounce stage (a later part of TernDelivery) turns
/// `owed` into `sent`; until then the entry stays in the spool.
public enum BounceStatus: Hashable, Sendable {
    /// A failure DSN must be sent.
    case owed
    /// The DSN was queued at this time.
    case sent(at: Date)
    /// None is owed: the reverse-path is null (RFC 5321 §4.5.5) or the
    /// recipient asked for no failure notice (RFC 3461 §4.1 NOTIFY).
    case notOwed

    /// What a failure of `recipient` owes, given the envelope's sender.
    public static func forFailure(of recipient: EnvelopeRecipient, sender: ReversePath) -> BounceStatus {
        if sender == .null { return .notOwed }
        if let notify = recipient.notify, !notify.failure { return .notOwed }
        return .owed
    }
}

/// Where one envelope recipient stands.
///
/// Stored flat in the record, with `status` naming the case:
///
///     { "status": "deferred", "attempts": 2, "nextAttempt": "…",
///       "lastError": { "code": 452, "enhancedStatus": "4.2.2", "text": "mailbox full" } }
public enum RecipientState: Hashable, Sendable, Codable {
    /// Not tried yet, or tried without an attempt counting (remote delivery
    /// not configured).
    case pending
    /// Delivered; `detail` says where (a Maildir file, a remote reply).
    case delivered(at: Date, detail: String)
    /// Failed temporarily `attempts` times; try again at `nextAttempt`.
    case deferred(attempts: Int, lastError: SpoolReply, nextAttempt: Date)
    /// Failed permanently, or the queue lifetime ran out.
    case failed(reply: SpoolReply, at: Date, bounce: BounceStatus)

    /// Nothing more will be tried, and no bounce is waiting to be sent.
    /// An entry whose recipients are all final is removed from the spool.
    public var isFinal: Bool {
        switch self {
        case .pending, .deferred: return false
        case .delivered: return true
        case .failed(_, _, let bounce): return bounce != .owed
        }
    }

    /// Delivery is still to be tried.
    public var needsDelivery: Bool {
        switch self {
        case .pending, .deferred: return true
        case .delivered, .failed: return false
        }
    }

    /// Failed attempts so far.
    public var attempts: Int {
        if case .deferred(let n, _, _) = self { return n }
        return 0
    }

    private enum CodingKeys: String, CodingKey {
        case status, at, detail, attempts, lastError, nextAttempt, reply, bounce, bounceSentAt
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let status = try c.decode(String.self, forKey: .status)
        switch status {
        case "pending":
            self = .pending
        case "delivered":
            self = .delivered(at: try c.decode(Date.self, forKey: .at),
                              detail: try c.decode(String.self, forKey: .detail))
        case "deferred":
            let attempts = try c.decode(Int.self, forKey: .attempts)
            guard attempts >= 1 else {
                throw DecodingError.dataCorruptedError(forKey: .attempts, in: c, debugDescription: "attempts < 1")
            }
            self = .deferred(attempts: attempts,
                             lastError: try c.decode(SpoolReply.self, forKey: .lastError),
                             nextAttempt: try c.decode(Date.self, forKey: .nextAttempt))
        case "failed":
            let bounce: BounceStatus
            switch try c.decode(String.self, forKey: .bounce) {
            case "owed": bounce = .owed
            case "sent": bounce = .sent(at: try c.decode(Date.self, forKey: .bounceSentAt))
            case "not-owed": bounce = .notOwed
            case let other:
                throw DecodingError.dataCorruptedError(forKey: .bounce, in: c, debugDescription: "unknown bounce \(other)")
            }
            self = .failed(reply: try c.decode(SpoolReply.self, forKey: .reply),
                           at: try c.decode(Date.self, forKey: .at), bounce: bounce)
        default:
            throw DecodingError.dataCorruptedError(forKey: .status, in: c, debugDescription: "unknown status \(status)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .pending:
            try c.encode("pending", forKey: .status)
        case .delivered(let at, let detail):
            try c.encode("delivered", forKey: .status)
            try c.encode(at, forKey: .at)
            try c.encode(detail, forKey: .detail)
        case .deferred(let attempts, let lastError, let nextAttempt):
            try c.encode("deferred", forKey: .status)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(lastError, forKey: .lastError)
            try c.encode(nextAttempt, forKey: .nextAttempt)
        case .failed(let reply, let at, let bounce):
            try c.encode("failed", forKey: .status)
            try c.encode(reply, forKey: .reply)
            try c.encode(at, forKey: .at)
            switch bounce {
            case .owed: try c.encode("owed", forKey: .bounce)
            case .sent(let sentAt):
                try c.encode("sent", forKey: .bounce)
                try c.encode(sentAt, forKey: .bounceSentAt)
            case .notOwed: try c.encode("not-owed", forKey: .bounce)
            }
        }
    }
}

/// One envelope recipient in the record, in the envelope's order.
public struct RecipientRecord: Hashable, Sendable, Codable {
    /// The same mailbox as the envelope recipient at this index (repeated
    /// so that the record reads well).
    public var mailbox: Mailbox
    public var state: RecipientState
    /// Destinations this recipient already reached (opaque keys chosen by
    /// the delivery layer, e.g. `local:bob@example.com`). When a recipient
    /// expands to several mailboxes and only some succeed, a retry skips
    /// these instead of delivering twice.
    public var completedDestinations: [String]

    public init(mailbox: Mailbox, state: RecipientState = .pending, completedDestinations: [String] = []) {
        self.mailbox = mailbox
        self.state = state
        self.completedDestinations = completedDestinations
    }

    private enum CodingKeys: String, CodingKey {
        case mailbox, state, completedDestinations
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mailbox = try c.decode(Mailbox.self, forKey: .mailbox)
        state = try c.decode(RecipientState.self, forKey: .state)
        completedDestinations = try c.decodeIfPresent([String].self, forKey: .completedDestinations) ?? []
    }

    /// Leaves out `completedDestinations` while it is empty (almost always).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mailbox, forKey: .mailbox)
        try c.encode(state, forKey: .state)
        if !completedDestinations.isEmpty { try c.encode(completedDestinations, forKey: .completedDestinations) }
    }
}
