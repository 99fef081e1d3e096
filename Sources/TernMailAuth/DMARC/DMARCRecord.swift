/// A DMARC policy record (RFC 7489 §6.3), as a receiver applies it.
///
/// Parsing follows §6.3 and §6.6.3: `v=DMARC1` must be the first tag; unknown
/// tags are ignored; a known tag with a bad value is dropped in favour of its
/// default; a record without a valid `p` (or with an invalid `sp`) is used as
/// `p=none` when it names at least one valid `rua` URI, and is no usable
/// record otherwise. DMARCbis tags (`np`, `psd`, `t`) are unknown tags here.
public struct DMARCRecord: Sendable, Hashable {
    /// Requested handling of failing mail (`p`, `sp`; §6.3).
    public enum Policy: String, Sendable, Hashable, CaseIterable {
        case none, quarantine, reject
    }

    /// Identifier alignment mode (`adkim`, `aspf`; §3.1.1, §3.1.2).
    public enum AlignmentMode: String, Sendable, Hashable {
        case relaxed = "r"
        case strict = "s"
    }

    /// A reporting URI with its optional size limit (`dmarc-uri`, §6.4).
    public struct ReportURI: Sendable, Hashable {
        public var uri: String
        /// The limit after `!`, in bytes (k, m, g, t multiply by 1024ⁿ).
        public var maximumSize: UInt64?
        /// True for `mailto:` URIs, the only kind RFC 7489 defines reports for.
        public var isMailto: Bool { uri.lowercased().hasPrefix("mailto:") }
    }

    /// `p`. `.none` also when the record had no valid `p` but a valid `rua`.
    public var policy: Policy
    /// `sp`; nil when absent (subdomains then get `policy`).
    public var subdomainPolicy: Policy?
    /// `pct`, 0…100; default 100.
    public var percentage: Int = 100
    /// `adkim`; default relaxed.
    public var dkimAlignment: AlignmentMode = .relaxed
    /// `aspf`; default relaxed.
    public var spfAlignment: AlignmentMode = .relaxed
    /// `rua`: the syntactically valid URIs, in order.
    public var aggregateReportURIs: [ReportURI] = []
    /// `ruf`: the syntactically valid URIs, in order.
    public var failureReportURIs: [ReportURI] = []
    /// `fo`; default ["0"].
    public var failureOptions: [String] = ["0"]
    /// `rf`; default ["afrf"] (the only registered format).
    public var reportFormats: [String] = ["afrf"]
    /// `ri`, seconds; default 86400.
    public var reportInterval: UInt32 = 86_400
    /// True when `p` was missing or invalid (or `sp` invalid) and the record is
    /// applied as `p=none` because of its `rua` (§6.6.3 step 6).
    public var policyWasReplaced = false
    /// Tags that were dropped: unknown names, bad values, terms without `=`.
    /// For diagnostics only.
    public var ignoredTerms: [String] = []

    public init(policy: Policy, subdomainPolicy: Policy? = nil) {
        self.policy = policy
        self.subdomainPolicy = subdomainPolicy
    }

    /// Why a TXT string is not a usable DMARC record.
    public enum ParseError: Error, Sendable, Hashable {
        /// It does not start with `v=DMARC1` (§6.6.3 steps 2 and 4 discard it).
        case notDMARC
        /// It is a DMARC record, but without a valid `p` (or with an invalid
        /// `sp`) and without a valid `rua`: no DMARC processing (§6.6.3 step 6).
        case noUsablePolicy(String)
    }

    /// Longest record looked at; TXT answers can be longer, DMARC records are
    /// not (RFC 7489 §6.4 keeps records short).
    public static let maximumLength = 4096

    /// True when `text` starts with the version tag `v=DMARC1` (§6.3: it must
    /// be first; the value must match exactly, the tag name is case-insensitive
    /// as ABNF strings are).
    public static func isDMARCRecord(_ text: String) -> Bool {
        guard let first = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first,
              let (name, value) = splitTag(first) else { return false }
        return name == "v" && value == "DMARC1"
    }

