import Foundation
import Testing
@testable import TernMailAuth

/// Authentication-Results rendering and forged-field removal (RFC 8601).
@Suite("Authentication-Results")
struct AuthenticationResultsTests {
    typealias AR = AuthenticationResults

    @Test("A typical inbound verdict renders as one folded field")
    func golden() {
        let field = AR(authservID: "mx.example.com", results: [
            .init(method: "spf", result: "pass", properties: [.smtpMailFrom("a@example.com"), .smtpHelo("mail.example.com")]),
            .init(method: "dkim", result: "pass", properties: [.headerD("example.com"), .headerS("s1"), .headerA("rsa-sha256")]),
            .init(method: "dmarc", result: "pass", comment: "p=reject", properties: [.headerFrom("example.com")]),
        ]).rendered()
        #expect(field == """
            Authentication-Results: mx.example.com;\r
             spf=pass smtp.mailfrom=a@example.com smtp.helo=mail.example.com;\r
             dkim=pass header.d=example.com header.s=s1 header.a=rsa-sha256;\r
             dmarc=pass (p=reject) header.from=example.com\r

            """)
    }

    @Test("No results render as \"; none\" (§2.2)")
    func noResult() {
        #expect(AR(authservID: "mx.example.com").rendered() == "Authentication-Results: mx.example.com; none\r\n")
    }

    @Test("Submission: auth=pass smtp.auth=USER")
    func auth() {
        let field = AR(authservID: "mx.example.com", results: [
            .init(method: "auth", result: "pass", properties: [.smtpAuth("alice@example.com")]),
        ]).rendered()
        #expect(field == "Authentication-Results: mx.example.com;\r\n auth=pass smtp.auth=alice@example.com\r\n")
    }

    @Test("Long results fold before 78 octets; every line stays under 998")
    func folding() {
        let long = String(repeating: "sub.", count: 15) + "example.com"
        let field = AR(authservID: "mx.example.com", results: [
            .init(method: "dkim", result: "fail", reason: "signature did not verify: " + String(repeating: "x", count: 400),
                  properties: [.headerD(long), .headerS("selector2024"), .headerA("rsa-sha256"),
                               .headerB("abcdefgh/+==")]),
            .init(method: "spf", result: "softfail", properties: [.smtpMailFrom(String(repeating: "y", count: 2000) + "@" + long)]),
        ]).rendered()
        let lines = field.split(separator: "\r\n", omittingEmptySubsequences: true)
        #expect(lines.count >= 5)
        #expect(lines.allSatisfy { $0.utf8.count <= AR.maximumLineLength })
        // Lines made of several atoms stay within the preferred length.
        #expect(lines.filter { $0.utf8.count > AR.preferredLineLength }.allSatisfy { !$0.dropFirst(3).contains(" ") || $0.contains("\"") })
        #expect(field.contains("header.b=\"abcdefgh/+==\""))
        #expect(field.hasSuffix("\r\n") && !field.dropLast(2).contains("\r\n\r\n"))
        // Every line after the first is a continuation.
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix(" ") })
    }

    @Test("Peer-controlled values cannot break the field", arguments: [
        "evil\r\nX-Injected: yes", "a\"b\\c", "(comment)", "semi;colon", "\u{7}bell",
    ])
    func hostileValues(_ value: String) {
        let field = AR(authservID: "mx.example.com", results: [
            .init(method: "spf", result: "pass", reason: value, comment: value, properties: [.smtpHelo(value)]),
        ]).rendered()
        #expect(field.split(separator: "\r\n").allSatisfy { $0.hasPrefix("Authentication-Results:") || $0.hasPrefix(" ") })
        #expect(!field.unicodeScalars.contains { $0.value < 0x20 && $0 != "\r" && $0 != "\n" })
        #expect(field.components(separatedBy: "\r\n").count == field.split(separator: "\r\n").count + 1)
        // Re-parsing finds our id and only it.
        let header = Array((field + "\r\n").utf8)
        #expect(AuthenticationResultsFilter.forgedFields(in: header, authservID: "mx.example.com").count == 1)
    }

    @Test("Property values are tokens, addresses or quoted strings", arguments: [
        ("example.com", "example.com"), ("a@example.com", "a@example.com"), ("@example.com", "@example.com"),
        ("first.last+tag@example.com", "first.last+tag@example.com"), ("a b@example.com", "\"a b@example.com\""),
        ("x/y", "\"x/y\""), ("", "\"\""), ("\"q\"@example.com", "\"\\\"q\\\"@example.com\""),
    ])
    func propertyValues(_ value: String, _ rendered: String) {
        #expect(AR.propertyValue(value) == rendered)
    }

    // MARK: Forged fields (§5)

    static let header = Array("""
        Received: from x\r
        Authentication-Results: mx.example.com; spf=pass\r
        Authentication-Results: (forged\r
         by (nested) comment) MX.Example.COM;\r
        \tdkim=pass header.d=bank.example\r
        Authentication-Results: mx.example.com.evil; dmarc=pass\r
        Authentication-Results: other.example; mx.example.com=pass\r
        Authentication-Results: "mx.example.com" 1; dmarc=pass\r
        authentication-results :mx.example.com.;none\r
        Authentication-Results: mx.example.co; spf=pass\r
        X-Authentication-Results: mx.example.com; spf=pass\r
        Authentication-Results: (unterminated mx.example.com; spf=pass\r
        Subject: hello\r
        \r
        Authentication-Results: mx.example.com; in the body\r

        """.utf8)

    @Test("Fields claiming our authserv-id are found, with comments, folding, quotes, case and a trailing dot")
    func forged() {
        let ranges = AuthenticationResultsFilter.forgedFields(in: Self.header, authservID: "mx.example.com")
        let texts = ranges.map { String(decoding: Self.header[$0], as: UTF8.self) }
        #expect(texts == [
            "Authentication-Results: mx.example.com; spf=pass\r\n",
            "Authentication-Results: (forged\r\n by (nested) comment) MX.Example.COM;\r\n\tdkim=pass header.d=bank.example\r\n",
            "Authentication-Results: \"mx.example.com\" 1; dmarc=pass\r\n",
            "authentication-results :mx.example.com.;none\r\n",
        ])
    }

    @Test("Removing them keeps every other byte in place")
    func removal() {
        let kept = String(decoding: AuthenticationResultsFilter.removingForgedFields(from: Self.header,
                                                                                     authservID: "mx.example.com"),
                          as: UTF8.self)
        #expect(kept == """
            Received: from x\r
            Authentication-Results: mx.example.com.evil; dmarc=pass\r
            Authentication-Results: other.example; mx.example.com=pass\r
            Authentication-Results: mx.example.co; spf=pass\r
            X-Authentication-Results: mx.example.com; spf=pass\r
            Authentication-Results: (unterminated mx.example.com; spf=pass\r
            Subject: hello\r
            \r
            Authentication-Results: mx.example.com; in the body\r

            """)
    }

    @Test("A header without our fields comes back unchanged; LF-only lines are scanned too")
    func unchanged() {
        let plain = Array("Subject: x\r\nAuthentication-Results: other.example; none\r\n\r\nbody".utf8)
        #expect(AuthenticationResultsFilter.removingForgedFields(from: plain, authservID: "mx.example.com") == plain)
        let lf = Array("Subject: x\nAuthentication-Results: mx.example.com; none\nTo: y\n\n".utf8)
        #expect(String(decoding: AuthenticationResultsFilter.removingForgedFields(from: lf, authservID: "mx.example.com"),
                       as: UTF8.self) == "Subject: x\nTo: y\n\n")
    }
}
