import Foundation
import Testing
import TernSMTP
import TernSpool
@testable import TernDelivery

/// Golden files: Tests/TernDeliveryTests/Golden/<name>.eml hold the exact
/// bytes (CRLF) each report renders to. After a deliberate change, run the
/// tests with TERN_UPDATE_GOLDEN=1 to write them again, and read the diff.
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden").path

    static func check(_ bytes: [UInt8], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = "\(directory)/\(name)"
        if ProcessInfo.processInfo.environment["TERN_UPDATE_GOLDEN"] != nil {
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return
        }
        guard let expected = fileBytes(path) else {
            Issue.record("no golden file \(name); run with TERN_UPDATE_GOLDEN=1", sourceLocation: sourceLocation)
            return
        }
        guard bytes != expected else { return }
        let got = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let want = String(decoding: expected, as: UTF8.self).components(separatedBy: "\r\n")
        let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
        Issue.record("\(name) differs at line \(line + 1):\n got: \(line < got.count ? got[line] : "<end>")\nwant: \(line < want.count ? want[line] : "<end>")",
                     sourceLocation: sourceLocation)
    }
}

/// Fixed inputs, so that every report renders the same bytes.
enum DSNSample {
    static let arrived = Date(timeIntervalSince1970: 1_795_440_001)      // Mon, 23 Nov 2026 13:20:01 +0000
    static let failedAt = arrived.addingTimeInterval(2)
    static let now = arrived.addingTimeInterval(5)
    static let sender = Sample.mailbox("sender@example.org")

    static let message = Array("""
        Received: from mail.example.org (mail.example.org [192.0.2.25])\r
        \tby mx.example.com (Tern) with ESMTPS id 0k2bq3v4w5x6y7z8a9b0; Mon, 23 Nov 2026 13:20:01 +0000\r
        From: Sender <sender@example.org>\r
        To: Gone <gone@example.com>, Far <far@example.net>\r
        Subject: Lunch on Friday\r
        Date: Mon, 23 Nov 2026 14:19:58 +0100\r
        Message-ID: <lunch.1@example.org>\r
        \r
        Shall we meet at noon?\r
        -- \r
        S.\r

        """.utf8)

    static func report(_ kind: DeliveryReport.Kind, _ recipients: [DeliveryReport.Recipient], envelopeID: String? = nil,
                       sender: Mailbox = sender, international: Bool = false) -> DeliveryReport {
        DeliveryReport(kind: kind, hostname: "mx.example.com", sender: sender, envelopeID: envelopeID,
                       arrivalDate: arrived, queueID: "0k2bq3v4w5x6y7z8a9b0", recipients: recipients,
                       international: international, date: now, messageID: "<0k2bq3v4w5x6y7zdsn01@mx.example.com>",
                       boundary: "0k2bq3v4w5x6y7zdsn01/mx.example.com")
    }

    static let gone = DeliveryReport.Recipient(
        mailbox: Sample.mailbox("gone@example.com"), action: .failed, status: "5.1.1",
        diagnostic: SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "<gone@example.com>: user unknown"),
        lastAttempt: failedAt)

    static let far = DeliveryReport.Recipient(
        mailbox: Sample.mailbox("far@example.net"), action: .failed, status: "5.7.1", remoteMTA: "mx1.example.net",
        diagnostic: SpoolReply(code: 550, enhancedStatus: "5.7.1",
                               text: "Message rejected under the receiving domain's policy; see "
                                   + "https://postmaster.example.net/policy/rejections#content for details "
                                   + "and the steps to take",
                               remoteMTA: "mx1.example.net"),
        lastAttempt: failedAt)
}

@Suite("Delivery status notifications (RFC 3464)")
struct DSNMessageTests {
    @Test("A failure with RET=FULL returns the whole message as message/rfc822")
    func failureFull() {
        let report = DSNSample.report(.failure, [DSNSample.gone, DSNSample.far])
        let original = ReturnedOriginal.select(from: DSNSample.message, wantWhole: true, limit: 1 << 20)
        #expect(original == ReturnedOriginal(content: .message(DSNSample.message)))
        let bytes = DSNMessage.build(report, original: original)
        Golden.check(bytes, "failure-ret-full.eml")
        checkShape(bytes)
    }

    @Test("A failure with RET=HDRS, ENVID and ORCPT returns the headers and names both")
    func failureHeaders() {
        var bob = DSNSample.gone
        bob.mailbox = Sample.mailbox("bob@example.com")
        bob.originalRecipient = OriginalRecipient(parameter: "rfc822;Bob+2Bnews@example.com")
        bob.diagnostic = SpoolReply(code: 552, enhancedStatus: "5.2.2", text: "mailbox over quota")
        bob.status = "5.2.2"
        let report = DSNSample.report(.failure, [bob], envelopeID: "QQ314159+x=1")
        let original = ReturnedOriginal.select(from: DSNSample.message, wantWhole: false, limit: 1 << 20)
        let bytes = DSNMessage.build(report, original: original)
        Golden.check(bytes, "failure-ret-hdrs-envid-orcpt.eml")
        checkShape(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("Original-Envelope-Id: QQ314159+2Bx+3D1\r\n"))
        #expect(text.contains("Original-Recipient: rfc822;Bob+news@example.com\r\n"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n"))
        #expect(!text.contains("Shall we meet"))
    }

