import Foundation
import TernSMTP

/// One committed message: the contents of its record file `env/<id>`.
///
/// The record is JSON, pretty-printed with sorted keys so that an
/// administrator can read it with `cat` and diff two versions of it:
///
///     {
///       "arrivedAt" : "2025-11-23T13:24:00.123Z",
///       "envelope" : { "body" : "8BITMIME", "recipients" : [ … ], "sender" : "<a@example.org>", … },
///       "formatVersion" : 1,
///       "held" : false,
///       "history" : [ … ],
///       "id" : "01jd2k7q8z00a1b2c3d4",
///       "messageSize" : 1234,
///       "origin" : { "clientAddress" : "192.0.2.1", "heloName" : "…", … },
///       "recipients" : [ { "mailbox" : "alice@example.com", "state" : { "status" : "pending" } } ]
///     }
///
/// Dates are RFC 3339 UTC with milliseconds.
public struct SpoolEntry: Hashable, Sendable, Codable {
    /// The record format this code writes; records with another version are
    /// set aside by `Spool.recover()` rather than misread.
    public static let currentFormatVersion = 1
    /// The attempt history keeps this many most recent lines.
    public static let historyLimit = 20

    public var formatVersion: Int
    public let id: QueueID
    public var envelope: Envelope
    public var origin: MessageOrigin
    /// When the spool committed the message; the queue lifetime counts from here.
    public var arrivedAt: Date
    /// Size of `msg/<id>` in bytes.
    public var messageSize: Int
    /// One per envelope recipient, in the same order.
    public var recipients: [RecipientRecord]
    /// Set by administrators: a held message is not delivered until released.
    public var held: Bool
    /// The most recent attempts, oldest first, at most `historyLimit`.
    public var history: [DeliveryAttempt]

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

    /// Why this record cannot be trusted, or nil when it is consistent.
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

/// The JSON coding of records, in one place.
enum RecordCoding {
    static func encode(_ entry: SpoolEntry) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RecordDate.format(date))
        }
        var bytes = Array(try encoder.encode(entry))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> SpoolEntry {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = RecordDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "bad date \(text)")
            }
            return date
        }
        return try decoder.decode(SpoolEntry.self, from: Data(bytes))
    }
}
