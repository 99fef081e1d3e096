import Foundation
import NIOCore
import Testing
@testable import TernSMTP

/// Plays a server from a script of replies against a `ClientSession` and
/// records what the client wrote.
private struct ScriptedServer {
    var session: ClientSession
    var written: [String] = []
    var results: [ClientTransactionResult] = []
    var failures: [ClientFailure] = []
    var ready = false
    var closed = false
    var tlsRequested = false
    var messageRequested = false

    init(_ configuration: ClientSessionConfiguration = ClientSessionConfiguration(heloName: "client.test")) {
        session = ClientSession(configuration: configuration)
    }

    /// Feeds one reply in wire form (`"250-a\r\n250 b\r\n"` or a single line without CRLF).
    mutating func reply(_ text: String) {
        var reader = ReplyReader()
        let wire = text.hasSuffix("\r\n") ? text : text + "\r\n"
        let replies = (try? reader.feed(Array(wire.utf8))) ?? []
        #expect(replies.count == 1, "script line \(text.debugDescription) is not one reply")
        for r in replies { perform(session.receive(r)) }
    }

    mutating func perform(_ actions: [ClientAction]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                written += String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            case .startTLS: tlsRequested = true
            case .sendMessage: messageRequested = true
            case .ready: ready = true
            case .finished(let r): results.append(r)
            case .failed(let f): failures.append(f)
            case .close: closed = true
            }
        }
    }

    mutating func begin(_ t: ClientTransaction) {
        ready = false
        written = []
        perform(session.begin(t))
    }
}

private func mailbox(_ s: String) -> Mailbox { try! Mailbox(parsing: s) }

private func transaction(from: String = "alice@a.test", to: [String], size: Int = 100, body: BodyType = .sevenBit,
                         utf8: Bool = false) -> ClientTransaction {
    var envelope = Envelope(sender: .mailbox(mailbox(from)), body: body, smtpUTF8: utf8)
    envelope.recipients = to.map { EnvelopeRecipient(mailbox: mailbox($0)) }
    return ClientTransaction(envelope: envelope, recipients: envelope.recipients, messageSize: size)
}

private let fullEHLO = "250-mx.b.test hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n"

