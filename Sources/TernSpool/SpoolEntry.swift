import Foundation
import TernSMTP

/// One committed message: the header of its queue file `env/<id>`
/// (written once, at accept) and, over it, its state file `state/<id>` when
/// there is one. See `SpoolFiles` for both formats.
///
/// `id`, `envelope`, `origin`, `arrivedAt` and `messageSize` are fixed at
/// accept; `Spool.update` stores only `recipients`, `held`, `history` and
/// `delayNoticeSentAt`.
/// An entry without a state file has every recipient pending, is not held
/// and has no history.
public struct SpoolEntry: Hashable, Sendable, Codable {
    /// The format this code writes (the queue file's first line, the state
    /// file's `formatVersion`); files with another version are set aside by
    /// `Spool.recover()` rather than misread.
    public static let currentFormatVersion = 1
    /// The attempt history keeps this many most recent lines.
    public static let historyLimit = 20

    public var formatVersion: Int
    public let id: QueueID
    public let envelope: Envelope
    public let origin: MessageOrigin
    /// When the spool committed the message; the queue lifetime counts from here.
    public let arrivedAt: Date
    /// Size of the message in bytes (the queue file without its header).
    public let messageSize: Int
    /// One per envelope recipient, in the same order.
    public var recipients: [RecipientRecord]
    /// Set by administrators: a held message is not delivered until released.
    public var held: Bool
    /// The most recent attempts, oldest first, at most `historyLimit`.
    public var history: [DeliveryAttempt]
    /// When a delay notice (RFC 3464 DSN, Action: delayed) was queued for
    /// this message; at most one is sent per message. nil: none yet.
    public var delayNoticeSentAt: Date?

    public init(id: QueueID, envelope: Envelope, origin: MessageOrigin, arrivedAt: Date, messageSize: Int) {
        self.formatVersion = SpoolEntry.currentFormatVersion
        self.id = id
        self.envelope = envelope
        self.origin = origin
        self.arrivedAt = arrivedAt
        self.messageSize = messageSize
        self.recipients = envelope.recipients.map { RecipientRecord(mailbox: $0.mailbox) }
        self.held = false
        self.history = []
        self.delayNoticeSentAt = nil
    }

    /// Every recipient is final (delivered, or failed with no bounce waiting).
    public var isComplete: Bool { recipients.allSatisfy { $0.state.isFinal } }

    /// Appends to the history, dropping the oldest lines past `historyLimit`.
    public mutating func record(_ attempt: DeliveryAttempt) {
        history.append(attempt)
        if history.count > SpoolEntry.historyLimit {
            history.removeFirst(history.count - SpoolEntry.historyLimit)
        }
    }

    /// An entry as its header alone describes it: every recipient pending.
    init(header: SpoolFiles.Header) {
        self.init(id: header.id, envelope: header.envelope, origin: header.origin, arrivedAt: header.arrivedAt,
                  messageSize: header.messageSize)
    }

    /// The header with `state` laid over it.
    mutating func apply(_ state: SpoolFiles.State) {
        formatVersion = state.formatVersion
        held = state.held
        history = state.history
        recipients = state.recipients
        delayNoticeSentAt = state.delayNoticeSentAt
    }

    /// Why this entry cannot be trusted, or nil when it is consistent.
    func inconsistency() -> String? {
        if formatVersion != SpoolEntry.currentFormatVersion {
            return "unsupported format version \(formatVersion)"
        }
        if recipients.count != envelope.recipients.count {
            return "\(recipients.count) recipient states for \(envelope.recipients.count) recipients"
        }
        for (record, recipient) in zip(recipients, envelope.recipients) where record.mailbox != recipient.mailbox {
            return "recipient state for \(record.mailbox) where the envelope has \(recipient.mailbox)"
        }
        if recipients.isEmpty { return "no recipients" }
        if messageSize < 0 { return "negative message size" }
        return nil
    }
}
