import Foundation
import TernSMTP

/// One line of a record's attempt history: what was tried for which
/// recipient and how it went. The history is for administrators reading the
/// record (and later `tern queue show`); the recipient states, not the
/// history, decide what happens next.
public struct DeliveryAttempt: Hashable, Sendable, Codable {
    public enum Result: String, Hashable, Sendable, Codable {
        case delivered
        case deferred
        case failed
        /// No attempt was possible yet (remote delivery not configured); it
        /// does not count towards the queue lifetime.
        case notAttempted = "not-attempted"
    }

    public var at: Date
    public var recipient: Mailbox
    /// Where delivery was tried, e.g. `local:alice@example.com` or
    /// `remote:bob@example.org`; nil when routing itself failed.
    public var destination: String?
    public var result: Result
    /// The reply for failures and deferrals.
    public var reply: SpoolReply?
    /// Free text: where a message was delivered, or why nothing was tried.
    public var detail: String?

    public init(at: Date, recipient: Mailbox, destination: String?, result: Result,
                reply: SpoolReply? = nil, detail: String? = nil) {
        self.at = at
        self.recipient = recipient
        self.destination = destination
        self.result = result
        self.reply = reply
        self.detail = detail
    }
}
