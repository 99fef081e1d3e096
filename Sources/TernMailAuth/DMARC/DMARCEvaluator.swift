/// The DMARC result of one author domain or of a message (RFC 7489 §6.6.2,
/// RFC 8601 §2.7.4 values).
public enum DMARCResult: String, Sendable, Hashable {
    case none, pass, fail, temperror, permerror
}

/// What the receiver does with the message (RFC 7489 §6.6.4, after `pct`).
public enum DMARCDisposition: String, Sendable, Hashable, Comparable {
    case none, quarantine, reject

    init(_ policy: DMARCRecord.Policy) {
        switch policy {
        case .none: self = .none
        case .quarantine: self = .quarantine
        case .reject: self = .reject
        }
    }

    /// The next lower policy, for messages `pct` sampling leaves out (§6.6.4).
    var lowered: DMARCDisposition {
        switch self {
        case .reject: .quarantine
        case .quarantine, .none: .none
        }
    }

    private var rank: Int {
        switch self {
        case .none: 0
        case .quarantine: 1
        case .reject: 2
        }
    }

    public static func < (lhs: DMARCDisposition, rhs: DMARCDisposition) -> Bool { lhs.rank < rhs.rank }
}

/// The verdict of one authentication method for one domain, as DMARC
/// consumes it: only `pass` counts, and only when aligned.
public struct AuthenticatedDomain: Sendable, Hashable {
    /// SPF: the MAIL FROM domain, or the HELO name when MAIL FROM was null
    /// (RFC 7489 §4.1 with RFC 7208 §2.3). DKIM: the signature's `d=`.
    public var domain: String
    /// True only for a `pass`. A DKIM pass whose `l=` leaves body content
    /// unsigned should be given as false by the caller.
    public var passed: Bool

    public init(domain: String, passed: Bool) {
        self.domain = domain
        self.passed = passed
    }
}

/// DMARC's answer for one author domain.
public struct DMARCEvaluation: Sendable, Hashable {
    /// The author domain (normalized), for `header.from`.
    public var authorDomain: String
    public var result: DMARCResult
    public var disposition: DMARCDisposition
    /// The record applied and where it was published.
    public var record: DMARCRecord?
    public var policyDomain: String?
    /// True when the record came from the organizational domain.
    public var usedOrganizationalRecord = false
    /// The policy the record asks for on failure (`p`, or `sp` for a
    /// subdomain), before `pct`. Nil without a record.
    public var requestedPolicy: DMARCRecord.Policy?
    public var spfAligned = false
    public var dkimAligned = false
    /// True when `pct` sampling left this failing message out (§6.6.4).
    public var sampledOut = false
    /// Why, in a few words (for logs and Authentication-Results comments).
    public var reason: String?
}

/// DMARC's answer for a message.
public struct DMARCVerdict: Sendable, Hashable {
    /// The overall result: the one of the evaluation with the strictest
    /// disposition (ties: fail, temperror, permerror, pass, none).
    public var result: DMARCResult
    public var disposition: DMARCDisposition
    /// One evaluation per distinct author domain, in the order of the From field.
    public var evaluations: [DMARCEvaluation]
    /// The author domain whose evaluation decided, nil when the From field
    /// could not be used.
    public var headerFrom: String?
    public var reason: String?
}

/// Applies DMARC to a message whose SPF and DKIM results are known
/// (RFC 7489 §6.6.2–§6.6.4).
public struct DMARCEvaluator: Sendable {
    public struct Options: Sendable {
        /// A number in 0..<100; the requested policy applies when it is below
        /// `pct` (§6.6.4). Tests fix it; the default is random.
        public var percentRoll: @Sendable () -> Int = { Int.random(in: 0..<100) }
        /// Disposition for a message without exactly one From field with
        /// usable addresses (§6.6.1: "typically rejected"). Its result is
        /// `permerror`. Default: reject.
        public var malformedFromDisposition: DMARCDisposition = .reject

