/// The verdict on one DKIM-Signature field, with what
/// Authentication-Results and DMARC need to know of it.
public struct DKIMSignatureResult: Sendable, Hashable {
    /// RFC 8601 §2.7.1 results for the `dkim` method.
    public enum Verdict: String, Sendable, Hashable {
        case pass, fail, neutral, temperror, permerror, policy
    }

    public var verdict: Verdict
    /// `d=` (lowercased; may be empty or invalid when the field was).
    public var domain: String
    /// `s=`.
    public var selector: String
    /// `a=` as written, lowercased.
    public var algorithm: String
    /// `i=` when given.
    public var identity: String?
    /// The first 8 characters of `b=` (RFC 6008 `header.b`), to tell
    /// signatures of one domain apart.
    public var signaturePrefix: String
    /// Why it did not pass, or a note on a pass (partial body).
    public var reason: String?
    /// True when `l=` leaves part of the body unsigned: the signature may
    /// pass, but the unsigned rest could say anything (RFC 6376 §8.2), so it
    /// does not count for DMARC.
    public var partialBody: Bool
    /// Size of the public key in bits, when libopendkim loaded it.
    public var keyBits: Int?

    public init(verdict: Verdict, domain: String, selector: String, algorithm: String, identity: String? = nil,
                signaturePrefix: String, reason: String? = nil, partialBody: Bool = false, keyBits: Int? = nil) {
        self.verdict = verdict
        self.domain = domain
        self.selector = selector
        self.algorithm = algorithm
        self.identity = identity
        self.signaturePrefix = signaturePrefix
        self.reason = reason
        self.partialBody = partialBody
        self.keyBits = keyBits
    }

    /// A pass that DMARC may use (RFC 7489 §3.1.1 with RFC 6376 §8.2).
    public var countsForDMARC: Bool { verdict == .pass && !partialBody }

    /// This result as the DMARC evaluator takes it.
    public var authenticatedDomain: AuthenticatedDomain {
        AuthenticatedDomain(domain: domain, passed: countsForDMARC)
    }

    /// `dkim=` resinfo (RFC 8601 §2.7.1, RFC 6008 for `header.b`).
    public var authenticationResult: AuthenticationResults.Result {
        var properties: [AuthenticationResults.Property] = []
        if !domain.isEmpty { properties.append(.headerD(domain)) }
        if !selector.isEmpty { properties.append(.headerS(selector)) }
        if !algorithm.isEmpty { properties.append(.headerA(algorithm)) }
        if let identity, !identity.isEmpty { properties.append(.headerI(identity)) }
        if !signaturePrefix.isEmpty { properties.append(.headerB(signaturePrefix)) }
        return AuthenticationResults.Result(method: "dkim", result: verdict.rawValue, reason: reason,
                                            properties: properties)
    }
}

extension Array where Element == DKIMSignatureResult {
    /// One `dkim=` resinfo per signature; `dkim=none` for an unsigned message.
    public var authenticationResults: [AuthenticationResults.Result] {
        isEmpty ? [AuthenticationResults.Result(method: "dkim", result: "none")] : map(\.authenticationResult)
    }

    /// The `d=` domains for the DMARC evaluator.
    public var authenticatedDomains: [AuthenticatedDomain] { map(\.authenticatedDomain) }
}
