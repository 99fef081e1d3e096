@testable import TernServer

/// A TOML value without locations, written as Swift literals so that test
/// tables read like the TOML they expect: `["a": ["b": 1]]`.
enum PlainTOML: Equatable, Sendable, CustomStringConvertible {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([PlainTOML])
    case table([String: PlainTOML])

    init(_ value: TOMLValue) {
        switch value.kind {
        case .string(let s): self = .string(s)
        case .integer(let i): self = .integer(i)
        case .float(let d): self = .float(d)
        case .boolean(let b): self = .boolean(b)
        case .array(let a): self = .array(a.map(PlainTOML.init))
        case .table(let t): self = PlainTOML(t)
        }
    }

    init(_ table: TOMLTable) {
        var entries: [String: PlainTOML] = [:]
        for entry in table.entries { entries[entry.key] = PlainTOML(entry.value) }
        self = .table(entries)
    }

    var description: String {
        switch self {
        case .string(let s): "\"\(s)\""
        case .integer(let i): "\(i)"
        case .float(let d): "\(d)"
        case .boolean(let b): "\(b)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .table(let t): "{" + t.keys.sorted().map { "\($0) = \(t[$0]?.description ?? "")" }.joined(separator: ", ") + "}"
        }
    }
}

extension PlainTOML: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int64) { self = .integer(value) }
    init(floatLiteral value: Double) { self = .float(value) }
    init(booleanLiteral value: Bool) { self = .boolean(value) }
    init(arrayLiteral elements: PlainTOML...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, PlainTOML)...) {
        self = .table(Dictionary(elements, uniquingKeysWith: { first, _ in first }))
    }
}
