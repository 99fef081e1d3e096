/// The author domains of a message: the domains of the addresses in its
/// RFC5322.From field (RFC 7489 §3.1, §6.6.1).
public enum AuthorDomains: Sendable, Hashable {
    /// One From field; its distinct domains, normalized (lowercase A-labels),
    /// in the order written. Usually one.
    case domains([String])
    /// No From field (RFC 5322 §3.6 requires exactly one).
    case noFromField
    /// More than one From field.
    case multipleFromFields
    /// A From field without a usable address: the text says what was there.
    case unusable(String)

    /// Longest From value looked at; longer fields are `unusable`.
    public static let maximumValueLength = 8192
    /// At most this many addresses in one From field.
    public static let maximumAddressCount = 64

    /// Reads the From field(s) of a header section (CRLF or LF lines).
    public init(headerSection bytes: [UInt8]) {
        let froms = HeaderFields.parse(bytes).filter { $0.hasName("From") }
        guard let field = froms.first else { self = .noFromField; return }
        guard froms.count == 1 else { self = .multipleFromFields; return }
        self.init(fromValue: HeaderFields.unfoldedValue(of: field, in: bytes))
    }

    /// Reads the value of one From field (`mailbox-list`, RFC 5322 §3.4,
    /// §3.6.2; groups are tolerated, obsolete forms are not needed).
    public init(fromValue value: [UInt8]) {
        let text = String(decoding: value, as: UTF8.self)
        guard value.count <= Self.maximumValueLength else { self = .unusable("From field too long"); return }
        var domains: [String] = []
        var addresses = 0
        for element in Self.splitAddresses(value) {
            guard let spec = Self.addrSpec(in: element) else { continue }
            addresses += 1
            guard addresses <= Self.maximumAddressCount else { self = .unusable("too many addresses"); return }
            guard let at = spec.lastIndex(of: UInt8(ascii: "@")) else {
                self = .unusable(Self.printable(text)); return
            }
            let domainText = String(decoding: spec[(at + 1)...], as: UTF8.self)
            guard !domainText.hasPrefix("["), let domain = DomainAlignment.normalized(domainText) else {
                self = .unusable(Self.printable(text)); return
            }
            if !domains.contains(domain) { domains.append(domain) }
        }
        self = domains.isEmpty ? .unusable(Self.printable(text)) : .domains(domains)
    }

    /// Splits at top-level commas (and group colons/semicolons), outside
    /// quoted strings, comments and angle brackets; comments are dropped.
    static func splitAddresses(_ value: [UInt8]) -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var current: [UInt8] = []
        var i = 0
        var inQuote = false, depth = 0, inAngle = false
        while i < value.count {
            let c = value[i]
            if c == UInt8(ascii: "\\"), inQuote || depth > 0 {
                if depth == 0 { current.append(c); if i + 1 < value.count { current.append(value[i + 1]) } }
                i += 2
                continue
            }
            if inQuote {
                current.append(c)
                if c == UInt8(ascii: "\"") { inQuote = false }
            } else if depth > 0 {
                if c == UInt8(ascii: "(") { depth += 1 } else if c == UInt8(ascii: ")") { depth -= 1 }
                if depth == 0 { current.append(0x20) }
            } else if c == UInt8(ascii: "(") {
                depth = 1
            } else if c == UInt8(ascii: "\"") {
                inQuote = true
                current.append(c)
            } else if c == UInt8(ascii: "<") {
                inAngle = true
                current.append(c)
            } else if c == UInt8(ascii: ">") {
                inAngle = false
                current.append(c)
            } else if !inAngle, c == UInt8(ascii: ",") || c == UInt8(ascii: ";") {
                parts.append(current)
                current = []
            } else if !inAngle, c == UInt8(ascii: ":") {
                // "group-name:" — what came before is a display name, not an address.
                current = []
            } else {
                current.append(c)
            }
            i += 1
        }
        parts.append(current)
        return parts
    }

    /// The addr-spec of one mailbox: inside `<…>` when there is an angle
    /// address, else the whole element; white space removed; nil for an
    /// empty element. Quoted local parts keep their quotes (only the domain
    /// after the last "@" is used).
    static func addrSpec(in element: [UInt8]) -> [UInt8]? {
        var spec = element
        if let open = element.lastIndex(of: UInt8(ascii: "<")) {
            let rest = element[(open + 1)...]
            guard let close = rest.firstIndex(of: UInt8(ascii: ">")) else { return Array(rest).filter { !isWhite($0) } }
            spec = Array(element[(open + 1)..<close])
            // A source route (obs-route, "@a,@b:") before the address.
            if let colon = spec.lastIndex(of: UInt8(ascii: ":")), spec.first == UInt8(ascii: "@") {
                spec = Array(spec[(colon + 1)...])
            }
        } else if element.contains(UInt8(ascii: "\"")), !element.contains(UInt8(ascii: "@")) {
            // Only a quoted display name, no address: still an element.
            return element.filter { !isWhite($0) }
        }
        let trimmed = spec.filter { !isWhite($0) }
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func isWhite(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D || c == 0x0A }

    /// Text safe for a log line or an Authentication-Results comment.
    static func printable(_ text: String) -> String {
        let cleaned = String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
        return String(cleaned.trimmingWSP().prefix(100))
    }
}
