import Foundation
import NIOCore
import TernDelivery
import TernInbound
import TernSMTP
import TernSpool

/// The inbound side's door into the spool: store durably, then tell the scheduler.
struct SpoolQueue: InboundQueue {
    let spool: Spool
    let scheduler: DeliveryScheduler

    func makeID() -> String { QueueID.generate().text }

    func store(id: String, envelope: Envelope, origin: MessageOrigin, receivedField: String, body: ByteBuffer) throws {
        guard let queueID = QueueID(id) else { throw Replies.storageFailed }
        do {
            _ = try spool.accept(id: queueID, envelope: envelope, origin: origin,
                                 messageParts: [Array(receivedField.utf8), BufferBytes(buffer: body)])
        } catch {
            throw error.isStorageFull ? Replies.storageFull : Replies.storageFailed
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
