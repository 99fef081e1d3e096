/// A stored password in Dovecot's `{SCHEME}hash` notation, checked with crypt(3).
///
/// Accepted (Dovecot "Password Schemes"; crypt(5) for the hash formats):
///
/// | stored value                | hash |
/// | --------------------------- | ---- |
/// | `{SHA512-CRYPT}$6$…`        | SHA-crypt, SHA-512 |
/// | `{SHA256-CRYPT}$5$…`        | SHA-crypt, SHA-256 |
/// | `{BLF-CRYPT}$2y$…` (`$2b$`, `$2a$`) | bcrypt |
/// | `{CRYPT}<any crypt string>` | whatever libxcrypt accepts; yescrypt is stored as `{CRYPT}$y$…` |
/// | `$y$…`, `$6$…`, … (no scheme) | as `{CRYPT}` — Dovecot's default scheme |
///
/// Anything else — `{PLAIN}`, `{MD5}`, `{SSHA}`, a bare string that does not
/// start with `$` — is refused by `init(parsing:)`, so plaintext is never
/// accepted. Scheme names are case-insensitive, as in Dovecot.
///
/// Verifying is deliberately slow (tens of milliseconds for yescrypt at the
/// default cost): callers must not run `verify` on an event loop.
public struct PasswordHash: Hashable, Sendable, CustomStringConvertible {
    /// The Dovecot scheme the value was stored under.
    public enum Scheme: String, Hashable, Sendable, CaseIterable {
        case sha512Crypt = "SHA512-CRYPT"
        case sha256Crypt = "SHA256-CRYPT"
        case blfCrypt = "BLF-CRYPT"
        case crypt = "CRYPT"

        /// The crypt(5) prefixes that the scheme allows; nil = any.
        var allowedPrefixes: [String]? {
            switch self {
            case .sha512Crypt: return ["$6$"]
            case .sha256Crypt: return ["$5$"]
            case .blfCrypt: return ["$2y$", "$2b$", "$2a$"]
            case .crypt: return nil
            }
        }
    }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        /// The password field is empty: the account cannot log in.
        case empty
        /// `{NAME}` is not one of the supported crypt schemes (e.g. `{PLAIN}`).
        case unsupportedScheme(String)
        /// No `{SCHEME}` and not a modular crypt string starting with `$`.
        case notACryptString
        /// The scheme and the hash disagree, e.g. `{SHA512-CRYPT}$2y$…`.
        case schemeMismatch(Scheme)
        /// The value is a locked-account marker (`!`, `*`, `!…`) or contains
        /// characters no crypt string has.
        case malformed