    @Test("A delay notice says Action: delayed, until when it is retried, and returns headers only")
    func delay() {
        let slow = DeliveryReport.Recipient(
            mailbox: Sample.mailbox("far@example.net"), action: .delayed, status: "4.4.1", remoteMTA: "mx1.example.net",
            diagnostic: SpoolReply(code: 451, enhancedStatus: "4.4.1", text: "connection timed out",
                                   remoteMTA: "mx1.example.net"),
            lastAttempt: DSNSample.now.addingTimeInterval(-60),
            willRetryUntil: DSNSample.arrived.addingTimeInterval(5 * 86400))
        let report = DSNSample.report(.delay, [slow])
        let original = ReturnedOriginal.select(from: DSNSample.message, wantWhole: false, limit: 1 << 20)
        let bytes = DSNMessage.build(report, original: original)
        Golden.check(bytes, "delay.eml")
        checkShape(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("Subject: Delayed Mail (still being retried)\r\n"))
        #expect(text.contains("Action: delayed\r\nStatus: 4.4.1\r\n"))
        #expect(text.contains("Will-Retry-Until: Sat, 28 Nov 2026 13:20:01 +0000\r\n"))
    }

    @Test("An original received with SMTPUTF8 is reported with the RFC 6533 types and utf-8 addresses")
    func international() throws {
        let original = try Fixtures.message("utf8-raw-headers.eml")
        let user = Sample.mailbox("用户@example.com")
        let recipient = DeliveryReport.Recipient(
            mailbox: user, originalRecipient: OriginalRecipient(addressType: "utf-8", address: "用户@example.com"),
            action: .failed, status: "5.2.1",
            diagnostic: SpoolReply(code: 550, enhancedStatus: "5.2.1", text: "mailbox disabled"), lastAttempt: DSNSample.failedAt)
        let report = DSNSample.report(.failure, [recipient], sender: Sample.mailbox("山田@example.org"), international: true)
        let bytes = DSNMessage.build(report, original: ReturnedOriginal.select(from: original, wantWhole: true, limit: 1 << 20))
        Golden.check(bytes, "international.eml")
        checkShape(bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("Content-Type: message/global-delivery-status\r\n"))
        #expect(text.contains("Content-Type: message/global\r\nContent-Transfer-Encoding: 8bit\r\n"))
        #expect(text.contains("Final-Recipient: utf-8;用户@example.com\r\n"))
        #expect(text.contains("To: 山田@example.org\r\n"))
    }

