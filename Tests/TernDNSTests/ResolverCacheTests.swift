import Testing
import TernTestSupport
@testable import TernDNS

@Suite("The cache keeps answers for their TTL and negative answers for the SOA minimum")
struct ResolverCacheTests {
    @Test("A positive answer is served from the cache until its TTL runs out, with the TTL counting down")
    func positiveTTL() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let clock = ManualClock()
        let resolver = try makeResolver([nsd.nameserver], clock: clock)
        #expect(await resolver.a("ttl60.d.test").answer?.ttl == 60)
        clock.advance(seconds: 50)
        let cached = await resolver.a("ttl60.d.test")
        #expect(cached.records == [.v4([192, 0, 2, 60])])
        #expect(cached.answer?.ttl == 10)
        #expect(resolver.statistics.queriesSent == 1)
        #expect(resolver.statistics.cacheHits == 1)
        clock.advance(seconds: 11)
        #expect(await resolver.a("ttl60.d.test").answer?.ttl == 60)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("NXDOMAIN is cached for the SOA minimum (60 s), then asked again")
    func negativeNXDOMAIN() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let clock = ManualClock()
        let resolver = try makeResolver([nsd.nameserver], clock: clock)
        #expect(await resolver.a("nothere.d.test") == .nxdomain)
        clock.advance(seconds: 59)
        #expect(await resolver.a("NotHere.d.test.") == .nxdomain)
        #expect(resolver.statistics.queriesSent == 1)
        #expect(resolver.statistics.cacheHits == 1)
        clock.advance(seconds: 2)
        #expect(await resolver.a("nothere.d.test") == .nxdomain)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("NODATA is cached per type: another type of the same name is still asked")
    func negativeNODATA() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver])
        #expect(await resolver.a("txtonly.d.test") == .nodata)
        #expect(await resolver.a("txtonly.d.test") == .nodata)
        #expect(resolver.statistics.queriesSent == 1)
        #expect(await resolver.aaaa("txtonly.d.test") == .nodata)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("A cache of capacity 0 keeps nothing")
    func noCache() async throws {
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([nsd.nameserver], cacheCapacity: 0)
        #expect(await resolver.mx("d.test").records.count == 2)
        #expect(await resolver.mx("d.test").records.count == 2)
        #expect(await resolver.a("nothere.d.test") == .nxdomain)
        #expect(await resolver.a("nothere.d.test") == .nxdomain)
        #expect(resolver.statistics.queriesSent == 4)
        #expect(resolver.statistics.cacheHits == 0)
    }

    @Test("A full cache drops expired entries first, then those closest to expiring")
    func eviction() {
        let cache = DNSCache(capacity: 3)
        let start = ManualClock().read()
        func key(_ n: String) -> DNSCache.Key { DNSCache.Key(name: n, type: 1) }
        cache.store(key("a"), .nxdomain, ttl: 10, now: start)
        cache.store(key("b"), .nxdomain, ttl: 100, now: start)
        cache.store(key("c"), .nxdomain, ttl: 200, now: start)
        cache.store(key("d"), .nxdomain, ttl: 300, now: start)
        #expect(cache.count == 3)
        #expect(cache.lookup(key("a"), now: start) == nil)
        #expect(cache.lookup(key("d"), now: start) == .nxdomain)
        cache.store(key("e"), .servfail, ttl: 300, now: start)
        #expect(cache.lookup(key("e"), now: start) == nil)
        cache.store(key("f"), .nodata, ttl: 0, now: start)
        #expect(cache.lookup(key("f"), now: start) == nil)
    }
}
