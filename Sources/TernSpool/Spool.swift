import Foundation
import Synchronization
import TernSMTP
#if canImport(Glibc)
import Glibc
#endif

/// The durable queue: one message file and one record file per accepted
/// message, in a directory that only Tern writes.
///
/// Every method blocks on file I/O; call them from a thread pool, never from
/// an event loop. The type holds no mutable state, so any number of threads
/// may accept at once. Updates to one entry must come from one caller at a
/// time (the scheduler serialises work per queue ID).
///
/// ## Commit protocol (`accept`)
///
/// 1. write the message to `tmp/<id>.msg`, fsync it;
/// 2. write the record to `tmp/<id>.env`, fsync it;
/// 3. rename the message to `msg/<id>`, fsync `msg/`;
/// 4. rename the record to `env/<id>`, fsync `env/`;
/// 5. return the ID: the caller may now reply 250.
///
/// The record in `env/` is the commit point. Because `msg/` is fsynced
/// before the record is renamed, a record is never durable without its
/// message. A crash before step 4 completes leaves files in `tmp/` and
/// perhaps a message in `msg/` without a record; `recover()` removes both,
/// and the client, which never saw 250, sends the message again. After
/// step 4 the entry is complete. Errors clean up on the way out, so a
/// failed `accept` leaves no committed entry either.
///
/// ## Removal (`complete`)
///
/// The record goes first and `env/` is fsynced, then the message: a crash in
/// between leaves an orphan message, which `recover()` deletes, never a
/// record without a message.
///
/// ## One process per spool
///
/// Accepts and updates in progress in this process are tracked, so that
/// `recover()` may run while listeners already accept (as when the
/// scheduler and the listeners start together in one service group): it
/// leaves their files alone. Another process writing the same spool is not
/// supported.
public final class Spool: Sendable {
    /// The spool directory as given.
    public let directory: String
    let tmpDirectory: String
    let messageDirectory: String
    let recordDirectory: String
    let corruptDirectory: String
    /// Queue IDs whose files this process is writing right now (a count,
    /// as an update may in principle overlap an accept of the same ID).
    let busy = Mutex<[QueueID: Int]>([:])

    /// Opens the spool at `directory`, creating it and `tmp/`, `msg/`,
    /// `env/` and `corrupt/` (mode 0700) where missing.
    public init(directory: String) throws(SpoolError) {
        self.directory = directory
        self.tmpDirectory = directory + "/tmp"
        self.messageDirectory = directory + "/msg"
        self.recordDirectory = directory + "/env"
        self.corruptDirectory = directory + "/corrupt"
        do throws(SystemCallError) {
            try FileSystem.makeDirectories(directory)
            for sub in [tmpDirectory, messageDirectory, recordDirectory, corruptDirectory] {
                if try FileSystem.makeDirectory(sub) { try FileSystem.syncDirectory(directory) }
            }
        } catch {
            throw SpoolError(error)
        }
    }

    // MARK: Accepting

    /// Stores a message and its envelope durably and returns its queue ID.
    ///
    /// The bytes are stored exactly as given: CRLF line endings as received
    /// (RFC 5321 §2.3.8), with the caller's Received field already at the
    /// top (§4.4). Returns only when the entry is committed (see the type's
    /// documentation); throws with nothing committed otherwise.
    public func accept(envelope: Envelope, origin: MessageOrigin, message: some ContiguousBytes,
                       now: Date = Date()) throws(SpoolError) -> QueueID {
        let result = message.withUnsafeBytes { buffer in
            Result { () throws(SpoolError) -> QueueID in
                try commit(id: QueueID.generate(now: now), envelope: envelope, origin: origin, parts: [buffer], now: now)
            }
        }
        return try result.get()
    }

    /// As `accept(envelope:origin:message:)`, with the message given in
    /// pieces (say, a Received field and the received body) that are
    /// written one after the other without being copied together first.
    public func accept(envelope: Envelope, origin: MessageOrigin, messageParts: [any ContiguousBytes],
                       now: Date = Date()) throws(SpoolError) -> QueueID {
        try accept(id: QueueID.generate(now: now), envelope: envelope, origin: origin, messageParts: messageParts, now: now)
    }

    /// As above, under an ID the caller made with `QueueID.generate()`
    /// beforehand — the SMTP server names it in the Received field it
    /// writes before the message is stored.
    public func accept(id: QueueID, envelope: Envelope, origin: MessageOrigin, messageParts: [any ContiguousBytes],
                       now: Date = Date()) throws(SpoolError) -> QueueID {
        let result = Spool.withBuffers(messageParts[...], []) { buffers in
            Result { () throws(SpoolError) -> QueueID in
                try commit(id: id, envelope: envelope, origin: origin, parts: buffers, now: now)
            }
        }
        return try result.get()
    }

    private static func withBuffers<R>(
        _ parts: ArraySlice<any ContiguousBytes>, _ done: [UnsafeRawBufferPointer],
        _ body: ([UnsafeRawBufferPointer]) -> R
    ) -> R {
        guard let first = parts.first else { return body(done) }
        return first.withUnsafeBytes { buffer in
            withBuffers(parts.dropFirst(), done + [buffer], body)
        }
    }

