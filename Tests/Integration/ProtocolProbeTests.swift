import Foundation
import Testing

/// The server-side probes of ../shared/conformance/smtp/protocol-probes.yaml,
/// each against a real listener. The table below gives the reply codes Tern
/// answers; a test checks that every probe id of the file is covered here or
/// in a named test elsewhere.
@Suite("Protocol probes", .serialized)
struct ProtocolProbeTests {
    enum Start: Sendable {
        case greeting, ehlo, tx, rcpt
        /// On 587 without TLS, after EHLO.
        case submissionPlain
        /// On 465 (TLS), before EHLO.
        case tlsGreeting
        /// On 465 (TLS), after EHLO.
        case tlsEhlo
        /// On 465, after EHLO and AUTH.
        case authenticated
        /// On 465, authenticated, after MAIL.
        case authenticatedTx
    }

    struct Probe: Sendable, CustomStringConvertible {
        var id: String
        var start: Start
        /// Each element is sent as is (add CRLF yourself) and answered by the next code(s).
        var steps: [(send: [UInt8], replies: Int)]
        var expect: [Int]
        var thenCloses = false
        var description: String { id }

        init(_ id: String, _ start: Start, _ lines: [String], _ expect: [Int], closes: Bool = false) {
            self.id = id
            self.start = start
            self.steps = lines.map { (Array(($0 + "\r\n").utf8), 1) }
            self.expect = expect
            self.thenCloses = closes
        }

        /// One write holding several commands, answered by `replies` replies.
        init(_ id: String, _ start: Start, oneWrite: [UInt8], replies: Int, _ expect: [Int], closes: Bool = false) {
            self.id = id
            self.start = start
            self.steps = [(oneWrite, replies)]
            self.expect = expect
            self.thenCloses = closes
        }
    }

