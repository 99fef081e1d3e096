import Foundation
import Testing

/// A whole server in-process, real sockets, real TLS.
@Suite("Receiving mail end to end", .serialized)
struct DeliveryTests {
    @Test("A message on the MX port lands in the user's Maildir with Return-Path, Delivered-To and Received")
    func mxDelivery() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        #expect(try await c.readReply().code == 220)
        #expect(try await c.command("EHLO client.test").code == 250)
        #expect(try await c.command("MAIL FROM:<sender@example.org>").code == 250)
        #expect(try await c.command("RCPT TO:<user+tag@tern.test>").code == 250)
        #expect(try await c.command("DATA").code == 354)
        let queued = try await c.command("Subject: hello\r\n\r\n..dotted\r\nline two\r\n.")
        #expect(queued.code == 250)
        #expect(queued.text.hasPrefix("2.0.0 queued as "))
        #expect(try await c.command("QUIT").code == 221)
        let messages = await server.waitForMessages("user", count: 1)
        #expect(messages.count == 1)
        let m = messages.first ?? ""
        #expect(m.hasPrefix("Return-Path: <sender@example.org>\nDelivered-To: user+tag@tern.test\nReceived: from client.test"))
        #expect(m.contains("by mx.tern.test (Tern) with ESMTP id "))
        #expect(m.contains("\tfor <user+tag@tern.test>; "))
        #expect(m.hasSuffix("Subject: hello\n\n.dotted\nline two\n"))
        #expect(!m.contains("\r"))
    }

    @Test("Submission: STARTTLS, AUTH, then a message for a local user; Received says ESMTPSA with TLS version and cipher")
    func submission() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.submissionPort)
        _ = try await c.readReply()
        let ehlo = try await c.command("EHLO client.test")
        #expect(ehlo.lines.contains("STARTTLS"))
        #expect(!ehlo.lines.contains { $0.hasPrefix("AUTH") })
        #expect(try await c.command("AUTH PLAIN AHVzZXJAdGVybi50ZXN0AHNlY3JldA==").code == 538)
        #expect(try await c.command("STARTTLS").code == 220)
        try await c.startTLS(trust: server.certificatePEM)
        #expect(try await c.command("EHLO client.test").lines.contains("AUTH PLAIN LOGIN"))
        #expect(try await c.command("MAIL FROM:<user@tern.test>").code == 530)
        #expect(try await c.command("AUTH PLAIN AHVzZXJAdGVybi50ZXN0AHNlY3JldA==").code == 235)
        #expect(try await c.command("MAIL FROM:<alice@tern.test>").code == 553)
        #expect(try await c.command("MAIL FROM:<user+x@tern.test>").code == 250)
        #expect(try await c.command("RCPT TO:<alice@tern.test>").code == 250)
        #expect(try await c.command("DATA").code == 354)
        #expect(try await c.command("Subject: s\r\n\r\nbody\r\n.").code == 250)
        let m = await server.waitForMessages("alice", count: 1).first ?? ""
        #expect(m.contains("with ESMTPSA id"))
        #expect(m.contains("(using TLSv1.3 with cipher TLS_"))
    }

    @Test("Implicit TLS on the submissions port: greeting only after the handshake")
    func submissions() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        #expect(try await c.readReply().code == 220)
        #expect(try await c.command("EHLO c.test").lines.contains("AUTH PLAIN LOGIN"))
        #expect(try await c.command("AUTH LOGIN").text == "VXNlcm5hbWU6")
        #expect(try await c.command(Data("alice@tern.test".utf8).base64EncodedString()).text == "UGFzc3dvcmQ6")
        #expect(try await c.command(Data("wonderland".utf8).base64EncodedString()).code == 235)
    }

    @Test("Plaintext on the implicit-TLS port gets no SMTP greeting")
    func plaintextOn465() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.submissionsPort)
        try await c.send("EHLO c.test\r\n")
        let replies = try await c.readUntilClose()
        #expect(replies.isEmpty)
    }

    @Test("Authenticated users relay; remote recipients stay safely in the spool")
    func remoteStaysQueued() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        #expect(try await c.command("AUTH PLAIN AHVzZXJAdGVybi50ZXN0AHNlY3JldA==").code == 235)
        #expect(try await c.command("MAIL FROM:<user@tern.test>").code == 250)
        #expect(try await c.command("RCPT TO:<friend@elsewhere.example>").code == 250)
        #expect(try await c.command("DATA").code == 354)
        #expect(try await c.command("Subject: out\r\n\r\nbody\r\n.").code == 250)
        // The record names the recipient and it is not lost: it stays pending.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        while server.spoolRecords.isEmpty && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.spoolRecords.count == 1)
        #expect(server.spoolRecords.first?.contains("friend@elsewhere.example") == true)
    }

    @Test("Aliases fan out to several users and the catch-all takes unknown local parts")
    func aliases() async throws {
        let server = try await TestServer.start(aliases: "postmaster: user@tern.test\nteam@tern.test: user, alice@tern.test\n@tern.test: alice@tern.test\n")
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        _ = try await c.command("MAIL FROM:<a@example.org>")
        #expect(try await c.command("RCPT TO:<team@tern.test>").code == 250)
        #expect(try await c.command("RCPT TO:<whoever@tern.test>").code == 250)
        _ = try await c.command("DATA")
        #expect(try await c.command("Subject: team\r\n\r\nhi\r\n.").code == 250)
        #expect(await server.waitForMessages("user", count: 1).count == 1)
        let alice = await server.waitForMessages("alice", count: 1)
        #expect(alice.count == 1)
    }

    @Test("Unknown local users, relaying and open-relay tricks are refused at RCPT time")
    func refusals() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO c.test")
        _ = try await c.command("MAIL FROM:<a@example.org>")
        let unknown = try await c.command("RCPT TO:<nobody@tern.test>")
        #expect(unknown.code == 550 && unknown.enhanced == "5.1.1")
        let relay = try await c.command("RCPT TO:<victim@remote.example>")
        #expect(relay.code == 554 && relay.enhanced == "5.7.1")
    }
}
