// The table tree while a document is being read, and the TOML 1.0 rules on
// defining tables (§Table, §Inline Table, §Array of Tables, §Keys):
//
// - a key is defined once;
// - a `[table]` is defined once, though a header may first create it
//   implicitly as the parent of another table;
// - a table made by dotted keys cannot be given a `[header]` later, and dotted
//   keys cannot reach into a table defined any other way;
// - an inline table is complete: nothing can add to it;
// - `[[array]]` appends to an array of tables, never to an array value.
//
// The tree is made of reference nodes only while parsing; `freeze()` turns it
// into plain `TOMLTable` values.

import Foundation

/// A table being built.
final class TOMLTableNode {
    enum Origin {
        /// The document itself.
        case root
        /// Created as the parent of a `[a.b]` header; may still be defined by `[a]`.
        case implicit
        /// Defined by a `[header]`.
        case header
        /// Created by a dotted key such as `a.b = 1`.
        case dotted
        /// One element of an array of tables (`[[a]]`).
        case arrayElement
        /// An inline table `{ … }` under construction.
        case inline
    }

    enum Child {
        case value(TOMLValue, keyLocation: TOMLLocation)
        case table(TOMLTableNode)
        case tableArray(TOMLTableArrayNode)
    }

    var origin: Origin
    var location: TOMLLocation
    /// The keys leading to this table from the root, for messages (from the
    /// inline table itself for tables inside an inline table).
    let path: [String]
    private(set) var order: [String] = []
    private(set) var children: [String: Child] = [:]

    init(origin: Origin, location: TOMLLocation, path: [String] = []) {
        self.origin = origin
        self.location = location
        self.path = path
    }

    subscript(key: String) -> Child? { children[key] }

    func insert(_ key: String, _ child: Child) {
        if children[key] == nil { order.append(key) }
        children[key] = child
    }

    /// The finished table.
    func freeze() -> TOMLTable {
        var table = TOMLTable()
        for key in order {
            guard let child = children[key] else { continue }
            switch child {
            case .value(let value, let keyLocation):
                table.set(key, value, keyLocation: keyLocation)
            case .table(let node):
                table.set(key, TOMLValue(.table(node.freeze()), at: node.location), keyLocation: node.location)
            case .tableArray(let array):
                let elements = array.elements.map { TOMLValue(.table($0.freeze()), at: $0.location) }
                table.set(key, TOMLValue(.array(elements), at: array.location), keyLocation: array.location)
            }
        }
        return table
    }
}

/// An array of tables being built by `[[header]]`s.
final class TOMLTableArrayNode {
    let location: TOMLLocation
    private(set) var elements: [TOMLTableNode] = []

    init(location: TOMLLocation) {
        self.location = location
    }

    func append(_ node: TOMLTableNode) { elements.append(node) }
}

/// A key as written: its parts and where each part starts.
struct TOMLKey {
    var parts: [String]
    var locations: [TOMLLocation]

    /// Where part `index` starts, or `nil` when there is no such part.
    func location(at index: Int) -> TOMLLocation? {
        locations.indices.contains(index) ? locations[index] : nil
    }

    /// The key as one would write it back, quoting parts that need it.
    static func display(_ parts: some Sequence<String>) -> String {
        parts.map { part in
            let bare = !part.isEmpty && part.utf8.allSatisfy(TOMLScanner.isBareKeyByte)
            return bare ? part : "\"" + part.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ".")
    }
}

/// Applies the definition rules while headers and key/value pairs arrive.
struct TOMLTableBuilder {
    let root = TOMLTableNode(origin: .root, location: TOMLLocation(line: 1, column: 1))
    let file: String

    private func error(_ message: String, at location: TOMLLocation) -> TOMLError {
        TOMLError(file: file, location: location, message: message)
    }

    /// `[a.b.c]`: defines the table and answers it as the current table.
    func defineTable(_ key: TOMLKey, at location: TOMLLocation) throws(TOMLError) -> TOMLTableNode {
        let parent = try walkHeaderPrefix(key)
        guard let last = key.parts.last else { throw error("empty table name", at: location) }
        let name = TOMLKey.display(key.parts)
        switch parent[last] {
        case nil:
            let node = TOMLTableNode(origin: .header, location: location, path: key.parts)
            parent.insert(last, .table(node))
            return node
        case .table(let node) where node.origin == .implicit:
            node.origin = .header
            node.location = location
            return node
        case .table(let node):
            let how = node.origin == .dotted ? "by dotted keys" : "already"
            throw error("table '\(name)' was defined \(how) on line \(node.location.line)", at: location)
        case .tableArray(let array):
            throw error("'\(name)' is an array of tables (line \(array.location.line)), not a table", at: location)
        case .value(let value, let keyLocation):
            throw error("'\(name)' was already defined as \(Self.article(value.typeName)) on line \(keyLocation.line)", at: location)
        }
    }

