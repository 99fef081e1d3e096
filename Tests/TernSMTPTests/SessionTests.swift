import NIOCore
import Foundation
import Testing
@testable import TernSMTP

@Suite("Server session")
struct SessionTests {
    @Test("The greeting names the host")
    func greeting() {
        var d = SessionDriver()
        let r = d.start()
        #expect(r.map(\.code) == [220])
        #expect(r.first?.lines.first?.hasPrefix("mx.local.test") == true)
    }

    @Test("EHLO lists the extensions; STARTTLS before TLS, AUTH never on port 25")
    func ehloMX() {
        var d = SessionDriver()
        let lines = d.send("EHLO client.test").first?.lines ?? []
        for ext in ["PIPELINING", "SIZE 10000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS"] {
            #expect(lines.contains(ext), "missing \(ext)")
        }
        #expect(!lines.contains { $0.hasPrefix("AUTH") })
    }

    @Test("On submission, AUTH appears only after TLS and STARTTLS disappears")
    func ehloSubmission() {
        var d = SessionDriver(role: .submission)
        #expect(!(d.send("EHLO c.test").first?.lines.contains { $0.hasPrefix("AUTH") } ?? true))
        #expect(d.codes("STARTTLS") == [220])
        #expect(d.tlsRequested)
        _ = d.completeTLS()
        let after = d.send("EHLO c.test").first?.lines ?? []
        #expect(after.contains("AUTH PLAIN LOGIN"))
        #expect(!after.contains("STARTTLS"))
    }

    @Test("Command sequence errors", arguments: [
        (["MAIL FROM:<a@b.test>"], [503]),
        (["DATA"], [503]),
        (["EHLO c.test", "RCPT TO:<user@local.test>"], [250, 503]),
        (["EHLO c.test", "DATA"], [250, 503]),
        (["EHLO c.test", "MAIL FROM:<a@b.test>", "MAIL FROM:<c@d.test>"], [250, 250, 503]),
        (["EHLO c.test", "MAIL FROM:<a@b.test>", "DATA"], [250, 250, 554]),
        (["EHLO c.test", "MAIL FROM:<a@b.test>", "RSET", "RCPT TO:<user@local.test>"], [250, 250, 250, 503]),
        (["EHLO c.test", "EHLO again.test"], [250, 250]),
        (["HELO c.test", "MAIL FROM:<a@b.test>", "RCPT TO:<user@local.test>"], [250, 250, 250]),
        (["EHLO c.test", "NOOP", "VRFY postmaster", "EXPN staff", "HELP"], [250, 250, 252, 502, 214]),
        (["ehlo client.test", "mail from:<a@b.test>"], [250, 250]),
    ])
    func sequences(lines: [String], expected: [Int]) {
        var d = SessionDriver()
        #expect(lines.flatMap { d.codes($0) } == expected)
    }

