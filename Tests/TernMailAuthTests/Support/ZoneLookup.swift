import TernDNS
import TernMailAuth

/// A TXT lookup answered from a conformance file's `zonedata:` (the format
/// of README.md: `name: [ {TYPE: rdata}, … ]`, `TIMEOUT` = no answer).
/// A fake at the edge, for unit tests of policy discovery.
struct ZoneLookup: Sendable {
    var txt: [String: [String]] = [:]
    var names: Set<String> = []
    var timeouts: Set<String> = []

    init(zonedata: [String: Any]) {
        for (rawName, value) in zonedata {
            let name = rawName.lowercased()
            names.insert(name)
            for entry in value as? [Any] ?? [] {
                if let word = entry as? String, word == "TIMEOUT" { timeouts.insert(name); continue }
                guard let rr = entry as? [String: Any] else { continue }
                for (type, rdata) in rr where type == "TXT" {
                    if let s = rdata as? String { txt[name, default: []].append(s) }
                    if let parts = rdata as? [String] { txt[name, default: []].append(parts.joined()) }
                }
            }
        }
    }

    var lookup: DMARCPolicyDiscovery.TXTLookup {
        let zone = self
        return { name in
            let n = name.lowercased()
            if zone.timeouts.contains(n) { return .timeout }
            if let records = zone.txt[n] {
                return .found(DNSAnswer(records: records, ttl: 300, authenticated: false, canonicalName: n))
            }
            return zone.names.contains(n) ? .nodata : .nxdomain
        }
    }
}
