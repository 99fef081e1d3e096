import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

@Suite("SPF checker pieces")
struct SPFCheckerTests {
    static func rendered(_ record: String, ipv4: Bool = true) -> String? {
        SPFRecordGuard.check(record).record.map { SPFEngineRecord.render($0, clientIsIPv4: ipv4) }
    }

    @Test("Records are rewritten into what libspf2 evaluates by RFC 7208", arguments: [
        ("v=spf1 ip4:192.0.2.0/0 -all", true, "v=spf1 ip4:0.0.0.0/1 ip4:128.0.0.0/1 -all"),
        ("v=spf1 ip6:::1/0 ?all", false, "v=spf1 ip6:::/1 ip6:8000::/1 ?all"),
        ("v=spf1 ip6:::1/0 ip4:192.0.2.1 -all", true, "v=spf1 ip4:192.0.2.1 -all"),
        ("v=spf1 a/0 -all", true, "v=spf1 a:%{d}.tern-cidr0.invalid -all"),
        ("v=spf1 mx:example.com./0//64 -all", true, "v=spf1 mx:example.com.tern-cidr0.invalid -all"),
        ("v=spf1 mx:example.com/24//0 -all", false, "v=spf1 mx:example.com.tern-cidr0.invalid -all"),
        ("v=spf1 a:example.com/24//64 -all", false, "v=spf1 a:example.com//64 -all"),
        ("v=spf1 redirect=b.example.com a -all", true, "v=spf1 a -all"),
        ("v=spf1 redirect=b.example.com exp=e.example.com a", true,
         "v=spf1 a exp=e.example.com redirect=b.example.com"),
        ("v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all", true, "v=spf1 ip4:1.2.3.4 -all"),
    ])
    func rewrite(record: String, ipv4: Bool, expected: String) {
        #expect(Self.rendered(record, ipv4: ipv4) == expected)
    }

    @Test("Zero-CIDR names lead back to the real name")
    func zeroCIDRNames() {
        #expect(SPFEngineRecord.zeroCIDRBase("mail.example.com.tern-cidr0.invalid") == "mail.example.com")
        #expect(SPFEngineRecord.zeroCIDRBase("MAIL.example.com.TERN-CIDR0.invalid.") == "mail.example.com")
        #expect(SPFEngineRecord.zeroCIDRBase("mail.example.com") == nil)
    }

    @Test("Reverse names give back the address they were made from", arguments: ["192.0.2.7", "2001:db8::1", "cafe:babe::1"])
    func reverseNames(text: String) throws {
        let address = try #require(DNSAddress(text))
        #expect(SPFCheckContext.address(reverseName: address.reverseName) == address)
    }

    @Test("Query names follow RFC 7208 §4.3", arguments: [
        ("Example.COM.", "example.com"),
        ("a..example.com", nil),
        ("[192.0.2.1]", nil),
        (String(repeating: "a", count: 64) + ".example.com", nil),
        (String(repeating: "a", count: 63) + ".example.com", String(repeating: "a", count: 63) + ".example.com"),
    ] as [(String, String?)])
    func queryNames(raw: String, expected: String?) {
        #expect(SPFCheckContext.queryName(raw) == expected)
    }

    @Test("Expanded names over 253 octets lose labels on the left (RFC 7208 §7.3)")
    func truncation() {
        let long = String(repeating: "abcdefghi.", count: 30) + "example.com"
        let cut = SPFCheckContext.truncated(long)
        #expect(cut.utf8.count <= 253)
        #expect(cut.hasSuffix(".example.com") && cut.hasPrefix("abcdefghi."))
        #expect(SPFCheckContext.truncated("example.com.") == "example.com")
    }

