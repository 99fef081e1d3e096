/// Parses an SPF record by the ABNF of RFC 7208 before any SPF engine sees
/// it (libspf2 is lenient on bad syntax and has memory-safety bugs in its
/// macro expansion).
///
/// A record with any syntax error anywhere is `permerror` (§4.6: "If there
/// are any syntax errors anywhere in the record, check_host() returns
/// immediately with the result permerror"). Beyond the ABNF it refuses:
/// `redirect=` or `exp=` given twice (§6); the macro letters `c`, `r`, `t`
/// outside explanation text (§7.1); a macro digit of 0 or above 128 (§7.1
/// requires support for 128); more than 16 delimiters in one macro; a record
/// longer than `maximumLength`.
public enum SPFRecordGuard {
    public enum Verdict: Sendable, Hashable {
        case valid(SPFRecord)
        /// The reason names the offending term.
        case permerror(String)

        public var record: SPFRecord? {
            if case .valid(let r) = self { r } else { nil }
        }
    }

    /// Longest record accepted. RFC 7208 §3.4 asks publishers to stay under
    /// 450 octets; 4096 leaves room for every record seen in practice.
    public static let maximumLength = 4096
    /// Largest macro digit accepted (§7.1: implementations MUST support 128).
    public static let maximumMacroDigits = 128
    /// Most delimiters accepted in one macro (there are seven distinct ones).
    public static let maximumDelimiters = 16

    /// Record selection (§4.5): the string starts with "v=spf1" (any case)
    /// followed by a space or its end. Others are not SPF records at all.
    public static func isSPFRecord(_ text: String) -> Bool {
        let u = Array(text.utf8.prefix(7))
        guard u.count >= 6, String(decoding: u[0..<6], as: UTF8.self).lowercased() == "v=spf1" else { return false }
        return u.count == 6 || u[6] == 0x20
    }

    /// Checks one selected record (character-strings already joined).
    public static func check(_ text: String) -> Verdict {
        let bytes = Array(text.utf8)
        guard bytes.count <= maximumLength else { return .permerror("record longer than \(maximumLength) octets") }
        guard isSPFRecord(text) else { return .permerror("not an SPF record (no \"v=spf1\")") }
        // Only SP separates terms and only visible ASCII is allowed anywhere.
        if let bad = bytes.first(where: { $0 != 0x20 && ($0 < 0x21 || $0 > 0x7E) }) {
            let hex = String(bad, radix: 16, uppercase: true)
            return .permerror("invalid octet 0x\(bad < 16 ? "0" : "")\(hex) in record")
        }
        var terms: [SPFTerm] = []
        var redirects = 0, explanations = 0
        for raw in bytes[6...].split(separator: 0x20) {
            let term = Array(raw)
            let termText = String(decoding: term, as: UTF8.self)
            guard let parsed = parseTerm(term) else { return .permerror("invalid term \"\(termText)\"") }
            switch parsed {
            case .modifier(.redirect): redirects += 1
            case .modifier(.explanation): explanations += 1
            default: break
            }
            guard redirects <= 1 else { return .permerror("redirect= given twice") }
            guard explanations <= 1 else { return .permerror("exp= given twice") }
            terms.append(parsed)
        }
        return .valid(SPFRecord(terms: terms))
    }

    // MARK: Terms

    /// `term = directive / modifier` (§4.6.1).
    static func parseTerm(_ t: [UInt8]) -> SPFTerm? {
        // modifier: name "=" … with name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
        if let first = t.first, isAlpha(first) {
            var i = 1
            while i < t.count, isAlnum(t[i]) || t[i] == UInt8(ascii: "-") || t[i] == UInt8(ascii: "_") || t[i] == UInt8(ascii: ".") {
                i += 1
            }
            if i < t.count, t[i] == UInt8(ascii: "=") {
                let name = String(decoding: t[0..<i], as: UTF8.self).lowercased()
                let value = Array(t[(i + 1)...])
                switch name {
                case "redirect":
                    return domainSpec(value).map { .modifier(.redirect($0)) }
                case "exp":
                    return domainSpec(value).map { .modifier(.explanation($0)) }
                default:
                    return macroString(value, context: .unknownModifier).map { .modifier(.unknown(name: name, value: $0)) }
                }
            }
        }
        var body = t[...]
        var qualifier = SPFQualifier.pass
        if let q = body.first.flatMap({ SPFQualifier(rawValue: String(UnicodeScalar($0))) }) {
            qualifier = q
            body = body.dropFirst()
        }
        guard let mechanism = parseMechanism(Array(body)) else { return nil }
        return .directive(SPFDirective(qualifier: qualifier, mechanism: mechanism))
    }

