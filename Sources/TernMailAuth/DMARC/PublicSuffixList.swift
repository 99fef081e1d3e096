import Foundation
import TernSMTP

/// The public suffix list (https://publicsuffix.org/list/), which DMARC uses
/// to find a domain's organizational domain (RFC 7489 §3.2).
///
/// Both sections of the list count, ICANN and PRIVATE: a private-section
/// entry such as `github.io` or `blogspot.com` is a registry whose subdomains
/// belong to different people, so `alice.github.io` and `bob.github.io` must
/// not align with each other under relaxed alignment, and `bob` must not
/// inherit a policy published for the shared parent. Pass
/// `includePrivateDomains: false` for the ICANN section alone.
///
/// Rules are kept in A-label form (IDN rules are converted with Punycode);
/// names are compared in lowercase ASCII. Matching follows the list's
/// algorithm: an exception rule (`!`) wins, else the matching rule with the
/// most labels (`*` matches one label), else the implicit rule `*`.
public struct PublicSuffixList: Sendable {
    /// Debian's `publicsuffix` package puts the list here.
    public static let defaultPath = "/usr/share/publicsuffix/public_suffix_list.dat"

    private var rules: Set<String> = []
    /// "foo.bar" for the rule "*.foo.bar".
    private var wildcards: Set<String> = []
    /// "www.ck" for the rule "!www.ck".
    private var exceptions: Set<String> = []

    /// Number of rules read.
    public var count: Int { rules.count + wildcards.count + exceptions.count }

    public enum LoadError: Error, Sendable, Hashable {
        case unreadable(path: String, reason: String)
        /// The file had no rules: not a public suffix list.
        case empty(path: String)
    }

    /// Parses the text of a list (UTF-8, one rule per line, `//` comments).
    public init(text: String, includePrivateDomains: Bool = true) {
        var inPrivate = false
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            if line.hasPrefix("//") {
                if line.contains("===BEGIN PRIVATE DOMAINS===") { inPrivate = true }
                if line.contains("===END PRIVATE DOMAINS===") { inPrivate = false }
                continue
            }
            if inPrivate && !includePrivateDomains { continue }
            // The rule is the line up to the first white space.
            guard let token = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first else { continue }
            var rule = String(token)
            var isException = false
            if rule.hasPrefix("!") { isException = true; rule.removeFirst() }
            var isWildcard = false
            if rule.hasPrefix("*.") { isWildcard = true; rule.removeFirst(2) }
            guard let ascii = Self.asciiName(rule) else { continue }
            if isException { exceptions.insert(ascii) } else if isWildcard { wildcards.insert(ascii) } else { rules.insert(ascii) }
        }
    }

    /// Reads the list from a file.
    public init(contentsOfFile path: String, includePrivateDomains: Bool = true) throws(LoadError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        self.init(text: String(decoding: data, as: UTF8.self), includePrivateDomains: includePrivateDomains)
        if count == 0 { throw .empty(path: path) }
    }

    private static let systemList = Result { () throws(LoadError) -> PublicSuffixList in
        try PublicSuffixList(contentsOfFile: defaultPath)
    }

    /// The list at `defaultPath`, read once, the first time it is asked for.
    /// Throws when the file is missing or empty: without the list, relaxed
    /// alignment would take `co.uk` for an organization and align
    /// `a.co.uk` with `b.co.uk`, so DMARC must not run on a guess.
    public static func system() throws(LoadError) -> PublicSuffixList {
        try systemList.get()
    }

    /// The public suffix of `name`: its last labels that a registry hands
    /// out (`co.uk` for `a.b.co.uk`). Nil for an invalid name.
    public func publicSuffix(of name: String) -> String? {
        guard let labels = Self.labels(of: name) else { return nil }
        let n = publicSuffixLabelCount(labels)
        return labels.suffix(n).joined(separator: ".")
    }

    /// The organizational domain of `name` (RFC 7489 §3.2): its public
    /// suffix plus one label. A name that is itself a public suffix is its
    /// own organizational domain. Nil for an invalid name.
    public func organizationalDomain(of name: String) -> String? {
        guard let labels = Self.labels(of: name) else { return nil }
        let n = min(labels.count, publicSuffixLabelCount(labels) + 1)
        return labels.suffix(n).joined(separator: ".")
    }

    private func publicSuffixLabelCount(_ labels: [String]) -> Int {
        let n = labels.count
        // Exception rules win: the suffix is the rule without its first label.
        for i in 0..<n where exceptions.contains(labels[i...].joined(separator: ".")) {
            return n - i - 1
        }
        var longest = 1 // the implicit rule "*"
        for i in 0..<n {
            let suffix = labels[i...].joined(separator: ".")
            if rules.contains(suffix) { longest = max(longest, n - i) }
            if i > 0, wildcards.contains(suffix) { longest = max(longest, n - i + 1) }
        }
        return longest
    }

    /// Lowercase A-labels of a domain name. One trailing dot is allowed (the
    /// root); empty labels, and labels that are not valid U- or A-labels, make
    /// the name invalid.
    static func labels(of name: String) -> [String]? {
        guard let ascii = asciiName(name.hasSuffix(".") ? String(name.dropLast()) : name) else { return nil }
        return ascii.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    /// The name in lowercase A-label form, or nil. Used for rules and names alike.
    static func asciiName(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
        var out: [String] = []
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.utf8.count <= 63 || label.utf8.contains(where: { $0 >= 0x80 }) else { return nil }
            if label.utf8.allSatisfy({ $0 < 0x80 }) {
                // DMARC domains come from DNS and headers: letters, digits,
                // hyphens and underscores (DKIM d= and SPF names may carry "_").
                guard label.utf8.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
                    return nil
                }
                out.append(label.lowercased())
            } else {
                let lower = String(label).lowercased().precomposedStringWithCanonicalMapping
                guard let a = Punycode.toASCII(label: lower), a.utf8.count <= 63 else { return nil }
                out.append(a)
            }
        }
        let joined = out.joined(separator: ".")
        return joined.utf8.count <= 253 ? joined : nil
    }
}
