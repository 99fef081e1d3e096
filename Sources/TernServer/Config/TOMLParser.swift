// A TOML 1.0 reader for Tern's configuration file, written for Tern.
//
// SECURITY: the input is a file an administrator wrote, but the parser treats
// it as untrusted bytes all the same: every read is bounds-checked, nesting is
// limited, invalid UTF-8 is refused, and the first problem ends the parse with
// a `TOMLError` naming file, line and column. It touches nothing: text in,
// values out.
//
// Supported: comments; bare, quoted and dotted keys; the four string forms
// with all escapes; integers (decimal with `_`, hexadecimal, octal, binary);
// floats incl. inf and nan; booleans; arrays (multi-line, trailing comma);
// inline tables; `[table]` and `[[array of tables]]`. Dates and times are
// refused: Tern has no setting that takes one.

/// The entry point: `TOML.parse(_:file:)`.
public enum TOML {
    /// Parses a document.
    /// - Parameters:
    ///   - text: the document.
    ///   - file: the name used in error messages.
    /// - Returns: the root table.
    public static func parse(_ text: String, file: String = "<input>") throws(TOMLError) -> TOMLTable {
        try parse(bytes: Array(text.utf8), file: file)
    }

    /// Parses a document given as raw bytes, which must be UTF-8.
    public static func parse(bytes: [UInt8], file: String = "<input>") throws(TOMLError) -> TOMLTable {
        try checkUTF8(bytes, file: file)
        var parser = TOMLParser(bytes: bytes, file: file)
        return try parser.parseDocument()
    }

    /// Refuses invalid UTF-8, naming the first line that holds some.
    private static func checkUTF8(_ bytes: [UInt8], file: String) throws(TOMLError) {
        guard String(validating: bytes, as: UTF8.self) == nil else { return }
        var line = 1
        for chunk in bytes.split(separator: TOMLScanner.lineFeed, omittingEmptySubsequences: false) {
            if String(validating: chunk, as: UTF8.self) == nil { break }
            line += 1
        }
        throw TOMLError(file: file, location: TOMLLocation(line: line, column: 1), message: "the file is not valid UTF-8")
    }
}

/// The recursive-descent parser. Use `TOML.parse`.
struct TOMLParser {
    /// How deeply arrays and inline tables may nest.
    static let maximumDepth = 64

    var scanner: TOMLScanner
    private let builder: TOMLTableBuilder
    private var depth = 0

    init(bytes: [UInt8], file: String) {
        scanner = TOMLScanner(bytes: bytes, file: file)
        builder = TOMLTableBuilder(file: file)
    }

