import TernDNS

/// Writes a record that passed `SPFRecordGuard` in the form libspf2 1.2.10
/// evaluates as RFC 7208 says, for one client address family.
///
/// libspf2 departs from the RFC in ways a rewrite can undo:
/// - it refuses a CIDR length of 0 (§5.6 allows it): `ip4:x/0` for an IPv4
///   client becomes the two halves `ip4:0.0.0.0/1 ip4:128.0.0.0/1` (likewise
///   for IPv6); `a/0` and `mx/0` get their target name suffixed with
///   `zeroCIDRSuffix`, a name the DNS layer answers by looking up the real
///   name and, when it has addresses, returning the client's own address —
///   "any address of that name matches" is exactly what /0 means;
/// - it evaluates `redirect=` where it stands, not after every mechanism
///   (§6.1), and even when an `all` is present: the rewrite puts `redirect=`
///   last and drops it when the record has `all`;
/// - it trips over some unknown modifiers that §6 says to ignore: they are
///   dropped.
/// Mechanisms of the other address family (`ip4` for an IPv6 client and the
/// reverse) can never match and are dropped; `a`/`mx` keep only the CIDR
/// length of the client's family.
enum SPFEngineRecord {
    /// Appended to an `a`/`mx` target whose CIDR length is 0 for the
    /// client's family. `.invalid` is reserved (RFC 2606 §2): no real name
    /// ends so.
    static let zeroCIDRSuffix = "tern-cidr0.invalid"

    static func render(_ record: SPFRecord, clientIsIPv4: Bool) -> String {
        var out = ["v=spf1"]
        var hasAll = false
        for directive in record.directives {
            let q = directive.qualifier == .pass ? "" : directive.qualifier.rawValue
            switch directive.mechanism {
            case .all:
                hasAll = true
                out.append(q + "all")
            case .include(let spec):
                out.append(q + "include:" + spec.text)
            case .exists(let spec):
                out.append(q + "exists:" + spec.text)
            case .ptr(let spec):
                out.append(q + "ptr" + (spec.map { ":" + $0.text } ?? ""))
            case .a(let spec, let cidr), .mx(let spec, let cidr):
                let name: String
                if case .a = directive.mechanism { name = "a" } else { name = "mx" }
                let length = clientIsIPv4 ? cidr.ip4 : cidr.ip6
                let full = clientIsIPv4 ? 32 : 128
                var term = q + name
                if length == 0 {
                    term += ":" + zeroCIDRTarget(spec)
                } else {
                    if let spec { term += ":" + spec.text }
                    if let length, length != full { term += (clientIsIPv4 ? "/" : "//") + String(length) }
                }
                out.append(term)
            case .ip4(let octets, let prefix):
                guard clientIsIPv4 else { continue }
                if prefix == 0 {
                    out.append(q + "ip4:0.0.0.0/1")
                    out.append(q + "ip4:128.0.0.0/1")
                } else {
                    let text = DNSAddress.v4(octets).description
                    out.append(q + "ip4:" + text + (prefix.map { $0 == 32 ? "" : "/" + String($0) } ?? ""))
                }
            case .ip6(let octets, let prefix):
                guard !clientIsIPv4 else { continue }
                if prefix == 0 {
                    out.append(q + "ip6:::/1")
                    out.append(q + "ip6:8000::/1")
                } else {
                    let text = DNSAddress.v6(octets).description
                    out.append(q + "ip6:" + text + (prefix.map { $0 == 128 ? "" : "/" + String($0) } ?? ""))
                }
            }
        }
        if let explanation = record.explanation { out.append("exp=" + explanation.text) }
        if !hasAll, let redirect = record.redirect { out.append("redirect=" + redirect.text) }
        return out.joined(separator: " ")
    }

    /// The target (or `%{d}`) with `zeroCIDRSuffix` appended.
    static func zeroCIDRTarget(_ spec: SPFMacroString?) -> String {
        var base = spec?.text ?? "%{d}"
        if base.hasSuffix(".") { base.removeLast() }
        return base + "." + zeroCIDRSuffix
    }

    /// The real name behind a name ending in `zeroCIDRSuffix`, nil for others.
    static func zeroCIDRBase(_ name: String) -> String? {
        var n = name.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        guard n.hasSuffix("." + zeroCIDRSuffix) else { return nil }
        return String(n.dropLast(zeroCIDRSuffix.count + 1))
    }
}
