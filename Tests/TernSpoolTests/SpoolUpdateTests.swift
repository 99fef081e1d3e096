import Foundation
import Testing
import TernSMTP
@testable import TernSpool
#if canImport(Glibc)
import Glibc
#endif

@Suite("Spool: updating and completing")
struct SpoolUpdateTests {
    static let at = Date(timeIntervalSince1970: 1_763_900_123.456)
    static let states: [RecipientState] = [
        .pending,
        .delivered(at: at, detail: "maildir /var/mail/example.com/alice/Maildir/new/1.M2P3Q4.mx,S=5"),
        .deferred(attempts: 3, lastError: SpoolReply(code: 452, enhancedStatus: "4.2.2", text: "mailbox full"),
                  nextAttempt: at.addingTimeInterval(240)),
        .failed(reply: SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown"), at: at, bounce: .owed),
        .failed(reply: SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown"), at: at,
                bounce: .sent(at: at.addingTimeInterval(1))),
        .failed(reply: SpoolReply(code: 554, enhancedStatus: "5.4.7", text: "expired"), at: at, bounce: .notOwed),
    ]

    @Test("Every recipient state survives an update and a reload", arguments: states)
    func roundTrip(state: RecipientState) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        entry.recipients[0].state = state
        entry.recipients[0].completedDestinations = ["local:alice@example.com"]
        entry.held = true
        entry.record(DeliveryAttempt(at: Self.at, recipient: entry.recipients[0].mailbox,
                                     destination: "local:alice@example.com", result: .deferred,
                                     reply: SpoolReply(code: 451, enhancedStatus: "4.3.0", text: "x")))
        try spool.update(entry)
        #expect(try spool.load(id) == entry)
        #expect(try Spool(directory: dir.path).recover() == [entry])
        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(fileNames(dir.path + "/state") == [id.text])
        #expect(try spool.openMessage(id).readAll() == Sample.message)
    }

    @Test("A fresh entry has no state file and loads with every recipient pending")
    func freshEntry() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(["alice@example.com", "bob@example.com"]),
                                  origin: Sample.origin, message: Sample.message, now: Self.at)
        #expect(fileNames(dir.path + "/state").isEmpty)
        let entry = try spool.load(id)
        #expect(entry.recipients.map(\.state) == [.pending, .pending])
        #expect(entry.held == false)
        #expect(entry.history.isEmpty)
        #expect(entry.arrivedAt == Self.at)
        #expect(entry.formatVersion == SpoolEntry.currentFormatVersion)
    }

    @Test("An entry loaded right after its accept (from memory) equals the one read from disk")
    func freshEqualsDisk() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        var origin = Sample.origin
        origin.receivedAt = Date(timeIntervalSince1970: 1_763_900_000.123_456_7)
        let id = try spool.accept(envelope: Sample.envelope(), origin: origin, message: Sample.message,
                                  now: Date(timeIntervalSince1970: 1_763_904_240.987_654_3))
        #expect(spool.fresh.withLock { $0[id] } != nil)
        let fromMemory = try spool.load(id)
        #expect(spool.fresh.withLock { $0[id] } == nil)
        let fromDisk = try Spool(directory: dir.path).load(id)
        #expect(fromMemory == fromDisk)
        #expect(try spool.load(id) == fromDisk)
    }

    @Test("The state file is pretty-printed JSON with sorted keys: version, held, history, id, recipients")
    func stateIsReadable() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        entry.recipients[0].state = Self.states[2]
        try spool.update(entry)
        let text = String(decoding: try #require(fileBytes(spool.statePath(id))), as: UTF8.self)
        let topKeys = text.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(topKeys == ["formatVersion", "held", "history", "id", "recipients"])
        #expect(text.contains("\"status\" : \"deferred\""))
        #expect(text.contains("\"nextAttempt\" : \"2025-11-23T12:19:23.456Z\""))
        #expect(text.hasSuffix("}\n"))
    }

    @Test("The queue file is written once: updates leave it byte for byte as accepted")
    func queueFileUnchanged() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let before = fileBytes(spool.queueFilePath(id))
        var entry = try spool.load(id)
        for state in Self.states {
            entry.recipients[0].state = state
            try spool.update(entry)
        }
        #expect(fileBytes(spool.queueFilePath(id)) == before)
    }

    @Test("Final states are delivered, and failed with no bounce waiting", arguments: zip(states, [
        false, true, false, false, true, true,
    ]))
    func finality(state: RecipientState, isFinal: Bool) {
        #expect(state.isFinal == isFinal)
    }

    @Test("The attempt history keeps only the most recent lines")
    func historyLimit() throws {
        var entry = SpoolEntry(id: QueueID.generate(), envelope: Sample.envelope(), origin: Sample.origin,
                               arrivedAt: Self.at, messageSize: 1)
        for i in 0..<(SpoolEntry.historyLimit + 5) {
            entry.record(DeliveryAttempt(at: Self.at.addingTimeInterval(Double(i)), recipient: Sample.mailbox("a@b.example"),
                                         destination: nil, result: .deferred, detail: "\(i)"))
        }
        #expect(entry.history.count == SpoolEntry.historyLimit)
        #expect(entry.history.first?.detail == "5")
    }

    @Test("Completing removes the state file and the queue file", arguments: [false, true])
    func complete(withState: Bool) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        if withState {
            var entry = try spool.load(id)
            entry.held = true
            try spool.update(entry)
        }
        try spool.complete(id)
        #expect(fileNames(dir.path + "/env").isEmpty)
        #expect(fileNames(dir.path + "/state").isEmpty)
        #expect(throws: SpoolError.notFound(id)) { try spool.load(id) }
        try spool.complete(id)  // a second time does nothing
    }

    @Test("Accept fsyncs env/ once, completion fsyncs nothing, an update fsyncs state/ once")
    func directorySyncs() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let queue = spool.queueSync.completedSyncs
        let state = spool.stateSync.completedSyncs
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        #expect(spool.queueSync.completedSyncs == queue + 1)
        try spool.complete(id)
        let other = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try spool.update(try spool.load(other))
        try spool.complete(other)
        #expect(spool.queueSync.completedSyncs == queue + 2)
        #expect(spool.stateSync.completedSyncs == state + 1)
    }

    @Test("Updating a completed entry does not bring it back")
    func updateAfterComplete() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let entry = try spool.load(id)
        try spool.complete(id)
        #expect(throws: SpoolError.notFound(id)) { try spool.update(entry) }
        #expect(fileNames(dir.path + "/env").isEmpty)
        #expect(fileNames(dir.path + "/state").isEmpty)
        #expect(fileNames(dir.path + "/tmp").isEmpty)
    }

    @Test("A message can be read back through the spool")
    func readBack() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        #expect(try spool.openMessage(id).readAll() == Sample.message)
        try spool.complete(id)
        #expect(throws: SpoolError.notFound(id)) { try spool.openMessage(id) }
    }
}