    @Test("Explanation macros expand per RFC 7208 §7.3")
    func macroExpansion() throws {
        let ip = try #require(DNSAddress("192.0.2.3"))
        let expander = SPFMacroExpander(sender: "strong-bad@email.example.com", domain: "email.example.com",
                                        client: ip, helo: "mx.example.org", receiver: "mx.tern.test",
                                        timestamp: 0, validatedName: { "unknown" })
        #expect(expander.expandExplanation("%{s} %{o} %{d4} %{d3} %{d2} %{d1} %{dr} %{d2r}")
                == "strong-bad@email.example.com email.example.com email.example.com email.example.com example.com com com.example.email example.email")
        #expect(expander.expandExplanation("%{l} %{l-} %{lr} %{lr-} %{l1r-}") == "strong-bad strong.bad strong-bad bad.strong strong")
        #expect(expander.expandExplanation("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com")
        #expect(expander.expandExplanation("%{S}") == "strong-bad%40email.example.com")
        #expect(expander.expandExplanation("a%%b%_c%-d  e") == "a%b c%20d  e")
        #expect(expander.expandExplanation("%{z}") == nil)
    }

    @Test("IPv4-mapped IPv6 clients are checked as IPv4")
    func unmapped() throws {
        let mapped = try #require(DNSAddress("::ffff:192.0.2.9"))
        #expect(SPFChecker.unmapped(mapped) == DNSAddress("192.0.2.9"))
        let plain = try #require(DNSAddress("2001:db8::9"))
        #expect(SPFChecker.unmapped(plain) == plain)
    }

    @Test("Explanation strings are checked against the explain-string grammar", arguments: [
        ("See http://example.com/why?%{i}", true),
        ("%{i} is not one of %{d}'s designated mail servers.", true),
        ("bad %{q} macro", false),
        ("trailing %", false),
    ])
    func explanations(text: String, valid: Bool) {
        #expect(SPFCheckContext.isExplainString(text) == valid)
    }

    @Test("Received-SPF is rendered per RFC 7208 §9.1 and keeps peer text inside quotes")
    func receivedSPF() throws {
        let ip = try #require(DNSAddress("192.0.2.1"))
        var result = SPFResult(verdict: .pass, identity: .mailFrom, sender: "a@example.com", domain: "example.com",
                               clientIP: ip, helo: "mail.example.com")
        let field = ReceivedSPF.render(result, receiver: "mx.example.org")
        let unfolded = field.replacingOccurrences(of: "\r\n ", with: " ")
        #expect(unfolded.hasPrefix("Received-SPF: pass (mx.example.org: domain of a@example.com designates 192.0.2.1 as"))
        #expect(unfolded.contains("client-ip=192.0.2.1;"))
        #expect(unfolded.contains("envelope-from=\"a@example.com\";"))
        #expect(field.contains("identity=mailfrom"))
        #expect(field.hasSuffix("\r\n"))
        #expect(field.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })

        result.verdict = .permerror
        result.helo = "evil\r\nX-Injected: yes"
        result.reason = "bad \"record\""
        let hostile = ReceivedSPF.render(result, receiver: "mx.example.org")
        #expect(!hostile.contains("\r\nX-Injected"))
        let hostileUnfolded = hostile.replacingOccurrences(of: "\r\n ", with: " ")
        #expect(hostileUnfolded.contains("helo=\"evilX-Injected: yes\";"))
        #expect(hostileUnfolded.contains("problem=\"bad \\\"record\\\"\""))
    }

    @Test("Authentication-Results names the identity checked")
    func authenticationResults() throws {
        let ip = try #require(DNSAddress("192.0.2.1"))
        let mailFrom = SPFResult(verdict: .fail, identity: .mailFrom, sender: "a@example.com", domain: "example.com",
                                 clientIP: ip, helo: "mail.example.com")
        let helo = SPFResult(verdict: .pass, identity: .helo, sender: "postmaster@mail.example.com",
                             domain: "mail.example.com", clientIP: ip, helo: "mail.example.com")
        let field = AuthenticationResults(authservID: "mx.example.org",
                                          results: [mailFrom.authenticationResult, helo.authenticationResult]).rendered()
        #expect(field.contains("spf=fail smtp.mailfrom=a@example.com"))
        #expect(field.contains("spf=pass smtp.helo=mail.example.com"))
    }
}
