import TernDNS

/// The results of `check_host()` (RFC 7208 §2.6).
public enum SPFVerdict: String, Sendable, Hashable, CaseIterable {
    case none, neutral, pass, fail, softfail, temperror, permerror
}

/// Which identity was checked (RFC 7208 §2.3, §2.4).
public enum SPFIdentity: String, Sendable, Hashable {
    /// The HELO/EHLO name.
    case helo
    /// The MAIL FROM address, or `postmaster@<HELO name>` for a null sender.
    case mailFrom = "mailfrom"
}

/// One SPF check: the verdict and what it was about.
public struct SPFResult: Sendable, Hashable {
    public var verdict: SPFVerdict
    public var identity: SPFIdentity
    /// The `<sender>` given to check_host(): the MAIL FROM address, or
    /// `postmaster@<HELO name>` (§4.3, §2.4).
    public var sender: String
    /// The `<domain>` whose record was evaluated first.
    public var domain: String
    /// The SMTP client's address as checked (IPv4-mapped IPv6 as IPv4).
    public var clientIP: DNSAddress
    /// The HELO/EHLO name the client gave.
    public var helo: String
    /// For `fail`: the explanation the domain published (§6.2), if any.
    public var explanation: String?
    /// Why this result: the matching mechanism's outcome, the DNS failure,
    /// the syntax error, the limit exceeded.
    public var reason: String?

    public init(verdict: SPFVerdict, identity: SPFIdentity, sender: String, domain: String,
                clientIP: DNSAddress, helo: String, explanation: String? = nil, reason: String? = nil) {
        self.verdict = verdict
        self.identity = identity
        self.sender = sender
        self.domain = domain
        self.clientIP = clientIP
        self.helo = helo
        self.explanation = explanation
        self.reason = reason
    }

    /// The domain DMARC uses for this result (RFC 7489 §4.1): only a MAIL
    /// FROM check (with the HELO name standing in for a null sender) counts.
    public var authenticatedDomain: AuthenticatedDomain {
        AuthenticatedDomain(domain: domain, passed: verdict == .pass)
    }

    /// The `spf=` result for Authentication-Results (RFC 8601 §2.7.2):
    /// `smtp.mailfrom` with the sender for a MAIL FROM check, `smtp.helo`
    /// with the name for a HELO check.
    public var authenticationResult: AuthenticationResults.Result {
        let property: AuthenticationResults.Property =
            identity == .helo ? .smtpHelo(domain) : .smtpMailFrom(sender)
        return AuthenticationResults.Result(method: "spf", result: verdict.rawValue, reason: reason,
                                            properties: [property])
    }
}