    @Test("Port 25 accepts local users, refuses unknown users and relaying")
    func mxPolicy() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        _ = d.send("MAIL FROM:<a@b.test>")
        #expect(d.codes("RCPT TO:<user@local.test>") == [250])
        #expect(d.codes("RCPT TO:<USER@LOCAL.TEST>") == [250])
        #expect(d.codes("RCPT TO:<nobody@local.test>") == [550])
        for probe in ["<victim@remote.example>", "<victim%remote.example@local.test>", "<\"victim@remote.example\"@local.test>",
                      "<@local.test:victim@remote.example>", "<remote.example!victim@local.test>", "<victim@[127.0.0.1]>"] {
            let r = d.send("RCPT TO:\(probe)")
            #expect(r.first.map { $0.code == 550 || $0.code == 554 } == true, "\(probe) got \(r)")
        }
        #expect(d.codes("RCPT TO:<postmaster>") == [250])
    }

    @Test("AUTH is refused on port 25 and before TLS on 587")
    func authPolicy() {
        var mx = SessionDriver()
        _ = mx.send("EHLO c.test")
        #expect(mx.codes("AUTH PLAIN AHVzZXJAbG9jYWwudGVzdABzZWNyZXQ=") == [503])
        var sub = SessionDriver(role: .submission)
        _ = sub.send("EHLO c.test")
        let r = sub.send("AUTH PLAIN AHVzZXJAbG9jYWwudGVzdABzZWNyZXQ=")
        #expect(r.first?.code == 538 && r.first?.enhanced == EnhancedStatus(5, 7, 11))
        let m = sub.send("MAIL FROM:<user@local.test>")
        #expect(m.first?.code == 538 || m.first?.code == 530)
    }

    func authenticated() -> SessionDriver {
        var d = SessionDriver(role: .submission)
        _ = d.send("EHLO c.test")
        _ = d.send("STARTTLS")
        _ = d.completeTLS()
        _ = d.send("EHLO c.test")
        return d
    }

    func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    @Test("AUTH PLAIN and LOGIN succeed with the right password")
    func authOK() {
        var plain = authenticated()
        #expect(plain.codes("MAIL FROM:<user@local.test>") == [530])
        #expect(plain.codes("AUTH PLAIN " + b64("\0user@local.test\0secret")) == [235])
        #expect(plain.codes("AUTH PLAIN " + b64("\0user@local.test\0secret")) == [503])
        #expect(plain.codes("MAIL FROM:<user@local.test>") == [250])
        #expect(plain.codes("RCPT TO:<victim@remote.example>") == [250])

        var login = authenticated()
        #expect(login.send("AUTH LOGIN").first?.lines == ["VXNlcm5hbWU6"])
        #expect(login.send(b64("user@local.test")).first?.lines == ["UGFzc3dvcmQ6"])
        #expect(login.codes(b64("secret")) == [235])

        var twoStep = authenticated()
        #expect(twoStep.codes("AUTH PLAIN") == [334])
        #expect(twoStep.codes(b64("\0user@local.test\0secret")) == [235])
    }

    @Test("AUTH failures and malformed exchanges", arguments: [
        (["AUTH PLAIN " + Data("\0user@local.test\0wrong".utf8).base64EncodedString()], [535]),
        (["AUTH PLAIN " + Data("other\0user@local.test\0secret".utf8).base64EncodedString()], [535]),
        (["AUTH SOMETHINGELSE"], [504]),
        (["AUTH PLAIN", "dXNlckB0ZXN0c2VydmVyAHlalala=="], [334, 501]),
        (["AUTH PLAIN", "*"], [334, 501]),
        (["AUTH PLAIN ="], [501]),
        (["MAIL FROM:<user@local.test>", "AUTH PLAIN x"], [530, 503].suffix(0) + [530, 501]),
    ])
    func authFailures(lines: [String], expected: [Int]) {
        var d = authenticated()
        #expect(lines.flatMap { d.codes($0) } == expected)
    }

    @Test("An authenticated user may only send as themselves; <> is allowed")
    func senderOwnership() {
        var d = authenticated()
        _ = d.send("AUTH PLAIN " + b64("\0user@local.test\0secret"))
        #expect(d.codes("MAIL FROM:<someone@else.test>") == [553])
        #expect(d.codes("MAIL FROM:<>") == [250])
    }

    @Test("A simple message is delivered with the envelope and dot-stuffing undone")
    func simpleMessage() {
        var d = SessionDriver()
        d.openTransaction()
        #expect(d.codes("DATA") == [354])
        let r = d.raw("From: a@b.test\r\nSubject: t\r\n\r\n..body\r\n.\r\n")
        #expect(r.map(\.code) == [250])
        #expect(r.first?.lines.first == "queued as Q1")
        #expect(d.deliveredTexts == ["From: a@b.test\r\nSubject: t\r\n\r\n.body\r\n"])
        #expect(d.deliveries.first?.envelope.recipients.map(\.mailbox.text) == ["user@local.test"])
        #expect(d.deliveries.first?.protocolName == "ESMTP")
    }

    @Test("PIPELINING: replies come in order, including a pipelined second transaction")
    func pipelining() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        let batch = "MAIL FROM:<a@b.test>\r\nRCPT TO:<user@local.test>\r\nRCPT TO:<nobody@local.test>\r\nDATA\r\n"
            + "Subject: one\r\n\r\nx\r\n.\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<user@local.test>\r\nDATA\r\nSubject: two\r\n\r\ny\r\n.\r\n"
        #expect(d.raw(batch).map(\.code) == [250, 250, 550, 354, 250, 250, 250, 354, 250])
        #expect(d.deliveries.count == 2)
    }

    @Test("Pipelined commands after a rejected RCPT never get 354")
    func pipelinedAllFail() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        #expect(d.raw("MAIL FROM:<a@b.test>\r\nRCPT TO:<nobody@local.test>\r\nDATA\r\n").map(\.code) == [250, 550, 554])
    }

    @Test("Nothing after QUIT is answered")
    func quitStops() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        #expect(d.raw("QUIT\r\nNOOP\r\n").map(\.code) == [221])
        #expect(d.closed)
    }

    @Test("STARTTLS discards pipelined plaintext and forgets the session (CVE-2011-0411)")
    func startTLSInjection() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        _ = d.send("MAIL FROM:<a@b.test>")
        // STARTTLS inside a transaction is allowed; state is discarded after it.
        #expect(d.raw("STARTTLS\r\nRSET\r\n").map(\.code) == [220])
        #expect(d.completeTLS().isEmpty)
        #expect(d.codes("RCPT TO:<user@local.test>") == [503])
        #expect(d.codes("EHLO c.test") == [250])
        #expect(d.codes("STARTTLS") == [503])
    }

    @Test("Too many recipients get 452 4.5.3; the earlier ones stay")
    func recipientLimit() {
        var d = SessionDriver(maximumRecipients: 3)
        _ = d.send("EHLO c.test")
        _ = d.send("MAIL FROM:<a@b.test>")
        let codes = (0..<5).flatMap { _ in d.codes("RCPT TO:<user@local.test>") }
        #expect(codes == [250, 250, 250, 452, 452])
        _ = d.send("DATA")
        _ = d.raw("x\r\n.\r\n")
        #expect(d.deliveries.first?.envelope.recipients.count == 3)
    }

    @Test("A hundred recipients are accepted by default (RFC 5321 4.5.3.1.8)")
    func hundred() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        _ = d.send("MAIL FROM:<a@b.test>")
        let codes = (0..<100).flatMap { _ in d.codes("RCPT TO:<user@local.test>") }
        #expect(codes == Array(repeating: 250, count: 100))
    }

    @Test("SIZE is checked when declared and again on the real size")
    func size() {
        var d = SessionDriver(maximumMessageSize: 1000)
        _ = d.send("EHLO c.test")
        #expect(d.codes("MAIL FROM:<a@b.test> SIZE=1001") == [552])
        #expect(d.codes("MAIL FROM:<a@b.test> SIZE=10") == [250])
        _ = d.send("RCPT TO:<user@local.test>")
        _ = d.send("DATA")
        let body = String(repeating: String(repeating: "x", count: 90) + "\r\n", count: 20)
        let r = d.raw(body + ".\r\nNOOP\r\n")
        #expect(r.map(\.code) == [552, 250])
        #expect(r.first?.enhanced == EnhancedStatus(5, 3, 4))
        #expect(d.deliveries.isEmpty)
    }

    @Test("An oversized message followed by a bare-LF dot and HELP lines yields one error and no HELP reply")
    func sizeThenSmuggle() {
        var d = SessionDriver(maximumMessageSize: 1000)
        d.openTransaction()
        _ = d.send("DATA")
        let r = d.raw(String(repeating: "y", count: 500) + "\r\n" + String(repeating: "z", count: 600) + "\r\n.\nHELP\r\nHELP\r\n\r\n.\r\n")
        #expect(r.count == 1)
        #expect(r.first.map { $0.code == 552 || $0.code == 521 } == true)
        #expect(!r.contains { $0.code == 214 })
        #expect(d.deliveries.isEmpty)
    }

    @Test("Fifty Received fields are a loop: 554 5.4.6")
    func loop() {
        var d = SessionDriver()
        d.openTransaction()
        _ = d.send("DATA")
        let header = String(repeating: "Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n", count: 50)
        let r = d.raw(header + "Subject: loop\r\n\r\nx\r\n.\r\n")
        #expect(r.first?.code == 554 && r.first?.enhanced == EnhancedStatus(5, 4, 6))
        #expect(d.deliveries.isEmpty)
    }

    @Test("Bare LF in a command closes with 521")
    func bareLFCommand() {
        var d = SessionDriver()
        #expect(d.raw("EHLO client.test\n").map(\.code) == [521])
        #expect(d.closed)
    }

    @Test("An HTTP request gets 502 and the connection closes")
    func http() {
        var d = SessionDriver()
        #expect(d.codes("GET / HTTP/1.1") == [502])
        #expect(d.closed)
    }

    @Test("Twenty errors end the session with 421")
    func errorLimit() {
        var d = SessionDriver()
        let codes = (0..<20).flatMap { _ in d.codes("WHATISTHIS") }
        #expect(codes.suffix(2) == [500, 421])
        #expect(d.closed)
    }

    @Test("SMTPUTF8 addresses need the SMTPUTF8 parameter, and the protocol becomes UTF8SMTP")
    func smtputf8() {
        var d = SessionDriver()
        d.users.insert("ñandú")
        _ = d.send("EHLO c.test")
        #expect(d.codes("MAIL FROM:<ñandú@ñoños.test>") == [553])
        #expect(d.codes("MAIL FROM:<a@b.test>") == [250])
        #expect(d.codes("RCPT TO:<ñandú@local.test>") == [553])
        _ = d.send("RSET")
        #expect(d.codes("MAIL FROM:<ñandú@ñoños.test> SMTPUTF8") == [250])
        #expect(d.codes("RCPT TO:<ñandú@local.test>") == [250])
        _ = d.send("DATA")
        _ = d.raw("Subject: ü\r\n\r\nü\r\n.\r\n")
        #expect(d.deliveries.first?.protocolName == "UTF8SMTP")
        #expect(d.deliveries.first?.envelope.smtpUTF8 == true)
    }

    @Test("BDAT: chunks are acknowledged and the LAST one delivers")
    func bdat() {
        var d = SessionDriver()
        d.openTransaction()
        let r = d.raw("BDAT 10\r\nSubject: xBDAT 11 LAST\r\n\r\n\r\nhello\r\n")
        #expect(r.map(\.code) == [250, 250])
        #expect(d.deliveredTexts == ["Subject: x\r\n\r\nhello\r\n"])
        #expect(d.codes("MAIL FROM:<a@b.test>") == [250])
    }

    @Test("BDAT before MAIL is refused but its octets are read, not executed")
    func bdatRefused() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        #expect(d.raw("BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n").map(\.code) == [503, 250])
        #expect(!d.closed)
    }

    @Test("DATA after BDAT in one transaction is refused")
    func bdatThenData() {
        var d = SessionDriver()
        d.openTransaction()
        #expect(d.raw("BDAT 3\r\nabc").map(\.code) == [250])
        #expect(d.codes("DATA") == [503])
    }

    @Test("DSN parameters end up in the envelope")
    func dsnKept() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        _ = d.send("MAIL FROM:<a@b.test> RET=FULL ENVID=QQ314159")
        _ = d.send("RCPT TO:<user@local.test> NOTIFY=FAILURE ORCPT=rfc822;user@local.test")
        _ = d.send("DATA")
        _ = d.raw("x\r\n.\r\n")
        let env = d.deliveries.first?.envelope
        #expect(env?.dsnReturn == .full && env?.envelopeID == "QQ314159")
        #expect(env?.recipients.first?.notify == DSNNotify(success: false, failure: true, delay: false))
        #expect(env?.recipients.first?.originalRecipient?.address == "user@local.test")
    }

    @Test("Timeouts close with 421 4.4.2")
    func timeout() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        #expect(d.perform(d.session.timedOut()).map(\.code) == [421])
        #expect(d.closed)
    }

    @Test("While waiting for an answer, input is buffered (and counted) rather than processed")
    func bufferedWhileWaiting() {
        var d = SessionDriver()
        _ = d.send("EHLO c.test")
        // MAIL asks the owner about the sender; do not answer yet.
        let actions = d.session.receive(ByteBuffer(string: "MAIL FROM:<a@b.test>\r\n" + String(repeating: "NOOP\r\n", count: 1000)))
        #expect(actions.count == 1)
        #expect(d.session.bufferedInputBytes == 6000)
        let replies = d.perform(d.session.resume(.sender(nil)))
        #expect(replies.count == 1001)
        #expect(d.session.bufferedInputBytes == 0)
    }
}
