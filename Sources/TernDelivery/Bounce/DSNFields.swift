import TernSMTP

/// Small renderers shared by the parts of a DSN: header fields folded to
/// fit, text made safe for a header or a text part, and addresses typed as
/// RFC 3464 §2.1.1 and RFC 6533 §3 want them.
enum DSNFields {
    /// Folding aims at lines this long (RFC 5322 §2.1.1 "SHOULD be no more than 78").
    static let preferredLine = 78
    /// No line is longer than this, CRLF excluded (RFC 5322 §2.1.1 "MUST").
    static let maximumLine = 998

    /// `Name: value`, folded at spaces when longer than about 78 octets;
    /// a word too long for any line is cut to fit 998. Lines end in CRLF.
    static func field(_ name: String, _ value: String) -> String {
        if name.utf8.count + 2 + value.utf8.count <= preferredLine { return "\(name): \(value)\r\n" }
        var out = ""
        var line = name + ":"
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            for piece in chunks(String(word), maximum: maximumLine - name.utf8.count - 2) {
                if line.utf8.count + 1 + piece.utf8.count > preferredLine && line.utf8.count > name.utf8.count + 1 {
                    out += line + "\r\n"
                    line = " " + piece
                } else {
                    line += " " + piece
                }
            }
        }
        return out + line + "\r\n"
    }

    /// `text` cut into pieces of at most `maximum` UTF-8 octets, never
    /// inside a character.
    static func chunks(_ text: String, maximum: Int) -> [String] {
        guard text.utf8.count > maximum else { return [text] }
        var pieces: [String] = []
        var current = ""
        var size = 0
        for scalar in text.unicodeScalars {
            let n = String(scalar).utf8.count
            if size + n > maximum {
                pieces.append(current)
                current = ""
                size = 0
            }
            current.unicodeScalars.append(scalar)
            size += n
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// Text from a peer or a record, fit for one line: control characters
    /// (CR and LF among them) become spaces, and outside UTF-8 content
    /// every non-ASCII character becomes `?`.
    static func clean(_ text: String, utf8: Bool) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                out.unicodeScalars.append(" ")
            } else if !utf8 && !scalar.isASCII {
                out.unicodeScalars.append("?")
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A `Final-Recipient:` or `Original-Recipient:` value (RFC 3464
    /// §2.3.1–2): `rfc822;local@domain` for an ASCII address; a UTF-8
    /// address is typed `utf-8` (RFC 6533 §3) and written as is in a
    /// global DSN, else in utf-8-addr-xtext.
    static func typedAddress(type: String, _ address: String, international: Bool) -> String {
        let ascii = address.unicodeScalars.allSatisfy { $0.isASCII }
        if ascii && type.lowercased() != "utf-8" {
            return "\(type.lowercased());\(clean(address, utf8: false).replacingOccurrences(of: " ", with: "_"))"
        }
        return "utf-8;\(utf8AddressText(address, unicode: international))"
    }

    /// utf-8-addr-xtext, or with `unicode` utf-8-addr-unitext (RFC 6533 §3):
    /// printable ASCII but `+`, `=` and `\` as itself, everything else as
    /// `\x{HEX}` — except that unitext keeps non-ASCII characters as they are.
    static func utf8AddressText(_ address: String, unicode: Bool) -> String {
        var out = ""
        for scalar in address.unicodeScalars {
            let v = scalar.value
            if (0x21...0x7E).contains(v) && scalar != "+" && scalar != "=" && scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else if unicode && v >= 0xA0 {
                out.unicodeScalars.append(scalar)
            } else {
                let hex = String(v, radix: 16, uppercase: true)
                out += "\\x{" + (hex.count < 2 ? "0" + hex : hex) + "}"
            }
        }
        return out
    }

    /// True when `bytes` has any octet above 127 (the part is 8bit, RFC 6152).
    static func hasEightBit(_ bytes: some Sequence<UInt8>) -> Bool {
        bytes.contains { $0 >= 0x80 }
    }
}