    /// toml = expression *( newline expression )
    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        var current = builder.root
        while !scanner.isAtEnd {
            scanner.skipWhitespace()
            switch scanner.peek() {
            case nil, UInt8(ascii: "#"):
                break
            case TOMLScanner.lineFeed, TOMLScanner.carriageReturn:
                break
            case UInt8(ascii: "["):
                current = try parseHeader()
            default:
                let (key, value) = try parseKeyValue()
                try builder.assign(key, value, in: current)
            }
            try finishLine()
        }
        return builder.root.freeze()
    }

    /// After an expression: optional whitespace and comment, then a newline
    /// or the end of the file.
    private mutating func finishLine() throws(TOMLError) {
        scanner.skipWhitespace()
        try scanner.skipComment()
        if scanner.isAtEnd { return }
        guard scanner.atNewline || scanner.peek() == TOMLScanner.carriageReturn else {
            let found = scanner.peek().map(Self.printable) ?? ""
            throw scanner.error("expected the end of the line, found '\(found)'")
        }
        try scanner.consumeNewline()
    }

    /// std-table = "[" ws key ws "]"; array-table = "[[" ws key ws "]]"
    private mutating func parseHeader() throws(TOMLError) -> TOMLTableNode {
        let start = scanner.location
        let isArray = scanner.peek(1) == UInt8(ascii: "[")
        scanner.advance(by: isArray ? 2 : 1)
        scanner.skipWhitespace()
        let key = try parseKey()
        scanner.skipWhitespace()
        let closing = isArray ? "]]" : "]"
        guard scanner.lookingAt(closing) else {
            throw scanner.error("expected '\(closing)' to close the table header")
        }
        scanner.advance(by: closing.utf8.count)
        return isArray
            ? try builder.appendTableArrayElement(key, at: start)
            : try builder.defineTable(key, at: start)
    }

    /// keyval = key keyval-sep val
    private mutating func parseKeyValue() throws(TOMLError) -> (TOMLKey, TOMLValue) {
        let key = try parseKey()
        scanner.skipWhitespace()
        guard scanner.peek() == UInt8(ascii: "=") else {
            let found = scanner.peek().map { "'\(Self.printable($0))'" } ?? "the end of the file"
            throw scanner.error("expected '=' after key '\(TOMLKey.display(key.parts))', found \(found)")
        }
        scanner.advance()
        scanner.skipWhitespace()
        let value = try parseValue()
        return (key, value)
    }

    /// key = simple-key *( ws "." ws simple-key )
    private mutating func parseKey() throws(TOMLError) -> TOMLKey {
        var key = TOMLKey(parts: [], locations: [])
        while true {
            key.locations.append(scanner.location)
            key.parts.append(try parseSimpleKey())
            scanner.skipWhitespace()
            guard scanner.peek() == UInt8(ascii: ".") else { return key }
            scanner.advance()
            scanner.skipWhitespace()
        }
    }

    /// simple-key = quoted-key / unquoted-key
    private mutating func parseSimpleKey() throws(TOMLError) -> String {
        switch scanner.peek() {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return try parseString(allowMultiline: false)
        case let b? where TOMLScanner.isBareKeyByte(b):
            let begin = scanner.index
            while let b = scanner.peek(), TOMLScanner.isBareKeyByte(b) { scanner.advance() }
            return String(decoding: scanner.bytes(from: begin), as: UTF8.self)
        case let b?:
            throw scanner.error("expected a key, found '\(Self.printable(b))'")
        case nil:
            throw scanner.error("expected a key, found the end of the file")
        }
    }

    /// val = string / boolean / array / inline-table / float / integer
    private mutating func parseValue() throws(TOMLError) -> TOMLValue {
        let start = scanner.location
        switch scanner.peek() {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return TOMLValue(.string(try parseString(allowMultiline: true)), at: start)
        case UInt8(ascii: "["):
            return TOMLValue(.array(try nested { (p: inout TOMLParser) throws(TOMLError) in try p.parseArray() }), at: start)
        case UInt8(ascii: "{"):
            return TOMLValue(.table(try nested { (p: inout TOMLParser) throws(TOMLError) in try p.parseInlineTable() }), at: start)
        case nil, TOMLScanner.lineFeed, TOMLScanner.carriageReturn, UInt8(ascii: "#"):
            throw scanner.error("expected a value")
        default:
            return TOMLValue(try parseBareValue(), at: start)
        }
    }

    /// Runs `body` one nesting level deeper, refusing to go past the limit so
    /// that no input can exhaust the stack.
    private mutating func nested<T>(_ body: (inout TOMLParser) throws(TOMLError) -> T) throws(TOMLError) -> T {
        guard depth < Self.maximumDepth else {
            throw scanner.error("arrays and inline tables nest more than \(Self.maximumDepth) deep")
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    /// array = "[" *( ws-comment-newline val ws-comment-newline "," ) … "]"
    private mutating func parseArray() throws(TOMLError) -> [TOMLValue] {
        let start = scanner.location
        scanner.advance()
        var elements: [TOMLValue] = []
        while true {
            try scanner.skipWhitespaceCommentsAndNewlines()
            if scanner.peek() == UInt8(ascii: "]") {
                scanner.advance()
                return elements
            }
            guard !scanner.isAtEnd else { throw scanner.error("unterminated array", at: start) }
            elements.append(try parseValue())
            try scanner.skipWhitespaceCommentsAndNewlines()
            switch scanner.peek() {
            case UInt8(ascii: ","):
                scanner.advance()
            case UInt8(ascii: "]"):
                scanner.advance()
                return elements
            case nil:
                throw scanner.error("unterminated array", at: start)
            case let b?:
                throw scanner.error("expected ',' or ']' in array, found '\(Self.printable(b))'")
            }
        }
    }

    /// inline-table = "{" ws [ keyval *( ws "," ws keyval ) ] ws "}"
    /// (TOML 1.0: one line, no trailing comma.)
    private mutating func parseInlineTable() throws(TOMLError) -> TOMLTable {
        let start = scanner.location
        scanner.advance()
        let table = TOMLTableNode(origin: .inline, location: start)
        scanner.skipWhitespace()
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.advance()
            return table.freeze()
        }
        while true {
            scanner.skipWhitespace()
            guard let b = scanner.peek(), b != TOMLScanner.lineFeed, b != TOMLScanner.carriageReturn else {
                throw scanner.error("an inline table must end on the line where it starts", at: start)
            }
            if b == UInt8(ascii: "}") {
                throw scanner.error("a trailing comma is not allowed in an inline table")
            }
            let (key, value) = try parseKeyValue()
            try builder.assign(key, value, in: table)
            scanner.skipWhitespace()
            switch scanner.peek() {
            case UInt8(ascii: ","):
                scanner.advance()
            case UInt8(ascii: "}"):
                scanner.advance()
                return table.freeze()
            case nil, TOMLScanner.lineFeed, TOMLScanner.carriageReturn:
                throw scanner.error("an inline table must end on the line where it starts", at: start)
            case let b?:
                throw scanner.error("expected ',' or '}' in inline table, found '\(Self.printable(b))'")
            }
        }
    }
}
