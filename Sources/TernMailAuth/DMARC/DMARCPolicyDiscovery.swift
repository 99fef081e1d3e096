import TernDNS

/// Finds the DMARC record that applies to an author domain (RFC 7489 §6.6.3).
///
/// Asks for TXT at `_dmarc.<author domain>`; when that yields no DMARC
/// record, at `_dmarc.<organizational domain>` (if different). Strings that
/// do not start with `v=DMARC1` are discarded first; several DMARC records
/// at the name that answered end discovery with no policy; a temporary DNS
/// failure on either query is `temperror`.
public struct DMARCPolicyDiscovery: Sendable {
    /// A TXT lookup: one string per record, character-strings joined.
    public typealias TXTLookup = @Sendable (String) async -> DNSResult<String>

    /// What discovery found.
    public enum Outcome: Sendable, Hashable {
        /// A usable record, published at `_dmarc.<policyDomain>`.
        /// `isOrganizationalFallback` is true when it came from the
        /// organizational domain's name rather than the author domain's.
        case found(DMARCRecord, policyDomain: String, isOrganizationalFallback: Bool)
        /// No DMARC processing applies: the text says why (no record, several
        /// records, a record without usable policy, an invalid domain).
        case none(String)
        /// A DNS lookup failed temporarily (§6.6.3: try again later).
        case temperror(String)
    }

    private let lookup: TXTLookup
    public let suffixes: PublicSuffixList

    public init(suffixes: PublicSuffixList, lookup: @escaping TXTLookup) {
        self.suffixes = suffixes
        self.lookup = lookup
    }

    /// Discovery through the program's resolver.
    public init(suffixes: PublicSuffixList, resolver: DNSResolver) {
        self.init(suffixes: suffixes, lookup: { name in await resolver.txt(name) })
    }

    public func discover(authorDomain: String) async -> Outcome {
        guard let author = DomainAlignment.normalized(authorDomain),
              let organizational = suffixes.organizationalDomain(of: author) else {
            return .none("invalid author domain")
        }
        switch await records(at: author) {
        case .temperror(let why): return .temperror(why)
        case .records(let found) where !found.isEmpty:
            return select(found, policyDomain: author, fallback: false)
        case .records:
            guard organizational != author else { return .none("no DMARC record for \(author)") }
        }
        switch await records(at: organizational) {
        case .temperror(let why): return .temperror(why)
        case .records(let found) where !found.isEmpty:
            return select(found, policyDomain: organizational, fallback: true)
        case .records:
            return .none("no DMARC record for \(author) or \(organizational)")
        }
    }

    private enum Lookup {
        case records([String])
        case temperror(String)
    }

    /// The DMARC strings at `_dmarc.<domain>` (§6.6.3 steps 1–4).
    private func records(at domain: String) async -> Lookup {
        let name = "_dmarc." + domain
        guard name.utf8.count <= 253 else { return .records([]) }
        switch await lookup(name) {
        case .found(let answer):
            return .records(answer.records.filter(DMARCRecord.isDMARCRecord))
        case .nxdomain, .nodata:
            return .records([])
        case .servfail:
            return .temperror("SERVFAIL for \(name)")
        case .timeout:
            return .temperror("timeout for \(name)")
        case .failure(let text):
            return .temperror("\(name): \(text)")
        }
    }

    /// §6.6.3 steps 5 and 6.
    private func select(_ found: [String], policyDomain: String, fallback: Bool) -> Outcome {
        guard found.count == 1, let text = found.first else {
            return .none("\(found.count) DMARC records at _dmarc.\(policyDomain)")
        }
        do {
            let record = try DMARCRecord(parsing: text)
            return .found(record, policyDomain: policyDomain, isOrganizationalFallback: fallback)
        } catch {
            switch error {
            case .notDMARC: return .none("not a DMARC record at _dmarc.\(policyDomain)")
            case .noUsablePolicy(let why): return .none("_dmarc.\(policyDomain): \(why)")
            }
        }
    }
}
