import Testing
@testable import TernServer

@Suite("user: the account tern serve runs as")
struct UserSettingTests {
    @Test("absent or \"\" means stay as started; a name is kept as written")
    func values() throws {
        #expect(try Configuration(toml: minimalTOML, baseDirectory: "/").user == nil)
        #expect(try Configuration(toml: "user = \"\"\n" + minimalTOML, baseDirectory: "/").user == nil)
        #expect(try Configuration(toml: "user = \"tern\"\n" + minimalTOML, baseDirectory: "/").user == "tern")
    }

    @Test("a value that cannot be a user, or root, is reported with file, line and key", arguments: [
        ("user = \"mail user\"", "tern.toml:1: 'user' 'mail user' is not a user name"),
        ("user = \"../tern\"", "tern.toml:1: 'user' '../tern' is not a user name"),
        ("user = \"-tern\"", "tern.toml:1: 'user' '-tern' is not a user name"),
        ("user = \"root\"",
         "tern.toml:1: 'user' names root: set an unprivileged user such as \"tern\", or \"\" to stay as started"),
        ("user = 1000", "tern.toml:1: 'user' must be a string, got integer"),
    ])
    func errors(line: String, expected: String) {
        do {
            _ = try Configuration(toml: line + "\n" + minimalTOML, baseDirectory: "/")
            Issue.record("\(line) was accepted")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("user renders and reads back unchanged")
    func roundTrip() throws {
        var c = try Configuration(toml: minimalTOML, baseDirectory: "/")
        #expect(c.redactedDescription.contains("\nuser = \"\"\n"))
        c.user = "tern"
        #expect(c.redactedDescription.contains("\nuser = \"tern\"\n"))
        #expect(try Configuration(toml: c.redactedDescription, baseDirectory: "/") == c)
    }
}