    /// `[[a.b]]`: appends a new table to the array and answers it as the
    /// current table.
    func appendTableArrayElement(_ key: TOMLKey, at location: TOMLLocation) throws(TOMLError) -> TOMLTableNode {
        let parent = try walkHeaderPrefix(key)
        guard let last = key.parts.last else { throw error("empty table name", at: location) }
        let name = TOMLKey.display(key.parts)
        let element = TOMLTableNode(origin: .arrayElement, location: location, path: key.parts)
        switch parent[last] {
        case nil:
            let array = TOMLTableArrayNode(location: location)
            array.append(element)
            parent.insert(last, .tableArray(array))
        case .tableArray(let array):
            array.append(element)
        case .table(let node):
            throw error("'\(name)' is a table (line \(node.location.line)), not an array of tables", at: location)
        case .value(let value, let keyLocation):
            throw error("'\(name)' was already defined as \(Self.article(value.typeName)) on line \(keyLocation.line); [[\(name)]] cannot add to it", at: location)
        }
        return element
    }

    /// `a.b.c = value` inside `table`.
    func assign(_ key: TOMLKey, _ value: TOMLValue, in table: TOMLTableNode) throws(TOMLError) {
        var node = table
        for (i, part) in key.parts.dropLast().enumerated() {
            let location = key.location(at: i) ?? value.location
            let name = TOMLKey.display(table.path + key.parts[...i])
            switch node[part] {
            case nil:
                let child = TOMLTableNode(origin: .dotted, location: location, path: table.path + key.parts[...i])
                node.insert(part, .table(child))
                node = child
            case .table(let child) where child.origin == .dotted:
                node = child
            case .table(let child):
                throw error("dotted keys cannot add to table '\(name)' defined on line \(child.location.line)", at: location)
            case .tableArray(let array):
                throw error("dotted keys cannot add to the array of tables '\(name)' (line \(array.location.line))", at: location)
            case .value(let existing, let keyLocation):
                throw error("'\(name)' was already defined as \(Self.article(existing.typeName)) on line \(keyLocation.line)", at: location)
            }
        }
        guard let last = key.parts.last else { throw error("empty key", at: value.location) }
        let keyLocation = key.locations.last ?? value.location
        let name = TOMLKey.display(table.path + key.parts)
        switch node[last] {
        case nil:
            node.insert(last, .value(value, keyLocation: keyLocation))
        case .value(_, let first):
            throw error("duplicate key '\(name)' (first defined on line \(first.line))", at: keyLocation)
        case .table(let child):
            throw error("duplicate key '\(name)': a table of that name was defined on line \(child.location.line)", at: keyLocation)
        case .tableArray(let array):
            throw error("duplicate key '\(name)': an array of tables of that name was defined on line \(array.location.line)", at: keyLocation)
        }
    }

    /// Walks the parents of a header's last key, creating implicit tables and
    /// entering the last element of arrays of tables.
    private func walkHeaderPrefix(_ key: TOMLKey) throws(TOMLError) -> TOMLTableNode {
        var node = root
        for (i, part) in key.parts.dropLast().enumerated() {
            let location = key.location(at: i) ?? root.location
            let name = TOMLKey.display(key.parts[...i])
            switch node[part] {
            case nil:
                let child = TOMLTableNode(origin: .implicit, location: location, path: Array(key.parts[...i]))
                node.insert(part, .table(child))
                node = child
            case .table(let child):
                node = child
            case .tableArray(let array):
                guard let lastElement = array.elements.last else {
                    throw error("array of tables '\(name)' is empty", at: location)
                }
                node = lastElement
            case .value(let value, let keyLocation):
                let what = value.table != nil ? "an inline table, which cannot be extended," : Self.article(value.typeName)
                throw error("'\(name)' was already defined as \(what) on line \(keyLocation.line)", at: location)
            }
        }
        return node
    }

    static func article(_ typeName: String) -> String {
        let vowel = typeName.first.map { "aeiou".contains($0) } ?? false
        return (vowel ? "an " : "a ") + typeName
    }
}
