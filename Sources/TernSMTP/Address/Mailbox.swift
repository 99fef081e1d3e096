import Foundation

/// `Mailbox = Local-part "@" ( Domain / address-literal )` (RFC 5321 §4.1.2).
///
/// The local part is kept as the peer sent it, decoded (quotes and
/// quoted-pairs removed) and NFC-normalised (RFC 6531 §3.1); it is compared
/// exactly. The domain compares case-insensitively in its A-label form.
public struct Mailbox: Hashable, Sendable, CustomStringConvertible, Codable {
    public let localPart: String
    public let domain: Domain

    /// RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the brackets.
    public static let maximumPathLength = 256

    public init(localPart: String, domain: Domain) {
        self.localPart = localPart.precomposedStringWithCanonicalMapping
        self.domain = domain
    }

    /// The local part as it must be written on the wire: a Dot-string when it is
    /// one, a Quoted-string otherwise.
    public var wireLocalPart: String {
        Mailbox.isDotString(localPart) ? localPart : Mailbox.quote(localPart)
    }

    /// `local@domain` as written on the wire (no angle brackets).
    public var text: String { "\(wireLocalPart)@\(domain.text)" }
    public var description: String { text }

    /// True when the address needs SMTPUTF8 to be transmitted (RFC 6531 §3.2).
    public var needsSMTPUTF8: Bool {
        !localPart.utf8.allSatisfy { $0 < 0x80 } || !domain.text.utf8.allSatisfy { $0 < 0x80 }
    }

    public enum ParseError: Error, Hashable, Sendable {
        case syntax
        case tooLong
        case nonASCII
        case invalidUTF8
        case badDomain(Domain.ParseError)
    }

    /// Parses `local@domain` (no brackets).
    public init(parsing input: String, allowUTF8: Bool = true) throws(ParseError) {
        var scanner = PathScanner(bytes: Array(input.utf8), allowUTF8: allowUTF8)
        self = try scanner.mailbox()
        guard scanner.atEnd else { throw .syntax }
    }

    static func isAtext(_ c: UInt8, allowUTF8: Bool) -> Bool {
        if c >= 0x80 { return allowUTF8 }
        if Domain.isLetDig(c) { return true }
        return "!#$%&'*+-/=?^_`{|}~".utf8.contains(c)
    }

    static func isDotString(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        var previousDot = true
        for c in s.utf8 {
            if c == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else {
                guard isAtext(c, allowUTF8: true) else { return false }
                previousDot = false
            }
        }
        return !previousDot
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.append("\\") }
            out.unicodeScalars.append(ch)
        }
        out.append("\"")
        return out
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let s = try container.decode(String.self)
        do {
            try self.init(parsing: s)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad mailbox \(s)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}

/// `Reverse-path = Path / "<>"` (RFC 5321 §4.1.2).
public enum ReversePath: Hashable, Sendable, CustomStringConvertible, Codable {
    case null
    case mailbox(Mailbox)

    public var mailbox: Mailbox? {
        if case .mailbox(let m) = self { return m }
        return nil
    }

