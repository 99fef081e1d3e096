import Foundation
import Testing
import TernServer
import TernTestSupport

/// Two whole Terns in-process, each on its own loopback address, and a real
/// nsd serving the test zones: the sender (tern.test, 127.0.0.1) resolves
/// the receiver's domain through nsd and delivers on the receiver's MX port.
@Suite("Sending mail to other hosts", .serialized)
struct OutboundTests {
    /// A zone with SOA and NS; `records` are lines relative to the origin.
    static func zone(_ origin: String, _ records: [String]) -> String {
        """
        $ORIGIN \(origin).
        $TTL 60
        @ IN SOA ns.\(origin). hostmaster.\(origin). 1 3600 600 86400 10
        @ IN NS ns.\(origin).
        ns IN A 127.0.0.1

        """ + records.joined(separator: "\n") + "\n"
    }

    /// nsd runs as its own process: tests stop it synchronously in their
    /// `defer` (an async stop in a detached task may not run before the
    /// test process exits, and the nsd would be left behind).
    struct Pair {
        let nsd: NSDServer
        let sender: TestServer
        let receiver: TestServer

        func stop() async {
            await sender.stop()
            await receiver.stop()
            nsd.stop()
        }
    }

    /// Starts the receiver (b.test on 127.0.0.2), nsd with `zones` (made
    /// with the receiver's address), and the sender pointed at both.
    static func start(zones: (TestServer) -> [String: String],
                      tweak: @escaping (inout Configuration) -> Void = { _ in }) async throws -> Pair {
        let receiver = try await TestServer.start(domain: "b.test", host: "127.0.0.2")
        let nsd: NSDServer
        do {
            nsd = try NSDServer(zones: zones(receiver))
        } catch {
            await receiver.stop()
            throw error
        }
        let dnsPort = nsd.port
        let port = receiver.mxPort
        let sender = try await TestServer.start { c in
            c.dns.nameservers = [Configuration.Endpoint(address: "127.0.0.1", port: dnsPort, isIPv6: false)]
            c.delivery.mxPort = port
            c.delivery.sourceAddress = "127.0.0.1"
            c.delivery.retryMin = .seconds(1)
            tweak(&c)
        }
        return Pair(nsd: nsd, sender: sender, receiver: receiver)
    }

