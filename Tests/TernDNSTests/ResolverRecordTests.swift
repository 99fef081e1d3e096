import NIOPosix
import Testing
import TernTestSupport
@testable import TernDNS

/// Every record type against a real nsd on loopback.
@Suite("Lookups of each record type against nsd")
struct ResolverRecordTests {
    @Test("MX records come back with both preferences, exchanges lowercased without the dot")
    func mx() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.mx("d.test")
        let answer = try #require(result.answer, "\(result)")
        #expect(Set(answer.records) == [MXRecord(preference: 10, exchange: "mx1.d.test"),
                                        MXRecord(preference: 20, exchange: "mx2.d.test")])
        #expect(answer.ttl == 300)
        #expect(answer.canonicalName == "d.test")
        #expect(answer.authenticated == false)
    }

    @Test("The null MX is an exchange of \"\" with preference 0 (RFC 7505)")
    func nullMX() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.mx("nullmx.d.test")
        #expect(result.records == [MXRecord(preference: 0, exchange: "")])
        #expect(result.records.first?.isNull == true)
    }

    @Test("A and AAAA records are typed addresses")
    func addresses() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let v4 = await resolver.a("mx1.d.test")
        #expect(v4.records == [.v4([192, 0, 2, 1])])
        #expect(v4.records.first?.description == "192.0.2.1")
        let v6 = await resolver.aaaa("mx1.d.test")
        #expect(v6.records == [Zones.mx1v6])
        #expect(v6.records.first?.description == "2001:db8::1")
    }

    @Test("Names are matched in any case, with or without the trailing dot")
    func nameForms() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let plain = await resolver.a("mx1.d.test")
        let shouted = await resolver.a("MX1.D.Test.")
        #expect(plain.records == [.v4([192, 0, 2, 1])])
        #expect(shouted == plain)
        #expect(resolver.statistics.queriesSent == 1)
        #expect(resolver.statistics.cacheHits == 1)
    }

    @Test("The strings of one TXT record are joined; two records stay two")
    func txt() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.txt("split.d.test")
        #expect(Set(result.records) == ["v=spf1 ip4:192.0.2.0/24 -all", "second record"])
        #expect(resolver.statistics.tcpQueries == 0)
    }

    @Test("A TXT answer larger than 1232 octets is truncated over UDP and fetched whole over TCP")
    func truncatedFallsBackToTCP() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.txt("big.d.test")
        #expect(result.records == [Zones.bigParts.joined()])
        #expect(result.records.first?.utf8.count == 1500)
        #expect(resolver.statistics.tcpQueries == 1)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("TLSA fields and association data are read as published")
    func tlsa() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.tlsa("_25._tcp.mx1.d.test")
        #expect(result.records == [TLSARecord(usage: 3, selector: 1, matchingType: 1,
                                              data: [UInt8](hex: Zones.tlsaHex))])
        #expect(result.answer?.authenticated == false)
    }

    @Test("PTR lookups build in-addr.arpa and ip6.arpa names themselves")
    func ptr() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let v4 = await resolver.ptr(.v4([192, 0, 2, 1]))
        #expect(v4.records == ["mx1.d.test"])
        #expect(v4.answer?.canonicalName == "1.2.0.192.in-addr.arpa")
        let v6 = await resolver.ptr(Zones.mx1v6)
        #expect(v6.records == ["mx1.d.test"])
        let missing = await resolver.ptr(.v4([192, 0, 2, 99]))
        #expect(missing == .nxdomain)
    }

    @Test("A two-hop CNAME chain in one reply is followed to the A record")
    func cnameChain() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.a("alias.d.test")
        let answer = try #require(result.answer, "\(result)")
        #expect(answer.records == [.v4([192, 0, 2, 1])])
        #expect(answer.canonicalName == "mx1.d.test")
        #expect(resolver.statistics.queriesSent == 1)
    }

    @Test("A CNAME into another zone of the same server is followed in one reply; the TTL is the smallest")
    func cnameAcrossZones() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.a("outside.d.test")
        let answer = try #require(result.answer, "\(result)")
        #expect(answer.records == [.v4([192, 0, 2, 77])])
        #expect(answer.canonicalName == "target.e.test")
        #expect(answer.ttl == 120)
        #expect(resolver.statistics.queriesSent == 1)
    }

    @Test("A CNAME whose target the reply leaves out is asked for in a second query")
    func cnameRequeried() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            switch DNSTestMessage.questionName(of: query) {
            case "outside.d.test":
                return [DNSTestMessage.reply(to: query, answers: [
                    (type: 5, ttl: 90, rdata: DNSTestMessage.wireName("Target.E.test"))])]
            case "target.e.test":
                return [DNSTestMessage.reply(to: query, answers: [(type: 1, ttl: 600, rdata: [192, 0, 2, 78])])]
            default:
                return [DNSTestMessage.reply(to: query, rcode: 5)]
            }
        }
        let resolver = try makeResolver([responder.nameserver])
        let result = await resolver.a("outside.d.test")
        let answer = try #require(result.answer, "\(result)")
        #expect(answer.records == [.v4([192, 0, 2, 78])])
        #expect(answer.canonicalName == "target.e.test")
        #expect(answer.ttl == 90)
        #expect(resolver.statistics.queriesSent == 2)
        await responder.close()
    }

    @Test("A CNAME loop spread over several replies is a failure")
    func cnameLoopAcrossQueries() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            let next = DNSTestMessage.questionName(of: query) == "one.test" ? "two.test" : "one.test"
            return [DNSTestMessage.reply(to: query, answers: [(type: 5, ttl: 60, rdata: DNSTestMessage.wireName(next))])]
        }
        let resolver = try makeResolver([responder.nameserver])
        let result = await resolver.a("one.test")
        guard case .failure(let text) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(text.contains("loop"))
        #expect(resolver.statistics.queriesSent == 2)
        await responder.close()
    }

    @Test("cname() returns the target of the name's own CNAME, not followed")
    func cname() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        #expect(await resolver.cname("alias.d.test").records == ["alias2.d.test"])
        #expect(await resolver.cname("mx1.d.test") == .nodata)
    }

    @Test("A CNAME loop is a failure, not a hang")
    func cnameLoop() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.a("loop1.d.test")
        guard case .failure(let text) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(text.contains("loop"))
    }
}

