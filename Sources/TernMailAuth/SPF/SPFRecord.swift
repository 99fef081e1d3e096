/// An SPF record that passed `SPFRecordGuard` (RFC 7208 §4.6.1, §5, §6).
public struct SPFRecord: Sendable, Hashable {
    /// The terms in the order written.
    public var terms: [SPFTerm]

    /// The mechanisms with their qualifiers, in order.
    public var directives: [SPFDirective] {
        terms.compactMap { if case .directive(let d) = $0 { d } else { nil } }
    }

    /// The `redirect=` domain-spec (§6.1), at most one.
    public var redirect: SPFMacroString? {
        for case .modifier(.redirect(let spec)) in terms { return spec }
        return nil
    }

    /// The `exp=` domain-spec (§6.2), at most one.
    public var explanation: SPFMacroString? {
        for case .modifier(.explanation(let spec)) in terms { return spec }
        return nil
    }
}

public enum SPFTerm: Sendable, Hashable {
    case directive(SPFDirective)
    case modifier(SPFModifier)
}

/// `qualifier` (§4.6.2); `+` when absent.
public enum SPFQualifier: String, Sendable, Hashable {
    case pass = "+"
    case fail = "-"
    case softfail = "~"
    case neutral = "?"
}

public struct SPFDirective: Sendable, Hashable {
    public var qualifier: SPFQualifier
    public var mechanism: SPFMechanism
}

/// CIDR prefix lengths (§5.6): `ip4-cidr-length` ≤ 32, `ip6-cidr-length` ≤ 128.
public struct SPFDualCIDR: Sendable, Hashable {
    public var ip4: Int?
    public var ip6: Int?
}

/// The mechanisms of §5.
public enum SPFMechanism: Sendable, Hashable {
    case all
    case include(SPFMacroString)
    case a(SPFMacroString?, SPFDualCIDR)
    case mx(SPFMacroString?, SPFDualCIDR)
    case ptr(SPFMacroString?)
    /// Four octets and an optional prefix length.
    case ip4([UInt8], Int?)
    /// Sixteen octets and an optional prefix length.
    case ip6([UInt8], Int?)
    case exists(SPFMacroString)

    /// True for the mechanisms that cost a DNS lookup (§4.6.4).
    public var needsDNS: Bool {
        switch self {
        case .include, .a, .mx, .ptr, .exists: true
        case .all, .ip4, .ip6: false
        }
    }
}

/// The modifiers of §6 and those this implementation ignores (§6: "unrecognized modifiers MUST be ignored").
public enum SPFModifier: Sendable, Hashable {
    case redirect(SPFMacroString)
    case explanation(SPFMacroString)
    case unknown(name: String, value: SPFMacroString)
}

/// A `macro-string` (§7.1): literal text and macros, as written.
public struct SPFMacroString: Sendable, Hashable, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case macro(SPFMacro)
        /// `%%`, `%_`, `%-`: a percent sign, a space, "%20".
        case percent, space, urlSpace
    }

    public var parts: [Part]
    /// The text as written in the record.
    public var text: String
    public var description: String { text }

    /// True when some macro needs expanding before the string is a name.
    public var hasMacros: Bool { parts.contains { if case .literal = $0 { false } else { true } } }
}

/// `"%{" macro-letter transformers *delimiter "}"` (§7.1).
public struct SPFMacro: Sendable, Hashable {
    public enum Letter: Character, Sendable, Hashable {
        case sender = "s", localPart = "l", senderDomain = "o", domain = "d", ip = "i", validatedName = "p"
        case helo = "h", clientIP = "c", receiver = "r", timestamp = "t", ipVersion = "v"

        /// `c`, `r` and `t` are allowed only in explanation text (§7.1).
        public var isExplanationOnly: Bool { self == .clientIP || self == .receiver || self == .timestamp }
    }

    public var letter: Letter
    /// An uppercase letter asks for URL escaping of the value (§7.3).
    public var urlEscape: Bool
    /// Keep this many rightmost parts; nil = all. 1…128.
    public var keep: Int?
    /// The `r` transformer.
    public var reverse: Bool
    /// Delimiters to split on; empty = ".".
    public var delimiters: [Character]
}
