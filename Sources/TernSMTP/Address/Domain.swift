import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A domain or address literal as it appears in a path (RFC 5321 §4.1.2,
/// §4.1.3; RFC 6531 §3.3 adds U-labels).
///
/// Comparison and hashing use the lowercased A-label form, so `Bücher.Example`,
/// `bücher.example` and `xn--bcher-kva.example` are the same domain.
public struct Domain: Hashable, Sendable, CustomStringConvertible, Codable {
    public enum Kind: Hashable, Sendable {
        case name
        case ipv4Literal
        case ipv6Literal
        case generalLiteral
    }

    /// The domain as the peer wrote it (NFC-normalised).
    public let text: String
    /// Lowercased A-label form (`xn--…`); literals lowercased as written.
    public let ascii: String
    /// Lowercased U-label form; equal to `ascii` for ASCII-only names and literals.
    public let unicode: String
    public let kind: Kind

    /// RFC 5321 §4.5.3.1.2: at most 255 octets.
    public static let maximumLength = 255
    /// RFC 1035 §2.3.4: at most 63 octets per label.
    public static let maximumLabelLength = 63

    public var isAddressLiteral: Bool { kind != .name }
    public var description: String { text }

    public static func == (lhs: Domain, rhs: Domain) -> Bool { lhs.ascii == rhs.ascii }
    public func hash(into hasher: inout Hasher) { hasher.combine(ascii) }

    public enum ParseError: Error, Hashable, Sendable {
        case empty
        case syntax
        case tooLong
        case badIDN
        case nonASCII
    }

    /// Parses a domain or an address literal.
    /// - Parameter allowUTF8: U-labels are accepted only under SMTPUTF8 (RFC 6531 §3.3).
    public init(parsing input: String, allowUTF8: Bool = true) throws(ParseError) {
        guard !input.isEmpty else { throw .empty }
        if input.utf8.first == UInt8(ascii: "[") {
            self = try Domain.literal(input)
            return
        }
        let text = input.precomposedStringWithCanonicalMapping
        guard text.utf8.count <= Domain.maximumLength else { throw .tooLong }
        let isASCII = text.utf8.allSatisfy { $0 < 0x80 }
        if !isASCII && !allowUTF8 { throw .nonASCII }
        var asciiLabels: [String] = []
        var unicodeLabels: [String] = []
        // A trailing dot is not part of RFC 5321 Domain syntax.
        for label in text.split(separator: ".", omittingEmptySubsequences: false) {
            let label = String(label)
            guard !label.isEmpty else { throw .syntax }
            if label.utf8.allSatisfy({ $0 < 0x80 }) {
                let lower = label.lowercased()
                if lower.hasPrefix("xn--") {
                    guard let u = Punycode.toUnicode(label: lower) else { throw .badIDN }
                    try Domain.checkLDH(label)
                    unicodeLabels.append(u)
                } else {
                    try Domain.checkLDH(label)
                    if lower.utf8.count >= 4,
                       Array(lower.utf8)[2] == UInt8(ascii: "-"), Array(lower.utf8)[3] == UInt8(ascii: "-") {
                        // RFC 5891 §4.2.3.1: "??--" is reserved for A-labels.
                        throw .badIDN
                    }
                    unicodeLabels.append(lower)
                }
                asciiLabels.append(lower)
            } else {
                guard Domain.isValidULabel(label) else { throw .badIDN }
                let lower = label.lowercased().precomposedStringWithCanonicalMapping
                guard let a = Punycode.toASCII(label: lower), a.utf8.count <= Domain.maximumLabelLength else {
                    throw .badIDN
                }
                asciiLabels.append(a)
                unicodeLabels.append(lower)
            }
        }
        let ascii = asciiLabels.joined(separator: ".")
        guard ascii.utf8.count <= Domain.maximumLength else { throw .tooLong }
        self.init(text: text, ascii: ascii, unicode: unicodeLabels.joined(separator: "."), kind: .name)
    }

    private init(text: String, ascii: String, unicode: String, kind: Kind) {
        self.text = text
        self.ascii = ascii
        self.unicode = unicode
        self.kind = kind
    }

    private static func literal(_ input: String) throws(ParseError) -> Domain {
        let bytes = Array(input.utf8)
        guard bytes.count >= 3, bytes.last == UInt8(ascii: "]") else { throw .syntax }
        let inner = String(decoding: bytes[1..<(bytes.count - 1)], as: UTF8.self)
        let kind: Kind
        if Domain.isIPv4(inner) {
            kind = .ipv4Literal
        } else if inner.lowercased().hasPrefix("ipv6:") {
            guard Domain.isIPv6(String(inner.dropFirst(5))) else { throw .syntax }
            kind = .ipv6Literal
        } else {
            // General-address-literal = Standardized-tag ":" 1*dcontent (§4.1.3)
            guard let colon = inner.firstIndex(of: ":"), colon != inner.startIndex,
                  inner[inner.index(after: colon)...].utf8.allSatisfy({ (33...90).contains($0) || (94...126).contains($0) }),
                  inner.index(after: colon) != inner.endIndex,
                  inner[..<colon].utf8.allSatisfy({ Domain.isLetDig($0) || $0 == UInt8(ascii: "-") })
            else { throw .syntax }
            kind = .generalLiteral
        }
        return Domain(text: input, ascii: input.lowercased(), unicode: input.lowercased(), kind: kind)
    }

    static func isLetDig(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }

    /// sub-domain = Let-dig [Ldh-str] (RFC 5321 §4.1.2)
    private static func checkLDH(_ label: String) throws(ParseError) {
        let u = Array(label.utf8)
        guard u.count <= maximumLabelLength else { throw .tooLong }
        guard let first = u.first, let last = u.last, isLetDig(first), isLetDig(last) else { throw .syntax }
        for c in u where !(isLetDig(c) || c == UInt8(ascii: "-")) { throw .syntax }
    }

    /// A U-label: letters, digits and marks, hyphens not at the ends (a coarse
    /// check of RFC 5892; the registry decides the rest).
    private static func isValidULabel(_ label: String) -> Bool {
        guard let first = label.unicodeScalars.first, let last = label.unicodeScalars.last,
              first != "-", last != "-" else { return false }
        for s in label.unicodeScalars {
            if s.value < 0x80 {
                if !(isLetDig(UInt8(s.value)) || s == "-") { return false }
                continue
            }
            let p = s.properties
            if p.isWhitespace || p.generalCategory == .control || p.generalCategory == .format
                || p.generalCategory == .privateUse || p.generalCategory == .unassigned
                || p.generalCategory == .surrogate || p.generalCategory == .spaceSeparator
                || p.generalCategory == .otherPunctuation || p.generalCategory == .mathSymbol {
                return false
            }
        }
        return true
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for p in parts {
            guard (1...3).contains(p.count), p.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let v = Int(p), v <= 255 else { return false }
        }
        return true
    }

    static func isIPv6(_ s: String) -> Bool {
        var addr = in6_addr()
        return s.withCString { inet_pton(AF_INET6, $0, &addr) } == 1
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let s = try container.decode(String.self)
        do {
            try self.init(parsing: s)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad domain \(s)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
