import Foundation
import Testing
import TernSMTP
@testable import TernSpool

@Suite("Spool: accepting")
struct SpoolAcceptTests {
    @Test("An accepted message is stored byte for byte and recovered as a committed entry")
    func acceptThenRecover() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)

        #expect(fileBytes(spool.messagePath(id)) == Sample.message)
        #expect(fileNames(dir.path + "/tmp").isEmpty)

        let reopened = try Spool(directory: dir.path)
        let entries = try reopened.recover()
        #expect(entries.map(\.id) == [id])
        let entry = try #require(entries.first)
        #expect(entry.envelope == Sample.envelope())
        #expect(entry.origin == Sample.origin)
        #expect(entry.messageSize == Sample.message.count)
        #expect(entry.recipients == [RecipientRecord(mailbox: Sample.mailbox("alice@example.com"))])
        #expect(entry.held == false)
        #expect(try reopened.load(id) == entry)
    }

    @Test("The spool directories are created with mode 0700 and files with 0600")
    func modes() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path + "/var/spool")
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        for sub in ["", "/tmp", "/msg", "/env", "/corrupt"] {
            #expect(mode(of: dir.path + "/var/spool" + sub) == 0o700)
        }
        #expect(mode(of: spool.messagePath(id)) == 0o600)
        #expect(mode(of: spool.recordPath(id)) == 0o600)
    }

    @Test("The record is pretty-printed JSON with sorted keys and every field an administrator needs")
    func recordIsReadable() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(["alice@example.com", "bob@example.com"]),
                                  origin: Sample.origin, message: Sample.message)
        let text = String(decoding: try #require(fileBytes(spool.recordPath(id))), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count > 20)
        let topKeys = lines.filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(topKeys == ["arrivedAt", "envelope", "formatVersion", "held", "history", "id", "messageSize",
                            "origin", "recipients"])
        #expect(text.contains("\"id\" : \"\(id)\""))
        #expect(text.contains("\"sender\" : \"<sender@example.org>\""))
        #expect(text.contains("\"status\" : \"pending\""))
        #expect(text.contains("\"formatVersion\" : 1"))
    }

    @Test("A message given in parts is stored as their concatenation")
    func parts() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let received = Array("Received: by mx.example.com; Sun, 23 Nov 2025 13:24:00 +0000\r\n".utf8)
        let body = Array("Subject: x\r\n\r\nbody\r\n".utf8)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin,
                                  messageParts: [received, Data(body), [UInt8]()])
        #expect(fileBytes(spool.messagePath(id)) == received + body)
        #expect(try spool.load(id).messageSize == received.count + body.count)
    }

    @Test("An envelope without recipients is refused permanently and leaves nothing behind")
    func noRecipients() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        #expect(throws: SpoolError.invalidEnvelope("no recipients")) {
            try spool.accept(envelope: Sample.envelope([]), origin: Sample.origin, message: Sample.message)
        }
        #expect(SpoolError.invalidEnvelope("no recipients").isTemporary == false)
        #expect(try spool.recover().isEmpty)
    }

    @Test("Concurrent accepts each commit their own entry")
    func concurrent() async throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let ids = try await withThrowingTaskGroup(of: QueueID.self) { group in
            for i in 0..<32 {
                group.addTask {
                    try spool.accept(envelope: Sample.envelope(), origin: Sample.origin,
                                     message: Array("Subject: \(i)\r\n\r\n".utf8))
                }
            }
            return try await group.reduce(into: [QueueID]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 32)
        #expect(Set(try spool.recover().map(\.id)) == Set(ids))
    }
}
