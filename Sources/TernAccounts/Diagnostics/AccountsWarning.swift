/// Something in the account files that is accepted but probably not what the
/// administrator meant: an unsupported password scheme, a skipped `|program`
/// alias target, an alias loop, a missing postmaster.
///
/// This module does no logging; whoever loads the files (the server, `tern
/// check`) logs `warnings` once per load. A warning never contains a password
/// or a password hash.
public struct AccountsWarning: Hashable, Sendable, CustomStringConvertible {
    /// The file the warning is about, or nil when it is about the combination
    /// (e.g. "no postmaster for example.com").
    public let path: String?
    /// 1-based line number, when the warning is about one line.
    public let line: Int?
    public let message: String

    public init(path: String?, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        switch (path, line) {
        case (let path?, let line?): return "\(path):\(line): \(message)"
        case (let path?, nil): return "\(path): \(message)"
        default: return message
        }
    }
}
