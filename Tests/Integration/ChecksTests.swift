import Foundation
import Testing
import TernServer
import TernTestSupport

/// SPF and DMARC after DATA on port 25, against a real nsd with the test
/// domains' records: the verdicts in Authentication-Results and
/// Received-SPF, DMARC reject and quarantine, forged results removed.
@Suite("SPF and DMARC on port 25", .serialized)
struct ChecksTests {
    static let zones: [String: String] = [
        "pass.test": OutboundTests.zone("pass.test", [
            "@ IN TXT \"v=spf1 ip4:127.0.0.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=reject\""]),
        "reject.test": OutboundTests.zone("reject.test", [
            "@ IN TXT \"v=spf1 ip4:192.0.2.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=reject\""]),
        "quarantine.test": OutboundTests.zone("quarantine.test", [
            "@ IN TXT \"v=spf1 ip4:192.0.2.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=quarantine\""]),
        "nodmarc.test": OutboundTests.zone("nodmarc.test", ["@ IN TXT \"v=spf1 ip4:192.0.2.1 -all\""]),
    ]

    static func start(spf: Configuration.Checks.SPFPolicy = .annotate) async throws -> (NSDServer, TestServer) {
        let nsd = try NSDServer(zones: zones)
        let port = nsd.port
        let server = try await TestServer.start { c in
            c.dns.nameservers = [Configuration.Endpoint(address: "127.0.0.1", port: port, isIPv6: false)]
            c.checks.spf = spf
            c.checks.dmarc = .enforce
        }
        return (nsd, server)
    }

    /// One message on the MX port; returns the final reply to DATA.
    static func send(_ server: TestServer, from: String, headerFrom: String,
                     extraHeaders: String = "") async throws -> SMTPTestClient.Reply {
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO client.test")
        #expect(try await c.command("MAIL FROM:<\(from)>").code == 250)
        #expect(try await c.command("RCPT TO:<user@tern.test>").code == 250)
        #expect(try await c.command("DATA").code == 354)
        let reply = try await c.command("\(extraHeaders)From: <\(headerFrom)>\r\nSubject: checks\r\n\r\nbody\r\n.")
        _ = try? await c.command("QUIT")
        return reply
    }

    /// The header section of a delivered message (Maildir: LF line ends).
    static func header(_ message: String) -> String {
        String(message.components(separatedBy: "\n\n").first ?? "")
    }

    @Test("SPF and DMARC pass: Authentication-Results and Received-SPF on top, delivered to the inbox")
    func pass() async throws {
        let (nsd, server) = try await Self.start()
        defer { nsd.stop(); Task { await server.stop() } }
        let reply = try await Self.send(server, from: "alice@pass.test", headerFrom: "alice@pass.test")
        #expect(reply.code == 250)
        let messages = await server.waitForMessages("user", count: 1)
        let head = Self.header(messages.first ?? "")
        #expect(head.contains("Authentication-Results: mx.tern.test;"))
        #expect(head.contains("spf=pass smtp.mailfrom=alice@pass.test"))
        #expect(head.contains("dmarc=pass"))
        #expect(head.contains("header.from=pass.test"))
        #expect(head.contains("Received-SPF: pass"))
        // Trace fields above our Received field.
        let ar = head.range(of: "Authentication-Results:")?.lowerBound
        let received = head.range(of: "Received: from client.test")?.lowerBound
        #expect(ar != nil && received != nil && ar! < received!)
    }

    @Test("DMARC p=reject with SPF failing and no DKIM: 550 5.7.1 at the end of DATA, nothing delivered")
    func dmarcReject() async throws {
        let (nsd, server) = try await Self.start()
        defer { nsd.stop(); Task { await server.stop() } }
        let reply = try await Self.send(server, from: "bob@reject.test", headerFrom: "bob@reject.test")
        #expect(reply.code == 550)
        #expect(reply.enhanced == "5.7.1")
        #expect(server.messages("user").isEmpty)
        #expect(server.spoolRecords.isEmpty)
    }

    @Test("DMARC p=quarantine: delivered into the user's Junk folder (Maildir++ .Junk), not the inbox")
    func dmarcQuarantine() async throws {
        let (nsd, server) = try await Self.start()
        defer { nsd.stop(); Task { await server.stop() } }
        let reply = try await Self.send(server, from: "eve@quarantine.test", headerFrom: "eve@quarantine.test")
        #expect(reply.code == 250)
        let junk = server.maildir("user").appendingPathComponent(".Junk")
        _ = await waitUntil { !TestServer.messages(inMaildir: junk).isEmpty }
        let junked = TestServer.messages(inMaildir: junk)
        #expect(junked.count == 1)
        #expect(FileManager.default.fileExists(atPath: junk.appendingPathComponent("maildirfolder").path))
        #expect(server.messages("user").isEmpty, "nothing in the inbox")
        let text = junked.first ?? ""
        #expect(text.contains("dmarc=fail"))
        #expect(text.contains("spf=fail"))
    }

    @Test("Authentication-Results claiming this host are removed; others stay")
    func forgedResultsRemoved() async throws {
        let (nsd, server) = try await Self.start()
        defer { nsd.stop(); Task { await server.stop() } }
        let forged = "Authentication-Results: MX.TERN.TEST (forged);\r\n\tdkim=pass header.d=bank.example\r\n"
            + "Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example\r\n"
        let reply = try await Self.send(server, from: "alice@pass.test", headerFrom: "alice@pass.test",
                                        extraHeaders: forged)
        #expect(reply.code == 250)
        let head = Self.header(await server.waitForMessages("user", count: 1).first ?? "")
        #expect(!head.contains("bank.example"))
        #expect(!head.contains("(forged)"))
        #expect(head.contains("Authentication-Results: other.example; spf=pass"))
        #expect(head.components(separatedBy: "Authentication-Results: mx.tern.test;").count == 2)
    }

    @Test("spf = \"reject\": a failing sender gets 550 5.7.23 even without a DMARC record")
    func spfReject() async throws {
        let (nsd, server) = try await Self.start(spf: .reject)
        defer { nsd.stop(); Task { await server.stop() } }
        let reply = try await Self.send(server, from: "carol@nodmarc.test", headerFrom: "carol@nodmarc.test")
        #expect(reply.code == 550)
        #expect(reply.enhanced == "5.7.23")
        #expect(server.messages("user").isEmpty)
    }

    @Test("Submissions are not checked but say who authenticated (auth=pass smtp.auth)")
    func submissionAnnotated() async throws {
        let (nsd, server) = try await Self.start()
        defer { nsd.stop(); Task { await server.stop() } }
        _ = try await OutboundTests.submit(server, to: ["alice@tern.test"], from: "user@tern.test",
                                           body: "From: <user@tern.test>\r\nSubject: s\r\n\r\nhi\r\n")
        let head = Self.header(await server.waitForMessages("alice", count: 1).first ?? "")
        #expect(head.contains("auth=pass smtp.auth=user@tern.test"))
        #expect(!head.contains("Received-SPF"))
    }
}
