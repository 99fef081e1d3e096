import NIOCore
import TernDNS

/// The lookups remote delivery needs; `DNSResolver` is the one real
/// implementation (the protocol only keeps TernDelivery's use of it small).
public protocol RemoteResolver: Sendable {
    func mx(_ domain: String) async -> DNSResult<MXRecord>
    func a(_ name: String) async -> DNSResult<DNSAddress>
    func aaaa(_ name: String) async -> DNSResult<DNSAddress>
}

extension DNSResolver: RemoteResolver {}

/// Where to try a domain's mail, per RFC 5321 §5.1 and RFC 7505.
enum MailExchangers: Hashable, Sendable {
    /// Host names to try in order.
    case hosts([String])
    /// The domain publishes a null MX: it takes no mail (RFC 7505 §3).
    case nullMX
    /// The domain does not exist.
    case noSuchDomain
    /// Try later: the lookup failed for now (SERVFAIL, timeout, …).
    case temporaryFailure(String)

    /// Looks up `domain`'s MX records: by preference, random order among
    /// equal preferences, at most `limit` hosts; with no MX records the
    /// domain itself (the implicit MX); never the domain itself when the
    /// MX lookup failed for now.
    static func lookup(_ domain: String, resolver: any RemoteResolver, limit: Int,
                       using rng: inout some RandomNumberGenerator) async -> MailExchangers {
        switch await resolver.mx(domain) {
        case .found(let answer):
            return order(answer.records, limit: limit, using: &rng)
        case .nodata:
            return .hosts([domain])
        case .nxdomain:
            return .noSuchDomain
        case .servfail:
            return .temporaryFailure("MX lookup for \(domain): server failure")
        case .timeout:
            return .temporaryFailure("MX lookup for \(domain): timed out")
        case .failure(let text):
            return .temporaryFailure("MX lookup for \(domain): \(text)")
        }
    }

    /// Orders MX records. A null MX (a single record with the root as its
    /// exchange) means no mail; a root exchange among others is ignored.
    static func order(_ records: [MXRecord], limit: Int, using rng: inout some RandomNumberGenerator) -> MailExchangers {
        if records.count == 1, records[0].exchange.isEmpty || records[0].exchange == "." { return .nullMX }
        let usable = records.filter { !$0.exchange.isEmpty && $0.exchange != "." }
        guard !usable.isEmpty else { return .nullMX }
        var hosts: [String] = []
        for preference in Set(usable.map(\.preference)).sorted() {
            var group = usable.filter { $0.preference == preference }.map { $0.exchange.lowercased() }
            group.shuffle(using: &rng)
            for host in group where !hosts.contains(host) { hosts.append(host) }
        }
        return .hosts(Array(hosts.prefix(limit)))
    }
}

/// A host's addresses in the configured order.
enum HostAddresses: Hashable, Sendable {
    case addresses([DNSAddress])
    /// The host has no address at all (NXDOMAIN or no A/AAAA): skip it.
    case none
    /// The lookup failed for now.
    case temporaryFailure(String)

    static func lookup(_ host: String, order: AddressOrder, resolver: any RemoteResolver) async -> HostAddresses {
        if let literal = HostAddresses.literal(host) { return .addresses([literal]) }
        var families: [Bool] = []  // true = IPv6
        switch order {
        case .ipv4First: families = [false, true]
        case .ipv6First: families = [true, false]
        case .ipv4Only: families = [false]
        case .ipv6Only: families = [true]
        }
        var found: [DNSAddress] = []
        var temporary: String?
        for v6 in families {
            let result = v6 ? await resolver.aaaa(host) : await resolver.a(host)
            switch result {
            case .found(let answer): found += answer.records
            case .nxdomain, .nodata: break
            case .servfail: temporary = "\(v6 ? "AAAA" : "A") lookup for \(host): server failure"
            case .timeout: temporary = "\(v6 ? "AAAA" : "A") lookup for \(host): timed out"
            case .failure(let text): temporary = "\(v6 ? "AAAA" : "A") lookup for \(host): \(text)"
            }
        }
        if !found.isEmpty { return .addresses(found) }
        if let temporary { return .temporaryFailure(temporary) }
        return .none
    }

    /// An IP address written as a host (a relay given by address, an
    /// address-literal domain).
    static func literal(_ host: String) -> DNSAddress? {
        var text = host
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text.lowercased().hasPrefix("ipv6:") { text = String(text.dropFirst(5)) }
        return DNSAddress(text)
    }
}
