// TOML values as the parser hands them out: plain, Sendable values that
// remember where in the file they were written, so that a configuration error
// can name the line.

/// A position in a TOML document: 1-based line and column. Columns count
/// Unicode scalars, so a tab or an `é` is one column.
public struct TOMLLocation: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
}

/// One TOML value and the place where it was defined.
///
/// Offset date-times, local date-times, dates and times are not represented:
/// Tern's configuration has no use for them and the parser rejects them.
public struct TOMLValue: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string(String)
        case integer(Int64)
        case float(Double)
        case boolean(Bool)
        case array([TOMLValue])
        case table(TOMLTable)
    }

    public var kind: Kind
    /// For scalars, arrays and inline tables: the first character of the
    /// value. For a table made by a `[header]` or `[[header]]`: the header.
    /// For a table made by dotted keys: the key that first named it.
    public var location: TOMLLocation

    public init(_ kind: Kind, at location: TOMLLocation) {
        self.kind = kind
        self.location = location
    }

    /// The TOML name of the value's type, as used in error messages.
    public var typeName: String {
        switch kind {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "boolean"
        case .array: "array"
        case .table: "table"
        }
    }

    public var string: String? {
        if case .string(let s) = kind { return s }
        return nil
    }

    public var integer: Int64? {
        if case .integer(let i) = kind { return i }
        return nil
    }

    public var float: Double? {
        if case .float(let d) = kind { return d }
        return nil
    }

    public var boolean: Bool? {
        if case .boolean(let b) = kind { return b }
        return nil
    }

    public var array: [TOMLValue]? {
        if case .array(let a) = kind { return a }
        return nil
    }

    public var table: TOMLTable? {
        if case .table(let t) = kind { return t }
        return nil
    }
}

/// A TOML table: keys in the order they were first defined, each with the
/// location of the key itself and its value.
public struct TOMLTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        /// Where the key was written (for a `[header]` table: the header).
        public var keyLocation: TOMLLocation
        public var value: TOMLValue
    }

    /// Entries in definition order.
    public private(set) var entries: [Entry] = []
    private var positions: [String: Int] = [:]

    public init() {}

    /// Adds an entry; an existing key is replaced in place. The parser never
    /// replaces (duplicates are errors); this only keeps the type total.
    public mutating func set(_ key: String, _ value: TOMLValue, keyLocation: TOMLLocation) {
        let entry = Entry(key: key, keyLocation: keyLocation, value: value)
        if let i = positions[key] {
            entries[i] = entry
        } else {
            positions[key] = entries.count
            entries.append(entry)
        }
    }

    public subscript(key: String) -> TOMLValue? {
        guard let i = positions[key] else { return nil }
        return entries[i].value
    }

    /// The entry for `key`, with its key location.
    public func entry(_ key: String) -> Entry? {
        guard let i = positions[key] else { return nil }
        return entries[i]
    }

    public var keys: [String] { entries.map(\.key) }
    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public static func == (lhs: TOMLTable, rhs: TOMLTable) -> Bool { lhs.entries == rhs.entries }
}
