import Foundation
import NIOSSL
import Testing

/// The probes of protocol-probes.yaml that need more than a reply code:
/// stored bytes, TLS handshakes, timeouts, limits.
@Suite("Protocol flows", .serialized)
struct ProtocolFlowTests {
    func transaction(_ server: TestServer) async throws -> SMTPTestClient {
        try await server.openTransaction()
    }

    @Test("simple-message: stored with Return-Path first and a Received field")
    func simpleMessage() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        #expect(try await c.command("DATA").code == 354)
        #expect(try await c.command("From: a@b.test\r\nSubject: t\r\n\r\nbody\r\n.").code == 250)
        let m = await server.waitForMessages("user", count: 1).first ?? ""
        #expect(m.hasPrefix("Return-Path: <a@b.test>\n"))
        #expect(m.contains("\nReceived: from client.test (unknown [127.0.0.1])\n"))
        #expect(m.hasSuffix("From: a@b.test\nSubject: t\n\nbody\n"))
    }

    @Test("dot-stuffing: one leading dot removed from each line (RFC 5321 4.5.2)")
    func dotStuffing() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        _ = try await c.command("DATA")
        let reply = try await c.command(".From: x@y.test\r\nSubject: s\r\n\r\n.Muahahahaha\r\n\r\n..x\r\n\r\n..\r\n\r\n.This is stuffy.\r\n\r\n.")
        #expect(reply.code == 250)
        let m = await server.waitForMessages("user", count: 1).first ?? ""
        #expect(m.hasSuffix("From: x@y.test\nSubject: s\n\nMuahahahaha\n\n.x\n\n.\n\nThis is stuffy.\n\n"))
    }

    @Test("message-too-big: 552 only after the end of data, and the session stays in sync")
    func messageTooBig() async throws {
        let server = try await TestServer.start { $0.limits.messageSize = 20_000 }
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        _ = try await c.command("DATA")
        let line = String(repeating: "x", count: 898) + "\r\n"
        let reply = try await c.command(String(repeating: line, count: 24) + ".")
        #expect(reply.code == 552 && reply.enhanced == "5.3.4")
        #expect(try await c.command("NOOP").code == 250)
        #expect(try await c.command("MAIL FROM:<a@b.test>").code == 250)
        #expect(server.spoolIsEmpty)
    }

    @Test("nul-in-body: accepted with the NUL preserved, never truncated")
    func nulInBody() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        _ = try await c.command("DATA")
        try await c.send(Array("Subject: n\r\n\r\na".utf8) + [0] + Array("b\r\nend\r\n.\r\n".utf8))
        #expect(try await c.readReply().code == 250)
        let m = await server.waitForMessages("user", count: 1).first ?? ""
        #expect(m.hasSuffix("Subject: n\n\na\u{0}b\nend\n"))
    }

    @Test("disconnect-mid-data: nothing is delivered or queued")
    func disconnectMidData() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        _ = try await c.command("DATA")
        try await c.send("Subject: partial\r\n\r\npartial")
        await c.close()
        // A complete message afterwards: once it is delivered, only it is there.
        let d = try await transaction(server)
        _ = try await d.command("DATA")
        #expect(try await d.command("Subject: whole\r\n\r\nwhole\r\n.").code == 250)
        let messages = await server.waitForMessages("user", count: 1)
        #expect(messages.count == 1)
        #expect(messages.first?.contains("Subject: whole") == true)
        #expect(server.spoolIsEmpty)
    }

    @Test("STARTTLS: advertised, then state forgotten, EHLO again, no second STARTTLS")
    func startTLSFlow() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        for port in [server.mxPort, server.submissionPort] {
            let c = try await SMTPTestClient.connect(port: port)
            _ = try await c.readReply()
            #expect(try await c.command("EHLO c.test").lines.contains("STARTTLS"))
            if port == server.mxPort {
                #expect(try await c.command("MAIL FROM:<a@b.test>").code == 250)
            }
            #expect(try await c.command("STARTTLS").code == 220)
            try await c.startTLS(trust: server.certificatePEM)
            #expect(try await c.command("RCPT TO:<user@tern.test>").code == 503)
            let ehlo = try await c.command("EHLO c.test")
            #expect(!ehlo.lines.contains("STARTTLS"))
            #expect(ehlo.lines.contains("AUTH PLAIN LOGIN") == (port == server.submissionPort))
            #expect(try await c.command("STARTTLS").code == 503)
        }
    }

    @Test("STARTTLS command injection: plaintext pipelined after STARTTLS is never answered (CVE-2011-0411)")
    func startTLSInjection() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        try await c.send("STARTTLS\r\nRSET\r\n")
        #expect(try await c.readReply().code == 220)
        try await c.startTLS(trust: server.certificatePEM)
        // Had RSET been kept, its "250 reset" would come before the EHLO reply.
        let first = try await c.command("EHLO c.test")
        #expect(first.lines.first?.contains("greets c.test") == true)
    }

    @Test("Garbage instead of a TLS handshake drops the connection; the listener keeps serving")
    func garbageHandshake() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        #expect(try await c.command("STARTTLS").code == 220)
        var rng = SystemRandomNumberGenerator()
        try await c.send((0..<200).map { _ in UInt8.random(in: 0...255, using: &rng) })
        _ = try? await c.readUntilClose()
        let d = try await SMTPTestClient.connect(port: server.mxPort)
        #expect(try await d.readReply().code == 220)
    }

    @Test("TLS 1.2 is the minimum: a TLS 1.1 client cannot connect; TLS 1.2 can", arguments: [(TLSVersion.tlsv11, false), (.tlsv12, true)])
    func tlsMinimum(version: TLSVersion, succeeds: Bool) async throws {
        let server = try await Shared.server()
        do {
            let c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM,
                                                     maximumTLSVersion: version)
            #expect(try await c.readReply().code == 220)
            #expect(succeeds)
            await c.close()
        } catch {
            #expect(!succeeds, "\(error)")
        }
    }

    @Test("AUTH brute force: failures are counted per address and end in 421")
    func authBruteForce() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        var codes: [Int] = []
        for _ in 0..<5 { codes.append(try await c.command("AUTH PLAIN " + ProtocolProbeTests.wrong).code) }
        codes.append(try await c.readReply().code)
        #expect(codes == [535, 535, 535, 535, 535, 421])
        #expect(try await c.waitForClose())
        // The same address is now refused at once, even with the right password.
        let d = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        _ = try await d.readReply()
        _ = try await d.command("EHLO c.test")
        let blocked = try await d.command("AUTH PLAIN " + ProtocolProbeTests.plain)
        #expect(blocked.code == 421)
    }

    @Test("idle-timeout: 421 4.4.2 then close")
    func idleTimeout() async throws {
        let server = try await TestServer.start { $0.timeouts.command = .seconds(1) }
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        let r = try await c.readReply(timeout: .seconds(5))
        #expect(r.code == 421 && r.enhanced == "4.4.2")
        #expect(try await c.waitForClose())
    }

    @Test("slow-data: a stalled DATA transfer ends in 421 and frees the slot")
    func slowData() async throws {
        let server = try await TestServer.start { $0.timeouts.dataBlock = .seconds(1) }
        defer { Task { await server.stop() } }
        let c = try await transaction(server)
        _ = try await c.command("DATA")
        try await c.send("Subject: slow\r\n")
        let r = try await c.readReply(timeout: .seconds(5))
        #expect(r.code == 421)
        #expect(try await c.waitForClose())
        #expect(server.spoolIsEmpty)
    }

    @Test("connection-flood: past the per-address limit new connections get 421; open ones are unaffected")
    func connectionFlood() async throws {
        let server = try await TestServer.start { $0.limits.connectionsPerIP = 3 }
        defer { Task { await server.stop() } }
        var open: [SMTPTestClient] = []
        for _ in 0..<3 {
            let c = try await SMTPTestClient.connect(port: server.mxPort)
            #expect(try await c.readReply().code == 220)
            open.append(c)
        }
        let extra = try await SMTPTestClient.connect(port: server.mxPort)
        let refused = try await extra.readReply()
        #expect(refused.code == 421)
        #expect(try await extra.waitForClose())
        #expect(try await open[0].command("NOOP").code == 250)
        await open[0].close()
        // The slot is released when a connection closes.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var admitted = false
        while !admitted && clock.now < deadline {
            let again = try await SMTPTestClient.connect(port: server.mxPort)
            admitted = try await again.readReply().code == 220
            await again.close()
        }
        #expect(admitted)
    }
}
