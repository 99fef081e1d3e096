import Foundation
import Testing
@testable import TernSMTP

@Suite("Received field")
struct ReceivedFieldTests {
    @Test("Dates are RFC 5322")
    func date() {
        #expect(ReceivedField.rfc5322Date(Date(timeIntervalSince1970: 1_700_000_000)) == "Tue, 14 Nov 2023 22:13:20 +0000")
    }

    @Test("The field carries client, TLS, protocol, id and the single recipient")
    func render() throws {
        let r = try Mailbox(parsing: "bob@example.com")
        let s = ReceivedField.render(heloName: "client.example", reverseName: nil, clientAddress: "192.0.2.1",
                                     tls: TLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256"),
                                     hostname: "mx.example.com", protocolName: "ESMTPS", id: "ABC123", recipients: [r],
                                     date: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(s == "Received: from client.example (unknown [192.0.2.1])\r\n"
                + "\t(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256)\r\n"
                + "\tby mx.example.com (Tern) with ESMTPS id ABC123\r\n"
                + "\tfor <bob@example.com>; Tue, 14 Nov 2023 22:13:20 +0000\r\n")
    }

    @Test("Several recipients are not listed, and a hostile HELO cannot break the field")
    func hostile() throws {
        let a = try Mailbox(parsing: "a@example.com"), b = try Mailbox(parsing: "b@example.com")
        let s = ReceivedField.render(heloName: "x)\r\nBcc: evil", reverseName: nil, clientAddress: "192.0.2.1", tls: nil,
                                     hostname: "mx", protocolName: "ESMTP", id: "I", recipients: [a, b], date: Date())
        #expect(!s.contains("for <"))
        #expect(s.components(separatedBy: "\r\n").filter { !$0.isEmpty && !$0.hasPrefix("\t") }.count == 1)
    }
}
