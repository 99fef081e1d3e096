import Foundation
import Testing
import TernSMTP
@testable import TernSpool

@Suite("Spool: what the bounce stage records")
struct SpoolNoticeStateTests {
    static let at = Date(timeIntervalSince1970: 1_763_900_123.456)

    @Test("A delay notice's time survives an update, a reload and recovery")
    func delayNoticeSentAt() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        #expect(entry.delayNoticeSentAt == nil)
        entry.recipients[0].state = .deferred(attempts: 2, lastError: SpoolReply(code: 451, enhancedStatus: "4.4.1",
                                                                                   text: "timed out"),
                                              nextAttempt: Self.at.addingTimeInterval(600))
        entry.delayNoticeSentAt = Self.at
        try spool.update(entry)
        let text = String(decoding: try #require(fileBytes(spool.statePath(id))), as: UTF8.self)
        #expect(text.contains("\"delayNoticeSentAt\" : \"2025-11-23T12:15:23.456Z\""))
        #expect(try spool.load(id) == entry)
        #expect(try Spool(directory: dir.path).load(id).delayNoticeSentAt == Self.at)
        #expect(try Spool(directory: dir.path).recover() == [entry])
    }

    @Test("A state file without the newer fields (written before them) still loads")
    func olderStateFile() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let old = """
            {
              "formatVersion" : 1,
              "held" : false,
              "history" : [],
              "id" : "\(id.text)",
              "recipients" : [
                {
                  "mailbox" : "alice@example.com",
                  "state" : {
                    "attempts" : 1,
                    "lastError" : { "code" : 452, "enhancedStatus" : "4.2.2", "text" : "mailbox full" },
                    "nextAttempt" : "2025-11-23T12:19:23.456Z",
                    "status" : "deferred"
                  }
                }
              ]
            }

            """
        try Data(old.utf8).write(to: URL(fileURLWithPath: spool.statePath(id)))
        let entry = try Spool(directory: dir.path).load(id)
        #expect(entry.delayNoticeSentAt == nil)
        guard case .deferred(1, let reply, _) = entry.recipients[0].state else {
            Issue.record("unexpected \(entry.recipients[0].state)")
            return
        }
        #expect(reply == SpoolReply(code: 452, enhancedStatus: "4.2.2", text: "mailbox full"))
        #expect(reply.remoteMTA == nil)
    }

    @Test("A reply's remote MTA is kept in the record, and left out while nil")
    func remoteMTA() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        let reply = SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "no such user", remoteMTA: "mx.example.net")
        entry.recipients[0].state = .failed(reply: reply, at: Self.at, bounce: .owed)
        try spool.update(entry)
        #expect(try Spool(directory: dir.path).load(id) == entry)
        var text = String(decoding: try #require(fileBytes(spool.statePath(id))), as: UTF8.self)
        #expect(text.contains("\"remoteMTA\" : \"mx.example.net\""))
        #expect(!text.contains("delayNoticeSentAt"))

        entry.recipients[0].state = .failed(reply: SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "x"),
                                            at: Self.at, bounce: .owed)
        try spool.update(entry)
        text = String(decoding: try #require(fileBytes(spool.statePath(id))), as: UTF8.self)
        #expect(!text.contains("remoteMTA"))
    }
}