    /// The mechanisms of §5 with their arguments.
    static func parseMechanism(_ m: [UInt8]) -> SPFMechanism? {
        var end = 0
        while end < m.count, m[end] != UInt8(ascii: ":"), m[end] != UInt8(ascii: "/") { end += 1 }
        let name = String(decoding: m[0..<end], as: UTF8.self).lowercased()
        let rest = Array(m[end...])
        let hasColon = rest.first == UInt8(ascii: ":")
        let argument = hasColon ? Array(rest.dropFirst()) : []
        switch name {
        case "all":
            return rest.isEmpty ? .all : nil
        case "include":
            guard hasColon, let spec = domainSpec(argument) else { return nil }
            return .include(spec)
        case "exists":
            guard hasColon, let spec = domainSpec(argument) else { return nil }
            return .exists(spec)
        case "ptr":
            if rest.isEmpty { return .ptr(nil) }
            guard hasColon, let spec = domainSpec(argument) else { return nil }
            return .ptr(spec)
        case "a", "mx":
            guard let (spec, cidr) = domainAndCIDR(rest) else { return nil }
            return name == "a" ? .a(spec, cidr) : .mx(spec, cidr)
        case "ip4":
            guard hasColon, let (address, prefix) = network(argument, maximumPrefix: 32, parse: IPAddressText.ipv4)
            else { return nil }
            return .ip4(address, prefix)
        case "ip6":
            guard hasColon, let (address, prefix) = network(argument, maximumPrefix: 128, parse: IPAddressText.ipv6)
            else { return nil }
            return .ip6(address, prefix)
        default:
            return nil
        }
    }

    /// `[ ":" domain-spec ] [ dual-cidr-length ]` after "a" or "mx" (§5.3, §5.4).
    /// A domain-spec may itself contain "/" and digits; the split taken is
    /// the first "/" after which a valid dual-cidr-length ends the term and
    /// before which a valid domain-spec stands.
    static func domainAndCIDR(_ rest: [UInt8]) -> (SPFMacroString?, SPFDualCIDR)? {
        if rest.isEmpty { return (nil, SPFDualCIDR()) }
        if rest.first == UInt8(ascii: "/") {
            guard let cidr = dualCIDR(rest[...]) else { return nil }
            return (nil, cidr)
        }
        guard rest.first == UInt8(ascii: ":") else { return nil }
        let argument = Array(rest.dropFirst())
        for slash in argument.indices where argument[slash] == UInt8(ascii: "/") {
            if let cidr = dualCIDR(argument[slash...]), let spec = domainSpec(Array(argument[..<slash])) {
                return (spec, cidr)
            }
        }
        guard let spec = domainSpec(argument) else { return nil }
        return (spec, SPFDualCIDR())
    }

    /// `dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`, non-empty.
    static func dualCIDR(_ s: ArraySlice<UInt8>) -> SPFDualCIDR? {
        guard s.first == UInt8(ascii: "/") else { return nil }
        var cidr = SPFDualCIDR()
        var rest = s.dropFirst()
        if rest.first != UInt8(ascii: "/") {
            var digitsEnd = rest.startIndex
            while digitsEnd < rest.endIndex, isDigit(rest[digitsEnd]) { digitsEnd += 1 }
            guard let v4 = cidrLength(rest[rest.startIndex..<digitsEnd], maximum: 32) else { return nil }
            cidr.ip4 = v4
            rest = rest[digitsEnd...]
            if rest.isEmpty { return cidr }
            guard rest.first == UInt8(ascii: "/") else { return nil }
            rest = rest.dropFirst()
        }
        // Here rest starts at the second "/" of "//".
        guard rest.first == UInt8(ascii: "/"), let v6 = cidrLength(rest.dropFirst(), maximum: 128) else { return nil }
        cidr.ip6 = v6
        return cidr
    }

    /// `"0" / %x31-39 0*1DIGIT` (ip4) or `0*2DIGIT` (ip6): no leading zeros, at most `maximum`.
    static func cidrLength(_ digits: ArraySlice<UInt8>, maximum: Int) -> Int? {
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(isDigit),
              digits.count == 1 || digits.first != UInt8(ascii: "0"),
              let n = Int(String(decoding: digits, as: UTF8.self)), n <= maximum else { return nil }
        return n
    }

    /// `ip4-network [ ip4-cidr-length ]` / `ip6-network [ ip6-cidr-length ]` (§5.6).
    static func network(_ argument: [UInt8], maximumPrefix: Int,
                        parse: ([UInt8]) -> [UInt8]?) -> ([UInt8], Int?)? {
        var address = argument[...]
        var prefix: Int?
        if let slash = argument.lastIndex(of: UInt8(ascii: "/")) {
            guard let n = cidrLength(argument[(slash + 1)...], maximum: maximumPrefix) else { return nil }
            prefix = n
            address = argument[..<slash]
        }
        guard let octets = parse(Array(address)) else { return nil }
        return (octets, prefix)
    }

