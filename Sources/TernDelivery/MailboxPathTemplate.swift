/// The `[mailbox] maildir` setting: where a local user's Maildir is, e.g.
/// `/var/mail/{domain}/{user}/Maildir`.
///
/// Placeholders, all lowercased:
/// - `{user}`: the local part of the users-file address (`alice`);
/// - `{domain}`: its domain (`example.com`);
/// - `{address}`: the whole address (`alice@example.com`).
///
/// A local part may legally contain `/` and, quoted, `..` or NUL (RFC 5321
/// §4.1.2 `Quoted-string`), so each value is escaped before it is put into
/// the path: `%`, `/`, control characters and a leading `.` become `%XX`
/// (their UTF-8 bytes in hex). The escaping is one-to-one, so two users
/// never share a directory, and no value can climb out of the directory the
/// template puts it in. Other UTF-8 (RFC 6531 addresses) is kept as is.
public struct MailboxPathTemplate: Hashable, Sendable, CustomStringConvertible {
    public let template: String

    /// The default, as in tern.toml: `/var/mail/{domain}/{user}/Maildir`.
    public static let `default` = MailboxPathTemplate(checked: "/var/mail/{domain}/{user}/Maildir")

    public enum TemplateError: Error, Hashable, Sendable, CustomStringConvertible {
        /// `{name}` that is not one of `{user}`, `{domain}`, `{address}`.
        case unknownPlaceholder(String)
        /// A `{` without its `}`.
        case unclosedPlaceholder
        /// The users-file address has no domain but the template needs one.
        case missingDomain(String)
        /// A value that would be empty: `//` would silently drop a level.
        case emptyValue(String)

        public var description: String {
            switch self {
            case .unknownPlaceholder(let name): return "unknown placeholder {\(name)} in the maildir template"
            case .unclosedPlaceholder: return "unclosed { in the maildir template"
            case .missingDomain(let user): return "\(user) has no domain for {domain}"
            case .emptyValue(let name): return "empty value for {\(name)}"
            }
        }
    }

    /// Checks the placeholders.
    public init(_ template: String) throws(TemplateError) {
        _ = try MailboxPathTemplate.pieces(template)
        self.template = template
    }

    private init(checked template: String) {
        self.template = template
    }

    public var description: String { template }

    /// The Maildir path for a users-file address such as `alice@example.com`.
    public func expand(user address: String) throws(TemplateError) -> String {
        let lower = address.lowercased()
        let local: Substring
        let domain: Substring?
        if let at = lower.lastIndex(of: "@") {
            local = lower[..<at]
            domain = lower[lower.index(after: at)...]
        } else {
            local = lower[...]
            domain = nil
        }
        var out = ""
        for piece in try MailboxPathTemplate.pieces(template) {
            switch piece {
            case .literal(let text):
                out += text
            case .placeholder("user"):
                guard !local.isEmpty else { throw .emptyValue("user") }
                out += MailboxPathTemplate.escape(local)
            case .placeholder("domain"):
                guard let domain else { throw .missingDomain(address) }
                guard !domain.isEmpty else { throw .emptyValue("domain") }
                out += MailboxPathTemplate.escape(domain)
            case .placeholder(let name):  // "address": the only other name pieces() lets through
                guard !lower.isEmpty else { throw .emptyValue(name) }
                out += MailboxPathTemplate.escape(lower[...])
            }
        }
        return out
    }

    /// Escapes one value so that it is exactly one harmless path component.
    public static func escape(_ value: Substring) -> String {
        var out: [UInt8] = []
        for (i, byte) in value.utf8.enumerated() {
            let unsafe = byte == UInt8(ascii: "/") || byte == UInt8(ascii: "%") || byte < 0x20 || byte == 0x7F
                || (i == 0 && byte == UInt8(ascii: "."))
            if unsafe {
                out += Array("%".utf8) + hex(byte)
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> [UInt8] {
        let digits = Array("0123456789abcdef".utf8)
        return [digits[Int(byte >> 4)], digits[Int(byte & 15)]]
    }

    enum Piece: Equatable {
        case literal(String)
        case placeholder(String)
    }

    static func pieces(_ template: String) throws(TemplateError) -> [Piece] {
        var pieces: [Piece] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{") {
            if open > rest.startIndex { pieces.append(.literal(String(rest[..<open]))) }
            guard let close = rest[open...].firstIndex(of: "}") else { throw .unclosedPlaceholder }
            let name = String(rest[rest.index(after: open)..<close])
            guard ["user", "domain", "address"].contains(name) else { throw .unknownPlaceholder(name) }
            pieces.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append(.literal(String(rest))) }
        return pieces
    }
}
