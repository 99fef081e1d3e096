/// Reads typed settings out of a TOML tree and collects every problem it
/// meets instead of stopping at the first: a wrong type, a bad value or an
/// unknown key each add a `ConfigurationError` naming file, line and key, and
/// the reader answers `nil` so that decoding carries on with the default.
struct ConfigurationDecoder {
    /// The file name used in messages.
    let file: String
    /// The folder relative paths are resolved against (absolute).
    let baseDirectory: String
    private(set) var errors: [ConfigurationError] = []

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    /// A value read from the file, with its full key and line for later checks.
    struct Located<Value> {
        var value: Value
        var key: String
        var line: Int
    }

    // MARK: Reporting

    mutating func report(_ key: String?, line: Int?, _ message: String) {
        errors.append(ConfigurationError(file: file, line: line, key: key, message: message))
    }

    /// Reports a bad value of a setting that was read.
    mutating func report<T>(_ setting: Located<T>, _ problem: String) {
        report(setting.key, line: setting.line, "'\(setting.key)' \(problem)")
    }

    /// Errors in file order; those without a line (missing settings) last.
    var sortedErrors: [ConfigurationError] {
        errors.enumerated().sorted { a, b in
            let la = a.element.line ?? Int.max
            let lb = b.element.line ?? Int.max
            return la != lb ? la < lb : a.offset < b.offset
        }.map(\.element)
    }

    static func fullKey(_ section: String?, _ key: String) -> String {
        guard let section else { return key }
        return section + "." + key
    }

    // MARK: Structure

    /// Reports every key of `table` that is not in `known`, suggesting the
    /// closest known key when it looks like a typo.
    mutating func checkKeys(_ table: TOMLTable, section: String?, known: [String]) {
        for entry in table.entries where !known.contains(entry.key) {
            let full = Self.fullKey(section, TOMLKey.display([entry.key]))
            var message = entry.value.table != nil && section == nil
                ? "unknown section '[\(full)]'"
                : "unknown key '\(full)'"
            if let suggestion = KeySuggestion.closest(to: entry.key, among: known) {
                message += "; did you mean '\(suggestion)'?"
            }
            report(full, line: entry.keyLocation.line, message)
        }
    }

    /// The section `[name]` of the root table, or `nil` when it is absent or
    /// not a table (reported).
    mutating func section(_ name: String, in root: TOMLTable) -> TOMLTable? {
        guard let entry = root.entry(name) else { return nil }
        guard let table = entry.value.table else {
            report(name, line: entry.keyLocation.line, "'\(name)' must be a section ([\(name)]), got \(entry.value.typeName)")
            return nil
        }
        return table
    }

    // MARK: Scalars

    private func entry(_ table: TOMLTable, _ section: String?, _ key: String) -> (TOMLValue, String, Int)? {
        guard let entry = table.entry(key) else { return nil }
        return (entry.value, Self.fullKey(section, key), entry.keyLocation.line)
    }

    private mutating func wrongType(_ key: String, line: Int, expected: String, got value: TOMLValue) {
        report(key, line: line, "'\(key)' must be \(expected), got \(value.typeName)")
    }