    /// Submits one message on the sender's submission port as user@tern.test.
    static func submit(_ server: TestServer, to recipients: [String], from: String = "user@tern.test",
                       body: String = "Subject: outbound\r\n\r\nhello\r\n") async throws -> String {
        let c = try await SMTPTestClient.connect(port: server.submissionPort)
        _ = try await c.readReply()
        _ = try await c.command("EHLO client.test")
        #expect(try await c.command("STARTTLS").code == 220)
        try await c.startTLS(trust: server.certificatePEM)
        _ = try await c.command("EHLO client.test")
        let token = Data("\0user@tern.test\0secret".utf8).base64EncodedString()
        #expect(try await c.command("AUTH PLAIN \(token)").code == 235)
        #expect(try await c.command("MAIL FROM:<\(from)>").code == 250)
        for r in recipients { #expect(try await c.command("RCPT TO:<\(r)>").code == 250) }
        #expect(try await c.command("DATA").code == 354)
        let queued = try await c.command(body + ".")
        #expect(queued.code == 250)
        _ = try await c.command("QUIT")
        return queued.text
    }

    /// Waits until the sender's spool has no entry left.
    static func waitForEmptySpool(_ server: TestServer, timeout: Duration = .seconds(20)) async -> Bool {
        await waitUntil(timeout: timeout) { server.spoolIsEmpty }
    }

    /// Waits until a spool record mentions `text`.
    static func waitForRecord(_ server: TestServer, containing text: String, timeout: Duration = .seconds(20)) async -> String? {
        _ = await waitUntil(timeout: timeout) { server.spoolStates.contains { $0.contains(text) } }
        return server.spoolStates.first { $0.contains(text) }
    }

    @Test("Submitted on 587 for another domain: MX lookup, STARTTLS, delivered into the receiver's Maildir")
    func deliversToMX() async throws {
        let pair = try await Self.start { r in
            ["b.test": Self.zone("b.test", ["@ IN MX 10 mx", "mx IN A \(r.host)"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test", "alice@b.test"])
        let user = await pair.receiver.waitForMessages("user", count: 1)
        let alice = await pair.receiver.waitForMessages("alice", count: 1)
        #expect(user.count == 1 && alice.count == 1)
        let m = user.first ?? ""
        #expect(m.contains("Subject: outbound"))
        // The receiver's Received field: from the sender's EHLO name and
        // address, over TLS (ESMTPS), one transaction for both recipients.
        #expect(m.contains("Received: from mx.tern.test (mx.tern.test [127.0.0.1])") || m.contains("from mx.tern.test"))
        #expect(m.contains("with ESMTPS"))
        #expect(await Self.waitForEmptySpool(pair.sender))
    }

    @Test("MX preference: the first MX is down, the second takes the message")
    func fallsBackToSecondMX() async throws {
        let pair = try await Self.start { r in
            // 127.0.0.3 has nothing listening on the MX port.
            ["b.test": Self.zone("b.test", ["@ IN MX 10 down", "@ IN MX 20 mx", "down IN A 127.0.0.3", "mx IN A \(r.host)"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test"])
        #expect(await pair.receiver.waitForMessages("user", count: 1).count == 1)
        #expect(await Self.waitForEmptySpool(pair.sender))
    }

    @Test("No MX record: the domain's own address (implicit MX)")
    func implicitMX() async throws {
        let pair = try await Self.start { r in
            ["b.test": Self.zone("b.test", ["@ IN A \(r.host)"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test"])
        #expect(await pair.receiver.waitForMessages("user", count: 1).count == 1)
    }

    @Test("Null MX fails the recipient at once with 556 5.1.10; no connection is made")
    func nullMX() async throws {
        let pair = try await Self.start { r in
            ["b.test": Self.zone("b.test", ["@ IN MX 0 .", "@ IN A \(r.host)"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test"])
        // Failed for good: either still recorded as failed (bounce owed) or
        // already bounced to the sender.
        let bounced = await pair.sender.waitForMessages("user", count: 1)
        let record = pair.sender.spoolStates.first { $0.contains("5.1.10") }
        #expect(!bounced.isEmpty || record != nil)
        if let m = bounced.first { #expect(m.contains("5.1.10")) }
        #expect(pair.receiver.messages("user").isEmpty)
    }

    @Test("A 5xx from the receiver fails that recipient only; the other is delivered")
    func perRecipientReplies() async throws {
        let pair = try await Self.start { r in
            ["b.test": Self.zone("b.test", ["@ IN MX 10 mx", "mx IN A \(r.host)"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test", "nobody@b.test"])
        #expect(await pair.receiver.waitForMessages("user", count: 1).count == 1)
        let bounced = await pair.sender.waitForMessages("user", count: 1)
        let record = pair.sender.spoolStates.first { $0.contains("5.1.1") }
        #expect(!bounced.isEmpty || record != nil)
    }

    @Test("A DNS failure (a zone the server refuses) defers; it never falls back to the address")
    func temporaryDNSFailure() async throws {
        let pair = try await Self.start { _ in
            ["other.test": Self.zone("other.test", ["@ IN A 127.0.0.9"])]
        }
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(pair.sender, to: ["user@b.test"])
        let record = await Self.waitForRecord(pair.sender, containing: "\"deferred\"")
        #expect(record?.contains("4.4.3") == true)
        #expect(pair.receiver.messages("user").isEmpty)
    }

    @Test("Relay host: through the receiver's submission port with STARTTLS and AUTH, never to the MX")
    func relayHost() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let passwordFile = directory.appendingPathComponent("password").path
        try "secret\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        // The receiver is the relay (its submission port), where the sender
        // has an account of the same name. The MX of c.test is a dead
        // address: mail that went direct would never arrive.
        let receiver = try await TestServer.start(domain: "b.test", host: "127.0.0.2",
                                                  extraUsers: ["user@tern.test": "secret"])
        let caFile = directory.appendingPathComponent("ca.pem").path
        try receiver.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        let nsd = try NSDServer(zones: ["c.test": Self.zone("c.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.3"])])
        let port = nsd.port
        let sender = try await TestServer.start { c in
            c.dns.nameservers = [Configuration.Endpoint(address: "127.0.0.1", port: port, isIPv6: false)]
            c.delivery.relay = Configuration.Relay(host: receiver.host, port: receiver.submissionPort,
                                                   username: "user@tern.test", passwordFile: passwordFile)
            c.delivery.relay?.caFile = caFile
        }
        let pair = Pair(nsd: nsd, sender: sender, receiver: receiver)
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        // A recipient the relay delivers locally, and one it queues to send
        // on (c.test): the sender hands both to the relay.
        _ = try await Self.submit(sender, to: ["alice@b.test", "carol@c.test"], from: "user@tern.test")
        // (The relay's spool keeps carol's copy, so wait for the Maildir alone.)
        _ = await waitUntil(timeout: .seconds(20)) { !receiver.messages("alice").isEmpty }
        let got = receiver.messages("alice")
        #expect(got.count == 1)
        #expect(got.first?.contains("with ESMTPSA") == true, "authenticated submission over TLS at the relay")
        #expect(await Self.waitForEmptySpool(sender))
        #expect(receiver.spoolRecords.contains { $0.contains("carol@c.test") }, "the relay holds carol's copy")
    }

    @Test("Relay refuses AUTH: the recipient bounces with a text naming the relay")
    func relayRefusesAuth() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tern-relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let passwordFile = directory.appendingPathComponent("password").path
        try "wrong\n".write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let receiver = try await TestServer.start(domain: "b.test", host: "127.0.0.2")
        let caFile = directory.appendingPathComponent("ca.pem").path
        try receiver.certificatePEM.write(toFile: caFile, atomically: true, encoding: .utf8)
        let nsd = try NSDServer(zones: ["c.test": Self.zone("c.test", ["@ IN A 127.0.0.3"])])
        let port = nsd.port
        let sender = try await TestServer.start { c in
            c.dns.nameservers = [Configuration.Endpoint(address: "127.0.0.1", port: port, isIPv6: false)]
            c.delivery.relay = Configuration.Relay(host: receiver.host, port: receiver.submissionPort,
                                                   username: "user@b.test", passwordFile: passwordFile)
            c.delivery.relay?.caFile = caFile
        }
        let pair = Pair(nsd: nsd, sender: sender, receiver: receiver)
        defer { pair.nsd.stop(); Task { await pair.stop() } }
        _ = try await Self.submit(sender, to: ["alice@b.test"])
        let bounced = await sender.waitForMessages("user", count: 1)
        let record = sender.spoolStates.first { $0.contains("refused authentication") }
        #expect(!bounced.isEmpty || record != nil)
        if let m = bounced.first { #expect(m.contains("refused authentication")) }
        #expect(receiver.messages("alice").isEmpty)
    }
}

@Suite("Capture mode")
struct CaptureTests {
    @Test("[delivery] capture: remote mail lands in the capture Maildir, nothing is sent, the spool empties")
    func capture() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-capture-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try await TestServer.start { c in c.delivery.capture = dir.path }
        defer { Task { await server.stop() } }
        _ = try await OutboundTests.submit(server, to: ["friend@elsewhere.example", "other@elsewhere.example"])
        _ = await waitUntil { TestServer.messages(inMaildir: dir).count >= 2 && server.spoolIsEmpty }
        let texts = TestServer.messages(inMaildir: dir)
        #expect(texts.count == 2, "one copy per recipient")
        #expect(Set(texts.compactMap { $0.split(separator: "\n").first { $0.hasPrefix("Delivered-To:") } })
                == ["Delivered-To: friend@elsewhere.example", "Delivered-To: other@elsewhere.example"])
        #expect(server.spoolIsEmpty)
    }
}