@Suite("Negative answers against nsd")
struct ResolverNegativeTests {
    @Test("A name that does not exist is NXDOMAIN")
    func nxdomain() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        #expect(await resolver.a("nothere.d.test") == .nxdomain)
        #expect(await resolver.mx("nothere.d.test") == .nxdomain)
    }

    @Test("A name with only TXT is NODATA for A, AAAA and MX")
    func nodata() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        #expect(await resolver.a("txtonly.d.test") == .nodata)
        #expect(await resolver.aaaa("txtonly.d.test") == .nodata)
        #expect(await resolver.mx("txtonly.d.test") == .nodata)
        #expect(await resolver.txt("txtonly.d.test").records == ["v=spf1 -all"])
    }

    @Test("A CNAME to a missing name is NXDOMAIN; to a name without the type, NODATA")
    func chainEnds() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        #expect(await resolver.a("dangling.d.test") == .nxdomain)
        #expect(await resolver.a("tonodata.d.test") == .nodata)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("A zone the server does not serve is REFUSED, reported as a failure")
    func refused() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        let result = await resolver.a("www.example.com")
        guard case .failure(let text) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(text.contains("REFUSED"))
        // A nameserver that refused is not asked again in the second round.
        #expect(resolver.statistics.queriesSent == 1)
    }

    @Test("Invalid names fail without a query", arguments: ["", ".", "a..b", String(repeating: "x", count: 64) + ".test"])
    func invalidName(name: String) async throws {
        let resolver = try makeResolver(["127.0.0.1:9"])
        let result = await resolver.a(name)
        guard case .failure = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(resolver.statistics.queriesSent == 0)
    }
}
