import Foundation
import Synchronization
import TernSMTP
#if canImport(Glibc)
import Glibc
#endif

/// The durable queue: one file per accepted message, plus a small state
/// file for the few entries that an attempt left unfinished, in a directory
/// that only Tern writes.
///
/// Every method blocks on file I/O; call them from a thread pool, never from
/// an event loop. Any number of threads may accept at once. Updates to one
/// entry must come from one caller at a time (the scheduler serialises work
/// per queue ID).
///
/// ## On disk
///
///     tmp/<id>        a new queue file being written
///     tmp/<id>.state  a state file being written
///     env/<id>        the queue file: a first line `tern-spool 1 <header length>`,
///                     the JSON header (id, envelope, origin, arrival, size), then the
///                     message byte for byte; written once, never changed while here
///     state/<id>      the mutable part (recipient states, history, held), JSON;
///                     only while an attempt has left the entry unfinished
///     free/<name>     queue files of completed entries, kept to be written again
///     corrupt/        files that recovery could not trust
///
/// `SpoolFiles` shows both formats. Everything is plain text an
/// administrator can read with `cat` (the message is as the client sent it).
///
/// ## Commit protocol (`accept`)
///
/// 1. write the whole queue file — over a file from `free/` when one is
///    ready (`FreeQueueFiles`), else as a new file `tmp/<id>` — and fsync it;
/// 2. rename it to `env/<id>`;
/// 3. fsync `env/` (shared with concurrent accepts, see `DirectorySync`);
/// 4. return the ID: the caller may now reply 250.
///
/// The rename is the commit point. A crash before it leaves a file in
/// `tmp/`, which `recover()` removes, or in `free/`, which is free anyway;
/// the client, which never saw 250, sends the message again. After step 3
/// the entry is durable. A failed `accept` removes what it made, so it
/// leaves no committed entry either.
///
/// ## Attempts (`update`)
///
/// An attempt that leaves the entry unfinished (a recipient deferred, a
/// bounce owed, the entry held) writes the state file: `tmp/<id>.state`,
/// fsync, rename over `state/<id>`, fsync `state/` (shared). A crash leaves
/// the old state or the new one. An attempt that finishes the entry writes
/// nothing: it calls `complete`.
///
/// ## Removal (`complete`)
///
/// The state file (if any) is unlinked, then the queue file is renamed to
/// `free/` (or unlinked), and nothing is fsynced. A crash can only undo
/// these: an entry whose queue file comes back is delivered again (delivery
/// is at least once, and every delivery it made was durable before
/// `complete` was called); a state file that comes back without its queue
/// file is an orphan that `recover()` removes; a queue file that comes back
/// without its state file starts again from its header, every recipient
/// pending. A file in `free/` is written again only after an `env/` fsync
/// that started after its rename has succeeded, so a queue file that comes
/// back always has its own complete content.
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
    let queueDirectory: String
    let stateDirectory: String
    let corruptDirectory: String
    let freeDirectory: String
    let queueSync: DirectorySync
    let stateSync: DirectorySync
    let tmpGate: DirectoryGate
    let freeFiles: FreeQueueFiles
    /// Queue IDs whose files this process is writing right now (a count,
    /// as an update may in principle overlap an accept of the same ID).
    let busy = SleepingMutex<[QueueID: Int]>([:])
    /// Entries this process accepted and has not loaded since, with the
    /// size of their queue file: `load` serves each once without reading
    /// and decoding it (the scheduler loads every new entry right after its
    /// accept). At most `freshCapacity`; past that, entries load from disk.
    let fresh = SleepingMutex<[QueueID: (entry: SpoolEntry, fileSize: Int)]>([:])
    static let freshCapacity = 4096

    /// Opens the spool at `directory`, creating it and `tmp/`, `env/`,
    /// `state/`, `free/` and `corrupt/` (mode 0700) where missing.
    public init(directory: String) throws(SpoolError) {
        self.directory = directory
        self.tmpDirectory = directory + "/tmp"
        self.queueDirectory = directory + "/env"
        self.stateDirectory = directory + "/state"
        self.corruptDirectory = directory + "/corrupt"
        self.freeDirectory = directory + "/free"
        let queueSync = DirectorySync.forDirectory(queueDirectory)
        self.queueSync = queueSync
        self.stateSync = DirectorySync.forDirectory(stateDirectory)
        self.tmpGate = DirectoryGate.forDirectory(tmpDirectory)
        do throws(SystemCallError) {
            try FileSystem.makeDirectories(directory)
            for sub in [tmpDirectory, queueDirectory, stateDirectory, freeDirectory, corruptDirectory] {
                if try FileSystem.makeDirectory(sub) { try FileSystem.syncDirectory(directory) }
            }
        } catch {
            throw SpoolError(error)
        }
        self.freeFiles = FreeQueueFiles.shared(directory: freeDirectory, queueSync: queueSync)
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
        // Dates as the header keeps them (to the millisecond), so that the
        // entry served from `fresh` equals the one read back from disk.
        var origin = origin
        origin.receivedAt = RecordDate.stored(origin.receivedAt)
        let entry = SpoolEntry(id: id, envelope: envelope, origin: origin, arrivedAt: RecordDate.stored(now),
                               messageSize: size)
        let encoded: [UInt8]
        do {
            encoded = try SpoolFiles.encodeHeader(entry)
        } catch {
            throw .invalidEnvelope("cannot encode the envelope: \(error)")
        }
        _ = try encoded.withUnsafeBytes { header in
            Result { () throws(SpoolError) -> QueueID in try store(id: id, header: header, parts: parts) }
        }.get()
        let fileSize = encoded.count + size
        fresh.withLock { fresh in
            if fresh.count < Spool.freshCapacity { fresh[id] = (entry, fileSize) }
        }
        return id
    }

    /// Steps 1–3 of the commit protocol.
    private func store(id: QueueID, header: UnsafeRawBufferPointer, parts: [UnsafeRawBufferPointer]) throws(SpoolError) -> QueueID {
        let queueFile = queueFilePath(id)
        var renamed = false
        do throws(SystemCallError) {
            // A free file when one is ready (see `FreeQueueFiles`), else a new
            // one in tmp/ (whose names change through its gate).
            let written: String
            let gate: DirectoryGate?
            if let free = freeFiles.take(), let path = rewrite(free, parts: [header] + parts) {
                written = path
                gate = nil
            } else {
                written = "\(tmpDirectory)/\(id)"
                gate = tmpGate
                try FileSystem.writeFile(written, parts: [header] + parts, gate: gate)
            }
            do throws(SystemCallError) {
                try FileSystem.rename(written, to: queueFile, gate: gate)
            } catch {
                try? FileSystem.remove(written, gate: gate)
                throw error
            }
            renamed = true
            try queueSync.syncAfterChange()
        } catch {
            // Best effort; the error that stopped the commit is the one to report.
            if renamed { try? FileSystem.remove(queueFile) }
            throw SpoolError(error)
        }
        return id
    }

    /// Writes a whole queue file over a free one; returns its path, or nil
    /// when that failed (the free file is then unlinked and the caller
    /// makes a new one, which reports the error if there is one).
    private func rewrite(_ file: FreeQueueFiles.File, parts: [UnsafeRawBufferPointer]) -> String? {
        let path = "\(freeDirectory)/\(file.name)"
        do {
            try FileSystem.overwriteFile(path, parts: parts, previousSize: file.size)
            return path
        } catch {
            try? FileSystem.remove(path)
            return nil
        }
    }

    // MARK: Reading and updating

    /// The IDs of every committed entry (the names in `env/`), oldest first.
    /// Entries may complete while the caller reads them: `load` then throws
    /// `notFound`.
    public func queuedIDs() throws(SpoolError) -> [QueueID] {
        do {
            return try FileSystem.list(queueDirectory).compactMap(QueueID.init).sorted()
        } catch {
            throw SpoolError(error)
        }
    }

    /// The path of the queue file `env/<id>`: the header, then the message.
    public func queueFilePath(_ id: QueueID) -> String { "\(queueDirectory)/\(id)" }

    /// The path of the state file `state/<id>` (present only while an
    /// attempt has left the entry unfinished).
    public func statePath(_ id: QueueID) -> String { "\(stateDirectory)/\(id)" }

    /// Opens the message for reading, positioned at its first byte.
    public func openMessage(_ id: QueueID) throws(SpoolError) -> SpoolMessageReader {
        let path = queueFilePath(id)
        do {
            return try SpoolMessageReader(queueFile: path)
        } catch {
            switch error {
            case .system(let e):
                if e.errno == ENOENT { throw .notFound(id) }
                throw SpoolError(e)
            case .malformed(let reason):
                throw .corruptRecord(path: path, reason: reason)
            }
        }
    }

    /// Reads a committed entry: its queue file's header, with its state file
    /// over it when there is one.
    public func load(_ id: QueueID) throws(SpoolError) -> SpoolEntry {
        if let entry = loadFresh(id) { return entry }
        var entry = try loadHeader(id)
        let path = statePath(id)
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(path)
        } catch {
            if error.errno == ENOENT { return entry }
            throw SpoolError(error)
        }
        if let problem = overlay(bytes, on: &entry) { throw .corruptRecord(path: path, reason: problem) }
        return entry
    }

    /// An entry accepted by this process and not loaded since, if its queue
    /// file is still the one written (same size) and has no state file —
    /// two `lstat`s instead of reading and decoding the header.
    private func loadFresh(_ id: QueueID) -> SpoolEntry? {
        guard let (entry, fileSize) = fresh.withLock({ $0.removeValue(forKey: id) }) else { return nil }
        guard case .regular(fileSize)? = try? FileSystem.kind(of: queueFilePath(id)),
              case .missing? = try? FileSystem.kind(of: statePath(id)) else { return nil }
        return entry
    }

    /// The entry as the header of its queue file describes it, checked
    /// against the file's name and size.
    func loadHeader(_ id: QueueID) throws(SpoolError) -> SpoolEntry {
        let path = queueFilePath(id)
        let file: QueueFileContents
        do {
            file = try QueueFileContents.read(path)
        } catch {
            switch error {
            case .system(let e):
                if e.errno == ENOENT { throw .notFound(id) }
                throw SpoolError(e)
            case .malformed(let reason):
                throw .corruptRecord(path: path, reason: reason)
            }
        }
        let entry = SpoolEntry(header: file.header)
        guard entry.id == id else { throw .corruptRecord(path: path, reason: "the header names \(entry.id)") }
        if let problem = entry.inconsistency() { throw .corruptRecord(path: path, reason: problem) }
        guard file.fileSize - file.layout.messageOffset == entry.messageSize else {
            throw .corruptRecord(path: path, reason: "the message has \(file.fileSize - file.layout.messageOffset) bytes, "
                                 + "the header says \(entry.messageSize)")
        }
        return entry
    }

    /// Lays a state file over `entry`; returns why it cannot, or nil.
    func overlay(_ bytes: [UInt8], on entry: inout SpoolEntry) -> String? {
        let state: SpoolFiles.State
        do {
            state = try SpoolFiles.decodeState(bytes)
        } catch {
            return "\(error)"
        }
        guard state.id == entry.id else { return "the state names \(state.id)" }
        var updated = entry
        updated.apply(state)
        if let problem = updated.inconsistency() { return problem }
        entry = updated
        return nil
    }

    /// Stores the mutable part of a committed entry (recipient states,
    /// `held`, history, `delayNoticeSentAt`) atomically: `tmp/<id>.state` is written, fsynced,
    /// renamed over `state/<id>`, and `state/` is fsynced. A crash leaves
    /// the old state or the new one. The rest of the entry is fixed at
    /// accept and not written again.
    public func update(_ entry: SpoolEntry) throws(SpoolError) {
        let path = statePath(entry.id)
        let bytes: [UInt8]
        do {
            bytes = try SpoolFiles.encodeState(entry)
        } catch {
            throw .corruptRecord(path: path, reason: "cannot encode: \(error)")
        }
        let tmp = "\(tmpDirectory)/\(entry.id).state"
        fresh.withLock { _ = $0.removeValue(forKey: entry.id) }
        // Never make a state file for an entry that was completed.
        let exists: Bool
        do {
            if case .regular = try FileSystem.kind(of: queueFilePath(entry.id)) { exists = true } else { exists = false }
        } catch {
            throw SpoolError(error)
        }
        guard exists else { throw .notFound(entry.id) }
        markBusy(entry.id)
        defer { markIdle(entry.id) }
        do throws(SystemCallError) {
            try bytes.withUnsafeBytes { b in
                Result { () throws(SystemCallError) in
                    try FileSystem.writeFile(tmp, parts: [b], exclusive: false, gate: tmpGate)
                }
            }.get()
            do throws(SystemCallError) {
                try FileSystem.rename(tmp, to: path, gate: tmpGate)
            } catch {
                try? FileSystem.remove(tmp, gate: tmpGate)
                throw error
            }
            try stateSync.syncAfterChange()
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

    /// Removes a finished entry: its state file if any, then its queue
    /// file, which goes to `free/` for a later accept to write again (or is
    /// unlinked when the pool is full or the file large). Nothing is
    /// fsynced — see "Removal" in the type's documentation for why a crash
    /// can only bring back an entry whose deliveries are already durable.
    /// Completing an entry that is already gone does nothing.
    public func complete(_ id: QueueID) throws(SpoolError) {
        fresh.withLock { _ = $0.removeValue(forKey: id) }
        let path = queueFilePath(id)
        do throws(SystemCallError) {
            try FileSystem.remove(statePath(id))
            guard case .regular(let size) = try FileSystem.kind(of: path) else {
                try FileSystem.remove(path)
                return
            }
            guard freeFiles.reserve(size: size) else {
                try FileSystem.remove(path)
                return
            }
            do throws(SystemCallError) {
                try FileSystem.rename(path, to: "\(freeDirectory)/\(id)")
            } catch {
                freeFiles.cancel(size: size)
                if error.errno == ENOENT { return }
                try FileSystem.remove(path)
                return
            }
            freeFiles.add(name: id.text, size: size)
        } catch {
            throw SpoolError(error)
        }
    }
}

/// The start of a queue file: its layout and decoded header.
struct QueueFileContents {
    var layout: SpoolFiles.Layout
    var header: SpoolFiles.Header
    var fileSize: Int

    enum Failure: Error {
        case system(SystemCallError)
        case malformed(String)
    }

    /// Reads the first line and the header, and the file's size.
    static func read(_ path: String) throws(Failure) -> QueueFileContents {
        // O_NONBLOCK: a FIFO someone left in env/ must not hang recovery.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .system(SystemCallError("open", path: path, errno: errno)) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(SystemCallError("fstat", path: path, errno: errno)) }
        guard st.st_mode & S_IFMT == S_IFREG else { throw .malformed("not a regular file") }
        let fileSize = Int(st.st_size)
        // One read gets the whole header of all but unusual entries.
        var buffer = [UInt8](repeating: 0, count: min(max(fileSize, 1), 16384))
        var filled = 0
        var layout: SpoolFiles.Layout?
        while true {
            if filled == buffer.count {
                let wanted = layout.map { $0.messageOffset } ?? buffer.count * 2
                buffer.append(contentsOf: repeatElement(0, count: max(wanted - buffer.count, 4096)))
            }
            let n = try buffer.withUnsafeMutableBytes { b in
                Result { () throws(SystemCallError) -> Int in
                    try FileSystem.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: b[filled...]), path: path)
                }
            }.mapError { Failure.system($0) }.get()
            filled += n
            if layout == nil {
                do throws(SpoolFiles.Malformed) {
                    layout = try buffer.withUnsafeBytes { b in
                        Result { () throws(SpoolFiles.Malformed) in try SpoolFiles.layout(UnsafeRawBufferPointer(rebasing: b[0..<filled])) }
                    }.get()
                } catch {
                    throw .malformed(error.description)
                }
            }
            if let layout, filled >= layout.messageOffset {
                do {
                    let header = try buffer.withUnsafeBytes { b in
                        try SpoolFiles.decodeHeader(UnsafeRawBufferPointer(rebasing: b[layout.firstLineLength..<layout.messageOffset]))
                    }
                    return QueueFileContents(layout: layout, header: header, fileSize: fileSize)
                } catch {
                    throw .malformed("\(error)")
                }
            }
            if n == 0 { throw .malformed(layout == nil ? "no first line" : "the file ends inside the header") }
        }
    }
}