        public var description: String {
            switch self {
            case .empty: return "empty password field: the account cannot log in"
            case .unsupportedScheme(let name):
                return "password scheme {\(name)} is not supported (use {CRYPT}$y$, {SHA512-CRYPT}, {SHA256-CRYPT} or {BLF-CRYPT}); the account cannot log in"
            case .notACryptString:
                return "password is neither {SCHEME}-prefixed nor a crypt(3) string starting with '$'; the account cannot log in"
            case .schemeMismatch(let scheme):
                return "password stored as {\(scheme.rawValue)} does not have that scheme's hash format; the account cannot log in"
            case .malformed:
                return "password field is not a usable crypt(3) string; the account cannot log in"
            }
        }
    }

    public enum MakeError: Error, Hashable, Sendable, CustomStringConvertible {
        case empty
        case containsNUL
        case tooLong(maximum: Int)
        /// libxcrypt could not make a salt or a hash (no random source?).
        case cryptFailed

        public var description: String {
            switch self {
            case .empty: return "the password is empty"
            case .containsNUL: return "the password contains a NUL character"
            case .tooLong(let maximum): return "the password is longer than \(maximum) bytes"
            case .cryptFailed: return "crypt(3) could not hash the password (is a random source available?)"
            }
        }
    }

    /// Longest password (in UTF-8 bytes) that is hashed. SHA-crypt's cost
    /// grows with the password's length, so an unbounded one is a way to burn
    /// CPU; 1024 is far beyond any real passphrase.
    public static let maximumPasswordLength = 1024

    public let scheme: Scheme
    /// The crypt(3) string without the `{SCHEME}` prefix.
    let cryptString: String

    /// Parses a stored value (the second field of a users-file line).
    public init(parsing stored: String) throws(ParseError) {
        guard !stored.isEmpty else { throw .empty }
        var scheme = Scheme.crypt
        var rest = Substring(stored)
        if rest.hasPrefix("{") {
            guard let close = rest.firstIndex(of: "}") else { throw .malformed }
            let name = rest[rest.index(after: rest.startIndex)..<close].uppercased()
            guard let known = Scheme(rawValue: name) else { throw .unsupportedScheme(name) }
            scheme = known
            rest = rest[rest.index(after: close)...]
        } else if !rest.hasPrefix("$") {
            // A bare DES string and a plaintext password look alike: refuse both.
            throw .notACryptString
        }
        // crypt(5) strings are printable ASCII without spaces or ':'; '*' and '!' mark locked accounts.
        guard !rest.isEmpty, rest.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ":") }),
              !rest.hasPrefix("*"), !rest.hasPrefix("!")
        else { throw .malformed }
        if let prefixes = scheme.allowedPrefixes, !prefixes.contains(where: { rest.hasPrefix($0) }) {
            throw .schemeMismatch(scheme)
        }
        self.scheme = scheme
        self.cryptString = String(rest)
    }

    /// The value to store in a users file, e.g. `{CRYPT}$y$j9T$…`.
    public var stored: String { "{\(scheme.rawValue)}\(cryptString)" }

    /// The crypt(5) algorithm prefix, e.g. `$y$`, `$6$`, or "" for DES.
    public var algorithmPrefix: String {
        guard cryptString.hasPrefix("$"), let end = cryptString.dropFirst().firstIndex(of: "$") else { return "" }
        return String(cryptString[...end])
    }

    /// Does not show the hash, so that printing a value cannot leak it.
    public var description: String { "PasswordHash({\(scheme.rawValue)}\(algorithmPrefix)…)" }

    /// True when `password` hashes to the stored value. CPU-heavy: do not call
    /// on an event loop. Passwords with a NUL byte (which crypt(3) would
    /// truncate) or longer than `maximumPasswordLength` never match.
    public func verify(_ password: String) -> Bool {
        guard Self.isHashable(password) else { return false }
        guard let computed = Crypt.hash(password: password, setting: cryptString) else { return false }
        return Crypt.constantTimeEqual(computed.utf8, cryptString.utf8)
    }

    /// Verifies `password` against a stored value in any notation
    /// `init(parsing:)` accepts; false for anything it refuses (`{PLAIN}…`,
    /// an empty field). CPU-heavy.
    public static func verify(_ password: String, against stored: String) -> Bool {
        guard let hash = try? PasswordHash(parsing: stored) else { return false }
        return hash.verify(password)
    }

    /// Hashes `password` with yescrypt at libxcrypt's default cost and a fresh
    /// random salt: `{CRYPT}$y$…`, which Dovecot also accepts. CPU-heavy.
    public static func make(password: String) throws(MakeError) -> PasswordHash {
        guard !password.isEmpty else { throw .empty }
        guard !password.utf8.contains(0) else { throw .containsNUL }
        guard password.utf8.count <= maximumPasswordLength else { throw .tooLong(maximum: maximumPasswordLength) }
        guard let setting = Crypt.generateSetting(prefix: "$y$"),
              let hash = Crypt.hash(password: password, setting: setting),
              let made = try? PasswordHash(parsing: "{CRYPT}" + hash)
        else { throw .cryptFailed }
        return made
    }

    static func isHashable(_ password: String) -> Bool {
        !password.utf8.contains(0) && password.utf8.count <= maximumPasswordLength
    }
}
