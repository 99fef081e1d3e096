/// A cursor over the UTF-8 bytes of a TOML document that keeps track of the
/// line and column, and knows the few lexical rules shared by every part of
/// the grammar: whitespace, newlines and comments (TOML 1.0 §Spec, §Comment).
///
/// Every read is bounds-checked: `peek` answers `nil` past the end, so no
/// input can make the parser index out of range.
struct TOMLScanner {
    let file: String
    private let bytes: [UInt8]
    private(set) var index: Int = 0
    private(set) var line: Int = 1
    private(set) var column: Int = 1

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        // A UTF-8 byte order mark is not content.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
    }

    var isAtEnd: Bool { index >= bytes.count }
    var location: TOMLLocation { TOMLLocation(line: line, column: column) }

    /// The byte `offset` places ahead, or `nil` past the end.
    func peek(_ offset: Int = 0) -> UInt8? {
        let i = index + offset
        guard i >= 0, i < bytes.count else { return nil }
        return bytes[i]
    }

    /// Whether the bytes ahead are exactly `literal`.
    func lookingAt(_ literal: String) -> Bool {
        var offset = 0
        for b in literal.utf8 {
            guard peek(offset) == b else { return false }
            offset += 1
        }
        return true
    }

    /// Moves one byte forward. Columns advance on the first byte of each
    /// UTF-8 sequence only; a line feed starts a new line.
    mutating func advance() {
        guard let b = peek() else { return }
        index += 1
        if b == Self.lineFeed {
            line += 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
    }

    mutating func advance(by count: Int) {
        for _ in 0..<max(0, count) { advance() }
    }

    /// The bytes from `start` up to the cursor.
    func bytes(from start: Int) -> ArraySlice<UInt8> {
        let lower = min(max(0, start), bytes.count)
        let upper = min(max(lower, index), bytes.count)
        return bytes[lower..<upper]
    }

    func error(_ message: String, at location: TOMLLocation? = nil) -> TOMLError {
        TOMLError(file: file, location: location ?? self.location, message: message)
    }

    // MARK: Lexical rules

    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")

    /// ws = *( %x20 / %x09 )
    mutating func skipWhitespace() {
        while let b = peek(), b == 0x20 || b == 0x09 { advance() }
    }

    /// Whether a newline (LF or CRLF) is next.
    var atNewline: Bool {
        peek() == Self.lineFeed || (peek() == Self.carriageReturn && peek(1) == Self.lineFeed)
    }

    /// Consumes one LF or CRLF. A carriage return not followed by a line feed
    /// is an error: TOML allows CRLF, never a bare CR.
    mutating func consumeNewline() throws(TOMLError) {
        if peek() == Self.lineFeed {
            advance()
        } else if peek() == Self.carriageReturn {
            guard peek(1) == Self.lineFeed else { throw error("a carriage return must be followed by a line feed") }
            advance(by: 2)
        }
    }

    /// Skips a comment if one starts here. Comments may hold any character
    /// but the control characters other than tab.
    mutating func skipComment() throws(TOMLError) {
        guard peek() == UInt8(ascii: "#") else { return }
        while let b = peek(), !atNewline {
            if b == Self.carriageReturn {
                throw error("a carriage return must be followed by a line feed")
            }
            if Self.isForbiddenControl(b) {
                throw error("control character U+\(Self.hex(b)) is not allowed in a comment")
            }
            advance()
        }
    }

    /// Skips whitespace, comments and newlines: the filler allowed between
    /// the elements of a multi-line array.
    mutating func skipWhitespaceCommentsAndNewlines() throws(TOMLError) {
        while true {
            skipWhitespace()
            try skipComment()
            if atNewline || peek() == Self.carriageReturn {
                try consumeNewline()
            } else {
                return
            }
        }
    }

    /// Control characters other than tab, line feed and carriage return
    /// (which callers treat separately), and DEL.
    static func isForbiddenControl(_ b: UInt8) -> Bool {
        (b < 0x20 && b != 0x09 && b != lineFeed && b != carriageReturn) || b == 0x7F
    }

    /// unquoted-key = 1*( ALPHA / DIGIT / %x2D / %x5F )
    static func isBareKeyByte(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return "00" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0x0F)])
    }
}