    /// `<local@domain>` or `<>`.
    public var description: String {
        switch self {
        case .null: return "<>"
        case .mailbox(let m): return "<\(m.text)>"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let s = try container.decode(String.self)
        if s.isEmpty || s == "<>" { self = .null; return }
        let bare = s.hasPrefix("<") && s.hasSuffix(">") ? String(s.dropFirst().dropLast()) : s
        do {
            self = .mailbox(try Mailbox(parsing: bare))
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad reverse path \(s)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// `Forward-path = Path`, plus the bare `<Postmaster>` that RFC 5321 §4.5.1
/// requires every server to accept.
public enum ForwardPath: Hashable, Sendable, CustomStringConvertible {
    case postmaster
    case mailbox(Mailbox)

    public var description: String {
        switch self {
        case .postmaster: return "<Postmaster>"
        case .mailbox(let m): return "<\(m.text)>"
        }
    }
}

/// Scans a path or a mailbox out of command bytes.
struct PathScanner {
    let bytes: [UInt8]
    let allowUTF8: Bool
    var index = 0

    init(bytes: [UInt8], allowUTF8: Bool) {
        self.bytes = bytes
        self.allowUTF8 = allowUTF8
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func take(_ c: UInt8) -> Bool {
        if peek == c { index += 1; return true }
        return false
    }

    /// `Path = "<" [ A-d-l ":" ] Mailbox ">"`, or `<>` when `allowNull`.
    /// Returns nil for `<>`. A source route (A-d-l) is parsed and ignored
    /// (RFC 5321 §4.1.1.3, Appendix C).
    mutating func path(allowNull: Bool) throws(Mailbox.ParseError) -> Mailbox? {
        let start = index
        guard take(UInt8(ascii: "<")) else { throw .syntax }
        if take(UInt8(ascii: ">")) {
            guard allowNull else { throw .syntax }
            return nil
        }
        if peek == UInt8(ascii: "@") {
            // A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain
            repeat {
                guard take(UInt8(ascii: "@")) else { throw .syntax }
                let domainStart = index
                while let c = peek, c != UInt8(ascii: ","), c != UInt8(ascii: ":"), c != UInt8(ascii: ">") { index += 1 }
                let text = String(decoding: bytes[domainStart..<index], as: UTF8.self)
                do { _ = try Domain(parsing: text, allowUTF8: allowUTF8) } catch { throw .badDomain(error) }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: ":")) else { throw .syntax }
        }
        let m = try mailbox()
        guard take(UInt8(ascii: ">")) else { throw .syntax }
        guard index - start <= Mailbox.maximumPathLength else { throw .tooLong }
        return m
    }

    /// `Local-part "@" ( Domain / address-literal )`
    mutating func mailbox() throws(Mailbox.ParseError) -> Mailbox {
        let local = try localPart()
        guard take(UInt8(ascii: "@")) else { throw .syntax }
        let domainStart = index
        if peek == UInt8(ascii: "[") {
            while let c = peek, c != UInt8(ascii: "]") { index += 1 }
            guard take(UInt8(ascii: "]")) else { throw .syntax }
        } else {
            while let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || Domain.isLetDig(c) || c >= 0x80 {
                index += 1
            }
        }
        guard index > domainStart else { throw .syntax }
        guard let text = String(validating: bytes[domainStart..<index], as: UTF8.self) else { throw .invalidUTF8 }
        let domain: Domain
        do { domain = try Domain(parsing: text, allowUTF8: allowUTF8) } catch {
            if error == .nonASCII { throw .nonASCII }
            throw .badDomain(error)
        }
        guard index <= Mailbox.maximumPathLength else { throw .tooLong }
        return Mailbox(localPart: local, domain: domain)
    }

    /// `Local-part = Dot-string / Quoted-string`, decoded.
    mutating func localPart() throws(Mailbox.ParseError) -> String {
        var out: [UInt8] = []
        if take(UInt8(ascii: "\"")) {
            // qtextSMTP = %d32-33 / %d35-91 / %d93-126 (+ UTF8-non-ascii); quoted-pairSMTP = "\" %d32-126
            while true {
                guard let c = peek else { throw .syntax }
                index += 1
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") {
                    guard let q = peek, (32...126).contains(q) else { throw .syntax }
                    index += 1
                    out.append(q)
                } else if (32...126).contains(c) {
                    out.append(c)
                } else if c >= 0x80 {
                    guard allowUTF8 else { throw .nonASCII }
                    out.append(c)
                } else {
                    throw .syntax
                }
                if out.count > Mailbox.maximumPathLength { throw .tooLong }
            }
        } else {
            var previousDot = true
            while let c = peek, c != UInt8(ascii: "@") {
                if c == UInt8(ascii: ".") {
                    if previousDot { throw .syntax }
                    previousDot = true
                } else if c >= 0x80 {
                    guard allowUTF8 else { throw .nonASCII }
                    previousDot = false
                } else if Mailbox.isAtext(c, allowUTF8: false) {
                    previousDot = false
                } else {
                    throw .syntax
                }
                out.append(c)
                index += 1
                if out.count > Mailbox.maximumPathLength { throw .tooLong }
            }
            if previousDot { throw .syntax }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw .invalidUTF8 }
        return s
    }
}
