import Testing
@testable import TernMailAuth

/// RFC 7208 record syntax, beyond the suite: limits and parsed values.
@Suite("SPF record guard")
struct SPFRecordGuardTests {
    static func valid(_ text: String) -> SPFRecord? { SPFRecordGuard.check(text).record }

    @Test("Record selection: v=spf1 in any case, then a space or the end (§4.5)", arguments: [
        ("v=spf1", true), ("V=SPF1 -all", true), ("v=spf1 ", true), ("v=spf10", false), ("v=spf1mx", false),
        ("spf1 -all", false), (" v=spf1 -all", false), ("", false),
    ])
    func selection(_ text: String, _ selected: Bool) {
        #expect(SPFRecordGuard.isSPFRecord(text) == selected)
    }

    @Test("A typical record parses into its terms")
    func typical() throws {
        let r = try #require(Self.valid("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/28//64 "
                                        + "include:_spf.example.net ~all exp=explain.%{d} redirect=other.example"))
        #expect(r.directives.count == 6)
        #expect(r.directives[0] == SPFDirective(qualifier: .pass, mechanism: .ip4([192, 0, 2, 0], 24)))
        #expect(r.directives[1].mechanism == .ip6([0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 12), 32))
        guard case .a(nil, SPFDualCIDR(ip4: nil, ip6: nil)) = r.directives[2].mechanism else {
            Issue.record("\(r.directives[2])"); return
        }
        guard case .mx(let spec?, SPFDualCIDR(ip4: 28, ip6: 64)) = r.directives[3].mechanism else {
            Issue.record("\(r.directives[3])"); return
        }
        #expect(spec.text == "mail.example.com" && !spec.hasMacros)
        #expect(r.directives[5] == SPFDirective(qualifier: .softfail, mechanism: .all))
        #expect(r.explanation?.text == "explain.%{d}")
        #expect(r.redirect?.text == "other.example")
    }

    @Test("Macros parse with digits, reverse and delimiters (§7.1)")
    func macros() throws {
        let r = try #require(Self.valid("v=spf1 exists:%{i}.%{L2r-+}.%{d2}._spf.%{S}.example -all"))
        guard case .exists(let spec) = r.directives[0].mechanism else { Issue.record("not exists"); return }
        let macros = spec.parts.compactMap { if case .macro(let m) = $0 { m } else { nil } }
        #expect(macros.count == 4)
        #expect(macros[1] == SPFMacro(letter: .localPart, urlEscape: true, keep: 2, reverse: true, delimiters: ["-", "+"]))
        #expect(macros[2].keep == 2 && macros[2].letter == .domain && !macros[2].reverse)
        #expect(macros[3].letter == .sender && macros[3].urlEscape)
    }

    @Test("Refused: absurd digits, unknown letters, explanation-only letters in domains, stray percent signs", arguments: [
        "v=spf1 exists:%{d0}.example.com",          // zero parts
        "v=spf1 exists:%{d129}.example.com",        // more than 128 labels
        "v=spf1 exists:%{d99999999999}.example.com",
        "v=spf1 exists:%{l1r1}.example.com",
        "v=spf1 exists:%{x}.example.com",
        "v=spf1 exists:%{c}.example.com",
        "v=spf1 a:%{t}.example.com",
        "v=spf1 redirect=%{r}.example.com",
        "v=spf1 exists:%{d!}.example.com",
        "v=spf1 exists:%{d.example.com",
        "v=spf1 exists:%{}.example.com",
        "v=spf1 exists:%x.example.com",
        "v=spf1 exists:example.com%",
        "v=spf1 exists:%{d" + String(repeating: ".", count: 17) + "}.example.com",
    ])
    func refusedMacros(_ text: String) {
        #expect(Self.valid(text) == nil)
    }

    @Test("Accepted at the edges", arguments: [
        "v=spf1 exists:%{d128}.example.com",
        "v=spf1 exists:%{ir}.%{v}.arpa.%{d}",
        "v=spf1 a:%{H}",
        "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",
        "v=spf1 foo=%{c}%{r}%{t}",                   // unknown modifiers may use any letter
        "v=spf1 foo=",
        "v=spf1 a/0 a//0 mx/32//128 ip4:0.0.0.0/0 ip6:::/0",
        "v=spf1 ip6:::ffff:192.0.2.1 ip6:fe80::1:2:3:4:5:6 ip6:1:2:3:4:5:6:7:8",
        "v=spf1 a:.example.com. a:example.com.",
        "v=spf1 a:foo.example.xn--zckzah ptr ptr:example.com",
        "v=spf1  -all  ",
    ])
    func accepted(_ text: String) {
        #expect(Self.valid(text) != nil, "\(SPFRecordGuard.check(text))")
    }

    @Test("Refused networks and CIDR lengths", arguments: [
        "v=spf1 ip4:256.0.0.1", "v=spf1 ip4:01.2.3.4", "v=spf1 ip4:1.2.3.4/", "v=spf1 ip4:1.2.3.4/-1",
        "v=spf1 ip6:1:2:3:4:5:6:7:8:9", "v=spf1 ip6:1::2::3", "v=spf1 ip6:12345::", "v=spf1 ip6:+1::",
        "v=spf1 ip6:::1/0129", "v=spf1 a//", "v=spf1 a/", "v=spf1 mx:example.com/", "v=spf1 ip6:1.2.3.4",
    ])
    func refusedNetworks(_ text: String) {
        #expect(Self.valid(text) == nil)
    }

    @Test("Over-long records, tabs and line breaks are refused")
    func lengthAndWhitespace() {
        #expect(Self.valid("v=spf1 " + String(repeating: "a ", count: 3000)) == nil)
        #expect(Self.valid("v=spf1\t-all") == nil)
        #expect(Self.valid("v=spf1 a\r\n-all") == nil)
    }
}
