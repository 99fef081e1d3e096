#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem with the users or aliases file that stops it from being used:
/// what went wrong, in which file and, when it is about one line, on which line.
///
/// `description` reads like a compiler diagnostic, `path:line: message`, so an
/// administrator can jump to it. It never contains a password or a hash.
public struct AccountsFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        /// The file does not exist (and a path was configured for it).
        case missing
        /// A system call failed; `errno` is kept for callers that care.
        case io(operation: String, errno: Int32)
        /// The line is not valid UTF-8.
        case notUTF8
        /// A users-file line has no `:` after the user name.
        case missingPasswordField
        /// A user or an alias key or target is not an address this module accepts.
        case badAddress(String, detail: String)
        /// The same user (compared case-insensitively) appears twice.
        case duplicateUser(String, firstLine: Int)
        /// The same alias key (compared case-insensitively) appears twice.
        case duplicateAlias(String, firstLine: Int)
        /// An alias line has no `:` after its key.
        case missingColon
        /// An alias has no targets at all.
        case noTargets(String)
        /// A line starting with whitespace with no alias entry before it.
        case continuationWithoutEntry
        /// An alias target this module deliberately does not support and that
        /// cannot be skipped safely (e.g. `\user`).
        case unsupportedTarget(String, detail: String)

        public var description: String {
            switch self {
            case .missing:
                return "file does not exist"
            case .io(let operation, let code):
                return "\(operation) failed: \(String(cString: strerror(code)))"
            case .notUTF8:
                return "line is not valid UTF-8"
            case .missingPasswordField:
                return "expected user:password[:uid:gid:gecos:home:shell:extra_fields], found no ':'"
            case .badAddress(let text, let detail):
                return "'\(text)' is not a valid address: \(detail)"
            case .duplicateUser(let user, let first):
                return "user '\(user)' is already defined on line \(first)"
            case .duplicateAlias(let key, let first):
                return "alias '\(key)' is already defined on line \(first)"
            case .missingColon:
                return "expected 'key: target, target…', found no ':'"
            case .noTargets(let key):
                return "alias '\(key)' has no targets"
            case .continuationWithoutEntry:
                return "a line starting with whitespace continues an entry, but there is none before it"
            case .unsupportedTarget(let target, let detail):
                return "target '\(target)' is not supported: \(detail)"
            }
        }
    }

    /// The file as configured (not resolved through symlinks).
    public let path: String
    /// 1-based line number, when the problem is on one line.
    public let line: Int?
    public let reason: Reason

    public init(path: String, line: Int? = nil, reason: Reason) {
        self.path = path
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "\(path):\(line): \(reason)" }
        return "\(path): \(reason)"
    }
}
