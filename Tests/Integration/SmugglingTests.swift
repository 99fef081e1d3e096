import Foundation
import Testing

/// Every end-of-data look-alike in ../shared/conformance/smtp/smuggling-probes.yaml,
/// sent in one write as the file describes, against a real listener.
@Suite("SMTP smuggling probes", .serialized)
struct SmugglingTests {
    static let probes = (try? Conformance.smugglingProbes()) ?? []

    @Test("The probe list was read")
    func listRead() {
        #expect(SmugglingTests.probes.count >= 15)
        #expect(SmugglingTests.probes.allSatisfy { !$0.eod.isEmpty })
    }

    @Test("No end-of-data look-alike yields a second message", arguments: SmugglingTests.probes)
    func probe(_ probe: Conformance.EODProbe) async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await server.openTransaction(sender: "a@sender.test")
        #expect(try await c.command("DATA").code == 354)
        let header = "From: a@sender.test\r\nTo: user@tern.test\r\nSubject: probe \(probe.id)\r\n\r\n"
        let smuggled = "MAIL FROM:<smuggled@victim.test>\r\nRCPT TO:<user@tern.test>\r\nDATA\r\n"
            + "From: smuggled@victim.test\r\nSubject: SMUGGLED \(probe.id)\r\n\r\nx\r\n"
        var bytes: [UInt8] = probe.atStart ? [] : Array((header + "probe line\r\n").utf8)
        bytes += probe.eod + Array((smuggled + "tail line\r\n.\r\n").utf8)
        try await c.send(bytes)
        // Then QUIT: whatever the server says before 221 (or closing) is its
        // whole answer to the probe. The server may have closed already.
        try? await c.send("QUIT\r\n")
        var replies: [SMTPTestClient.Reply] = []
        while true {
            do {
                let r = try await c.readReply()
                replies.append(r)
                if r.code == 221 { break }
            } catch SMTPTestClient.ClientError.closed {
                break
            }
        }
        let answers = replies.filter { $0.code != 221 }.map(\.code)
        // PASS (a): exactly one 250 and the smuggled bytes are inside the one message;
        // PASS (b): refused with 5xx and nothing delivered.
        #expect(answers == [250] || (answers.count == 1 && answers[0] >= 500), "replies: \(replies)")
        #expect(!answers.contains(354))
        if answers == [250] {
            let messages = await server.waitForMessages("user", count: 1)
            #expect(messages.count == 1)
            #expect(messages.first?.contains("SMUGGLED \(probe.id)") == true)
            #expect(messages.first?.contains("tail line") == true)
        } else {
            #expect(server.spoolIsEmpty)
            #expect(server.messages("user").isEmpty)
        }
    }

    @Test("An oversized message with a bare-LF dot inside is read to its end: one error, HELP lines not executed")
    func sizeThenSmuggle() async throws {
        let server = try await TestServer.start { $0.limits.messageSize = 10_000 }
        defer { Task { await server.stop() } }
        let c = try await server.openTransaction(sender: "a@sender.test")
        _ = try await c.command("DATA")
        let line = String(repeating: "z", count: 900) + "\r\n"
        try await c.send(String(repeating: line, count: 20) + ".\nHELP\r\nHELP\r\n\r\n.\r\n")
        let replies = try await c.readUntilClose(timeout: .seconds(5))
        #expect(replies.count == 1)
        #expect(replies.first.map { $0.code == 552 || $0.code == 521 } == true)
        #expect(!replies.contains { $0.code == 214 })
    }

    @Test("A second transaction pipelined right after the end of data is answered in order")
    func pipelinedAfterEOD() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await server.openTransaction(sender: "a@sender.test")
        _ = try await c.command("DATA")
        try await c.send("Subject: one\r\n\r\nbody\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<user@tern.test>\r\nDATA\r\nSubject: two\r\n\r\nx\r\n.\r\n")
        var codes: [Int] = []
        for _ in 0..<5 { codes.append(try await c.readReply().code) }
        #expect(codes == [250, 250, 250, 354, 250])
        let messages = await server.waitForMessages("user", count: 2)
        #expect(messages.count == 2)
        #expect(messages.contains { $0.contains("Subject: one\n\nbody\n") && !$0.contains("Subject: two") })
    }
}
