/// Identifier alignment (RFC 7489 §3.1): does an authenticated domain (SPF's
/// MAIL FROM or HELO domain, DKIM's `d=`) belong to the author domain of
/// the RFC5322.From field?
public struct DomainAlignment: Sendable {
    public let suffixes: PublicSuffixList

    public init(suffixes: PublicSuffixList) {
        self.suffixes = suffixes
    }

    /// Strict mode: the two names are equal. Relaxed mode: their
    /// organizational domains are equal (§3.1.1, §3.1.2). Names are compared
    /// in lowercase A-label form after `normalized(_:)`; an invalid name
    /// never aligns.
    public func aligned(_ authorDomain: String, _ authenticated: String, mode: DMARCRecord.AlignmentMode) -> Bool {
        guard let author = Self.normalized(authorDomain), let other = Self.normalized(authenticated) else { return false }
        switch mode {
        case .strict:
            return author == other
        case .relaxed:
            guard let a = suffixes.organizationalDomain(of: author),
                  let b = suffixes.organizationalDomain(of: other) else { return false }
            return a == b
        }
    }

    /// A domain as DMARC compares and looks it up: lowercase A-labels,
    /// without dots at either end (`.mac.com.` is `mac.com`, as OpenDMARC
    /// reads it); nil when it still has an empty label (`mac...com`) or is
    /// otherwise not a domain name. Discovery uses the same form, so a
    /// name is never looked up one way and aligned another.
    public static func normalized(_ name: String) -> String? {
        var u = Substring(name)
        while u.hasPrefix(".") { u = u.dropFirst() }
        while u.hasSuffix(".") { u = u.dropLast() }
        return PublicSuffixList.asciiName(String(u))
    }
}
