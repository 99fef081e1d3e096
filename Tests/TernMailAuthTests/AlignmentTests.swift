import Testing
@testable import TernMailAuth

/// Organizational domains (RFC 7489 §3.2) and identifier alignment (§3.1),
/// against conformance/dmarc/alignment.yaml and the system's public suffix list.
@Suite("Public suffix list and alignment")
struct AlignmentTests {
    struct AlignmentCase: CustomStringConvertible, Sendable {
        var n: Int, author: String, other: String, strict: Bool, aligned: Bool
        var description: String { "\(n): \(author) / \(other) \(strict ? "strict" : "relaxed")" }
    }

    struct OrgCase: CustomStringConvertible, Sendable {
        var name: String, org: String
        var description: String { name }
    }

    static func document() -> [String: Any] { (try? Conformance.yaml("dmarc/alignment.yaml")) ?? [:] }
    static let alignmentCases: [AlignmentCase] = (document().list("cases") ?? []).compactMap {
        guard let c = $0 as? [String: Any], let n = c.int("n"), let a = c.string("author"), let o = c.string("other"),
              let mode = c.string("mode"), let aligned = c.bool("aligned") else { return nil }
        return AlignmentCase(n: n, author: a, other: o, strict: mode == "strict", aligned: aligned)
    }
    static let orgCases: [OrgCase] = (document().list("org_domain") ?? []).compactMap {
        guard let c = $0 as? [String: Any], let name = c.string("name"), let org = c.string("org") else { return nil }
        return OrgCase(name: name, org: org)
    }

    static func systemList() throws -> PublicSuffixList { try PublicSuffixList.system() }

    @Test("alignment.yaml was read: 10 alignment and 3 organizational-domain cases")
    func read() {
        #expect(Self.alignmentCases.count == 10)
        #expect(Self.orgCases.count == 3)
    }

    @Test("The system list loads once with thousands of rules")
    func systemLoads() throws {
        let list = try Self.systemList()
        #expect(list.count > 5000)
    }

    @Test("Each alignment case of alignment.yaml", arguments: AlignmentTests.alignmentCases)
    func alignment(_ c: AlignmentCase) throws {
        let alignment = DomainAlignment(suffixes: try Self.systemList())
        #expect(alignment.aligned(c.author, c.other, mode: c.strict ? .strict : .relaxed) == c.aligned)
    }

    @Test("Each organizational domain of alignment.yaml", arguments: AlignmentTests.orgCases)
    func organizationalDomain(_ c: OrgCase) throws {
        #expect(try Self.systemList().organizationalDomain(of: c.name) == c.org)
    }

    @Test("The bug that keeps libopendmarc out: a.example.co.uk does not align with b.co.uk")
    func coUK() throws {
        let alignment = DomainAlignment(suffixes: try Self.systemList())
        #expect(!alignment.aligned("a.example.co.uk", "b.co.uk", mode: .relaxed))
        #expect(alignment.aligned("a.example.co.uk", "mail.example.co.uk", mode: .relaxed))
        #expect(!alignment.aligned("a.test", "b.a.test.example", mode: .relaxed))
        #expect(alignment.aligned("a.test", "b.a.test", mode: .relaxed))
    }

    @Test("Relaxed alignment follows the list's organization boundaries", arguments: [
        ("sub.example.com", "example.com", true),
        ("EXAMPLE.com", "mail.Example.COM.", true),
        ("example.com", "example.net", false),
        ("alice.github.io", "bob.github.io", false),   // private section counts
        ("www.ck", "mail.www.ck", true),               // exception rule !www.ck
        ("a.b.ck", "c.b.ck", false),                   // wildcard *.ck: b.ck is a suffix
        ("bücher.example", "xn--bcher-kva.example", true),
    ])
    func relaxed(_ a: String, _ b: String, _ aligned: Bool) throws {
        let alignment = DomainAlignment(suffixes: try Self.systemList())
        #expect(alignment.aligned(a, b, mode: .relaxed) == aligned)
    }

    @Test("Strict alignment is equality after lowercasing; invalid names never align", arguments: [
        ("Example.COM", "example.com", true),
        ("sub.example.com", "example.com", false),
        ("exa mple.com", "exa mple.com", false),
        ("", "", false),
        ("[192.0.2.1]", "[192.0.2.1]", false),
    ])
    func strict(_ a: String, _ b: String, _ aligned: Bool) throws {
        let alignment = DomainAlignment(suffixes: try Self.systemList())
        #expect(alignment.aligned(a, b, mode: .strict) == aligned)
    }

    @Test("Wildcard, exception, default and private rules of a small list")
    func smallList() {
        let text = """
        // ===BEGIN ICANN DOMAINS===
        com
        uk
        co.uk
        *.kawasaki.jp
        !city.kawasaki.jp
        // ===END ICANN DOMAINS===
        // ===BEGIN PRIVATE DOMAINS===
        github.io
        // ===END PRIVATE DOMAINS===
        """
        let full = PublicSuffixList(text: text)
        #expect(full.organizationalDomain(of: "a.b.example.co.uk") == "example.co.uk")
        #expect(full.organizationalDomain(of: "a.b.kawasaki.jp") == "a.b.kawasaki.jp")
        #expect(full.organizationalDomain(of: "x.city.kawasaki.jp") == "city.kawasaki.jp")
        #expect(full.organizationalDomain(of: "a.b.unlisted") == "b.unlisted")
        #expect(full.organizationalDomain(of: "alice.github.io") == "alice.github.io")
        #expect(full.organizationalDomain(of: "co.uk") == "co.uk")
        #expect(full.publicSuffix(of: "a.b.kawasaki.jp") == "b.kawasaki.jp")
        let icann = PublicSuffixList(text: text, includePrivateDomains: false)
        #expect(icann.organizationalDomain(of: "alice.github.io") == "github.io")
        #expect(full.organizationalDomain(of: "a..b.com") == nil)
    }

    @Test("A missing list file is an error, not an empty list")
    func missingFile() {
        #expect(throws: PublicSuffixList.LoadError.self) {
            try PublicSuffixList(contentsOfFile: "/nonexistent/public_suffix_list.dat")
        }
    }
}
