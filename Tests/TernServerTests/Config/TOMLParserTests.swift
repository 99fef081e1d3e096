import Testing
@testable import TernServer

@Suite("TOML parser: valid documents")
struct TOMLParserTests {
    static let documents: [(String, PlainTOML)] = [
        ("", [:]),
        ("# only a comment\n\n   # another\n", [:]),
        ("a = 1", ["a": 1]),
        ("a = \"x\" # trailing comment\nb = 'y'#tight\n", ["a": "x", "b": "y"]),
        // Keys
        ("\"quoted key\" = 1\n'literal key' = 2\nbare-key_1 = 3\n\"\" = 4\n1234 = 5",
         ["quoted key": 1, "literal key": 2, "bare-key_1": 3, "": 4, "1234": 5]),
        ("\"a\\u0041\" = 1", ["aA": 1]),
        ("a.b.c = 1\na.b.d = 2\n\"x y\".z = 3", ["a": ["b": ["c": 1, "d": 2]], "x y": ["z": 3]]),
        ("a . b\t.  'c' = true", ["a": ["b": ["c": true]]]),
        ("3.14159 = \"pi\"", ["3": ["14159": "pi"]]),
        // Strings
        (#"s = "tab\there \"q\" \\ \u00e9 \U0001F600 \b\f\r\n""#, ["s": "tab\there \"q\" \\ é 😀 \u{08}\u{0C}\r\n"]),
        (#"s = 'C:\Users\nodejs\templates'"#, ["s": #"C:\Users\nodejs\templates"#]),
        (#"s = '<\i\c*\s*>'"#, ["s": #"<\i\c*\s*>"#]),
        ("s = \"\"\"\nRoses\nViolets\"\"\"", ["s": "Roses\nViolets"]),
        ("s = \"\"\"\nThe quick \\\n\n    brown \\   \n  fox\"\"\"", ["s": "The quick brown fox"]),
        ("s = \"\"\"a \"\"quoted\"\" b\"\"\"\"\"", ["s": "a \"\"quoted\"\" b\"\""]),
        ("s = '''\nline1\n  line2 \\n\n'''", ["s": "line1\n  line2 \\n\n"]),
        ("s = ''''one quote' and two'''''", ["s": "'one quote' and two''"]),
        ("a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n", ["a": 1, "b": "x\ny"]),
        ("s = \"tab\tinside\"", ["s": "tab\tinside"]),
        // Integers
        ("a = 1_000\nb = +17\nc = -17\nd = 0\ne = -0\nf = 5_349_221",
         ["a": 1000, "b": 17, "c": -17, "d": 0, "e": 0, "f": 5_349_221]),
        ("h = 0xDEAD_beef\no = 0o755\nb = 0b1101_0110\nz = 0x0",
         ["h": 0xDEAD_BEEF, "o": 0o755, "b": 0b1101_0110, "z": 0]),
        ("max = 9223372036854775807\nmin = -9223372036854775808", ["max": .integer(Int64.max), "min": .integer(Int64.min)]),
        // Floats and booleans
        ("a = 3.1415\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 6.626e-34\ng = 224_617.445_991\nh = 0.0",
         ["a": 3.1415, "b": -0.01, "c": 5e+22, "d": 1e06, "e": -2e-2, "f": 6.626e-34, "g": 224_617.445_991, "h": 0.0]),
        ("a = inf\nb = +inf\nc = -inf", ["a": .float(.infinity), "b": .float(.infinity), "c": .float(-.infinity)]),
        ("t = true\nf = false", ["t": true, "f": false]),
        // Arrays
        ("a = [1, 2, 3]\nb = [ \"x\", 'y', ]\ne = []\nf = [1, \"mixed\", 2.5]",
         ["a": [1, 2, 3], "b": ["x", "y"], "e": [], "f": [1, "mixed", 2.5]]),
        ("a = [\n  1, # one\n\n  2, # two\n]\n", ["a": [1, 2]]),
        ("a = [[1, 2], [\"a\", [true]], []]", ["a": [[1, 2], ["a", [true]], []]]),
        // Inline tables
        ("p = { x = 1, y.z = 2, 'q' = \"s\" }\ne = {}", ["p": ["x": 1, "y": ["z": 2], "q": "s"], "e": [:]]),
        ("list = [{ a = 1 }, { a = 2, b = [3] }]", ["list": [["a": 1], ["a": 2, "b": [3]]]]),
        ("n = { a = { b = { c = 1 } } }", ["n": ["a": ["b": ["c": 1]]]]),
        // Tables
        ("top = 0\n[a]\nx = 1\n[a.b]\ny = 2\n[c.\"d e\"]\nz = 3",
         ["top": 0, "a": ["x": 1, "b": ["y": 2]], "c": ["d e": ["z": 3]]]),
        ("[ a . b ]\nk = 1", ["a": ["b": ["k": 1]]]),
        ("[x.y.z]\na = 1\n[x]\nb = 2", ["x": ["y": ["z": ["a": 1]], "b": 2]]),
        ("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\nsmooth = true",
         ["fruit": ["apple": ["color": "red", "taste": ["sweet": true], "texture": ["smooth": true]]]]),
        ("[a]\n[b]\n", ["a": [:], "b": [:]]),
        // Arrays of tables
        ("[[p]]\nn = 1\n[[p]]\nn = 2\n[p.sub]\nk = 3", ["p": [["n": 1], ["n": 2, "sub": ["k": 3]]]]),
        ("[[f]]\nname = \"apple\"\n[[f.v]]\nn = \"red\"\n[[f.v]]\nn = \"green\"\n[[f]]\nname = \"banana\"",
         ["f": [["name": "apple", "v": [["n": "red"], ["n": "green"]]], ["name": "banana"]]]),
        ("[[e]]\n[[e]]\n", ["e": [[:], [:]]]),
        // Byte order mark
        ("\u{FEFF}a = 1", ["a": 1]),
    ]

    @Test("a valid document parses to the expected values", arguments: documents)
    func parses(document: String, expected: PlainTOML) throws {
        let table = try TOML.parse(document)
        #expect(PlainTOML(table) == expected)
    }

    @Test("nan parses as a float that is not a number", arguments: ["nan", "+nan", "-nan"])
    func nan(token: String) throws {
        let table = try TOML.parse("x = \(token)")
        let value = try #require(table["x"]?.float)
        #expect(value.isNaN)
    }

    @Test("every value remembers its line and column")
    func locations() throws {
        let document = """
            # header
            a = 1
              b = "x"
            [t]
            c = [
              true,
                2,
            ]
            [[arr]]
            d.e = 'y'
            """
        let root = try TOML.parse(document)
        #expect(root["a"]?.location == TOMLLocation(line: 2, column: 5))
        #expect(root.entry("a")?.keyLocation == TOMLLocation(line: 2, column: 1))
        #expect(root["b"]?.location == TOMLLocation(line: 3, column: 7))
        let t = try #require(root["t"])
        #expect(t.location == TOMLLocation(line: 4, column: 1))
        let c = try #require(t.table?["c"])
        #expect(c.location == TOMLLocation(line: 5, column: 5))
        #expect(c.array?.map(\.location) == [TOMLLocation(line: 6, column: 3), TOMLLocation(line: 7, column: 5)])
        let element = try #require(root["arr"]?.array?.first)
        #expect(element.location == TOMLLocation(line: 9, column: 1))
        let d = try #require(element.table?.entry("d"))
        #expect(d.keyLocation == TOMLLocation(line: 10, column: 1))
        #expect(d.value.table?["e"]?.location == TOMLLocation(line: 10, column: 7))
    }

    @Test("columns count characters, not bytes")
    func unicodeColumns() throws {
        let root = try TOML.parse("\"é😀\" = 1")
        #expect(root["é😀"]?.location == TOMLLocation(line: 1, column: 8))
    }

    @Test("keys keep the order in which they were defined")
    func order() throws {
        let root = try TOML.parse("z = 1\na = 2\n[m]\n[b]")
        #expect(root.keys == ["z", "a", "m", "b"])
    }
}
