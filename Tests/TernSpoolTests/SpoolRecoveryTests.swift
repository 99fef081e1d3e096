import Foundation
import Testing
import TernSMTP
@testable import TernSpool

/// Crash states are made by hand: the files a crash leaves at each step of
/// accept, update and complete, built from real accepted entries.
@Suite("Spool: recovery after a crash")
struct SpoolRecoveryTests {
    static let at = Date(timeIntervalSince1970: 1_763_900_123.456)
    static let deferred = RecipientState.deferred(
        attempts: 2, lastError: SpoolReply(code: 452, enhancedStatus: "4.2.2", text: "mailbox full"),
        nextAttempt: at.addingTimeInterval(120))

    /// An accepted entry whose first recipient was delivered and second deferred, with its state file written.
    func attempted(_ spool: Spool) throws -> SpoolEntry {
        let id = try spool.accept(envelope: Sample.envelope(["alice@example.com", "bob@example.com"]),
                                  origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        entry.recipients[0].state = .delivered(at: Self.at, detail: "maildir /x")
        entry.recipients[1].state = Self.deferred
        entry.record(DeliveryAttempt(at: Self.at, recipient: entry.recipients[1].mailbox, destination: "local:bob",
                                     result: .deferred, reply: SpoolReply(code: 452, enhancedStatus: "4.2.2", text: "full")))
        try spool.update(entry)
        return entry
    }

    @Test("Recovery keeps exactly the committed entries, with their last durable state, whatever a crash left behind")
    func crashStates() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let fm = FileManager.default

        // Untouched: a fresh entry, and an entry with a state file.
        let fresh = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let withState = try attempted(spool)

        // Crash during accept, before the rename: the queue file still in tmp/.
        let inTmp = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try fm.moveItem(atPath: spool.queueFilePath(inTmp), toPath: "\(dir.path)/tmp/\(inTmp)")

        // Crash during an update, before its rename: the new state in tmp/,
        // the old one still in place.
        let updating = try attempted(spool)
        var newer = updating
        newer.held = true
        try Data(try SpoolFiles.encodeState(newer)).write(to: URL(fileURLWithPath: "\(dir.path)/tmp/\(updating.id).state"))

        // Crash during the first update of an entry: new state in tmp/, none in place.
        let firstUpdate = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try fm.copyItem(atPath: spool.statePath(updating.id), toPath: "\(dir.path)/tmp/\(firstUpdate).state")

        // Crash during complete: the state unlink made it to disk, the queue
        // file's did not — the entry starts again from its header.
        let completingState = try attempted(spool)
        try fm.removeItem(atPath: spool.statePath(completingState.id))

        // Crash during complete: the queue file's unlink made it to disk, the
        // state file's did not — an orphan.
        let completingQueue = try attempted(spool)
        try fm.removeItem(atPath: spool.queueFilePath(completingQueue.id))

        // Debris that is not even a queue ID.
        try Data("x".utf8).write(to: URL(fileURLWithPath: "\(dir.path)/tmp/editor-swap"))

        var events: [SpoolRecoveryEvent] = []
        let entries = try Spool(directory: dir.path).recover { events.append($0) }

        let expectedIDs = [fresh, withState.id, updating.id, firstUpdate, completingState.id].sorted()
        #expect(entries.map(\.id) == expectedIDs)
        let byID = Dictionary(uniqueKeysWithValues: entries.map { ($0.id, $0) })
        #expect(byID[withState.id] == withState)
        #expect(byID[updating.id] == updating)
        #expect(byID[firstUpdate]?.recipients.map(\.state) == [.pending])
        // Back to its header: both recipients pending (alice gets a duplicate; nothing is lost).
        #expect(byID[completingState.id]?.recipients.map(\.state) == [.pending, .pending])
        #expect(byID[completingState.id]?.history.isEmpty == true)
        #expect(byID[fresh] == (try spool.load(fresh)))

        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(fileNames(dir.path + "/env") == expectedIDs.map(\.text))
        #expect(fileNames(dir.path + "/state") == [withState.id, updating.id].sorted().map(\.text))
        #expect(fileNames(dir.path + "/corrupt").isEmpty)
        #expect(Set(events) == [
            .removedTemporaryFile(name: inTmp.text), .removedTemporaryFile(name: "\(updating.id).state"),
            .removedTemporaryFile(name: "\(firstUpdate).state"), .removedTemporaryFile(name: "editor-swap"),
            .removedOrphanState(name: completingQueue.id.text),
        ])
    }

    @Test("Recovery running while messages are accepted and updated never removes a committed entry or its state")
    func recoverDuringAccepts() async throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let ids = try await withThrowingTaskGroup(of: [QueueID].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try (0..<40).map { _ in
                        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
                        var entry = try spool.load(id)
                        entry.recipients[0].state = Self.deferred
                        try spool.update(entry)
                        return id
                    }
                }
            }
            group.addTask {
                for _ in 0..<40 { _ = try spool.recover() }
                return []
            }
            return try await group.reduce(into: [QueueID]()) { $0 += $1 }
        }
        var events: [SpoolRecoveryEvent] = []
        let entries = try spool.recover { events.append($0) }
        #expect(Set(entries.map(\.id)) == Set(ids))
        #expect(entries.allSatisfy { $0.recipients[0].state == Self.deferred })
        #expect(events.isEmpty)
        #expect(fileNames(dir.path + "/corrupt").isEmpty)
    }

    @Test("Recovering twice changes nothing the second time")
    func idempotent() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let entry = try attempted(spool)
        try FileManager.default.moveItem(atPath: spool.queueFilePath(id), toPath: "\(dir.path)/tmp/\(id)")
        _ = try spool.recover()
        var events: [SpoolRecoveryEvent] = []
        #expect(try spool.recover { events.append($0) } == [entry])
        #expect(events.isEmpty)
    }

    /// How a queue file can be untrustworthy.
    enum Damage: String, CaseIterable, Sendable {
        case garbage, oldRecordFormat, truncatedHeader, truncatedMessage, longerMessage, wrongID, futureVersion,
             badHeaderLength, emptyFile, directory, strayName
    }

    @Test("An untrustworthy queue file is set aside with its state file, and recovery goes on", arguments: Damage.allCases)
    func corrupt(damage: Damage) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let good = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let bad = try attempted(spool).id
        let path = spool.queueFilePath(bad)
        let bytes = try #require(fileBytes(path))
        let text = String(decoding: bytes, as: UTF8.self)
        let fileLength = bytes.count
        func write(_ data: some DataProtocol) throws { try Data(data).write(to: URL(fileURLWithPath: path)) }
        var badName = bad.text
        switch damage {
        case .garbage:
            try write(Array("not a queue file {\n".utf8))
        case .oldRecordFormat:
            try write(Array("{\n  \"formatVersion\" : 1,\n  \"id\" : \"\(bad)\"\n}\n".utf8))
        case .truncatedHeader:
            try write(bytes.prefix(40))
        case .truncatedMessage:
            try write(bytes.prefix(fileLength - 3))
        case .longerMessage:
            try write(bytes + Array("more".utf8))
        case .wrongID:
            try write(Array(text.replacingOccurrences(of: bad.text, with: good.text).utf8))
        case .futureVersion:
            try write(Array(text.replacingOccurrences(of: "tern-spool 1 ", with: "tern-spool 2 ").utf8))
        case .badHeaderLength:
            try write(Array(text.replacingOccurrences(of: "tern-spool 1 ", with: "tern-spool 1 9").utf8))
        case .emptyFile:
            try write([UInt8]())
        case .directory:
            try FileManager.default.removeItem(atPath: path)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .strayName:
            badName = "notes.txt"
            try FileManager.default.moveItem(atPath: path, toPath: "\(dir.path)/env/notes.txt")
            try FileManager.default.moveItem(atPath: spool.statePath(bad), toPath: "\(dir.path)/state/notes.txt")
        }

        var events: [SpoolRecoveryEvent] = []
        let entries = try spool.recover { events.append($0) }

        #expect(entries.map(\.id) == [good])
        #expect(fileNames(dir.path + "/env") == [good.text])
        #expect(fileNames(dir.path + "/state").isEmpty)
        #expect(fileNames(dir.path + "/corrupt") == [badName, "\(badName).state"])
        #expect(events.count == 1)
        guard case .setAside(let name, let reason)? = events.first else {
            Issue.record("expected a set-aside event, got \(events)")
            return
        }
        #expect(name == badName)
        #expect(!reason.isEmpty)
    }

    /// How a state file can be untrustworthy.
    enum StateDamage: String, CaseIterable, Sendable {
        case garbage, truncated, wrongID, wrongRecipients, futureVersion, empty
    }

    @Test("An untrustworthy state file is set aside and its entry goes on from its header", arguments: StateDamage.allCases)
    func corruptState(damage: StateDamage) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let entry = try attempted(spool)
        let other = try attempted(spool)
        let path = spool.statePath(entry.id)
        let text = String(decoding: try #require(fileBytes(path)), as: UTF8.self)
        func write(_ string: some StringProtocol) throws { try Data(string.utf8).write(to: URL(fileURLWithPath: path)) }
        switch damage {
        case .garbage: try write("[]")
        case .truncated: try write(text.prefix(text.count / 2))
        case .wrongID: try write(text.replacingOccurrences(of: entry.id.text, with: other.id.text))
        case .wrongRecipients: try write(text.replacingOccurrences(of: "bob@example.com", with: "mallory@example.com"))
        case .futureVersion:
            try write(text.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2"))
        case .empty: try write("")
        }

        // At run time the entry cannot be loaded: the scheduler leaves it for recovery.
        #expect(throws: SpoolError.self) { try spool.load(entry.id) }

        var events: [SpoolRecoveryEvent] = []
        let entries = try spool.recover { events.append($0) }
        #expect(entries.map(\.id) == [entry.id, other.id].sorted())
        let recovered = try #require(entries.first { $0.id == entry.id })
        #expect(recovered.recipients.map(\.state) == [.pending, .pending])
        #expect(recovered.envelope == entry.envelope)
        #expect(entries.first { $0.id == other.id } == other)
        #expect(fileNames(dir.path + "/corrupt") == ["\(entry.id).state"])
        #expect(fileNames(dir.path + "/state") == [other.id.text])
        #expect(try spool.load(entry.id) == recovered)
        #expect(events.count == 1)
        guard case .stateSetAside(let name, let reason)? = events.first else {
            Issue.record("expected a state-set-aside event, got \(events)")
            return
        }
        #expect(name == entry.id.text)
        #expect(!reason.isEmpty)
    }

    @Test("Loading a queue file whose header does not decode is a permanent corrupt-record error")
    func loadCorrupt() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try Data("tern-spool 1 3\n[]\n".utf8).write(to: URL(fileURLWithPath: spool.queueFilePath(id)))
        do {
            _ = try spool.load(id)
            Issue.record("load should fail")
        } catch {
            guard case .corruptRecord = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.isTemporary == false)
        }
        #expect(throws: SpoolError.self) { try spool.load(id) }
    }
}