@Suite("Spool: record dates")
struct RecordDateTests {
    @Test("Dates are written as RFC 3339 UTC with milliseconds", arguments: [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_763_904_240.123, "2025-11-23T13:24:00.123Z"),
        (951_782_400.5, "2000-02-29T00:00:00.500Z"),
        (-0.25, "1969-12-31T23:59:59.750Z"),
    ])
    func format(seconds: Double, text: String) {
        #expect(RecordDate.format(Date(timeIntervalSince1970: seconds)) == text)
        #expect(RecordDate.parse(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test("Whole seconds and longer fractions are read too", arguments: [
        ("2025-11-23T13:24:00Z", 1_763_904_240.0),
        ("2025-11-23T13:24:00.1Z", 1_763_904_240.1),
        ("2025-11-23T13:24:00.123456789Z", 1_763_904_240.123),
    ])
    func lenient(text: String, seconds: Double) {
        #expect(RecordDate.parse(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test("Malformed dates are refused", arguments: [
        "", "2025-11-23", "2025-11-23T13:24:00", "2025-11-23T13:24:00+01:00", "2025-13-23T13:24:00Z",
        "2025-11-23T13:24:00.Z", "2025-11-23T13:24:00.1234567890Z", "2025-11-23 13:24:00Z",
    ])
    func malformed(text: String) {
        #expect(RecordDate.parse(text) == nil)
    }

    @Test("A date read back and written again does not drift")
    func stable() {
        let now = Date()
        let once = RecordDate.parse(RecordDate.format(now))
        #expect(once.flatMap { RecordDate.parse(RecordDate.format($0)) } == once)
    }
}

@Suite("Spool: reusing the files of completed entries")
struct FreeQueueFileTests {
    func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    @Test("A completed queue file goes to free/ and is written again by an accept once its removal is durable")
    func reuse() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let first = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let firstInode = try #require(inode(spool.queueFilePath(first)))
        try spool.complete(first)
        #expect(fileNames(dir.path + "/env").isEmpty)
        #expect(fileNames(dir.path + "/free") == [first.text])
        #expect(inode("\(dir.path)/free/\(first)") == firstInode)

