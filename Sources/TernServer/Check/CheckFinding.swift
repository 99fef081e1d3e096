/// One result of `tern check`: what was looked at, how it went, and, for a
/// problem, the exact DNS record to publish or the setting to change.
public struct CheckFinding: Sendable, Hashable, Codable {
    /// How bad it is. Only `error` makes `tern check` exit non-zero.
    public enum Severity: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        /// Checked and right.
        case ok
        /// Worth knowing, nothing to fix (a record that is optional and absent).
        case info
        /// Works, but other servers may treat the mail worse for it.
        case warning
        /// Mail will be refused, lost or sent to spam until this is fixed.
        case error

        private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
    }

    /// Which part of the deployment a finding is about.
    public enum Area: String, Sendable, Hashable, Codable, CaseIterable {
        /// The MX records of a local domain (RFC 5321 §5.1).
        case mx
        /// The A/AAAA records of the hostname.
        case hostname
        /// Reverse DNS of this host's addresses, forward-confirmed.
        case ptr
        /// SPF (RFC 7208) of a local domain or of the hostname.
        case spf
        /// DKIM key records (RFC 6376 §3.6) against the keys on disk.
        case dkim
        /// DMARC (RFC 7489).
        case dmarc
        /// MTA-STS (RFC 8461 §3.1).
        case mtaSTS = "mta-sts"
        /// SMTP TLS reporting (RFC 8460 §3).
        case tlsRPT = "tls-rpt"
        /// Outbound connections on port 25, or to the relay host.
        case outbound
        /// The certificate in `[tls]` and the one the listeners serve.
        case tls
        /// Whether the listeners answer.
        case listener
    }

    /// The heading it is printed under: `host mx.example.com`,
    /// `domain example.com`, `TLS`, `outbound mail`.
    public var scope: String = ""
    public var area: Area
    /// What the finding is about: a domain, an address, a listener, a file.
    public var subject: String
    public var severity: Severity
    /// One sentence for people.
    public var message: String
    /// Zone-file lines to publish (`name. IN TYPE data`), for DNS problems.
    public var record: String?
    /// Anything else to do (configuration lines, where to set reverse DNS).
    public var advice: String?

    public init(_ area: Area, _ subject: String, _ severity: Severity, _ message: String,
                record: String? = nil, advice: String? = nil) {
        self.area = area
        self.subject = subject
        self.severity = severity
        self.message = message
        self.record = record
        self.advice = advice
    }
}

extension Array where Element == CheckFinding {
    /// The number of findings of `severity`.
    public func count(_ severity: CheckFinding.Severity) -> Int {
        reduce(0) { $0 + ($1.severity == severity ? 1 : 0) }
    }

    /// True when nothing is an error.
    public var passed: Bool { !contains { $0.severity == .error } }
}
