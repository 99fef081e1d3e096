import Testing
@testable import TernMailAuth

/// The RFC5322.From domains DMARC evaluates (RFC 7489 §6.6.1).
@Suite("Author domains from the From field")
struct AuthorDomainsTests {
    static func authors(_ header: String) -> AuthorDomains {
        AuthorDomains(headerSection: Array(header.utf8))
    }

    @Test("From forms yield their domains", arguments: [
        ("From: a@Example.COM\r\n\r\n", ["example.com"]),
        ("From: \"Test, User\" <test@example.com>\r\n\r\n", ["example.com"]),
        ("From: Bad User <spoof@example.org>, Test User <test@example.com>\r\n", ["example.org", "example.com"]),
        ("From: (comment, with @ and <x@evil.test>) a@example.com\r\n", ["example.com"]),
        ("From: Someone\r\n <a@example.com>\r\n\r\n", ["example.com"]),
        ("from : a@example.com (Alice)\r\n", ["example.com"]),
        ("From: \"a@evil.test\" <b@example.com>\r\n", ["example.com"]),
        ("From: a@example.com, b@example.com\r\n", ["example.com"]),
        ("From: =?utf-8?q?J=C3=BCrgen?= <j@bücher.example>\n\n", ["xn--bcher-kva.example"]),
        ("From: friends: a@example.com, b@example.net;\r\n", ["example.com", "example.net"]),
    ])
    func domains(_ header: String, _ expected: [String]) {
        #expect(Self.authors(header) == .domains(expected))
    }

    @Test("No From, two From fields and address-less From are told apart")
    func malformed() {
        #expect(Self.authors("Subject: x\r\n\r\nFrom: a@example.com\r\n") == .noFromField)
        #expect(Self.authors("From: a@example.com\r\nFrom: b@example.org\r\n\r\n") == .multipleFromFields)
        guard case .unusable = Self.authors("From: \"Test User\"\r\n\r\n") else { Issue.record("quoted name only"); return }
        guard case .unusable = Self.authors("From: a@[192.0.2.1]\r\n\r\n") else { Issue.record("literal"); return }
        guard case .unusable = Self.authors("From: a@exa mple..com\r\n\r\n") else { Issue.record("bad domain"); return }
    }
}
