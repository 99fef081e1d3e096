import Testing
@testable import TernServer

@Suite("TOML parser: errors")
struct TOMLErrorTests {
    /// (document, line of the error, fragment of the message)
    static let invalid: [(String, Int, String)] = [
        // Redefinitions
        ("a = 1\na = 2", 2, "duplicate key 'a' (first defined on line 1)"),
        ("a.b = 1\na = 2", 2, "duplicate key 'a'"),
        ("a = 1\na.b = 2", 2, "'a' was already defined as an integer on line 1"),
        ("[a]\nx = 1\n[a]", 3, "table 'a' was defined already on line 1"),
        ("[a.b]\n[a]\n[a]", 3, "table 'a' was defined already"),
        ("a = {x = 1}\n[a]", 2, "'a' was already defined as a table"),
        ("a = {x = 1}\na.y = 2", 2, "'a' was already defined as a table"),
        ("[t]\nb = {c = 1}\n[t.b.d]", 3, "inline table, which cannot be extended"),
        ("[a]\nb.c = 1\n[a.b]", 3, "table 'a.b' was defined by dotted keys on line 2"),
        ("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, "dotted keys cannot add to table 'a.b'"),
        ("a = [1]\n[[a]]", 2, "[[a]] cannot add to it"),
        ("[[a]]\n[a]", 2, "'a' is an array of tables"),
        ("[a]\n[[a]]", 2, "'a' is a table"),
        ("\n[[a]]\n[a.b]\nc = 1\n[a.b]", 5, "table 'a.b' was defined already"),
        ("[[a]]\nb = 1\n[a.b]", 3, "'a.b' was already defined as an integer"),
        // Strings
        ("a = \"unterminated", 1, "unterminated string"),
        ("a = \"line\nbreak\"", 1, "unterminated string"),
        ("a = 'literal", 1, "unterminated string"),
        ("a = \"\"\"abc\n\ndef", 1, "unterminated multi-line string"),
        ("a = \"\\q\"", 1, "invalid escape sequence '\\q'"),
        ("a = \"\\uD800\"", 1, "not a Unicode scalar value"),
        ("a = \"\\u12\"", 1, "exactly 4 hexadecimal digits"),
        ("a = \"\\U0011FFFF\"", 1, "not a Unicode scalar value"),
        ("a = \"x\u{01}y\"", 1, "control character U+0001"),
        ("a = \"\"\"a\"\"\"\"\"\"", 1, "too many quotes"),
        ("\"\"\"k\"\"\" = 1", 1, "a key cannot be a multi-line string"),
        // Numbers
        ("a = 01", 1, "leading zeros"),
        ("a = 1__0", 1, "invalid number '1__0'"),
        ("a = 1_", 1, "invalid number"),
        ("a = 0x", 1, "invalid number"),
        ("a = 0xG1", 1, "invalid number"),
        ("a = 0b102", 1, "invalid number"),
        ("a = -0x10", 1, "invalid number"),
        ("a = 9223372036854775808", 1, "does not fit in 64 bits"),
        ("a = -9223372036854775809", 1, "does not fit in 64 bits"),
        ("a = 0xFFFFFFFFFFFFFFFFF", 1, "does not fit in 64 bits"),
        ("a = 1.", 1, "invalid number"),
        ("a = 1.e5", 1, "invalid number"),
        ("a = 1e", 1, "invalid number"),
        ("a = 03.14", 1, "leading zeros"),
        ("a = 1e400", 1, "out of range"),
        ("a = .5", 1, "expected a value"),
        ("a = true1", 1, "strings need quotes"),
        ("a = yes", 1, "strings need quotes"),
        // Dates
        ("a = 1979-05-27T07:32:00Z", 1, "dates and times are not used by Tern"),
        ("a = 1979-05-27", 1, "dates and times are not used by Tern"),
        ("a = 07:32:00", 1, "dates and times are not used by Tern"),
        // Structure
        ("a = ", 1, "expected a value"),
        ("a = # nothing", 1, "expected a value"),
        ("a", 1, "expected '=' after key 'a'"),
        ("a b = 1", 1, "expected '='"),
        ("a = 1 b = 2", 1, "expected the end of the line"),
        ("= 1", 1, "expected a key"),
        ("[a", 1, "expected ']'"),
        ("[[a]", 1, "expected ']]'"),
        ("[]", 1, "expected a key"),
        ("a = [1 2]", 1, "expected ',' or ']'"),
        ("a = [1,,2]", 1, "expected a value"),
        ("a = [1,\n2", 1, "unterminated array"),
        ("a = {x = 1,}", 1, "trailing comma"),
        ("a = {x = 1\n}", 1, "must end on the line"),
        ("a = {x = 1 y = 2}", 1, "expected ',' or '}'"),
        ("a = {x = 1, x = 2}", 1, "duplicate key 'x'"),
        ("a = 1\rb = 2", 1, "carriage return"),
        ("# comment \u{7F}", 1, "control character U+007F"),
        ("x = 1\n\n\n\ny = \"\\z\"", 5, "invalid escape"),
        ("a = " + String(repeating: "[", count: 200), 1, "nest more than 64 deep"),
        ("a = " + String(repeating: "{b = ", count: 200), 1, "nest more than 64 deep"),
    ]

    @Test("an invalid document is refused on the right line", arguments: invalid)
    func refuses(document: String, line: Int, fragment: String) {
        #expect {
            _ = try TOML.parse(document, file: "x.toml")
        } throws: { error in
            guard let error = error as? TOMLError else { return false }
            return error.line == line && error.message.contains(fragment) && error.file == "x.toml"
        }
    }