    private func commit(id: QueueID, envelope: Envelope, origin: MessageOrigin, parts: [UnsafeRawBufferPointer],
                        now: Date) throws(SpoolError) -> QueueID {
        guard !envelope.recipients.isEmpty else { throw .invalidEnvelope("no recipients") }
        markBusy(id)
        defer { markIdle(id) }
        let size = parts.reduce(0) { $0 + $1.count }
        let entry = SpoolEntry(id: id, envelope: envelope, origin: origin, arrivedAt: now, messageSize: size)
        let record: [UInt8]
        do {
            record = try RecordCoding.encode(entry)
        } catch {
            throw .invalidEnvelope("cannot encode the record: \(error)")
        }

        let tmpMessage = "\(tmpDirectory)/\(id).msg"
        let tmpRecord = "\(tmpDirectory)/\(id).env"
        let message = messagePath(id)
        let recordFile = recordPath(id)
        // Each step undoes what the earlier ones left behind when it fails.
        var cleanup: [String] = []
        do throws(SystemCallError) {
            try FileSystem.writeFile(tmpMessage, parts: parts)
            cleanup.append(tmpMessage)
            try record.withUnsafeBytes { b in
                Result { () throws(SystemCallError) in try FileSystem.writeFile(tmpRecord, parts: [b]) }
            }.get()
            cleanup.append(tmpRecord)
            try FileSystem.rename(tmpMessage, to: message)
            cleanup[0] = message
            try FileSystem.syncDirectory(messageDirectory)
            try FileSystem.rename(tmpRecord, to: recordFile)
            cleanup[1] = recordFile
            try FileSystem.syncDirectory(recordDirectory)
        } catch {
            // Record first, as in `complete`; best effort, the error that
            // stopped the commit is the one to report.
            for path in cleanup.reversed() { try? FileSystem.remove(path) }
            throw SpoolError(error)
        }
        return id
    }

    // MARK: Reading and updating

    /// The path of the message file `msg/<id>`.
    public func messagePath(_ id: QueueID) -> String { "\(messageDirectory)/\(id)" }

    /// The path of the record file `env/<id>`.
    public func recordPath(_ id: QueueID) -> String { "\(recordDirectory)/\(id)" }

    /// Opens the message for reading.
    public func openMessage(_ id: QueueID) throws(SpoolError) -> SpoolMessageReader {
        do {
            return try SpoolMessageReader(path: messagePath(id))
        } catch {
            if error.errno == ENOENT { throw .notFound(id) }
            throw SpoolError(error)
        }
    }

    /// Reads and decodes the record of a committed entry.
    public func load(_ id: QueueID) throws(SpoolError) -> SpoolEntry {
        let path = recordPath(id)
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            if error.errno == ENOENT { throw .notFound(id) }
            throw SpoolError(error)
        }
        let entry: SpoolEntry
        do {
            entry = try RecordCoding.decode(bytes)
        } catch {
            throw .corruptRecord(path: path, reason: "\(error)")
        }
        guard entry.id == id else { throw .corruptRecord(path: path, reason: "record names \(entry.id)") }
        if let problem = entry.inconsistency() { throw .corruptRecord(path: path, reason: problem) }
        return entry
    }

    /// Replaces the record of a committed entry atomically: the new record
    /// is written to `tmp/`, fsynced, renamed over `env/<id>`, and `env/` is
    /// fsynced. A crash leaves the old record or the new one.
    public func update(_ entry: SpoolEntry) throws(SpoolError) {
        let path = recordPath(entry.id)
        let record: [UInt8]
        do {
            record = try RecordCoding.encode(entry)
        } catch {
            throw .corruptRecord(path: path, reason: "cannot encode: \(error)")
        }
        let tmp = "\(tmpDirectory)/\(entry.id).upd"
        // Never resurrect an entry that was completed.
        let exists: Bool
        do {
            if case .regular = try FileSystem.kind(of: path) { exists = true } else { exists = false }
        } catch {
            throw SpoolError(error)
        }
        guard exists else { throw .notFound(entry.id) }
        markBusy(entry.id)
        defer { markIdle(entry.id) }
        do throws(SystemCallError) {
            try record.withUnsafeBytes { b in
                Result { () throws(SystemCallError) in try FileSystem.writeFile(tmp, parts: [b], exclusive: false) }
            }.get()
            do throws(SystemCallError) {
                try FileSystem.rename(tmp, to: path)
            } catch {
                try? FileSystem.remove(tmp)
                throw error
            }
            try FileSystem.syncDirectory(recordDirectory)
        } catch {
            throw SpoolError(error)
        }
    }

    func markBusy(_ id: QueueID) {
        busy.withLock { $0[id, default: 0] += 1 }
    }

    func markIdle(_ id: QueueID) {
        busy.withLock { busy in
            if let n = busy[id], n > 1 { busy[id] = n - 1 } else { busy[id] = nil }
        }
    }

    func isBusy(_ name: some StringProtocol) -> Bool {
        guard let id = QueueID(String(name)) else { return false }
        return busy.withLock { $0[id] != nil }
    }

    /// Removes a finished entry: the record, then (once that is durable)
    /// the message. Completing an entry that is already gone does nothing.
    public func complete(_ id: QueueID) throws(SpoolError) {
        do throws(SystemCallError) {
            try FileSystem.remove(recordPath(id))
            try FileSystem.syncDirectory(recordDirectory)
            // No fsync of msg/: if this unlink is lost in a crash, the message
            // is an orphan without a record and recover() removes it.
            try FileSystem.remove(messagePath(id))
        } catch {
            throw SpoolError(error)
        }
    }
}
