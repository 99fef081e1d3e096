import TernDNS
import TernInbound

/// Forward-confirmed reverse DNS through Tern's resolver: the first name of
/// the client's PTR records whose A or AAAA records include the client's
/// address. Anything else (no PTR, a name that does not point back, a DNS
/// failure) is nil, and the Received field says `unknown`.
struct ReverseNames: ReverseNameLookup {
    let resolver: DNSResolver
    /// PTR names checked at most (a PTR set can be long; Postfix checks few).
    static let maximumNames = 5

    func verifiedName(of address: String) async -> String? {
        guard let client = DNSAddress(address) else { return nil }
        guard case .found(let answer) = await resolver.ptr(client) else { return nil }
        for name in answer.records.prefix(ReverseNames.maximumNames) {
            let host = name.hasSuffix(".") ? String(name.dropLast()) : name
            guard !host.isEmpty else { continue }
            let forward: DNSResult<DNSAddress>
            switch client {
            case .v4: forward = await resolver.a(host)
            case .v6: forward = await resolver.aaaa(host)
            }
            if case .found(let addresses) = forward, addresses.records.contains(client) {
                return host.lowercased()
            }
        }
        return nil
    }
}
