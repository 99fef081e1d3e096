/// An Authentication-Results header field (RFC 8601 §2.2): the verdicts of
/// this server, named by its authserv-id.
///
///     Authentication-Results: mx.example.com;
///      spf=pass smtp.mailfrom=a@example.com;
///      dkim=pass header.d=example.com header.s=s1 header.a=rsa-sha256;
///      dmarc=pass header.from=example.com
public struct AuthenticationResults: Sendable, Hashable {
    /// One `resinfo`: a method, its result and what it looked at.
    public struct Result: Sendable, Hashable {
        /// `method` (RFC 8601 §2.7, IANA registry): "spf", "dkim", "dmarc", "auth", …
        public var method: String
        /// `result`: "pass", "fail", "none", "temperror", …
        public var result: String
        /// `reason=` text, quoted as needed (§2.2).
        public var reason: String?
        /// A comment written after the result, e.g. "(p=reject)".
        public var comment: String?
        /// `ptype.property=value` in order, e.g. ("smtp", "mailfrom", "a@example.com").
        public var properties: [Property]

        public init(method: String, result: String, reason: String? = nil, comment: String? = nil,
                    properties: [Property] = []) {
            self.method = method
            self.result = result
            self.reason = reason
            self.comment = comment
            self.properties = properties
        }
    }

    /// `ptype "." property "=" pvalue` (§2.2).
    public struct Property: Sendable, Hashable {
        /// "smtp", "header", "body", "policy".
        public var type: String
        public var name: String
        public var value: String

        public init(_ type: String, _ name: String, _ value: String) {
            self.type = type
            self.name = name
            self.value = value
        }

        public static func smtpMailFrom(_ v: String) -> Property { Property("smtp", "mailfrom", v) }
        public static func smtpHelo(_ v: String) -> Property { Property("smtp", "helo", v) }
        public static func smtpAuth(_ v: String) -> Property { Property("smtp", "auth", v) }
        public static func headerD(_ v: String) -> Property { Property("header", "d", v) }
        public static func headerS(_ v: String) -> Property { Property("header", "s", v) }
        public static func headerA(_ v: String) -> Property { Property("header", "a", v) }
        public static func headerI(_ v: String) -> Property { Property("header", "i", v) }
        public static func headerB(_ v: String) -> Property { Property("header", "b", v) }
        public static func headerFrom(_ v: String) -> Property { Property("header", "from", v) }
    }

    /// The server that made the verdicts: Tern's hostname (§2.5).
    public var authservID: String
    /// The results; none renders as `; none` (§2.2 no-result).
    public var results: [Result]

    public init(authservID: String, results: [Result] = []) {
        self.authservID = authservID
        self.results = results
    }

    public static let fieldName = "Authentication-Results"
    /// Lines are folded before they pass this many octets when possible (RFC 5322 §2.1.1).
    public static let preferredLineLength = 78
    /// No line is longer than this (RFC 5322 §2.1.1).
    public static let maximumLineLength = 998
    /// Reasons and comments are cut to this many octets.
    public static let maximumTextLength = 200
    /// Property values are cut to this many octets (an SMTP path has at most
    /// 256), so no line can pass `maximumLineLength`.
    public static let maximumValueLength = 512

    /// The whole field, folded, ending with CRLF.
    public func rendered() -> String {
        var out = Self.fieldName + ": " + Self.value(authservID)
        var line = out.utf8.count
        if results.isEmpty {
            return out + "; none\r\n"
        }
        for (index, result) in results.enumerated() {
            out += ";"
            var atoms: [String] = [Self.keyword(result.method) + "=" + Self.keyword(result.result)]
            if let comment = result.comment { atoms.append("(" + Self.commentText(comment) + ")") }
            if let reason = result.reason { atoms.append("reason=" + Self.quoted(Self.clip(reason))) }
            for p in result.properties {
                atoms.append(Self.keyword(p.type) + "." + Self.keyword(p.name) + "=" + Self.propertyValue(p.value))
            }
            // Each resinfo starts on a line of its own; its atoms follow on
            // that line until the preferred length, then on continuation lines.
            out += "\r\n "
            line = 1
            for (n, atom) in atoms.enumerated() {
                let needed = atom.utf8.count + (n == 0 ? 0 : 1) + (n == atoms.count - 1 && index < results.count - 1 ? 1 : 0)
                if n > 0 {
                    if line + needed > Self.preferredLineLength {
                        out += "\r\n   "
                        line = 3
                    } else {
                        out += " "
                        line += 1
                    }
                }
                out += atom
                line += atom.utf8.count
            }
        }
        return out + "\r\n"
    }

    // MARK: Lexical forms

    /// RFC 2045 tspecials, which a `token` may not contain.
    private static let tspecials = Set("()<>@,;:\\\"/[]?=".utf8)

    /// A `token` (RFC 2045 §5.1): visible ASCII without tspecials.
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !tspecials.contains($0) }
    }

    /// Methods, results, ptypes and property names are keywords we choose;
    /// anything else in them is replaced so the field stays well formed.
    static func keyword(_ s: String) -> String {
        let cleaned = String(decoding: s.utf8.map { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") ? $0 : UInt8(ascii: "_") },
                             as: UTF8.self)
        return cleaned.isEmpty ? "_" : cleaned
    }

    /// `value = token / quoted-string`.
    static func value(_ s: String) -> String {
        isToken(s) ? s : quoted(s)
    }

    /// `pvalue`: a token, `[local-part] "@" domain-name`, or a quoted-string (§2.2).
    static func propertyValue(_ value: String) -> String {
        let s = clip(value, to: maximumValueLength)
        if isToken(s) { return s }
        if let at = s.utf8.lastIndex(of: UInt8(ascii: "@")) {
            let local = String(s[s.startIndex..<at]), domain = String(s[s.index(after: at)...])
            if isDotAtomOrEmpty(local), isToken(domain), !domain.hasPrefix("."), !domain.hasSuffix(".") { return s }
        }
        return quoted(s)
    }

    /// `dot-atom-text` (RFC 5322 §3.2.3) or empty; UTF-8 allowed (RFC 6532).
    private static func isDotAtomOrEmpty(_ s: String) -> Bool {
        if s.isEmpty { return true }
        let atext = Set("!#$%&'*+-/=?^_`{|}~".utf8)
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            !part.isEmpty && part.utf8.allSatisfy { isAlnum($0) || atext.contains($0) || $0 >= 0x80 }
        }
    }

    /// A quoted-string with `"` and `\` escaped and control characters dropped.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars where scalar.value >= 0x20 && scalar.value != 0x7F {
            if scalar == "\"" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "\""
    }

    /// Comment text: parentheses and backslashes escaped, controls dropped, clipped.
    static func commentText(_ s: String) -> String {
        var out = ""
        for scalar in clip(s).unicodeScalars where scalar.value >= 0x20 && scalar.value != 0x7F {
            if scalar == "(" || scalar == ")" || scalar == "\\" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    static func clip(_ s: String, to limit: Int = maximumTextLength) -> String {
        guard s.utf8.count > limit else { return s }
        var out = ""
        for c in s {
            if out.utf8.count + String(c).utf8.count > limit { break }
            out.append(c)
        }
        return out
    }
}