    /// Parses one TXT string (§6.3, §6.4).
    public init(parsing text: String) throws(ParseError) {
        guard text.utf8.count <= Self.maximumLength, Self.isDMARCRecord(text) else { throw .notDMARC }
        var terms = text.split(separator: ";", omittingEmptySubsequences: false)
        terms.removeFirst()

        var policy: Policy?
        var policyInvalid = false
        var subdomainPolicy: Policy?
        var subdomainInvalid = false
        var record = DMARCRecord(policy: .none)
        var seen: Set<String> = []

        for term in terms {
            let raw = String(term).trimmingWSP()
            if raw.isEmpty { continue }
            guard let (name, value) = Self.splitTag(term) else {
                record.ignoredTerms.append(raw)
                continue
            }
            // A repeated tag: the first one counts.
            guard !seen.contains(name) else {
                record.ignoredTerms.append(raw)
                continue
            }
            seen.insert(name)
            var accepted = true
            switch name {
            case "p":
                if let p = Policy(rawValue: value.lowercased()) { policy = p } else { policyInvalid = true; accepted = false }
            case "sp":
                if let p = Policy(rawValue: value.lowercased()) { subdomainPolicy = p } else { subdomainInvalid = true; accepted = false }
            case "pct":
                if value.utf8.count <= 3, value.utf8.allSatisfy(isDigit), let n = Int(value), n <= 100 {
                    record.percentage = n
                } else { accepted = false }
            case "adkim":
                if let m = AlignmentMode(rawValue: value.lowercased()) { record.dkimAlignment = m } else { accepted = false }
            case "aspf":
                if let m = AlignmentMode(rawValue: value.lowercased()) { record.spfAlignment = m } else { accepted = false }
            case "rua":
                record.aggregateReportURIs = Self.reportURIs(value)
                accepted = !record.aggregateReportURIs.isEmpty
            case "ruf":
                record.failureReportURIs = Self.reportURIs(value)
                accepted = !record.failureReportURIs.isEmpty
            case "fo":
                let options = value.split(separator: ":").map { String($0).trimmingWSP().lowercased() }
                if !options.isEmpty, options.allSatisfy({ ["0", "1", "d", "s"].contains($0) }) {
                    record.failureOptions = options
                } else { accepted = false }
            case "rf":
                let formats = value.split(separator: ":").map { String($0).trimmingWSP().lowercased() }
                if !formats.isEmpty, formats.allSatisfy({ $0 == "afrf" }) {
                    record.reportFormats = formats
                } else { accepted = false }
            case "ri":
                if value.utf8.count <= 32, !value.isEmpty, value.utf8.allSatisfy(isDigit), let n = UInt32(value) {
                    record.reportInterval = n
                } else { accepted = false }
            default:
                accepted = false
            }
            if !accepted { record.ignoredTerms.append(raw) }
        }

        if let policy, !subdomainInvalid {
            record.policy = policy
            record.subdomainPolicy = subdomainPolicy
        } else if !record.aggregateReportURIs.isEmpty {
            // §6.6.3 step 6.1: act as if the record were "v=DMARC1; p=none".
            record.policy = .none
            record.subdomainPolicy = nil
            record.policyWasReplaced = true
        } else {
            let why = subdomainInvalid ? "invalid sp" : (policyInvalid ? "invalid p" : "no p")
            throw .noUsablePolicy("\(why) and no valid rua")
        }
        self = record
    }

    /// `name *WSP "=" *WSP value *WSP`; name lowercased. Nil without "=" or name.
    static func splitTag(_ text: Substring) -> (String, String)? {
        guard let eq = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<eq]).trimmingWSP().lowercased()
        let value = String(text[text.index(after: eq)...]).trimmingWSP()
        guard !name.isEmpty, name.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") }) else { return nil }
        return (name, value)
    }

    /// `dmarc-uri *(*WSP "," *WSP dmarc-uri)`; invalid URIs are dropped.
    static func reportURIs(_ value: String) -> [ReportURI] {
        value.split(separator: ",").compactMap { part -> ReportURI? in
            var text = String(part).trimmingWSP()
            var size: UInt64?
            if let bang = text.lastIndex(of: "!") {
                let spec = text[text.index(after: bang)...].lowercased()
                var digits = Substring(spec)
                var unit: UInt64 = 1
                if let last = digits.last, let power = ["k": 1, "m": 2, "g": 3, "t": 4][String(last)] {
                    unit = (0..<power).reduce(1) { acc, _ in acc * 1024 }
                    digits = digits.dropLast()
                }
                guard !digits.isEmpty, digits.count <= 12, digits.utf8.allSatisfy(isDigit), let n = UInt64(digits) else { return nil }
                size = n * unit
                text = String(text[..<bang])
            }
            guard isAbsoluteURI(text) else { return nil }
            return ReportURI(uri: text, maximumSize: size)
        }
    }

    /// `scheme ":" hier-part` with a non-empty rest of visible characters
    /// (RFC 3986 §3; commas and "!" are dmarc-uri delimiters, §6.4).
    static func isAbsoluteURI(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0, colon + 1 < bytes.count,
              isAlpha(bytes[0]) else { return false }
        for c in bytes[1..<colon] where !(isAlnum(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")) {
            return false
        }
        return bytes[(colon + 1)...].allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "!") }
    }
}

@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
@inline(__always) func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }

extension String {
    /// Without leading and trailing SP and HTAB (`WSP`, RFC 5234).
    func trimmingWSP() -> String {
        let u = Array(utf8)
        var start = 0, end = u.count
        while start < end, u[start] == 0x20 || u[start] == 0x09 { start += 1 }
        while end > start, u[end - 1] == 0x20 || u[end - 1] == 0x09 { end -= 1 }
        return String(decoding: u[start..<end], as: UTF8.self)
    }
}