    static let plain = Data("\0user@tern.test\0secret".utf8).base64EncodedString()
    static let wrong = Data("\0user@tern.test\0wrong".utf8).base64EncodedString()
    static let other = Data("alice@tern.test\0user@tern.test\0secret".utf8).base64EncodedString()
    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    static let probes: [Probe] = [
        // greeting_and_helo
        Probe("helo", .greeting, ["HELO client.test"], [250]),
        Probe("ehlo", .greeting, ["EHLO client.test"], [250]),
        Probe("ehlo-empty", .greeting, ["EHLO"], [501]),
        Probe("helo-empty", .greeting, ["HELO"], [501]),
        Probe("ehlo-twice", .ehlo, ["EHLO again.test"], [250]),
        Probe("ehlo-mismatch", .greeting, ["EHLO not-my-ptr.example"], [250]),
        Probe("ehlo-address-literal", .greeting, ["EHLO [127.0.0.1]"], [250]),
        Probe("ehlo-ipv6-literal", .greeting, ["EHLO [IPv6:::1]"], [250]),
        Probe("mail-before-ehlo", .greeting, ["MAIL FROM:<a@b.test>"], [503]),
        // commands
        Probe("unknown-command", .ehlo, ["WHATISTHIS", "NOOP"], [500, 250]),
        Probe("empty-line", .ehlo, [""], [500]),
        Probe("http-get", .greeting, ["GET / HTTP/1.1"], [502], closes: true),
        Probe("http-post", .greeting, ["POST /evil HTTP/1.1"], [502], closes: true),
        Probe("http-connect", .greeting, ["CONNECT www.example.com:80 HTTP/1.1"], [502], closes: true),
        Probe("noop", .ehlo, ["NOOP"], [250]),
        Probe("noop-arg", .ehlo, ["NOOP anything"], [250]),
        Probe("rset", .tx, ["RSET", "RCPT TO:<user@tern.test>"], [250, 503]),
        Probe("vrfy", .ehlo, ["VRFY postmaster"], [252]),
        Probe("expn", .ehlo, ["EXPN staff"], [502]),
        Probe("help", .ehlo, ["HELP"], [214]),
        Probe("quit", .ehlo, ["QUIT"], [221], closes: true),
        Probe("quit-args", .ehlo, ["QUIT now"], [221], closes: true),
        Probe("lowercase-verbs", .greeting, ["ehlo client.test", "mail from:<a@b.test>"], [250, 250]),
        Probe("command-line-too-long", .ehlo, ["NOOP " + String(repeating: "a", count: 1100), "NOOP"], [500, 250]),
        Probe("long-line-split", .ehlo, oneWrite: Array(("NOOP " + String(repeating: "A", count: 1020) + "QUIT\r\nNOOP\r\n").utf8),
              replies: 2, [500, 250]),
        Probe("nul-in-command", .ehlo, oneWrite: Array("MAIL FROM:<a\u{0}@b.test>\r\n".utf8), replies: 1, [500]),
        Probe("bare-lf-command", .greeting, oneWrite: Array("EHLO client.test\n".utf8), replies: 1, [521], closes: true),
        Probe("eight-bit-command", .ehlo, oneWrite: Array("MAIL FROM:<h".utf8) + [0xE9] + Array("@b.test>\r\n".utf8),
              replies: 1, [553]),
        // mail_from
        Probe("null-sender", .ehlo, ["MAIL FROM:<>"], [250]),
        Probe("null-sender-space", .ehlo, ["MAIL FROM: <>"], [250]),
        Probe("no-brackets", .ehlo, ["MAIL FROM:a@b.test"], [501]),
        Probe("wrong-keyword", .ehlo, ["MAIL LALA: <>"], [501]),
        Probe("empty-arg", .ehlo, ["MAIL FROM:"], [501]),
        Probe("no-domain", .ehlo, ["MAIL FROM:<pepe>"], [501]),
        Probe("no-local", .ehlo, ["MAIL FROM: < @doe>"], [501]),
        Probe("empty-domain", .ehlo, ["MAIL FROM: <john@ >"], [501]),
        Probe("bad-idna", .ehlo, ["MAIL FROM:<a@xn--->"], [501]),
        Probe("local-64", .ehlo, ["MAIL FROM: <abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789ab@doe>"], [250]),
        Probe("local-65", .ehlo, ["MAIL FROM: <abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789abc@doe>"], [250]),
        Probe("path-too-long", .ehlo, ["MAIL FROM:<" + String(repeating: "a", count: 300) + "@example.test>"], [501]),
        Probe("special-chars", .ehlo, ["MAIL FROM: <!#$%&'*+-/=?^_`.{|}~@doe>"], [250]),
        Probe("quoted-local", .ehlo, ["MAIL FROM:<\"john doe\"@example.test>"], [250]),
        Probe("source-route", .ehlo, ["MAIL FROM:<@relay.test:a@b.test>"], [250]),
        Probe("mail-twice", .tx, ["MAIL FROM:<c@d.test>"], [503]),
        Probe("size-too-big", .ehlo, ["MAIL FROM:<a@b.test> SIZE=52428801"], [552]),
        Probe("size-bad", .ehlo, ["MAIL FROM:<a@b.test> SIZE=abc"], [501]),
        Probe("unknown-param", .ehlo, ["MAIL FROM:<a@b.test> FOO=BAR"], [555]),
        Probe("body-8bitmime", .ehlo, ["MAIL FROM:<a@b.test> BODY=8BITMIME"], [250]),
        Probe("body-binarymime", .ehlo, ["MAIL FROM:<a@b.test> BODY=BINARYMIME"], [504]),
        Probe("smtputf8", .ehlo, ["MAIL FROM:<ñandú@ñoños.test> SMTPUTF8"], [250]),
        Probe("auth-param", .ehlo, ["MAIL FROM:<a@b.test> AUTH=<>"], [250]),
        // rcpt_to
        Probe("rcpt-before-mail", .ehlo, ["RCPT TO:<user@tern.test>"], [503]),
        Probe("rcpt-wrong-keyword", .tx, ["RCPT LALA: <>"], [501]),
        Probe("rcpt-empty", .tx, ["RCPT TO:"], [501]),
        Probe("rcpt-no-domain", .tx, ["RCPT TO:<pepe>"], [501]),
        Probe("rcpt-postmaster", .tx, ["RCPT TO:<postmaster>"], [250]),
        Probe("rcpt-unknown-user", .tx, ["RCPT TO:<nobody@tern.test>"], [550]),
        Probe("rcpt-invalid-utf8", .tx, oneWrite: Array("RCPT TO:<henry".utf8) + [0xE2, 0x82, 0xA3] + Array("@tern.test>\r\n".utf8),
              replies: 1, [553]),
        Probe("rcpt-too-long", .tx, ["RCPT TO:<" + String(repeating: "a", count: 300) + "@tern.test>"], [501]),
        Probe("rcpt-100", .tx, Array(repeating: "RCPT TO:<user@tern.test>", count: 100), Array(repeating: 250, count: 100)),
        Probe("rcpt-too-many", .tx, Array(repeating: "RCPT TO:<user@tern.test>", count: 101),
              Array(repeating: 250, count: 100) + [452]),
        Probe("relay-plain", .tx, ["RCPT TO:<victim@remote.example>"], [554]),
        Probe("relay-percent-hack", .tx, ["RCPT TO:<victim%remote.example@tern.test>"], [550]),
        Probe("relay-quoted", .tx, ["RCPT TO:<\"victim@remote.example\"@tern.test>"], [550]),
        Probe("relay-source-route", .tx, ["RCPT TO:<@tern.test:victim@remote.example>"], [554]),
        Probe("relay-double-at", .tx, ["RCPT TO:<victim@remote.example@tern.test>"], [501]),
        Probe("relay-bang-path", .tx, ["RCPT TO:<remote.example!victim@tern.test>"], [550]),
        Probe("relay-domain-literal", .tx, ["RCPT TO:<victim@[127.0.0.1]>"], [550]),
        Probe("relay-after-auth", .authenticated, ["MAIL FROM:<user@tern.test>", "RCPT TO:<victim@remote.example>"], [250, 250]),
        // data
        Probe("data-before-helo", .greeting, ["DATA"], [503]),
        Probe("data-before-mail", .ehlo, ["DATA"], [503]),
        Probe("data-no-valid-rcpt", .tx, ["DATA"], [554]),
        Probe("data-param", .rcpt, ["DATA foo"], [501]),
        Probe("empty-body", .rcpt, ["DATA", "."], [354, 250]),
        Probe("header-not-ending", .rcpt, ["DATA", "From: a@b.test\r\nSubject: x\r\nBad header\r\n\r\nbody\r\n."], [354, 250]),
        Probe("line-1000", .rcpt, ["DATA", "Subject: l\r\n\r\n" + String(repeating: "a", count: 998) + "\r\n."], [354, 250]),
        Probe("line-too-long", .rcpt, ["DATA", "Subject: l\r\n\r\n" + String(repeating: "a", count: 5000) + "\r\n.", "NOOP"],
              [354, 500, 250]),
        Probe("loop-101-received", .rcpt,
              ["DATA", String(repeating: "Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n", count: 101)
                  + "Subject: loop\r\n\r\nx\r\n."], [354, 554]),
        // pipelining
        Probe("pipelined-envelope", .ehlo,
              oneWrite: Array("MAIL FROM:<a@b.test>\r\nRCPT TO:<user@tern.test>\r\nRCPT TO:<nobody@tern.test>\r\nDATA\r\n".utf8),
              replies: 4, [250, 250, 550, 354]),
        Probe("pipelined-all-rcpt-fail", .ehlo,
              oneWrite: Array("MAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@tern.test>\r\nDATA\r\n".utf8), replies: 3, [250, 550, 554]),
        Probe("pipelined-after-quit", .ehlo, oneWrite: Array("QUIT\r\nNOOP\r\n".utf8), replies: 1, [221], closes: true),
        // starttls
        Probe("starttls-with-arg", .ehlo, ["STARTTLS now"], [501]),
        Probe("auth-before-tls-587", .submissionPlain, ["AUTH PLAIN " + plain], [538]),
        // auth (TLS on 465)
        Probe("auth-before-ehlo", .tlsGreeting, ["AUTH PLAIN"], [503]),
        Probe("auth-unknown-mech", .tlsEhlo, ["AUTH SOMETHINGELSE"], [504]),
        Probe("auth-plain-bad-base64", .tlsEhlo, ["AUTH PLAIN", "dXNlckB0ZXN0c2VydmVyAHlalala=="], [334, 501]),
        Probe("auth-plain-wrong-password", .tlsEhlo, ["AUTH PLAIN " + wrong], [535]),
        Probe("auth-plain-ok", .tlsEhlo, ["AUTH PLAIN " + plain], [235]),
        Probe("auth-twice", .authenticated, ["AUTH PLAIN " + plain], [503]),
        Probe("auth-during-transaction", .authenticatedTx, ["AUTH PLAIN " + plain], [503]),
        Probe("auth-cancel", .tlsEhlo, ["AUTH PLAIN", "*"], [334, 501]),
        Probe("auth-empty-initial-response", .tlsEhlo, ["AUTH PLAIN ="], [501]),
        Probe("auth-authzid-mismatch", .tlsEhlo, ["AUTH PLAIN " + other], [535]),
        Probe("auth-login", .tlsEhlo, ["AUTH LOGIN", b64("user@tern.test"), b64("secret")], [334, 334, 235]),
        Probe("auth-line-too-long", .tlsEhlo, ["AUTH PLAIN " + String(repeating: "QUFB", count: 5000)], [500]),
        Probe("auth-port-25-submission", .ehlo, ["MAIL FROM:<user@tern.test>", "RCPT TO:<victim@remote.example>"], [250, 554]),
        // resource_limits
        Probe("error-flood", .ehlo, oneWrite: Array(String(repeating: "WHATISTHIS\r\n", count: 20).utf8), replies: 21,
              Array(repeating: 500, count: 20) + [421], closes: true),
    ]