    @Test("an error prints as file:line:column: message")
    func errorFormat() {
        #expect(throws: TOMLError(file: "tern.toml", location: TOMLLocation(line: 2, column: 5), message: "expected a value")) {
            _ = try TOML.parse("a = 1\nb = \n", file: "tern.toml")
        }
        let error = TOMLError(file: "tern.toml", location: TOMLLocation(line: 2, column: 5), message: "expected a value")
        #expect(error.description == "tern.toml:2:5: expected a value")
    }

    @Test("invalid UTF-8 is refused with its line")
    func invalidUTF8() {
        let bytes = Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        #expect(throws: TOMLError(file: "f", location: TOMLLocation(line: 2, column: 1), message: "the file is not valid UTF-8")) {
            _ = try TOML.parse(bytes: bytes, file: "f")
        }
    }

    static let garbage: [[UInt8]] = [
        [0x00], [0xFF, 0xFE, 0x00], Array("[[[[[[[[".utf8), Array("]]]]".utf8), Array("\"\"\"".utf8),
        Array("'''".utf8), Array("a = \"\\".utf8), Array("a = \"\\u".utf8), Array("a = \"\"\"\\".utf8),
        Array("a.".utf8), Array("a..b = 1".utf8), Array("[a.]".utf8), Array("a = {".utf8), Array("a = {b".utf8),
        Array("a = [".utf8), Array("a = -".utf8), Array("a = +".utf8), Array("a = 0b".utf8), Array("\r".utf8),
        Array("\r\n\r".utf8), Array("a = 1\r".utf8), Array("#\r".utf8), Array("a = '''\r".utf8),
        Array("a = \"\"\"x\\ \r".utf8), Array("[[a]]]".utf8), Array("=".utf8), Array("\u{FEFF}".utf8),
        [0xEF, 0xBB], Array("a = \"\\U00".utf8),
    ]

    @Test("garbage never crashes and errors point inside the input", arguments: garbage)
    func garbageIsRefused(bytes: [UInt8]) {
        do {
            _ = try TOML.parse(bytes: bytes, file: "g")
        } catch {
            let lines = bytes.filter { $0 == 0x0A }.count + 1
            #expect((1...lines).contains(error.line))
            #expect(error.column >= 1)
        }
    }

    @Test("thousands of random documents never crash the parser")
    func fuzz() {
        // A fixed linear congruential generator: the same inputs every run.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("ab1_-.=[]{},\"'\\ \t\n\r#+e:xuU0".utf8) + [0x00, 0xC3, 0xA9, 0xFF]
        var parsed = 0
        var refused = 0
        for _ in 0..<3_000 {
            let length = Int(next() % 40)
            let bytes = (0..<length).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            do {
                _ = try TOML.parse(bytes: bytes, file: "fuzz")
                parsed += 1
            } catch {
                let lines = bytes.filter { $0 == 0x0A }.count + 1
                #expect((1...lines).contains(error.line), "line \(error.line) for \(bytes)")
                refused += 1
            }
        }
        #expect(parsed + refused == 3_000)
        #expect(refused > 0)
    }
}