        // No env/ fsync has started since the completion: not yet reusable.
        let second = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Array("short\r\n".utf8))
        #expect(inode(spool.queueFilePath(second)) != firstInode)
        #expect(fileNames(dir.path + "/free") == [first.text])

        // The second accept's env/ fsync covered it: the third one reuses it.
        let message = Array("Subject: third\r\n\r\nbody\r\n".utf8)
        let third = try spool.accept(envelope: Sample.envelope(["bob@example.com"]), origin: Sample.origin, message: message)
        #expect(inode(spool.queueFilePath(third)) == firstInode)
        #expect(fileNames(dir.path + "/free").isEmpty)
        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(try spool.openMessage(third).readAll() == message)
        let entry = try spool.load(third)
        #expect(entry.envelope == Sample.envelope(["bob@example.com"]))
        #expect(entry.messageSize == message.count)
        #expect(try spool.recover().map(\.id) == [second, third])
    }

    @Test("A file reused for a shorter message is cut to it, for a longer one grows", arguments: [10, 50_000])
    func sizes(length: Int) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: 20_000)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: long)
        try spool.complete(id)
        _ = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)  // an env/ fsync
        #expect(spool.freeFiles.count == 1)
        let message = [UInt8](repeating: UInt8(ascii: "b"), count: length)
        let reused = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: message)
        #expect(spool.freeFiles.count == 0)
        let readBack = try spool.openMessage(reused).readAll() == message
        #expect(readBack)
        let file = try #require(fileBytes(spool.queueFilePath(reused)))
        let reader = try spool.openMessage(reused)
        #expect(file.count == reader.messageOffset + length)
        let tailIsMessage = Array(file.suffix(length)) == message
        #expect(tailIsMessage)
        #expect(try spool.load(reused).messageSize == length)
    }

    @Test("Files larger than the limit are unlinked, not kept")
    func large() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: FreeQueueFiles.defaultMaximumSize + 1)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: big)
        try spool.complete(id)
        #expect(fileNames(dir.path + "/free").isEmpty)
        #expect(fileNames(dir.path + "/env").isEmpty)
    }

    @Test("The pool keeps at most its capacity in bytes and hands files out oldest first")
    func capacity() throws {
        let dir = try TemporaryDirectory()
        let queueSync = DirectorySync(path: dir.path)
        let pool = FreeQueueFiles(directory: dir.path, queueSync: queueSync, capacity: 3 * 4096, maximumSize: 8192)
        #expect(pool.reserve(size: 100))
        pool.add(name: "a", size: 100)
        #expect(pool.reserve(size: 5000))  // two blocks
        pool.add(name: "b", size: 5000)
        #expect(!pool.reserve(size: 1))
        #expect(!pool.reserve(size: 9000))
        #expect(pool.take() == nil)  // not durable yet
        try queueSync.syncAfterChange()
        #expect(pool.take()?.name == "a")
        #expect(pool.reserve(size: 4096))
        pool.cancel(size: 4096)
        #expect(pool.take()?.name == "b")
        #expect(pool.take() == nil)
        #expect(pool.count == 0)
    }

    @Test("A file is not handed out after a failed env/ fsync")
    func failedSync() throws {
        let dir = try TemporaryDirectory()
        let fails = Locked(true)
        let queueSync = DirectorySync(path: dir.path) { path throws(SystemCallError) in
            if fails.withLock({ $0 }) { throw SystemCallError("fsync", path: path, errno: EIO) }
        }
        let pool = FreeQueueFiles(directory: dir.path, queueSync: queueSync)
        #expect(pool.reserve(size: 10))
        pool.add(name: "a", size: 10)
        #expect(throws: SystemCallError.self) { try queueSync.syncAfterChange() }
        #expect(pool.take() == nil)
        fails.withLock { $0 = false }
        try queueSync.syncAfterChange()
        #expect(pool.take() == nil)  // conservatively never, after a failure at or after its batch
    }

    @Test("Recovery leaves free/ alone, and a crash in the middle of rewriting a free file commits nothing")
    func crashWhileRewriting() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let kept = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let done = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try spool.complete(done)
        // A crash while an accept was writing over the free file: half a header.
        try Data("tern-spool 1 9999\n{ \"id\"".utf8).write(to: URL(fileURLWithPath: "\(dir.path)/free/\(done)"))
        var events: [SpoolRecoveryEvent] = []
        #expect(try spool.recover { events.append($0) }.map(\.id) == [kept])
        #expect(events.isEmpty)
        #expect(fileNames(dir.path + "/free") == [done.text])
        // It is still a free file: the next accepts write it whole.
        _ = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let reused = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        #expect(fileNames(dir.path + "/free").isEmpty)
        #expect(try spool.openMessage(reused).readAll() == Sample.message)
        #expect(try spool.recover().count == 3)
    }

    @Test("A new pool adopts what free/ holds and unlinks what is over its limits")
    func adopt() throws {
        let dir = try TemporaryDirectory()
        for (name, size) in [("a", 10), ("b", 10), ("c", 100_000)] {
            try Data(repeating: 0, count: size).write(to: URL(fileURLWithPath: "\(dir.path)/\(name)"))
        }
        try FileManager.default.createDirectory(atPath: dir.path + "/sub", withIntermediateDirectories: false)
        let queueSync = DirectorySync(path: dir.path)
        let pool = FreeQueueFiles(directory: dir.path, queueSync: queueSync, capacity: 4096, maximumSize: 8192)
        pool.adoptListing()
        #expect(pool.count == 1)
        #expect(fileNames(dir.path) == ["a", "sub"])
        #expect(pool.take() == nil)  // waits for an env/ fsync like any other
        try queueSync.syncAfterChange()
        #expect(pool.take()?.name == "a")
    }
}