    /// Probes run by dedicated tests below or in other suites.
    static let coveredElsewhere: [String: String] = [
        "greeting": "every probe reads the 220 greeting first",
        "simple-message": "simpleMessage", "dot-stuffing": "dotStuffing", "message-too-big": "messageTooBig",
        "nul-in-body": "nulInBody", "disconnect-mid-data": "disconnectMidData",
        "starttls-advertised": "startTLSFlow", "starttls-ok": "startTLSFlow", "starttls-forget-state": "startTLSFlow",
        "starttls-ehlo-after": "startTLSFlow", "starttls-twice": "startTLSFlow",
        "starttls-command-injection": "startTLSInjection", "starttls-garbage-handshake": "garbageHandshake",
        "implicit-tls-465-plaintext": "DeliveryTests.plaintextOn465", "auth-brute-force": "authBruteForce",
        "idle-timeout": "idleTimeout", "slow-data": "slowData", "connection-flood": "connectionFlood",
    ]

    @Test("Every server-side probe of protocol-probes.yaml is covered")
    func coverage() throws {
        let sections: Set<String> = ["greeting_and_helo", "commands", "mail_from", "rcpt_to", "data", "pipelining",
                                     "starttls", "auth", "resource_limits"]
        let ids = try Conformance.protocolProbeIDs(sections: sections)
        #expect(ids.count > 90)
        let covered = Set(ProtocolProbeTests.probes.map(\.id)).union(ProtocolProbeTests.coveredElsewhere.keys)
        let missing = ids.filter { !covered.contains($0) }
        #expect(missing.isEmpty, "not covered: \(missing)")
    }

