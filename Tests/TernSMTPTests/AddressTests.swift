import Testing
@testable import TernSMTP

@Suite("Addresses and domains")
struct AddressTests {
    @Test("Punycode encodes and decodes the RFC 3492 samples", arguments: [
        ("bücher", "bcher-kva"),
        ("ñoños", "oos-6mab"),
        ("münchen", "mnchen-3ya"),
        ("例え", "r8jz45g"),
    ])
    func punycode(unicode: String, encoded: String) {
        #expect(Punycode.encode(unicode) == encoded)
        #expect(Punycode.decode(encoded) == unicode)
    }

    @Test("IDN domains compare equal in U-label and A-label form, any case")
    func idnEquality() throws {
        let a = try Domain(parsing: "Bücher.Example")
        let b = try Domain(parsing: "xn--bcher-kva.example")
        #expect(a == b)
        #expect(a.ascii == "xn--bcher-kva.example")
        #expect(b.unicode == "bücher.example")
        #expect(a.text == "Bücher.Example")
    }

    @Test("NFC and NFD spellings of a domain are the same domain")
    func nfc() throws {
        let composed = try Domain(parsing: "caf\u{E9}.test")
        let decomposed = try Domain(parsing: "cafe\u{301}.test")
        #expect(composed == decomposed)
    }

    @Test("Bad domains are refused", arguments: [
        "", "-a.test", "a-.test", "a..test", "a.test.", "xn---", "xn--zz-.test", "ab--c.test", "a_b.test",
        String(repeating: "a", count: 64) + ".test", "[1.2.3]", "[IPv6:zz::1]", "[300.1.1.1]",
    ])
    func badDomains(text: String) {
        #expect(throws: Domain.ParseError.self) { try Domain(parsing: text) }
    }

    @Test("Address literals parse", arguments: ["[127.0.0.1]", "[IPv6:::1]", "[IPv6:2001:db8::1]", "[tag:content]"])
    func literals(text: String) throws {
        let d = try Domain(parsing: text)
        #expect(d.isAddressLiteral)
    }

    @Test("Non-ASCII domains need SMTPUTF8")
    func nonASCIIRequiresUTF8() {
        #expect(throws: Domain.ParseError.nonASCII) { try Domain(parsing: "bücher.example", allowUTF8: false) }
    }

    @Test("Mailboxes parse and render on the wire", arguments: [
        ("user@local.test", "user", "user@local.test"),
        ("\"john doe\"@example.test", "john doe", "\"john doe\"@example.test"),
        ("\"a\\\"b\"@example.test", "a\"b", "\"a\\\"b\"@example.test"),
        ("!#$%&'*+-/=?^_`.{|}~@doe", "!#$%&'*+-/=?^_`.{|}~", "!#$%&'*+-/=?^_`.{|}~@doe"),
        ("ñandú@ñoños.test", "ñandú", "ñandú@ñoños.test"),
        ("\"ok\"@example.test", "ok", "ok@example.test"),
    ])
    func mailboxes(input: String, local: String, wire: String) throws {
        let m = try Mailbox(parsing: input)
        #expect(m.localPart == local)
        #expect(m.text == wire)
    }

    @Test("Bad mailboxes are refused", arguments: [
        "pepe", "@doe", "a@", "a..b@c.test", ".a@c.test", "a.@c.test", "a b@c.test", "\"unterminated@c.test",
        "a@b@c.test",
    ])
    func badMailboxes(input: String) {
        #expect(throws: Mailbox.ParseError.self) { try Mailbox(parsing: input) }
    }

    @Test("NFC and NFD spellings of a UTF-8 local part are the same mailbox (RFC 6531 3.1)")
    func nfcLocalPart() throws {
        let composed = try Mailbox(parsing: "caf\u{E9}@example.test")
        let decomposed = try Mailbox(parsing: "cafe\u{301}@example.test")
        #expect(composed == decomposed)
        #expect(decomposed.localPart.unicodeScalars.count == 4)
    }

    @Test("Local parts keep their case; domains do not matter for equality")
    func casePreserving() throws {
        let a = try Mailbox(parsing: "Alice@EXAMPLE.test")
        let b = try Mailbox(parsing: "Alice@example.test")
        let c = try Mailbox(parsing: "alice@example.test")
        #expect(a == b)
        #expect(a != c)
        #expect(a.localPart == "Alice")
    }

    @Test("xtext round-trips and decodes RFC 6533 unitext escapes")
    func xtext() {
        #expect(XText.encode("a+b=c d") == "a+2Bb+3Dc+20d")
        #expect(XText.decode("a+2Bb+3Dc+20d") == "a+b=c d")
        #expect(XText.decode("\\x{E9}t\\x{E9}") == "été")
        #expect(XText.decode("+ZZ") == nil)
        #expect(XText.decode("a=b") == nil)
    }

    @Test("DSN NOTIFY values", arguments: [
        ("NEVER", true), ("SUCCESS,FAILURE", true), ("delay", true), ("NEVER,SUCCESS", false), ("", false), ("BOGUS", false),
    ])
    func notify(text: String, valid: Bool) {
        #expect((DSNNotify(parameter: text) != nil) == valid)
    }
}
