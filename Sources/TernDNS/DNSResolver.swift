import NIOCore
import Synchronization

/// Counters since the resolver was made, for metrics and tests.
public struct DNSResolverStatistics: Hashable, Sendable {
    /// Queries put on the wire, UDP and TCP, retries included.
    public var queriesSent: Int
    /// Of those, queries sent over TCP after a truncated UDP reply.
    public var tcpQueries: Int
    /// Lookups answered from the cache without a query.
    public var cacheHits: Int
    /// Tries that got no usable reply before their deadline.
    public var timeouts: Int
}

/// The program's resolver: asks the configured nameservers over UDP
/// (TCP when a reply is truncated), follows CNAME chains, keeps answers in
/// a cache, and returns typed results that keep NXDOMAIN, NODATA, SERVFAIL
/// and timeout apart. Safe to share: each lookup uses its own sockets and
/// its own libldns objects.
///
/// Names may be given with or without the trailing dot and in any case;
/// internationalised names must be given as A-labels (RFC 5890).
public final class DNSResolver: Sendable {
    public let configuration: DNSResolverConfiguration
    private let group: any EventLoopGroup
    private let cache: DNSCache
    private let clock: @Sendable () -> NIODeadline
    private let counters = Counters()
    private let exchanges = OpenExchanges()
    private let metrics: DNSMetrics

    /// - Parameter metrics: where lookups and queries are counted (default:
    ///   the process's `MetricsSystem`).
    public convenience init(configuration: DNSResolverConfiguration, eventLoopGroup: any EventLoopGroup,
                            metrics: DNSMetrics = DNSMetrics()) {
        self.init(configuration: configuration, eventLoopGroup: eventLoopGroup, clock: { NIODeadline.now() },
                  metrics: metrics)
    }

    /// `clock` tells the cache the time; tests move it forward.
    init(configuration: DNSResolverConfiguration, eventLoopGroup: any EventLoopGroup,
         clock: @escaping @Sendable () -> NIODeadline, metrics: DNSMetrics = DNSMetrics()) {
        self.metrics = metrics
        self.configuration = configuration
        self.group = eventLoopGroup
        self.cache = DNSCache(capacity: configuration.cacheCapacity)
        self.clock = clock
    }

    public var statistics: DNSResolverStatistics {
        DNSResolverStatistics(queriesSent: counters.queriesSent.load(ordering: .relaxed),
                              tcpQueries: counters.tcpQueries.load(ordering: .relaxed),
                              cacheHits: counters.cacheHits.load(ordering: .relaxed),
                              timeouts: counters.timeouts.load(ordering: .relaxed))
    }

    /// Ends the lookups in progress (they answer `.timeout` or a failure)
    /// and refuses new ones, then forgets every cached answer. Call it
    /// before the event loop group stops.
    public func shutdown() async {
        exchanges.closeAll()
        await exchanges.waitUntilIdle()
        cache.removeAll()
    }

    // MARK: Typed lookups

    /// MX records of `domain` (RFC 5321 §5.1), in the order received.
    public func mx(_ domain: String) async -> DNSResult<MXRecord> {
        await lookup(domain, .mx).compactMapRecords { if case .mx(let r) = $0 { r } else { nil } }
    }

    public func a(_ name: String) async -> DNSResult<DNSAddress> {
        await lookup(name, .a).compactMapRecords {
            if case .address(let octets) = $0, octets.count == 4 { .v4(octets) } else { nil }
        }
    }

    public func aaaa(_ name: String) async -> DNSResult<DNSAddress> {
        await lookup(name, .aaaa).compactMapRecords {
            if case .address(let octets) = $0, octets.count == 16 { .v6(octets) } else { nil }
        }
    }

    /// One string per TXT record: its character-strings concatenated
    /// (RFC 7208 §3.3), decoded as UTF-8 with invalid bytes replaced.
    public func txt(_ name: String) async -> DNSResult<String> {
        await lookup(name, .txt).compactMapRecords {
            if case .txt(let strings) = $0 { String(decoding: strings.joined(), as: UTF8.self) } else { nil }
        }
    }

