import TernDNS
import TernMailAuth

/// Zone-file lines for "publish this record" (RFC 1035 §5.1): absolute
/// names with the trailing dot, TXT data as quoted character-strings of at
/// most 255 octets (§3.3.14).
enum ZoneLine {
    static func txt(_ name: String, _ text: String) -> String {
        let strings = DKIMKeyStore.split(text).map(quoted)
        return "\(name). IN TXT \(strings.joined(separator: " "))"
    }

    static func mx(_ domain: String, preference: Int = 10, _ exchange: String) -> String {
        "\(domain). IN MX \(preference) \(exchange)."
    }

    static func address(_ name: String, _ address: DNSAddress) -> String {
        switch address {
        case .v4: "\(name). IN A \(address)"
        case .v6: "\(name). IN AAAA \(address)"
        }
    }

    static func ptr(_ address: DNSAddress, _ name: String) -> String {
        "\(address.reverseName). IN PTR \(name)."
    }

    /// A character-string with `"` and `\` escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }
}
