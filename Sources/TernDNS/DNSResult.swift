/// What a lookup found: the records of one RRset, reached through any
/// CNAMEs on the way.
public struct DNSAnswer<Record: Sendable & Hashable>: Sendable, Hashable {
    public var records: [Record]
    /// Seconds the answer may be kept: the smallest TTL of the records and
    /// of every CNAME followed to reach them (less the time spent in the
    /// cache).
    public var ttl: UInt32
    /// The AD bit of the reply (RFC 4035 §3.2.3): the nameserver says it
    /// validated the data with DNSSEC. Only meaningful when the nameserver
    /// is a validating resolver the program trusts (RFC 6698 for DANE).
    /// With CNAMEs followed in several queries, true only if every reply
    /// had it.
    public var authenticated: Bool
    /// The name that owns the records: the name asked for, or the last
    /// target of its CNAME chain. Lowercased, no trailing dot.
    public var canonicalName: String

    public init(records: [Record], ttl: UInt32, authenticated: Bool, canonicalName: String) {
        self.records = records
        self.ttl = ttl
        self.authenticated = authenticated
        self.canonicalName = canonicalName
    }
}

/// The outcome of one lookup. Each way of not finding records is its own
/// case: callers decide differently on them (a missing domain is a
/// permanent failure, a timeout a temporary one).
public enum DNSResult<Record: Sendable & Hashable>: Sendable, Hashable {
    case found(DNSAnswer<Record>)
    /// The name does not exist (rcode 3, NXDOMAIN; RFC 1035 §4.1.1, RFC 8020).
    case nxdomain
    /// The name exists but has no records of the type asked for
    /// (RFC 2308 §2.2).
    case nodata
    /// The nameserver could not answer (rcode 2, SERVFAIL). Temporary.
    case servfail
    /// No nameserver answered within the configured tries. Temporary.
    case timeout
    /// Anything else: REFUSED, FORMERR, a reply that did not parse, an
    /// invalid name, a CNAME loop. The text says what.
    case failure(String)

    /// The records when found, [] otherwise.
    public var records: [Record] {
        if case .found(let answer) = self { return answer.records }
        return []
    }

    /// The answer when found.
    public var answer: DNSAnswer<Record>? {
        if case .found(let answer) = self { return answer }
        return nil
    }

    /// True for SERVFAIL, timeout and the other failures: worth trying
    /// again later. NXDOMAIN and NODATA are answers, not failures.
    public var isTemporaryFailure: Bool {
        switch self {
        case .found, .nxdomain, .nodata: false
        case .servfail, .timeout, .failure: true
        }
    }

    /// The same outcome with each record transformed; records for which
    /// `transform` returns nil are dropped.
    public func compactMapRecords<T: Sendable & Hashable>(_ transform: (Record) -> T?) -> DNSResult<T> {
        switch self {
        case .found(let answer):
            return .found(DNSAnswer(records: answer.records.compactMap(transform), ttl: answer.ttl,
                                    authenticated: answer.authenticated, canonicalName: answer.canonicalName))
        case .nxdomain: return .nxdomain
        case .nodata: return .nodata
        case .servfail: return .servfail
        case .timeout: return .timeout
        case .failure(let text): return .failure(text)
        }
    }
}
