import Foundation
import NIOCore
import NIOPosix
import Testing
import TernDNS
import TernTestSupport
@testable import TernMailAuth

/// SPFChecker against a real nsd: identities, the guard in front of
/// include targets, concurrency, and a nameserver that never answers.
@Suite("SPF checker with real DNS", .serialized)
struct SPFCheckerDNSTests {
    static let zone = """
        $TTL 300
        example.test. IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
        example.test. IN NS ns.example.test.
        example.test. IN TXT "v=spf1 ip4:192.0.2.0/24 -all"
        mail.example.test. IN TXT "v=spf1 a -all"
        mail.example.test. IN A 192.0.2.10
        six.example.test. IN TXT "v=spf1 ip6:2001:db8::/32 -all"
        bad.example.test. IN TXT "v=spf1 include:evil.example.test -all"
        evil.example.test. IN TXT "v=spf1 a:%{i999}.example.test ?all"
        loop.example.test. IN TXT "v=spf1 include:loop.example.test -all"
        exp.example.test. IN TXT "v=spf1 -all exp=why.example.test"
        why.example.test. IN TXT "%{i} may not send for %{d}"

        """

    static func withChecker(threads: Int = 2, _ body: (SPFChecker) async throws -> Void) async throws {
        let nsd = try NSDServer(zones: ["example.test.": zone])
        defer { nsd.stop() }
        let resolver = DNSResolver(
            configuration: DNSResolverConfiguration(nameservers: [try SocketAddress(ipAddress: nsd.address, port: nsd.port)],
                                                    timeout: .milliseconds(500), attempts: 1),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let checker = SPFChecker(lookup: resolver, configuration: .init(receiver: "mx.tern.test", threads: threads))
        try await body(checker)
        await resolver.shutdown()
    }

    static func ip(_ text: String) throws -> DNSAddress { try #require(DNSAddress(text)) }

    @Test("HELO and MAIL FROM identities are checked, the null sender as postmaster@HELO")
    func identities() async throws {
        try await Self.withChecker { checker in
            let helo = await checker.checkHELO(ip: try Self.ip("192.0.2.10"), helo: "mail.example.test")
            #expect(helo.verdict == .pass && helo.identity == .helo && helo.domain == "mail.example.test")

            let null = await checker.check(ip: try Self.ip("192.0.2.10"), helo: "mail.example.test", mailFrom: "")
            #expect(null.verdict == .pass && null.sender == "postmaster@mail.example.test")

            let mailFrom = await checker.check(ip: try Self.ip("198.51.100.1"), helo: "mail.example.test",
                                               mailFrom: "a@example.test")
            #expect(mailFrom.verdict == .fail && mailFrom.identity == .mailFrom && mailFrom.domain == "example.test")
        }
    }

    @Test("IPv4-mapped clients are checked as IPv4; loopback gets no free pass")
    func clients() async throws {
        try await Self.withChecker { checker in
            let mapped = await checker.check(ip: try Self.ip("::ffff:192.0.2.77"), helo: "x", mailFrom: "a@example.test")
            #expect(mapped.verdict == .pass)
            #expect(mapped.clientIP == (try Self.ip("192.0.2.77")))
            let six = await checker.check(ip: try Self.ip("2001:db8::5"), helo: "x", mailFrom: "a@six.example.test")
            #expect(six.verdict == .pass)
            let loopback = await checker.check(ip: try Self.ip("127.0.0.1"), helo: "x", mailFrom: "a@example.test")
            #expect(loopback.verdict == .fail)
        }
    }

    @Test("An include target the guard refuses makes the check permerror before libspf2 parses it")
    func guardedInclude() async throws {
        try await Self.withChecker { checker in
            let r = await checker.check(ip: try Self.ip("198.51.100.1"), helo: "x", mailFrom: "a@bad.example.test")
            #expect(r.verdict == .permerror)
            #expect(r.reason?.contains("evil.example.test") == true)
            let loop = await checker.check(ip: try Self.ip("198.51.100.1"), helo: "x", mailFrom: "a@loop.example.test")
            #expect(loop.verdict == .permerror)
        }
    }

    @Test("A fail carries the domain's explanation, expanded")
    func explanation() async throws {
        try await Self.withChecker { checker in
            let r = await checker.check(ip: try Self.ip("198.51.100.1"), helo: "x", mailFrom: "a@exp.example.test")
            #expect(r.verdict == .fail)
            #expect(r.explanation == "198.51.100.1 may not send for exp.example.test")
        }
    }

    @Test("Many checks at once on four threads agree with one at a time")
    func concurrency() async throws {
        try await Self.withChecker(threads: 4) { checker in
            let cases: [(String, String, SPFVerdict)] = [
                ("192.0.2.10", "a@example.test", .pass), ("198.51.100.1", "a@example.test", .fail),
                ("192.0.2.10", "a@mail.example.test", .pass), ("192.0.2.11", "a@mail.example.test", .fail),
                ("198.51.100.1", "a@bad.example.test", .permerror), ("198.51.100.1", "a@nowhere.example.test", .none),
            ]
            let verdicts = try await withThrowingTaskGroup(of: (Int, SPFVerdict).self) { group in
                for round in 0..<40 {
                    for (index, c) in cases.enumerated() {
                        let ip = try Self.ip(c.0)
                        group.addTask { (index, await checker.check(ip: ip, helo: "x\(round)", mailFrom: c.1).verdict) }
                    }
                }
                var out: [(Int, SPFVerdict)] = []
                for try await v in group { out.append(v) }
                return out
            }
            #expect(verdicts.count == cases.count * 40)
            for (index, verdict) in verdicts { #expect(verdict == cases[index].2, "\(cases[index])") }
        }
    }

    @Test("A nameserver that never answers gives temperror")
    func silentNameserver() async throws {
        let silent = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { _ in [] }
        let resolver = DNSResolver(
            configuration: DNSResolverConfiguration(nameservers: [try SocketAddress(ipAddress: silent.address, port: silent.port)],
                                                    timeout: .milliseconds(200), attempts: 1),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let checker = SPFChecker(lookup: resolver)
        let r = await checker.check(ip: try Self.ip("192.0.2.1"), helo: "x", mailFrom: "a@example.test")
        #expect(r.verdict == .temperror)
        #expect(r.reason?.contains("timeout") == true)
        await resolver.shutdown()
        await silent.close()
    }
}
