import Foundation
import Testing
import TernSMTP
@testable import TernSpool

/// Crash states are made by hand: the files a crash leaves at each step of
/// the commit protocol, built from real accepted entries.
@Suite("Spool: recovery after a crash")
struct SpoolRecoveryTests {
    @Test("Recovery keeps exactly the committed entries whatever a crash left behind")
    func crashStates() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let committed = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)

        // Crash after steps 1–2: both files still in tmp/.
        let inTmp = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try FileManager.default.moveItem(atPath: spool.messagePath(inTmp), toPath: "\(dir.path)/tmp/\(inTmp).msg")
        try FileManager.default.moveItem(atPath: spool.recordPath(inTmp), toPath: "\(dir.path)/tmp/\(inTmp).env")

        // Crash after step 3: message renamed, record still in tmp/.
        let noRecord = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try FileManager.default.moveItem(atPath: spool.recordPath(noRecord), toPath: "\(dir.path)/tmp/\(noRecord).env")

        // Crash during complete(): record removed, message not yet.
        let completing = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try FileManager.default.removeItem(atPath: spool.recordPath(completing))

        // Crash during update(): the new record still in tmp/.
        try FileManager.default.copyItem(atPath: spool.recordPath(committed), toPath: "\(dir.path)/tmp/\(committed).upd")

        var events: [SpoolRecoveryEvent] = []
        let entries = try Spool(directory: dir.path).recover { events.append($0) }

        #expect(entries.map(\.id) == [committed])
        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(fileNames(dir.path + "/msg") == [committed.text])
        #expect(fileNames(dir.path + "/env") == [committed.text])
        #expect(fileNames(dir.path + "/corrupt").isEmpty)
        #expect(Set(events) == [
            .removedTemporaryFile(name: "\(inTmp).msg"), .removedTemporaryFile(name: "\(inTmp).env"),
            .removedTemporaryFile(name: "\(noRecord).env"), .removedTemporaryFile(name: "\(committed).upd"),
            .removedOrphanMessage(name: noRecord.text), .removedOrphanMessage(name: completing.text),
        ])
    }

    @Test("Recovery running while messages are accepted never removes a committed message")
    func recoverDuringAccepts() async throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let ids = try await withThrowingTaskGroup(of: [QueueID].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try (0..<40).map { _ in
                        try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
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
        #expect(Set(try spool.recover { events.append($0) }.map(\.id)) == Set(ids))
        #expect(events.isEmpty)
        #expect(fileNames(dir.path + "/corrupt").isEmpty)
    }

    @Test("Recovering twice changes nothing the second time")
    func idempotent() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        _ = try spool.recover()
        var events: [SpoolRecoveryEvent] = []
        #expect(try spool.recover { events.append($0) }.map(\.id) == [id])
        #expect(events.isEmpty)
    }

    /// How a record can be untrustworthy, and what recovery says about it.
    enum Damage: String, CaseIterable, Sendable {
        case garbage, truncated, wrongID, wrongSize, missingMessage, futureVersion, strayName
    }

    @Test("An untrustworthy record is set aside with its message, and recovery goes on", arguments: Damage.allCases)
    func corrupt(damage: Damage) throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let good = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let bad = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let record = spool.recordPath(bad)
        let text = String(decoding: try #require(fileBytes(record)), as: UTF8.self)
        var badName = bad.text
        switch damage {
        case .garbage:
            try Data("not json {".utf8).write(to: URL(fileURLWithPath: record))
        case .truncated:
            try Data(text.utf8.prefix(text.utf8.count / 2)).write(to: URL(fileURLWithPath: record))
        case .wrongID:
            try Data(text.replacingOccurrences(of: bad.text, with: good.text).utf8).write(to: URL(fileURLWithPath: record))
        case .wrongSize:
            try Data("short".utf8).write(to: URL(fileURLWithPath: spool.messagePath(bad)))
        case .missingMessage:
            try FileManager.default.removeItem(atPath: spool.messagePath(bad))
        case .futureVersion:
            try Data(text.replacingOccurrences(of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2").utf8)
                .write(to: URL(fileURLWithPath: record))
        case .strayName:
            badName = "notes.txt"
            try FileManager.default.moveItem(atPath: record, toPath: "\(dir.path)/env/notes.txt")
            try FileManager.default.moveItem(atPath: spool.messagePath(bad), toPath: "\(dir.path)/msg/notes.txt")
        }

        var events: [SpoolRecoveryEvent] = []
        let entries = try spool.recover { events.append($0) }

        #expect(entries.map(\.id) == [good])
        #expect(fileNames(dir.path + "/env") == [good.text])
        #expect(fileNames(dir.path + "/msg") == [good.text])
        let aside = fileNames(dir.path + "/corrupt")
        #expect(aside.contains("\(badName).env"))
        #expect(aside.contains("\(badName).msg") == (damage != .missingMessage))
        #expect(events.count == 1)
        guard case .setAside(let name, let reason)? = events.first else {
            Issue.record("expected a set-aside event, got \(events)")
            return
        }
        #expect(name == badName)
        #expect(!reason.isEmpty)
    }

    @Test("Loading a record that does not decode is a permanent corrupt-record error")
    func loadCorrupt() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try Data("[]".utf8).write(to: URL(fileURLWithPath: spool.recordPath(id)))
        do {
            _ = try spool.load(id)
            Issue.record("load should fail")
        } catch {
            guard case .corruptRecord = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.isTemporary == false)
        }
    }
}