    @Test("Each probe gets the expected replies", arguments: ProtocolProbeTests.probes)
    func probe(_ probe: Probe) async throws {
        let server = try await Shared.server()
        let c = try await open(probe.start, server)
        var codes: [Int] = []
        for step in probe.steps {
            try await c.send(step.send)
            for _ in 0..<step.replies { codes.append(try await c.readReply().code) }
        }
        #expect(codes == probe.expect)
        if probe.thenCloses {
            #expect(try await c.waitForClose())
        }
        await c.close()
    }

    /// Connects and brings the session to the probe's starting state.
    func open(_ start: Start, _ server: TestServer) async throws -> SMTPTestClient {
        switch start {
        case .greeting, .ehlo, .tx, .rcpt:
            let c = try await SMTPTestClient.connect(port: server.mxPort)
            #expect(try await c.readReply().code == 220)
            if start == .greeting { return c }
            #expect(try await c.command("EHLO client.test").code == 250)
            if start == .ehlo { return c }
            #expect(try await c.command("MAIL FROM:<a@b.test>").code == 250)
            if start == .tx { return c }
            #expect(try await c.command("RCPT TO:<user@tern.test>").code == 250)
            return c
        case .submissionPlain:
            let c = try await SMTPTestClient.connect(port: server.submissionPort)
            _ = try await c.readReply()
            _ = try await c.command("EHLO client.test")
            return c
        case .tlsGreeting, .tlsEhlo, .authenticated, .authenticatedTx:
            let c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
            #expect(try await c.readReply().code == 220)
            if start == .tlsGreeting { return c }
            #expect(try await c.command("EHLO client.test").code == 250)
            if start == .tlsEhlo { return c }
            #expect(try await c.command("AUTH PLAIN " + ProtocolProbeTests.plain).code == 235)
            if start == .authenticated { return c }
            #expect(try await c.command("MAIL FROM:<user@tern.test>").code == 250)
            return c
        }
    }
}

/// One server for the table-driven probes (they leave no state behind that
/// matters to the others); started on first use.
enum Shared {
    private static let instance = Task { try await TestServer.start() }
    static func server() async throws -> TestServer { try await instance.value }
}
