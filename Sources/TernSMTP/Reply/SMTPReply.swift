/// An SMTP reply: a three-digit code (RFC 5321 §4.2), an enhanced status code
/// (RFC 3463, registry RFC 5248) and one or more text lines.
public struct SMTPReply: Hashable, Sendable, CustomStringConvertible, Error {
    public var code: Int
    public var enhanced: EnhancedStatus?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: EnhancedStatus?, _ lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines.isEmpty ? [""] : lines
    }

    public init(_ code: Int, _ enhanced: EnhancedStatus?, _ text: String) {
        self.init(code, enhanced, [text])
    }

    public var isPositive: Bool { code < 400 }
    public var isTransient: Bool { (400..<500).contains(code) }
    public var isPermanent: Bool { code >= 500 }

    /// The reply as it goes on the wire: `250-first`, …, `250 last`, each
    /// with CRLF. The enhanced code prefixes every line (RFC 2034 §4).
    public var wire: String {
        var out = ""
        for (i, line) in lines.enumerated() {
            out += String(code)
            out += i == lines.count - 1 ? " " : "-"
            if let enhanced { out += enhanced.description + (line.isEmpty ? "" : " ") }
            out += line
            out += "\r\n"
        }
        return out
    }

    /// First line text, for logs.
    public var description: String {
        "\(code)\(enhanced.map { " \($0)" } ?? "") \(lines.joined(separator: " / "))"
    }
}

/// `class.subject.detail` (RFC 3463 §2).
public struct EnhancedStatus: Hashable, Sendable, CustomStringConvertible, Codable {
    public var statusClass: Int
    public var subject: Int
    public var detail: Int

    public init(_ statusClass: Int, _ subject: Int, _ detail: Int) {
        self.statusClass = statusClass
        self.subject = subject
        self.detail = detail
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".")
        guard parts.count == 3, let c = Int(parts[0]), let s = Int(parts[1]), let d = Int(parts[2]),
              [2, 4, 5].contains(c), (0...999).contains(s), (0...999).contains(d) else { return nil }
        self.init(c, s, d)
    }

    public var description: String { "\(statusClass).\(subject).\(detail)" }
}