        public init() {}
    }

    public let discovery: DMARCPolicyDiscovery
    public let alignment: DomainAlignment
    public var options: Options

    public init(discovery: DMARCPolicyDiscovery, options: Options = Options()) {
        self.discovery = discovery
        self.alignment = DomainAlignment(suffixes: discovery.suffixes)
        self.options = options
    }

    /// Evaluates every author domain of the message. `spf` is the result for
    /// the identity DMARC uses (nil when SPF was not checked); `dkim` has one
    /// entry per signature.
    public func evaluate(authors: AuthorDomains, spf: AuthenticatedDomain?,
                         dkim: [AuthenticatedDomain]) async -> DMARCVerdict {
        let why: String
        switch authors {
        case .domains(let domains):
            var evaluations: [DMARCEvaluation] = []
            for domain in domains {
                evaluations.append(await evaluate(authorDomain: domain, spf: spf, dkim: dkim))
            }
            guard let decisive = evaluations.max(by: { Self.severity($0) < Self.severity($1) }) else {
                why = "no author domain"
                break
            }
            return DMARCVerdict(result: decisive.result, disposition: decisive.disposition, evaluations: evaluations,
                                headerFrom: decisive.authorDomain, reason: decisive.reason)
        case .noFromField: why = "no From field"
        case .multipleFromFields: why = "several From fields"
        case .unusable(let text): why = "unable to extract From domain: \(text)"
        }
        return DMARCVerdict(result: .permerror, disposition: options.malformedFromDisposition, evaluations: [],
                            headerFrom: nil, reason: why)
    }

    private static func severity(_ e: DMARCEvaluation) -> (Int, Int) {
        let order: [DMARCResult: Int] = [.none: 0, .pass: 1, .permerror: 2, .temperror: 3, .fail: 4]
        let disposition: Int = switch e.disposition { case .none: 0; case .quarantine: 1; case .reject: 2 }
        return (disposition, order[e.result] ?? 0)
    }

    /// Evaluates one author domain.
    public func evaluate(authorDomain: String, spf: AuthenticatedDomain?,
                         dkim: [AuthenticatedDomain]) async -> DMARCEvaluation {
        let author = DomainAlignment.normalized(authorDomain) ?? authorDomain.lowercased()
        var e = DMARCEvaluation(authorDomain: author, result: .none, disposition: .none)
        switch await discovery.discover(authorDomain: author) {
        case .none(let why):
            e.reason = why
            return e
        case .temperror(let why):
            e.result = .temperror
            e.reason = why
            return e
        case .found(let record, let policyDomain, let fallback):
            e.record = record
            e.policyDomain = policyDomain
            e.usedOrganizationalRecord = fallback
            let requested = fallback ? (record.subdomainPolicy ?? record.policy) : record.policy
            e.requestedPolicy = requested
            if let spf, spf.passed {
                e.spfAligned = alignment.aligned(author, spf.domain, mode: record.spfAlignment)
            }
            e.dkimAligned = dkim.contains { $0.passed && alignment.aligned(author, $0.domain, mode: record.dkimAlignment) }
            if e.spfAligned || e.dkimAligned {
                e.result = .pass
                e.reason = e.dkimAligned ? "aligned DKIM pass" : "aligned SPF pass"
                return e
            }
            e.result = .fail
            var disposition = DMARCDisposition(requested)
            if disposition != .none, record.percentage < 100 {
                let roll = options.percentRoll()
                if roll >= record.percentage {
                    e.sampledOut = true
                    disposition = disposition.lowered
                }
            }
            e.disposition = disposition
            e.reason = "no aligned pass; " + (fallback && record.subdomainPolicy != nil ? "sp" : "p") + "=\(requested.rawValue)"
                + (e.sampledOut ? " (pct=\(record.percentage), sampled out)" : "")
            return e
        }
    }
}