    /// TLSA records (RFC 6698), e.g. of `_25._tcp.mx.example.com`. Check
    /// `authenticated` before trusting them (RFC 7672 §2.2).
    public func tlsa(_ name: String) async -> DNSResult<TLSARecord> {
        await lookup(name, .tlsa).compactMapRecords { if case .tlsa(let r) = $0 { r } else { nil } }
    }

    /// The names of `address` (its PTR records under in-addr.arpa or
    /// ip6.arpa), lowercased, without trailing dots.
    public func ptr(_ address: DNSAddress) async -> DNSResult<String> {
        await lookup(address.reverseName, .ptr).compactMapRecords { if case .name(let n) = $0 { n } else { nil } }
    }

    /// The target of `name`'s CNAME record itself, not followed further.
    public func cname(_ name: String) async -> DNSResult<String> {
        await lookup(name, .cname).compactMapRecords { if case .name(let n) = $0 { n } else { nil } }
    }

    // MARK: Resolution

    /// Looks `name` up for `type`: from the cache, else by asking, with
    /// CNAMEs followed inside replies and across queries.
    func lookup(_ name: String, _ type: DNSRecordType) async -> DNSResult<DNSRecordData> {
        let result = await resolve(name, type)
        metrics.lookedUp(type, result)
        return result
    }

    private func resolve(_ name: String, _ type: DNSRecordType) async -> DNSResult<DNSRecordData> {
        guard let queryName = DNSWire.canonicalName(name) else {
            return .failure("invalid domain name \(String(reflecting: name))")
        }
        let key = DNSCache.Key(name: queryName, type: type.rawValue)
        if let cached = cache.lookup(key, now: clock()) {
            counters.cacheHits.add(1, ordering: .relaxed)
            return cached
        }
        var current = queryName
        var visited: Set<String> = [queryName]
        var hops = 0
        var chainTTL = UInt32.max
        var authenticated = true
        while true {
            let reply: DNSReply
            switch await exchange(name: current, type: type) {
            case .failed(let result): return result
            case .reply(let r): reply = r
            }
            authenticated = authenticated && reply.authenticated
            switch DNSAnswerReader.read(reply, name: current, type: type, hops: hops, visited: visited) {
            case .records(let records, let owner, let ttl):
                let ttl = min(chainTTL, ttl)
                let result = DNSResult<DNSRecordData>.found(
                    DNSAnswer(records: records, ttl: ttl, authenticated: authenticated, canonicalName: owner))
                cache.store(key, result, ttl: ttl, now: clock())
                return result
            case .nxdomain(let negativeTTL):
                if let negativeTTL { cache.store(key, .nxdomain, ttl: min(chainTTL, negativeTTL), now: clock()) }
                return .nxdomain
            case .nodata(let negativeTTL):
                if let negativeTTL { cache.store(key, .nodata, ttl: min(chainTTL, negativeTTL), now: clock()) }
                return .nodata
            case .failure(let text):
                return .failure(text)
            case .alias(let target, let ttl):
                // Count the CNAMEs this reply followed, then ask for the end.
                hops += Self.hopsFollowed(reply, from: current, to: target)
                guard hops <= DNSAnswerReader.maximumCNAMEHops else {
                    return .failure("CNAME chain of \(queryName) longer than \(DNSAnswerReader.maximumCNAMEHops)")
                }
                visited.formUnion(Self.namesOnChain(reply, from: current, to: target))
                chainTTL = min(chainTTL, ttl)
                current = target
            }
        }
    }

    private static func namesOnChain(_ reply: DNSReply, from start: String, to end: String) -> [String] {
        var names = [start]
        var current = start
        while current != end, names.count <= DNSAnswerReader.maximumCNAMEHops + 1,
              let alias = reply.answer.first(where: { $0.name == current && $0.type == DNSRecordType.cname.rawValue }),
              case .name(let target) = alias.data {
            names.append(target)
            current = target
        }
        return names
    }

