import Foundation
import Synchronization
import NIOPosix
import Testing
import TernTestSupport
@testable import TernDNS

/// Nameservers that do not answer, answer badly, or answer wrongly.
@Suite("Timeouts, SERVFAIL and replies that must be ignored")
struct ResolverFailureTests {
    @Test("A nameserver that swallows queries gives .timeout after attempts × timeout")
    func silentServer() async throws {
        let silent = try SilentUDPServer()
        let resolver = try makeResolver([silent.nameserver], timeout: .milliseconds(300), attempts: 2)
        let start = ContinuousClock.now
        let result = await resolver.a("mx1.d.test")
        let elapsed = ContinuousClock.now - start
        #expect(result == .timeout)
        #expect(elapsed >= .milliseconds(550))
        // Generous: a loaded machine (the whole suite runs in parallel) is
        // slow, but a resolver that waited on anything but its timers is slower.
        #expect(elapsed < .seconds(8))
        #expect(resolver.statistics.queriesSent == 2)
        #expect(resolver.statistics.timeouts == 2)
    }

    @Test("A port nothing listens on gives .timeout, not a crash or a hang")
    func notListening() async throws {
        let port = try unusedLoopbackUDPPort()
        let resolver = try makeResolver(["127.0.0.1:\(port)"], timeout: .milliseconds(200), attempts: 1)
        let start = ContinuousClock.now
        #expect(await resolver.mx("d.test") == .timeout)
        #expect(ContinuousClock.now - start < .seconds(8))
    }

    @Test("Timeouts are not cached")
    func timeoutNotCached() async throws {
        let silent = try SilentUDPServer()
        let resolver = try makeResolver([silent.nameserver], timeout: .milliseconds(100), attempts: 1)
        #expect(await resolver.a("mx1.d.test") == .timeout)
        #expect(await resolver.a("mx1.d.test") == .timeout)
        #expect(resolver.statistics.queriesSent == 2)
    }

    @Test("When the first nameserver is silent the next one answers")
    func nextNameserver() async throws {
        let silent = try SilentUDPServer()
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([silent.nameserver, nsd.nameserver], timeout: .milliseconds(200))
        #expect(await resolver.a("mx1.d.test").records == [.v4([192, 0, 2, 1])])
        #expect(resolver.statistics.queriesSent == 2)
        #expect(resolver.statistics.timeouts == 1)
    }

    @Test("SERVFAIL is .servfail, asked once per nameserver and not cached")
    func servfail() async throws {
        let asked = Counter()
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            asked.increment()
            return [DNSTestMessage.reply(to: query, rcode: 2)]
        }
        let resolver = try makeResolver([responder.nameserver], timeout: .seconds(2), attempts: 2)
        #expect(await resolver.mx("d.test") == .servfail)
        #expect(asked.value == 1)
        #expect(await resolver.mx("d.test") == .servfail)
        #expect(asked.value == 2)
        await responder.close()
    }

    @Test("A nameserver that answers SERVFAIL is passed over for one that answers")
    func servfailThenAnswer() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            [DNSTestMessage.reply(to: query, rcode: 2)]
        }
        let nsd = try NSDServer(zones: Zones.all)
        let resolver = try makeResolver([responder.nameserver, nsd.nameserver])
        #expect(await resolver.mx("d.test").records.count == 2)
        await responder.close()
    }

    @Test("A forged NXDOMAIN with the wrong ID is ignored; the real reply counts")
    func wrongIDIgnored() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            let forgedID = DNSTestMessage.id(of: query) &+ 1
            return [DNSTestMessage.reply(to: query, rcode: 3, id: forgedID), DNSTestMessage.reply(to: query, rcode: 2)]
        }
        let resolver = try makeResolver([responder.nameserver])
        #expect(await resolver.a("mx1.d.test") == .servfail)
        await responder.close()
    }

    @Test("A reply for another question is ignored until the deadline")
    func wrongQuestionIgnored() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            var other = DNSTestMessage.reply(to: query, rcode: 3)
            // Change one letter of the first label ("mx1" → "mx2").
            if other.count > 15 { other[15] = UInt8(ascii: "2") }
            return [other]
        }
        let resolver = try makeResolver([responder.nameserver], timeout: .milliseconds(200), attempts: 1)
        #expect(await resolver.a("mx1.d.test") == .timeout)
        await responder.close()
    }

    @Test("Bytes with the right ID that do not parse are a failure, not a timeout and not data")
    func malformed() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            var reply = DNSTestMessage.reply(to: query, rcode: 0)
            reply[7] = 5  // five answers announced, none present
            return [reply]
        }
        let resolver = try makeResolver([responder.nameserver], timeout: .milliseconds(200), attempts: 1)
        let result = await resolver.a("mx1.d.test")
        guard case .failure(let text) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(text.contains("malformed"))
        await responder.close()
    }

    @Test("The AD bit of the reply is reported as authenticated")
    func adBit() async throws {
        let responder = try await ScriptedUDPResponder(group: MultiThreadedEventLoopGroup.singleton) { query in
            var reply = DNSTestMessage.reply(to: query, rcode: 0)
            reply[3] |= 0x20                 // AD
            reply[7] = 1                     // one answer
            reply += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 42]  // A, TTL 3600
            return [reply]
        }
        let resolver = try makeResolver([responder.nameserver])
        let answer = try #require(await resolver.a("mx1.d.test").answer)
        #expect(answer.records == [.v4([192, 0, 2, 42])])
        #expect(answer.authenticated)
        #expect(answer.ttl == 3600)
        await responder.close()
    }

    @Test("No nameservers is a failure at once")
    func noNameservers() async throws {
        let resolver = try makeResolver([])
        guard case .failure = await resolver.a("mx1.d.test") else {
            Issue.record("expected a failure")
            return
        }
    }
}

/// A thread-safe counter for responder closures.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