    @Test("Outside a global DSN a UTF-8 address is written in utf-8-addr-xtext (RFC 6533 §3)")
    func utf8AddressInXtext() {
        #expect(DSNFields.typedAddress(type: "rfc822", "jos\u{E9}+x@example.com", international: false)
            == "utf-8;jos\\x{E9}\\x{2B}x@example.com")
        #expect(DSNFields.typedAddress(type: "rfc822", "jos\u{E9}@example.com", international: true)
            == "utf-8;jos\u{E9}@example.com")
        #expect(DSNFields.typedAddress(type: "RFC822", "a@example.com", international: false) == "rfc822;a@example.com")
    }

    @Test("A message over the limit comes back as its headers, and the text says why")
    func tooLarge() {
        let original = ReturnedOriginal.select(from: DSNSample.message, wantWhole: true, limit: 100)
        guard case .headers(let headers) = original.content else {
            Issue.record("expected headers, got \(original.content)")
            return
        }
        #expect(original.shortfall == .tooLarge(size: DSNSample.message.count, limit: 100))
        #expect(String(decoding: headers, as: UTF8.self).hasSuffix("Message-ID: <lunch.1@example.org>\r\n"))
        let bytes = DSNMessage.build(DSNSample.report(.failure, [DSNSample.gone]), original: original)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("The original message (\(DSNSample.message.count) bytes) is larger than the 100 bytes"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n"))
        checkShape(bytes)
    }

    @Test("Reading through the spool returns the same as selecting from the bytes, and reads no more than needed")
    func readsFromSpool() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let body = Array(repeating: Array("0123456789 abcdefghijklmnopqrstuvwxyz\r\n".utf8), count: 20_000).flatMap { $0 }
        let big = DSNSample.message + body
        let id = try spool.accept(envelope: Sample.envelope(["a@example.com"]), origin: Sample.origin, message: big)
        for (wantWhole, limit) in [(true, 1 << 20), (true, 1000), (false, 1 << 20)] {
            let read = try ReturnedOriginal.read(try spool.openMessage(id), size: big.count, wantWhole: wantWhole, limit: limit)
            #expect(read == ReturnedOriginal.select(from: big, wantWhole: wantWhole, limit: limit))
        }
    }

    @Test("Bare LF becomes CRLF, a missing last line ending is added, and overlong lines fall back to headers")
    func normalization() {
        let bare = Array("Subject: x\nFrom: a@example.org\n\nbody\rmore".utf8)
        #expect(ReturnedOriginal.select(from: bare, wantWhole: true, limit: 1000).content
            == .message(Array("Subject: x\r\nFrom: a@example.org\r\n\r\nbody\r\nmore\r\n".utf8)))
        let long = Array("Subject: x\r\n\r\n".utf8) + Array(repeating: UInt8(ascii: "a"), count: 1200) + Array("\r\n".utf8)
        let returned = ReturnedOriginal.select(from: long, wantWhole: true, limit: 10_000)
        #expect(returned == ReturnedOriginal(content: .headers(Array("Subject: x\r\n".utf8)), shortfall: .notText))
        #expect(ReturnedOriginal.select(from: long, wantWhole: true, binary: true, limit: 10_000).shortfall == .notText)
    }

    @Test("The boundary changes when the returned message contains it")
    func boundaryCollision() {
        let report = DSNSample.report(.failure, [DSNSample.gone])
        let sneaky = Array("Subject: x\r\n\r\n--\(report.boundary)--\r\n".utf8)
        let bytes = DSNMessage.build(report, original: ReturnedOriginal(content: .message(sneaky)))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("boundary=\"\(report.boundary)_1\""))
        #expect(text.hasSuffix("\r\n--\(report.boundary)_1--\r\n"))
    }

    @Test("Long diagnostics are folded, hostile text cannot add lines, and status classes follow the action")
    func hostileText() {
        var r = DSNSample.far
        r.diagnostic = SpoolReply(code: 550, enhancedStatus: "5.7.1",
                                  text: "bad\r\nX-Injected: yes " + String(repeating: "x", count: 2000))
        r.status = "4.7.1"
        let bytes = DSNMessage.build(DSNSample.report(.failure, [r]), original: ReturnedOriginal(content: .none))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("\r\nX-Injected"))
        #expect(text.contains("Status: 5.7.1\r\n"))
        checkShape(bytes)
        #expect(DeliveryReport.Recipient(mailbox: DSNSample.sender, action: .delayed, status: "junk").reportedStatus == "4.0.0")
    }

    @Test("A parser that knows MIME reads the report: content types and delivery-status fields",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func pythonParses() throws {
        let report = DSNSample.report(.failure, [DSNSample.gone, DSNSample.far], envelopeID: "env-1")
        let bytes = DSNMessage.build(report, original: ReturnedOriginal.select(from: DSNSample.message, wantWhole: true,
                                                                                limit: 1 << 20))
        let script = """
            import sys, email, email.policy
            m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
            print(m.get_content_type(), m.get_param('report-type'), m['Auto-Submitted'], m.defects)
            for part in m.walk():
                print(part.get_content_type(), part.defects)
            status = m.get_payload()[1].get_payload()
            print(status[0]['Reporting-MTA'], status[0]['Original-Envelope-Id'])
            for block in status[1:]:
                print(block['Final-Recipient'], block['Action'], block['Status'], block['Remote-MTA'])
            print(m.get_payload()[2].get_payload()[0]['Subject'])
            """
        let output = try runPython(script, input: bytes)
        #expect(output == """
            multipart/report delivery-status auto-replied []
            multipart/report []
            text/plain []
            message/delivery-status []
            text/plain []
            text/plain []
            text/plain []
            message/rfc822 []
            text/plain []
            dns; mx.example.com env-1
            rfc822;gone@example.com failed 5.1.1 None
            rfc822;far@example.net failed 5.7.1 dns; mx1.example.net
            Lunch on Friday

            """)
    }

    func runPython(_ script: String, input: [UInt8]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", script]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: out, as: UTF8.self)
    }

    /// Every line ends in CRLF and is at most 998 octets (RFC 5322 §2.1.1).
    func checkShape(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(bytes.suffix(2) == [13, 10], sourceLocation: sourceLocation)
        var start = 0
        for (i, b) in bytes.enumerated() {
            if b == 10 {
                #expect(i > 0 && bytes[i - 1] == 13, "bare LF at \(i)", sourceLocation: sourceLocation)
                #expect(i - 1 - start <= 998, "line of \(i - 1 - start) octets", sourceLocation: sourceLocation)
                start = i + 1
            } else if b == 13 {
                #expect(i + 1 < bytes.count && bytes[i + 1] == 10, "bare CR at \(i)", sourceLocation: sourceLocation)
            }
        }
    }
}