    private static func hopsFollowed(_ reply: DNSReply, from start: String, to end: String) -> Int {
        namesOnChain(reply, from: start, to: end).count - 1
    }

    private enum Exchange {
        /// NOERROR or NXDOMAIN, complete.
        case reply(DNSReply)
        /// SERVFAIL, timeout or another failure from every nameserver.
        case failed(DNSResult<DNSRecordData>)
    }

    /// Asks each nameserver in order, `attempts` rounds. A nameserver that
    /// answered SERVFAIL, REFUSED or garbage is not asked again in later
    /// rounds; its answer is the result when no other nameserver does
    /// better. Truncated UDP replies are asked again over TCP
    /// (RFC 7766 §5).
    private func exchange(name: String, type: DNSRecordType) async -> Exchange {
        let servers = configuration.nameservers
        guard !servers.isEmpty else { return .failed(.failure("no nameservers configured")) }
        let timeout = TimeAmount(configuration.timeout)
        let question = DNSQuestion(name: name, type: type.rawValue, dnsClass: DNSWire.classIN)
        var firstBadAnswer: DNSResult<DNSRecordData>? = nil
        var badServers: Set<Int> = []
        for _ in 0..<max(1, configuration.attempts) {
            for (index, server) in servers.enumerated() where !badServers.contains(index) {
                let id = UInt16.random(in: .min ... .max)
                guard let query = DNSWire.query(id: id, name: name, type: type.rawValue) else {
                    return .failed(.failure("cannot encode a query for \(name)"))
                }
                counters.queriesSent.add(1, ordering: .relaxed)
                metrics.querySent()
                guard exchanges.isOpen else { return .failed(.failure("the resolver is shut down")) }
                var outcome = await DNSTransport.udp(query: query, id: id, question: question, server: server,
                                                     timeout: timeout, group: group, exchanges: exchanges)
                if case .reply(let reply) = outcome, reply.truncated {
                    counters.queriesSent.add(1, ordering: .relaxed)
                    metrics.querySent()
                    counters.tcpQueries.add(1, ordering: .relaxed)
                    outcome = await DNSTransport.tcp(query: query, id: id, question: question, server: server,
                                                     timeout: timeout, group: group, exchanges: exchanges)
                }
                switch outcome {
                case .reply(let reply) where reply.truncated:
                    firstBadAnswer = firstBadAnswer ?? .failure("\(server) sent a truncated reply over TCP")
                    badServers.insert(index)
                case .reply(let reply) where reply.rcode == 0 || reply.rcode == 3:
                    return .reply(reply)
                case .reply(let reply) where reply.rcode == 2:
                    firstBadAnswer = firstBadAnswer ?? .servfail
                    badServers.insert(index)
                case .reply(let reply):
                    firstBadAnswer = firstBadAnswer
                        ?? .failure("\(server) answered \(Self.rcodeName(reply.rcode)) for \(name) \(type)")
                    badServers.insert(index)
                case .malformed(let why):
                    firstBadAnswer = firstBadAnswer ?? .failure("\(server) sent a \(why)")
                    badServers.insert(index)
                case .noAnswer:
                    counters.timeouts.add(1, ordering: .relaxed)
                }
            }
        }
        return .failed(firstBadAnswer ?? .timeout)
    }

    /// RFC 1035 §4.1.1, RFC 6895 §2.3.
    static func rcodeName(_ rcode: UInt8) -> String {
        switch rcode {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        default: "rcode \(rcode)"
        }
    }
}

private final class Counters: Sendable {
    let queriesSent = Atomic<Int>(0)
    let tcpQueries = Atomic<Int>(0)
    let cacheHits = Atomic<Int>(0)
    let timeouts = Atomic<Int>(0)
}