    mutating func string(_ table: TOMLTable, _ section: String?, _ key: String) -> Located<String>? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        guard let s = value.string else {
            wrongType(full, line: line, expected: "a string", got: value)
            return nil
        }
        return Located(value: s, key: full, line: line)
    }

    mutating func boolean(_ table: TOMLTable, _ section: String?, _ key: String) -> Located<Bool>? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        guard let b = value.boolean else {
            wrongType(full, line: line, expected: "true or false", got: value)
            return nil
        }
        return Located(value: b, key: full, line: line)
    }

    /// An integer within `range`.
    mutating func integer(_ table: TOMLTable, _ section: String?, _ key: String, in range: ClosedRange<Int>) -> Located<Int>? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        guard let i = value.integer else {
            wrongType(full, line: line, expected: "an integer", got: value)
            return nil
        }
        let located = Located(value: Int(clamping: i), key: full, line: line)
        guard range.contains(located.value) else {
            report(located, Self.rangePhrase(range) + ", got \(i)")
            return nil
        }
        return located
    }

    static func rangePhrase(_ range: ClosedRange<Int>) -> String {
        range.upperBound == Int.max
            ? "must be at least \(range.lowerBound)"
            : "must be between \(range.lowerBound) and \(range.upperBound)"
    }

    /// A duration: a string such as `"5m"` or an integer number of seconds.
    /// Zero is returned as `.zero`; callers decide whether it is allowed.
    mutating func duration(_ table: TOMLTable, _ section: String?, _ key: String) -> Located<Duration>? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        let parsed: Duration?
        switch value.kind {
        case .integer(let seconds):
            parsed = seconds >= 0 && seconds <= ConfigDuration.maximumSeconds ? .seconds(seconds) : nil
        case .string(let text):
            parsed = ConfigDuration.parse(text)
        default:
            wrongType(full, line: line, expected: "a duration such as \"5m\" or a number of seconds", got: value)
            return nil
        }
        guard let parsed else {
            report(full, line: line, "'\(full)' is not a duration: \(Self.quoted(value)); write e.g. \"30s\", \"5m\", \"1h30m\", \"5d\" (at most 10 years)")
            return nil
        }
        return Located(value: parsed, key: full, line: line)
    }

    /// A size in bytes: a string such as `"50MiB"` or an integer.
    mutating func size(_ table: TOMLTable, _ section: String?, _ key: String) -> Located<Int>? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        let parsed: Int64?
        switch value.kind {
        case .integer(let bytes):
            parsed = bytes >= 0 && bytes <= ConfigByteSize.maximum ? bytes : nil
        case .string(let text):
            parsed = ConfigByteSize.parse(text)
        default:
            wrongType(full, line: line, expected: "a size such as \"50MiB\" or a number of bytes", got: value)
            return nil
        }
        guard let parsed else {
            report(full, line: line, "'\(full)' is not a size: \(Self.quoted(value)); write e.g. \"50MiB\", \"10MB\", \"512KiB\" or bytes (at most 1TiB)")
            return nil
        }
        return Located(value: Int(parsed), key: full, line: line)
    }

    /// A path made absolute against the configuration file's folder.
    /// `""` answers `nil` value when `emptyMeansOff`, and is reported otherwise.
    mutating func path(_ table: TOMLTable, _ section: String?, _ key: String, emptyMeansOff: Bool) -> Located<String?>? {
        guard let s = string(table, section, key) else { return nil }
        if s.value.isEmpty {
            guard emptyMeansOff else {
                report(s, "must not be empty")
                return nil
            }
            return Located(value: nil, key: s.key, line: s.line)
        }
        guard !s.value.utf8.contains(0) else {
            report(s, "must not contain a NUL character")
            return nil
        }
        return Located(value: ConfigPath.resolve(s.value, against: baseDirectory), key: s.key, line: s.line)
    }

    /// An array of strings, each with its own line.
    mutating func stringArray(_ table: TOMLTable, _ section: String?, _ key: String) -> [Located<String>]? {
        guard let (value, full, line) = entry(table, section, key) else { return nil }
        guard let array = value.array else {
            wrongType(full, line: line, expected: "an array of strings", got: value)
            return nil
        }
        var result: [Located<String>] = []
        for element in array {
            guard let s = element.string else {
                report(full, line: element.location.line, "'\(full)' must hold only strings, got \(TOMLTableBuilder.article(element.typeName))")
                continue
            }
            result.append(Located(value: s, key: full, line: element.location.line))
        }
        return result
    }

    /// A value as shown in a message: strings quoted (control characters
    /// escaped, long ones cut), others as written.
    static func quoted(_ value: TOMLValue) -> String {
        switch value.kind {
        case .string(let s): quoted(s)
        case .integer(let i): "\(i)"
        default: value.typeName
        }
    }

    static func quoted(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars.prefix(80) {
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\"" || scalar == "\\" {
                shown += scalar.escaped(asASCII: false)
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        if text.unicodeScalars.count > 80 { shown += "…" }
        return "\"" + shown + "\""
    }
}