    // MARK: Domain specs and macro strings

    /// `domain-spec = macro-string domain-end`;
    /// `domain-end = ( "." toplabel [ "." ] ) / macro-expand` (§7.1).
    static func domainSpec(_ bytes: [UInt8]) -> SPFMacroString? {
        guard !bytes.isEmpty, let spec = macroString(bytes, context: .domain), let last = spec.parts.last else { return nil }
        guard case .literal(let tail) = last else { return spec } // ends with a macro-expand
        var u = Array(tail.utf8)
        if u.last == UInt8(ascii: "."), u.count >= 2 { u.removeLast() }
        guard let dot = u.lastIndex(of: UInt8(ascii: ".")), isTopLabel(u[(dot + 1)...]) else { return nil }
        return spec
    }

    /// `toplabel = ( *alphanum ALPHA *alphanum ) /
    ///             ( 1*alphanum "-" *( alphanum / "-" ) alphanum )` (§7.1).
    static func isTopLabel(_ label: ArraySlice<UInt8>) -> Bool {
        guard let first = label.first, let last = label.last else { return false }
        if label.allSatisfy(isAlnum) { return label.contains(where: isAlpha) }
        return isAlnum(first) && isAlnum(last) && label.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    enum MacroContext {
        /// A domain-spec: `c`, `r`, `t` are refused.
        case domain
        /// The value of an unknown modifier: any macro letter.
        case unknownModifier
    }

    /// `macro-string = *( macro-expand / macro-literal )` (§7.1).
    static func macroString(_ bytes: [UInt8], context: MacroContext) -> SPFMacroString? {
        var parts: [SPFMacroString.Part] = []
        var literal: [UInt8] = []
        func flush() {
            if !literal.isEmpty { parts.append(.literal(String(decoding: literal, as: UTF8.self))); literal = [] }
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c >= 0x21, c <= 0x7E else { return nil }
            guard c == UInt8(ascii: "%") else { literal.append(c); i += 1; continue }
            guard i + 1 < bytes.count else { return nil }
            switch bytes[i + 1] {
            case UInt8(ascii: "%"): flush(); parts.append(.percent); i += 2
            case UInt8(ascii: "_"): flush(); parts.append(.space); i += 2
            case UInt8(ascii: "-"): flush(); parts.append(.urlSpace); i += 2
            case UInt8(ascii: "{"):
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")),
                      let macro = macroExpand(bytes[(i + 2)..<close], context: context) else { return nil }
                flush()
                parts.append(.macro(macro))
                i = close + 1
            default:
                return nil
            }
        }
        flush()
        return SPFMacroString(parts: parts, text: String(decoding: bytes, as: UTF8.self))
    }

    /// The inside of `%{…}`: `macro-letter transformers *delimiter` with
    /// `transformers = *DIGIT [ "r" ]` and delimiters among `.-+,/_=`.
    static func macroExpand(_ inner: ArraySlice<UInt8>, context: MacroContext) -> SPFMacro? {
        guard let first = inner.first,
              let letter = SPFMacro.Letter(rawValue: Character(UnicodeScalar(first | 0x20))), isAlpha(first)
        else { return nil }
        if context == .domain, letter.isExplanationOnly { return nil }
        var i = inner.index(after: inner.startIndex)
        var digitsEnd = i
        while digitsEnd < inner.endIndex, isDigit(inner[digitsEnd]) { digitsEnd += 1 }
        var keep: Int?
        if digitsEnd > i {
            // At most three digits: 1…128. Zero is meaningless (§7.1).
            guard digitsEnd - i <= 3, let n = Int(String(decoding: inner[i..<digitsEnd], as: UTF8.self)),
                  n >= 1, n <= maximumMacroDigits else { return nil }
            keep = n
        }
        i = digitsEnd
        var reverse = false
        if i < inner.endIndex, inner[i] | 0x20 == UInt8(ascii: "r") {
            reverse = true
            i += 1
        }
        var delimiters: [Character] = []
        while i < inner.endIndex {
            let d = inner[i]
            guard ".-+,/_=".utf8.contains(d) else { return nil }
            delimiters.append(Character(UnicodeScalar(d)))
            i += 1
        }
        guard delimiters.count <= maximumDelimiters else { return nil }
        return SPFMacro(letter: letter, urlEscape: first < 0x61, keep: keep, reverse: reverse, delimiters: delimiters)
    }
}
