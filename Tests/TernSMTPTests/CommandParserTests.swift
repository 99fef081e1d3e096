import Testing
@testable import TernSMTP

@Suite("Command parsing")
struct CommandParserTests {
    func parse(_ s: String) -> Result<SMTPCommand, SMTPReply> { CommandParser.parse(Array(s.utf8)) }

    func code(_ s: String) -> Int? {
        if case .failure(let r) = parse(s) { return r.code }
        return nil
    }

    @Test("Verbs are case-insensitive", arguments: ["ehlo client.test", "EHLO client.test", "eHlO client.test"])
    func verbs(line: String) {
        #expect(parse(line) == .success(.ehlo("client.test")))
    }

    @Test("Commands parse into typed values", arguments: [
        ("DATA", SMTPCommand.data), ("RSET", .rset), ("NOOP", .noop), ("NOOP anything", .noop), ("QUIT", .quit),
        ("STARTTLS", .startTLS), ("HELP", .help(nil)), ("VRFY postmaster", .vrfy("postmaster")),
        ("BDAT 100", .bdat(size: 100, last: false)), ("BDAT 0 LAST", .bdat(size: 0, last: true)),
        ("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
        ("auth login dXNlcg==", .auth(mechanism: "LOGIN", initialResponse: "dXNlcg==")),
        ("MAIL FROM:<>", .mail(.null, MailParameters())), ("MAIL FROM: <>", .mail(.null, MailParameters())),
        ("GET / HTTP/1.1", .httpRequest), ("POST /evil HTTP/1.1", .httpRequest), ("Host: example.com", .httpRequest),
    ])
    func typed(line: String, command: SMTPCommand) {
        #expect(parse(line) == .success(command))
    }

    @Test("Malformed commands get the right reply code", arguments: [
        ("EHLO", 501), ("HELO", 501), ("WHATISTHIS", 500), ("DATA foo", 501), ("STARTTLS now", 501), ("RSET x", 501),
        ("MAIL LALA: <>", 501), ("MAIL FROM:", 501), ("MAIL FROM:a@b.test", 501), ("MAIL FROM:<pepe>", 501),
        ("MAIL FROM: < @doe>", 501), ("MAIL FROM: <john@ >", 501), ("MAIL FROM:<a@xn--->", 501),
        ("MAIL FROM:<a@b.test> SIZE=abc", 501), ("MAIL FROM:<a@b.test> FOO=BAR", 555),
        ("MAIL FROM:<a@b.test> SIZE=1 SIZE=2", 501), ("MAIL FROM:<a@b.test> BODY=7BIT BODY=8BITMIME", 501), ("MAIL FROM:<a@b.test> RET=BOGUS", 501),
        ("MAIL FROM:<ñandú@ñoños.test>", 553), ("RCPT TO:", 501), ("RCPT TO:<pepe>", 501), ("RCPT LALA: <>", 501),
        ("RCPT TO:<victim@remote.example@local.test>", 501), ("RCPT TO:<a@b.test> NOTIFY=NEVER,SUCCESS", 501),
        ("RCPT TO:<a@b.test> ORCPT=bogus", 501), ("BDAT", 501), ("BDAT x", 501), ("BDAT 10 FIRST", 501),
        ("MAIL FROM:<a\u{0}@b.test>", 500),
    ])
    func malformed(line: String, expected: Int) {
        #expect(code(line) == expected)
    }

    @Test("The MAIL FROM sender domain that fails IDNA conversion gets 5.1.8")
    func badIDNA() {
        guard case .failure(let r) = parse("MAIL FROM:<a@xn--->") else {
            Issue.record("accepted")
            return
        }
        #expect(r.enhanced == EnhancedStatus(5, 1, 8))
    }

    @Test("MAIL parameters are parsed and validated")
    func mailParameters() throws {
        let result = parse("MAIL FROM:<ñandú@ñoños.test> SMTPUTF8 SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bd AUTH=<>")
        guard case .success(.mail(let path, let p)) = result else {
            Issue.record("not parsed: \(result)")
            return
        }
        #expect(path.mailbox?.localPart == "ñandú")
        #expect(p.smtpUTF8 && p.size == 1000 && p.body == .eightBitMIME && p.ret == .headers)
        #expect(p.envelopeID == "abc+d")
        #expect(p.auth == nil)
    }

    @Test("A parameter repeated with the same value is accepted (smtplib sends SMTPUTF8 twice)")
    func repeatedParameter() {
        guard case .success(.mail(_, let p)) = parse("MAIL FROM:<a@b.test> SMTPUTF8 BODY=8BITMIME SMTPUTF8 BODY=8BITMIME") else {
            Issue.record("refused")
            return
        }
        #expect(p.smtpUTF8 && p.body == .eightBitMIME)
    }

    @Test("A source route is parsed and ignored")
    func sourceRoute() {
        guard case .success(.mail(let path, _)) = parse("MAIL FROM:<@relay.test,@other.test:a@b.test>") else {
            Issue.record("not parsed")
            return
        }
        #expect(path.mailbox?.text == "a@b.test")
    }

    @Test("RCPT TO:<Postmaster> needs no domain, in any case", arguments: ["RCPT TO:<postmaster>", "RCPT TO:<PostMaster>"])
    func postmaster(line: String) {
        #expect(parse(line) == .success(.rcpt(.postmaster, RcptParameters())))
    }

    @Test("RCPT DSN parameters are kept")
    func rcptParameters() {
        guard case .success(.rcpt(_, let p)) = parse("RCPT TO:<a@b.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bx@b.test") else {
            Issue.record("not parsed")
            return
        }
        #expect(p.notify == DSNNotify(success: true, failure: false, delay: true))
        #expect(p.originalRecipient == OriginalRecipient(addressType: "rfc822", address: "a+x@b.test"))
    }

    @Test("A path longer than 256 octets is refused with 5.1.7 or 5.1.3")
    func pathTooLong() {
        let long = String(repeating: "a", count: 300)
        guard case .failure(let m) = parse("MAIL FROM:<\(long)@example.test>"),
              case .failure(let r) = parse("RCPT TO:<\(long)@local.test>") else {
            Issue.record("accepted")
            return
        }
        #expect(m.code == 501 && m.enhanced == EnhancedStatus(5, 1, 7))
        #expect(r.code == 501 && r.enhanced == EnhancedStatus(5, 1, 3))
    }

    @Test("Replies render with enhanced codes on every line")
    func replyWire() {
        let r = SMTPReply(250, EnhancedStatus(2, 0, 0), ["one", "two"])
        #expect(r.wire == "250-2.0.0 one\r\n250 2.0.0 two\r\n")
        #expect(SMTPReply(354, nil, "go").wire == "354 go\r\n")
    }
}
