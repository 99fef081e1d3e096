/// One field of a message's header section, located by byte offsets into
/// the buffer it was read from.
public struct HeaderField: Sendable, Hashable {
    /// The field name as written (without trailing white space before the colon).
    public var name: String
    /// The whole field: name, colon, value and its continuation lines,
    /// including the final line ending. Removing these bytes removes the field.
    public var range: Range<Int>
    /// The value: the bytes after the colon up to the final line ending,
    /// folding line breaks still in place.
    public var valueRange: Range<Int>

    /// True when `name` equals `other` ignoring ASCII case (RFC 5322 §1.2.2).
    public func hasName(_ other: String) -> Bool {
        name.utf8.count == other.utf8.count && name.lowercased() == other.lowercased()
    }
}

/// Splits a header section into fields (RFC 5322 §2.2, §3.2.2).
///
/// Lines end with CRLF; a bare LF is also taken as a line end so that
/// messages read from LF files scan the same. A line that starts with SP or
/// HTAB continues the previous field. The section ends at the first empty
/// line or at the end of the bytes. Lines without a colon (and continuation
/// lines before any field) are skipped: they are not fields.
public enum HeaderFields {
    /// At most this many fields are returned; the rest of a longer section is
    /// not looked at (a message with more is not one to trust anyway).
    public static let maximumFieldCount = 10_000

    public static func parse(_ bytes: [UInt8]) -> [HeaderField] {
        var fields: [HeaderField] = []
        var lineStart = 0
        var current: (name: String, start: Int, valueStart: Int)?
        var currentValueEnd = 0

        func finish(at end: Int) {
            if let c = current {
                fields.append(HeaderField(name: c.name, range: c.start..<end, valueRange: c.valueStart..<currentValueEnd))
            }
            current = nil
        }

        while lineStart < bytes.count, fields.count < maximumFieldCount {
            // Find the end of this line and the start of the next.
            var contentEnd = lineStart
            while contentEnd < bytes.count, bytes[contentEnd] != 0x0A { contentEnd += 1 }
            let nextLine = contentEnd < bytes.count ? contentEnd + 1 : contentEnd
            if contentEnd > lineStart, bytes[contentEnd - 1] == 0x0D, contentEnd < bytes.count { contentEnd -= 1 }

            if contentEnd == lineStart {
                // The empty line that ends the header section.
                finish(at: lineStart)
                return fields
            }
            let first = bytes[lineStart]
            if first == 0x20 || first == 0x09 {
                if current != nil { currentValueEnd = contentEnd }
            } else {
                finish(at: lineStart)
                if let colon = bytes[lineStart..<contentEnd].firstIndex(of: UInt8(ascii: ":")) {
                    var nameEnd = colon
                    while nameEnd > lineStart, bytes[nameEnd - 1] == 0x20 || bytes[nameEnd - 1] == 0x09 { nameEnd -= 1 }
                    let name = String(decoding: bytes[lineStart..<nameEnd], as: UTF8.self)
                    current = (name, lineStart, colon + 1)
                    currentValueEnd = contentEnd
                }
            }
            lineStart = nextLine
        }
        finish(at: lineStart)
        return fields
    }

    /// The value of a field with its line breaks removed (RFC 5322 §2.2.3
    /// unfolding): CR and LF bytes are dropped, the white space after them kept.
    public static func unfoldedValue(of field: HeaderField, in bytes: [UInt8]) -> [UInt8] {
        bytes[field.valueRange].filter { $0 != 0x0D && $0 != 0x0A }
    }
}
