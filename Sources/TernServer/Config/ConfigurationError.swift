/// One problem in a configuration file: where it is, which key, what is wrong.
///
/// Printed as `file:line: message` (with `:column` for syntax errors), or
/// `file: message` when no line applies (a missing file, a missing section).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as named by the caller.
    public var file: String
    /// 1-based line, when the problem has one.
    public var line: Int?
    /// 1-based column; only TOML syntax errors have one.
    public var column: Int?
    /// The full dotted key (`limits.recipients`), when the problem has one.
    public var key: String?
    /// What is wrong, naming the key: `'limits.recipients' must be an integer, got string`.
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    public var description: String {
        var place = file
        if let line {
            place += ":\(line)"
            if let column { place += ":\(column)" }
        }
        return place + ": " + message
    }
}

/// Every problem found in a configuration file, in file order. Loading
/// reports all of them at once so that one edit can fix them all.
public struct ConfigurationErrors: Error, Sendable, Equatable, CustomStringConvertible {
    public var errors: [ConfigurationError]

    public init(_ errors: [ConfigurationError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
