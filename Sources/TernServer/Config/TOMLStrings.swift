// The four TOML string forms (TOML 1.0 §String): basic "…", literal '…',
// multi-line basic """…""" and multi-line literal '''…'''.

extension TOMLParser {
    /// Parses any string form starting at the cursor (which is on `"` or `'`).
    /// Multi-line forms are refused where only single-line strings may stand
    /// (quoted keys).
    mutating func parseString(allowMultiline: Bool) throws(TOMLError) -> String {
        let start = scanner.location
        if scanner.lookingAt("\"\"\"") || scanner.lookingAt("'''") {
            guard allowMultiline else { throw scanner.error("a key cannot be a multi-line string", at: start) }
            return try parseMultilineString(literal: scanner.peek() == UInt8(ascii: "'"), start: start)
        }
        return try parseSingleLineString(literal: scanner.peek() == UInt8(ascii: "'"), start: start)
    }

    private mutating func parseSingleLineString(literal: Bool, start: TOMLLocation) throws(TOMLError) -> String {
        let quote = literal ? UInt8(ascii: "'") : UInt8(ascii: "\"")
        scanner.advance()
        var buffer: [UInt8] = []
        while true {
            guard let b = scanner.peek(), b != TOMLScanner.lineFeed, b != TOMLScanner.carriageReturn else {
                throw scanner.error("unterminated string (it started at column \(start.column))", at: start)
            }
            if b == quote {
                scanner.advance()
                return String(decoding: buffer, as: UTF8.self)
            }
            if !literal && b == UInt8(ascii: "\\") {
                try parseEscape(into: &buffer)
                continue
            }
            try checkStringByte(b)
            buffer.append(b)
            scanner.advance()
        }
    }

    private mutating func parseMultilineString(literal: Bool, start: TOMLLocation) throws(TOMLError) -> String {
        let quote = literal ? UInt8(ascii: "'") : UInt8(ascii: "\"")
        scanner.advance(by: 3)
        // A newline right after the opening delimiter is trimmed.
        if scanner.atNewline { try scanner.consumeNewline() }
        var buffer: [UInt8] = []
        while true {
            guard let b = scanner.peek() else {
                throw scanner.error("unterminated multi-line string", at: start)
            }
            if b == quote {
                // Up to two quotes may sit right before the closing delimiter.
                var run = 0
                while scanner.peek(run) == quote { run += 1 }
                if run < 3 {
                    buffer.append(contentsOf: Array(repeating: quote, count: run))
                    scanner.advance(by: run)
                    continue
                }
                guard run <= 5 else { throw scanner.error("too many quotes at the end of a multi-line string") }
                buffer.append(contentsOf: Array(repeating: quote, count: run - 3))
                scanner.advance(by: run)
                return String(decoding: buffer, as: UTF8.self)
            }
            if scanner.atNewline || b == TOMLScanner.carriageReturn {
                try scanner.consumeNewline()
                buffer.append(TOMLScanner.lineFeed)
                continue
            }
            if !literal && b == UInt8(ascii: "\\") {
                if try skipLineEndingBackslash() { continue }
                try parseEscape(into: &buffer)
                continue
            }
            try checkStringByte(b)
            buffer.append(b)
            scanner.advance()
        }
    }

    /// A backslash that ends a line (possibly followed by spaces before the
    /// newline) swallows all whitespace and newlines up to the next visible
    /// character. Answers whether one was found.
    private mutating func skipLineEndingBackslash() throws(TOMLError) -> Bool {
        var offset = 1
        while let b = scanner.peek(offset), b == 0x20 || b == 0x09 { offset += 1 }
        let next = scanner.peek(offset)
        guard next == TOMLScanner.lineFeed || next == TOMLScanner.carriageReturn else { return false }
        scanner.advance(by: offset)
        while true {
            scanner.skipWhitespace()
            if scanner.atNewline || scanner.peek() == TOMLScanner.carriageReturn {
                try scanner.consumeNewline()
            } else {
                return true
            }
        }
    }

    /// escape = "\" ( " \ b f n r t / uXXXX / UXXXXXXXX )
    private mutating func parseEscape(into buffer: inout [UInt8]) throws(TOMLError) {
        let start = scanner.location
        scanner.advance()
        guard let c = scanner.peek() else { throw scanner.error("unterminated escape sequence", at: start) }
        scanner.advance()
        let simple: UInt8?
        switch c {
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "\""): simple = 0x22
        case UInt8(ascii: "\\"): simple = 0x5C
        case UInt8(ascii: "u"), UInt8(ascii: "U"): simple = nil
        default:
            throw scanner.error("invalid escape sequence '\\\(Self.printable(c))'", at: start)
        }
        if let simple {
            buffer.append(simple)
            return
        }
        let width = c == UInt8(ascii: "u") ? 4 : 8
        var value: UInt32 = 0
        for _ in 0..<width {
            guard let h = scanner.peek(), let digit = Self.hexDigitValue(h) else {
                throw scanner.error("'\\\(Self.printable(c))' needs exactly \(width) hexadecimal digits", at: start)
            }
            value = value << 4 | UInt32(digit)
            scanner.advance()
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw scanner.error("escape sequence is not a Unicode scalar value", at: start)
        }
        buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private func checkStringByte(_ b: UInt8) throws(TOMLError) {
        if TOMLScanner.isForbiddenControl(b) {
            throw scanner.error("control character U+\(TOMLScanner.hex(b)) must be escaped in a string")
        }
    }

    static func hexDigitValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// A byte shown in a message: itself when printable ASCII, else U+00XX.
    static func printable(_ b: UInt8) -> String {
        (0x21...0x7E).contains(b) ? String(UnicodeScalar(b)) : "U+" + TOMLScanner.hex(b)
    }
}