@Suite("SMTP client session")
struct ClientSessionTests {
    @Test("Replies: multiline, enhanced codes split off, malformed lines refused")
    func replyReader() throws {
        var reader = ReplyReader()
        let replies = try reader.feed(Array("250-mx hello\r\n250 2.0.0 ok\r\n550 5.1.1 <x@y>: no such user\n".utf8))
        #expect(replies.count == 2)
        #expect(replies[0].lines == ["mx hello", "2.0.0 ok"])
        #expect(replies[0].enhanced == nil)
        #expect(replies[1].code == 550)
        #expect(replies[1].enhanced == EnhancedStatus(5, 1, 1))
        #expect(replies[1].lines == ["<x@y>: no such user"])
        var partial = ReplyReader()
        #expect(try partial.feed(Array("250-one\r\n25".utf8)).isEmpty)
        #expect(partial.isInsideReply)
        #expect(try partial.feed(Array("0 two\r\n".utf8)).map(\.lines) == [["one", "two"]])
        var bad = ReplyReader()
        #expect(throws: ReplyReader.Malformed.self) { try bad.feed(Array("hello\r\n".utf8)) }
        var mixed = ReplyReader()
        #expect(throws: ReplyReader.Malformed.self) { try mixed.feed(Array("250-a\r\n251 b\r\n".utf8)) }
        var long = ReplyReader()
        #expect(throws: ReplyReader.Malformed.self) {
            try long.feed([UInt8]("250 ".utf8) + [UInt8](repeating: 65, count: ReplyReader.maximumLineLength + 1))
        }
    }

    @Test("Dot-stuffing doubles leading dots and ends with CRLF.CRLF", arguments: [
        ("a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"),
        (".\r\n", "..\r\n.\r\n"),
        ("no newline", "no newline\r\n.\r\n"),
        ("", ".\r\n"),
        ("x\r\n..\r\n.\r\ny", "x\r\n...\r\n..\r\ny\r\n.\r\n"),
    ])
    func dotStuffing(input: String, expected: String) {
        #expect(String(decoding: DotStuffer.stuff(Array(input.utf8)), as: UTF8.self) == expected)
        // The same in one-byte chunks.
        var stuffer = DotStuffer()
        var out: [UInt8] = []
        for byte in input.utf8 { stuffer.encode([byte], into: &out) }
        out += stuffer.terminator()
        #expect(String(decoding: out, as: UTF8.self) == expected)
    }

    @Test("Greeting, EHLO, STARTTLS, EHLO again, then a pipelined transaction")
    func pipelinedWithStartTLS() {
        var s = ScriptedServer()
        s.reply("220 mx.b.test ESMTP")
        #expect(s.written == ["EHLO client.test"])
        s.reply(fullEHLO)
        #expect(s.written.last == "STARTTLS")
        s.reply("220 2.0.0 go ahead")
        #expect(s.tlsRequested)
        s.perform(s.session.tlsEstablished())
        #expect(s.written.last == "EHLO client.test")
        #expect(s.session.capabilities.extended == false, "capabilities are forgotten after STARTTLS")
        s.reply(fullEHLO.replacingOccurrences(of: "250 STARTTLS", with: "250 HELP"))
        #expect(s.ready && s.session.tlsActive)
        s.begin(transaction(to: ["bob@b.test", "carol@b.test"], size: 120))
        #expect(s.written == ["MAIL FROM:<alice@a.test> SIZE=120", "RCPT TO:<bob@b.test>", "RCPT TO:<carol@b.test>", "DATA"])
        s.reply("250 2.1.0 ok")
        s.reply("250 2.1.5 ok")
        s.reply("550 5.1.1 no such user")
        #expect(!s.messageRequested)
        s.reply("354 go on")
        #expect(s.messageRequested)
        s.perform(s.session.messageSent())
        s.reply("250 2.0.0 queued as X")
        #expect(s.results.count == 1)
        let replies = s.results[0].replies
        #expect(replies.map(\.code) == [250, 550])
        #expect(s.results[0].messageSent)
        #expect(s.ready)
    }

    @Test("Without PIPELINING, one command at a time; no DATA when every RCPT fails; RSET after")
    func lockstep() {
        var s = ScriptedServer()
        s.reply("220 old.test")
        s.reply("250-old.test\r\n250 SIZE\r\n")
        #expect(s.ready)
        s.begin(transaction(to: ["a@b.test", "c@b.test"]))
        #expect(s.written == ["MAIL FROM:<alice@a.test> SIZE=100"])
        s.reply("250 ok")
        #expect(s.written.last == "RCPT TO:<a@b.test>")
        s.reply("450 4.2.1 busy")
        #expect(s.written.last == "RCPT TO:<c@b.test>")
        s.reply("550 5.1.1 unknown")
        #expect(s.written.last == "RSET")
        #expect(s.results.first?.replies.map(\.code) == [450, 550])
        #expect(s.results.first?.messageSent == false)
        s.reply("250 ok")
        #expect(s.ready)
    }

    @Test("A refused MAIL decides every recipient, pipelined replies are still read")
    func mailRefusedPipelined() {
        var s = ScriptedServer()
        s.reply("220 x")
        s.reply("250-x\r\n250 PIPELINING\r\n")
        s.begin(transaction(to: ["a@b.test"]))
        #expect(s.written == ["MAIL FROM:<alice@a.test>", "RCPT TO:<a@b.test>", "DATA"])
        s.reply("451 4.3.0 try later")
        s.reply("503 5.5.1 no MAIL")
        #expect(s.results.isEmpty)
        s.reply("554 5.5.1 no valid recipients")
        #expect(s.results.first?.replies.map(\.code) == [451])
        #expect(s.written.last == "RSET")
    }

    @Test("HELO when EHLO is refused; no extensions then")
    func heloFallback() {
        var s = ScriptedServer()
        s.reply("220 ancient")
        s.reply("502 5.5.2 what?")
        #expect(s.written.last == "HELO client.test")
        s.reply("250 ancient")
        #expect(s.ready)
        s.begin(transaction(to: ["a@b.test"]))
        #expect(s.written == ["MAIL FROM:<alice@a.test>"])
    }

    @Test("Refused before sending: SIZE, SMTPUTF8 (5.6.7), 8BITMIME")
    func refusals() {
        var s = ScriptedServer()
        s.reply("220 x")
        s.reply("250-x\r\n250-SIZE 50\r\n250 PIPELINING\r\n")
        s.begin(transaction(to: ["a@b.test"], size: 51))
        #expect(s.written.isEmpty)
        #expect(s.results.last?.replies.first?.enhanced == EnhancedStatus(5, 3, 4))
        #expect(s.results.last?.local == true)
        #expect(s.ready)
        s.begin(transaction(to: ["jürgen@b.test"], size: 10, utf8: true))
        #expect(s.written.isEmpty)
        #expect(s.results.last?.replies.first?.enhanced == EnhancedStatus(5, 6, 7))
        s.begin(transaction(to: ["a@b.test"], size: 10, body: .eightBitMIME))
        #expect(s.results.last?.replies.first?.enhanced == EnhancedStatus(5, 6, 3))
    }

    @Test("SMTPUTF8, 8BITMIME and DSN parameters go out when offered; IDN domains as A-labels without SMTPUTF8")
    func parameters() {
        var s = ScriptedServer()
        s.reply("220 x")
        s.reply(fullEHLO.replacingOccurrences(of: "250 STARTTLS", with: "250 HELP"))
        s.perform(s.session.tlsEstablished())  // ignored: not in a handshake
        var t = transaction(from: "alice@a.test", to: ["jürgen@bücher.test"], size: 10, body: .eightBitMIME, utf8: true)
        t.dsnReturn = .headers
        t.envelopeID = "id+1 x"
        t.recipients[0].notify = DSNNotify(parameter: "FAILURE,DELAY")
        t.recipients[0].originalRecipient = OriginalRecipient(addressType: "rfc822", address: "j@b.test")
        s.begin(t)
        #expect(s.written == ["MAIL FROM:<alice@a.test> SIZE=10 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+20x",
                              "RCPT TO:<jürgen@bücher.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;j@b.test", "DATA"])
        var plain = ScriptedServer()
        plain.reply("220 x")
        plain.reply("250-x\r\n250 PIPELINING\r\n")
        plain.begin(transaction(to: ["bob@bücher.test"]))
        #expect(plain.written.contains("RCPT TO:<bob@xn--bcher-kva.test>"))
    }

    @Test("AUTH PLAIN after STARTTLS; a 535 fails the session with the reply")
    func auth() {
        let creds = ClientCredentials(username: "u@a.test", password: "pw")
        var s = ScriptedServer(ClientSessionConfiguration(heloName: "c", tls: .required, credentials: creds))
        s.reply("220 relay")
        s.reply("250-relay\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
        #expect(s.written.last == "STARTTLS", "no AUTH before TLS")
        s.reply("220 go")
        s.perform(s.session.tlsEstablished())
        s.reply("250-relay\r\n250 AUTH PLAIN LOGIN\r\n")
        #expect(s.written.last == "AUTH PLAIN " + Data("\0u@a.test\0pw".utf8).base64EncodedString())
        s.reply("235 2.7.0 ok")
        #expect(s.ready && s.session.authenticated)

        var refused = ScriptedServer(ClientSessionConfiguration(heloName: "c", tls: .disabled, credentials: creds,
                                                                implicitTLS: true))
        refused.reply("220 relay")
        refused.reply("250-relay\r\n250 AUTH LOGIN\r\n")
        #expect(refused.written.last == "AUTH LOGIN")
        refused.reply("334 VXNlcm5hbWU6")
        #expect(refused.written.last == Data("u@a.test".utf8).base64EncodedString())
        refused.reply("334 UGFzc3dvcmQ6")
        #expect(refused.written.last == Data("pw".utf8).base64EncodedString())
        refused.reply("535 5.7.8 bad credentials")
        #expect(refused.failures.first?.stage == .auth)
        #expect(refused.failures.first?.isPermanent == true)
        #expect(refused.written.last == "QUIT")
    }

    @Test("STARTTLS required but not offered fails; opportunistic goes on in plain text")
    func tlsPolicy() {
        var required = ScriptedServer(ClientSessionConfiguration(heloName: "c", tls: .required))
        required.reply("220 x")
        required.reply("250 x")
        #expect(required.failures.first?.stage == .startTLS)
        var opportunistic = ScriptedServer()
        opportunistic.reply("220 x")
        opportunistic.reply("250-x\r\n250 STARTTLS\r\n")
        opportunistic.reply("454 4.7.0 TLS not available")
        #expect(opportunistic.ready && !opportunistic.session.tlsActive)
        var credentials = ScriptedServer(ClientSessionConfiguration(heloName: "c", tls: .opportunistic,
                                                                    credentials: ClientCredentials(username: "u", password: "p")))
        credentials.reply("220 x")
        credentials.reply("250-x\r\n250 AUTH PLAIN\r\n")
        #expect(credentials.failures.first?.stage == .auth, "no password in the clear")
        #expect(!credentials.written.contains { $0.hasPrefix("AUTH") })
    }

    @Test("A 4xx or 5xx greeting fails the session; 421 closes without QUIT")
    func greeting() {
        var s = ScriptedServer()
        s.reply("554 5.7.1 go away")
        #expect(s.failures.first?.stage == .greeting)
        #expect(s.written == ["QUIT"])
        var busy = ScriptedServer()
        busy.reply("421 4.3.2 busy")
        #expect(busy.closed && busy.written.isEmpty)
    }

    @Test("Client and server state machines agree end to end")
    func againstOurServer() {
        // Our own server session on the other side: every byte the client
        // writes goes into it, every reply it makes comes back.
        let domain = (try? Domain(parsing: "local.test"))!
        var server = ServerSession(configuration: SessionConfiguration(
            hostname: "mx.local.test", role: .mx, tlsAvailable: false, maximumMessageSize: 10_000,
            maximumRecipients: 100, maximumErrors: 20, postmasterDomain: domain), tls: nil)
        var client = ClientSession(configuration: ClientSessionConfiguration(heloName: "client.test"))
        var reader = ReplyReader()
        var delivered: [DeliveryRequest] = []
        var results: [ClientTransactionResult] = []
        let message = Array("Subject: hi\r\n\r\n.leading dot\r\nbye\r\n".utf8)

        func serve(_ actions: [SessionAction]) -> [SMTPReply] {
            var replies: [SMTPReply] = []
            var queue = actions
            while !queue.isEmpty {
                switch queue.removeFirst() {
                case .send(let r): replies.append(r)
                case .checkSender: queue += server.resume(.sender(nil))
                case .checkRecipient(let m, _):
                    queue += server.resume(.recipient(m.localPart == "bob" ? nil : SMTPReply(550, EnhancedStatus(5, 1, 1), "no")))
                case .deliver(let d):
                    delivered.append(d)
                    queue += server.resume(.delivery(SMTPReply(250, EnhancedStatus(2, 0, 0), "queued as T1")))
                default: break
                }
            }
            return replies
        }
        func toClient(_ replies: [SMTPReply]) -> [ClientAction] {
            var actions: [ClientAction] = []
            for r in replies {
                for parsed in (try? reader.feed(Array(r.wire.utf8))) ?? [] { actions += client.receive(parsed) }
            }
            return actions
        }
        var pending = toClient(serve(server.start()))
        var started = false
        var rounds = 0
        while !pending.isEmpty && rounds < 50 {
            rounds += 1
            var next: [ClientAction] = []
            for action in pending {
                switch action {
                case .send(let bytes): next += toClient(serve(server.receive(ByteBuffer(bytes: bytes))))
                case .sendMessage:
                    next += client.messageSent()
                    next += toClient(serve(server.receive(ByteBuffer(bytes: DotStuffer.stuff(message)))))
                case .ready:
                    if !started {
                        started = true
                        next += client.begin(transaction(to: ["bob@local.test", "nobody@local.test"], size: message.count))
                    } else {
                        next += client.quit()
                    }
                case .finished(let r): results.append(r)
                default: break
                }
            }
            pending = next
        }
        #expect(delivered.count == 1)
        #expect(delivered.first.map { Array($0.message.readableBytesView) } == message)
        #expect(delivered.first?.envelope.recipients.map(\.mailbox.text) == ["bob@local.test"])
        #expect(results.first?.replies.map(\.code) == [250, 550])
        #expect(client.isClosed)
    }
}
