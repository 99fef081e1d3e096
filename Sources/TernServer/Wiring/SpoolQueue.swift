import Foundation
import NIOCore
import TernDelivery
import TernInbound
import TernSMTP
import TernSpool
import TernMailAuth

/// The inbound side's door into the spool: store durably, then tell the scheduler.
struct SpoolQueue: InboundQueue {
    let spool: Spool
    let scheduler: DeliveryScheduler
    /// `tern serve --print`: told of every message stored.
    var announce: (@Sendable (AcceptedMessage) -> Void)?

    func makeID() -> String { QueueID.generate().text }

    func store(id: String, envelope: Envelope, origin: MessageOrigin, receivedField: String, body: ByteBuffer) throws {
        guard let queueID = QueueID(id) else { throw Replies.storageFailed }
        do {
            _ = try spool.accept(id: queueID, envelope: envelope, origin: origin,
                                 messageParts: [Array(receivedField.utf8), BufferBytes(buffer: body)])
        } catch {
            throw error.isStorageFull ? Replies.storageFull : Replies.storageFailed
        }
        if let announce {
            announce(AcceptedMessage(id: id, envelope: envelope, origin: origin, size: body.readableBytes,
                                     subject: AcceptedMessage.subject(of: Array(body.readableBytesView.prefix(65536)))))
        }
    }

    func committed(id: String) {
        if let queueID = QueueID(id) { scheduler.enqueue(queueID) }
    }
}

/// A ByteBuffer's readable bytes without a copy.
struct BufferBytes: ContiguousBytes {
    let buffer: ByteBuffer
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes(body)
    }
}

/// What `tern serve --print` shows of an accepted message.
public struct AcceptedMessage: Sendable, CustomStringConvertible {
    public var id: String
    public var envelope: Envelope
    public var origin: MessageOrigin
    public var size: Int
    public var subject: String?

    /// `19:31:02 01m8… <a@b> → <c@d>, <e@f> 1234 bytes via mx from 192.0.2.1 "Subject"`
    public var description: String {
        let time = origin.receivedAt.formatted(Date.ISO8601FormatStyle().time(includingFractionalSeconds: false))
        let to = envelope.recipients.map { "<\($0.mailbox.text)>" }.joined(separator: ", ")
        var line = "\(time) \(id) \(envelope.sender) → \(to) \(size) bytes via \(origin.role)"
        if !origin.clientAddress.isEmpty { line += " from \(origin.clientAddress)" }
        if let user = origin.authenticatedUser { line += " by \(user)" }
        if let subject { line += " \"\(subject)\"" }
        return line
    }

    /// The unfolded Subject field of a header section, cut to 80 characters.
    static func subject(of bytes: [UInt8]) -> String? {
        guard let field = HeaderFields.parse(bytes).first(where: { $0.hasName("Subject") }) else { return nil }
        let value = String(decoding: HeaderFields.unfoldedValue(of: field, in: bytes), as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
        return value.count > 80 ? String(value.prefix(79)) + "…" : value
    }
}
