import Testing
import TernDNS
@testable import TernDelivery

/// A seeded generator so that shuffles are repeatable (SplitMix64).
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("MX ordering (RFC 5321 §5.1, RFC 7505)")
struct MailExchangersTests {
    @Test("Lower preference first; equal preferences in random order; duplicates once; limit")
    func order() {
        let records = [MXRecord(preference: 20, exchange: "c.test"), MXRecord(preference: 10, exchange: "a.test"),
                       MXRecord(preference: 10, exchange: "b.test"), MXRecord(preference: 30, exchange: "a.test")]
        var firsts: Set<String> = []
        for seed in 0..<64 {
            var rng = SeededGenerator(state: UInt64(seed))
            guard case .hosts(let hosts) = MailExchangers.order(records, limit: 5, using: &rng) else {
                Issue.record("no hosts")
                return
            }
            #expect(hosts.count == 3)
            #expect(Set(hosts.prefix(2)) == ["a.test", "b.test"])
            #expect(hosts[2] == "c.test")
            firsts.insert(hosts[0])
        }
        #expect(firsts == ["a.test", "b.test"], "both equal-preference hosts come first sometimes")
        var rng = SeededGenerator(state: 1)
        #expect(MailExchangers.order(records, limit: 1, using: &rng).hostCount == 1)
    }

    @Test("A single root exchange is a null MX; a root among others is ignored")
    func nullMX() {
        var rng = SeededGenerator(state: 7)
        #expect(MailExchangers.order([MXRecord(preference: 0, exchange: "")], limit: 5, using: &rng) == .nullMX)
        #expect(MailExchangers.order([MXRecord(preference: 0, exchange: ".")], limit: 5, using: &rng) == .nullMX)
        let mixed = MailExchangers.order([MXRecord(preference: 0, exchange: ""), MXRecord(preference: 5, exchange: "mx.test")],
                                         limit: 5, using: &rng)
        #expect(mixed == .hosts(["mx.test"]))
    }

    @Test("IP literals and address-literal domains need no lookup", arguments: [
        ("127.0.0.2", true), ("[192.0.2.1]", true), ("[IPv6:2001:db8::1]", true), ("::1", true),
        ("mx.example.test", false), ("[not an ip]", false),
    ])
    func literals(host: String, isLiteral: Bool) {
        #expect((HostAddresses.literal(host) != nil) == isLiteral)
    }

    @Test("A literal keeps its bytes")
    func literalBytes() {
        #expect(HostAddresses.literal("127.0.0.2") == .v4([127, 0, 0, 2]))
        #expect(HostAddresses.literal("[IPv6:::1]") == .v6([UInt8](repeating: 0, count: 15) + [1]))
    }
}

extension MailExchangers {
    var hostCount: Int {
        if case .hosts(let h) = self { return h.count }
        return 0
    }
}
