import TernDNS

/// Macro expansion (RFC 7208 §7.3, §7.4) for explanation text, in Swift so
/// that text a domain publishes never reaches libspf2's macro expander
/// (where its memory-safety bugs live, and which mangles explanations).
/// Works on strings `SPFRecordGuard` has parsed, so digits are 1…128 and
/// delimiters bounded.
struct SPFMacroExpander {
    /// `s`: the sender (`postmaster@domain` when it had no local part).
    var sender: String
    /// `d`: the domain whose record is being evaluated.
    var domain: String
    /// `i`, `c`, `v`: the client.
    var client: DNSAddress
    /// `h`: the HELO/EHLO name.
    var helo: String
    /// `r`: this host's name.
    var receiver: String
    /// `t`: seconds since the epoch.
    var timestamp: Int
    /// `p`: the validated name of the client, computed only when used.
    var validatedName: () -> String

    /// Expands `explain-string = *( macro-string / SP )` (§6.2); nil when it
    /// does not parse.
    func expandExplanation(_ text: String) -> String? {
        var pieces: [String] = []
        for piece in Array(text.utf8).split(separator: 0x20, omittingEmptySubsequences: false) {
            guard let parsed = SPFRecordGuard.macroString(Array(piece), context: .unknownModifier) else { return nil }
            pieces.append(expand(parsed))
        }
        return pieces.joined(separator: " ")
    }

    func expand(_ string: SPFMacroString) -> String {
        var out = ""
        for part in string.parts {
            switch part {
            case .literal(let text): out += text
            case .percent: out += "%"
            case .space: out += " "
            case .urlSpace: out += "%20"
            case .macro(let macro): out += expand(macro)
            }
        }
        return out
    }

    /// One `%{…}`: the letter's value, split on the delimiters, reversed,
    /// the rightmost parts kept, joined with "." (§7.3), URL-escaped for an
    /// uppercase letter.
    func expand(_ macro: SPFMacro) -> String {
        let value = self.value(macro.letter)
        let delimiters = macro.delimiters.isEmpty ? Set<Character>(["."]) : Set(macro.delimiters)
        var parts = value.split(omittingEmptySubsequences: false, whereSeparator: { delimiters.contains($0) })
            .map(String.init)
        if macro.reverse { parts.reverse() }
        if let keep = macro.keep, keep < parts.count { parts = Array(parts.suffix(keep)) }
        let joined = parts.joined(separator: ".")
        return macro.urlEscape ? Self.urlEscaped(joined) : joined
    }

    func value(_ letter: SPFMacro.Letter) -> String {
        switch letter {
        case .sender: return sender
        case .localPart:
            return sender.lastIndex(of: "@").map { String(sender[..<$0]) } ?? "postmaster"
        case .senderDomain:
            return sender.lastIndex(of: "@").map { String(sender[sender.index(after: $0)...]) } ?? sender
        case .domain: return domain
        case .ip:
            switch client {
            case .v4: return client.description
            case .v6(let octets):
                // §7.3: dot-separated nibbles.
                let digits = Array("0123456789abcdef")
                return octets.flatMap { [String(digits[Int($0 >> 4)]), String(digits[Int($0 & 0x0F)])] }
                    .joined(separator: ".")
            }
        case .clientIP: return client.description
        case .validatedName: return validatedName()
        case .ipVersion:
            if case .v4 = client { return "in-addr" } else { return "ip6" }
        case .helo: return helo
        case .receiver: return receiver
        case .timestamp: return String(timestamp)
        }
    }

    /// RFC 3986 §2.3 unreserved characters stay; every other octet is %XX.
    static func urlEscaped(_ s: String) -> String {
        var out = ""
        for c in s.utf8 {
            if isAlnum(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_")
                || c == UInt8(ascii: "~") {
                out.unicodeScalars.append(UnicodeScalar(c))
            } else {
                let hex = String(c, radix: 16, uppercase: true)
                out += "%" + (c < 16 ? "0" : "") + hex
            }
        }
        return out
    }
}
