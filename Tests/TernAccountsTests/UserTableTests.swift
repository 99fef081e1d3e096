import Foundation
import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Users file parsing")
struct UserTableTests {
    static let hash = "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"

    @Test("entries, comments, blank lines and optional trailing fields")
    func parsesEntries() throws {
        let text = """
        # Tern users
        alice@example.com:\(Self.hash)

           # indented comment
        Bob@Example.COM:\(Self.hash):1000:1000:Bob Smith:/home/bob:/bin/false:userdb_quota_rule=*:storage=1G nologin\r
        carol@bücher.example:\(Self.hash)::::::
        """
        let table = try UserTable.parse(text, path: "/etc/tern/users")
        #expect(table.entries.map(\.name) == ["alice@example.com", "Bob@Example.COM", "carol@bücher.example"])
        #expect(table.entries.map(\.line) == [2, 5, 6])
        #expect(table.warnings.isEmpty)
        let bob = table.entries[1]
        #expect(bob.uid == "1000" && bob.gid == "1000")
        #expect(bob.gecos == "Bob Smith")
        #expect(bob.home == "/home/bob")
        #expect(bob.shell == "/bin/false")
        #expect(bob.extraFields == ["userdb_quota_rule=*:storage=1G", "nologin"])
        #expect(bob.password?.verify("Hello world!") == true)
        #expect(table.entries[2].home == nil && table.entries[2].uid == nil)
    }

    @Test("errors name the file and the line", arguments: [
        ("alice@example.com:\(hash)\nbob@example.com\n", 2, AccountsFileError.Reason.missingPasswordField),
        ("# c\n\nalice:\(hash)\n", 3, .badAddress("alice", detail: "a user must be a full address, local@domain")),
        ("alice@@example.com:x\n", 1, .badAddress("alice@@example.com", detail: "not local-part@domain (RFC 5321 §4.1.2)")),
        ("alice@-example.com:\(hash)\n", 1, .badAddress("alice@-example.com", detail: "the domain is not a valid host name")),
        ("alice@example.com:\(hash)\n#\nALICE@EXAMPLE.COM:\(hash)\n", 3, .duplicateUser("ALICE@EXAMPLE.COM", firstLine: 1)),
        ("carol@bücher.example:\(hash)\ncarol@xn--bcher-kva.example:\(hash)\n", 2,
         .duplicateUser("carol@xn--bcher-kva.example", firstLine: 1)),
    ])
    func errors(text: String, line: Int, reason: AccountsFileError.Reason) {
        #expect(throws: AccountsFileError(path: "/etc/tern/users", line: line, reason: reason)) {
            try UserTable.parse(text, path: "/etc/tern/users")
        }
    }

    @Test("an error message reads path:line: problem")
    func errorDescription() {
        let error = AccountsFileError(path: "/etc/tern/users", line: 7, reason: .missingPasswordField)
        #expect(error.description.hasPrefix("/etc/tern/users:7: expected user:password"))
    }

    @Test("invalid UTF-8 is an error on its line")
    func invalidUTF8() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("users")
        var bytes = Array("alice@example.com:\(Self.hash)\n".utf8)
        bytes += [0x62, 0xFF, 0x40, 0x78, 0x3A, 0x0A]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: AccountsFileError(path: path, line: 2, reason: .notUTF8)) { try UserTable.load(path: path) }
    }

    @Test("unusable passwords keep the user (for mail) and warn, without the hash", arguments: [
        "{PLAIN}secret", "{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "secret", "", "{CRYPT}!$6$saltstring$x",
    ])
    func unusablePassword(password: String) throws {
        let table = try UserTable.parse("alice@example.com:\(password)\n", path: "users")
        #expect(table.entries.count == 1)
        #expect(table.entries[0].password == nil)
        let warning = try #require(table.warnings.first)
        #expect(warning.path == "users" && warning.line == 1)
        #expect(warning.message.contains("alice@example.com"))
        #expect(warning.message.contains("cannot log in"))
        if password.count > 3 { #expect(!warning.message.contains(String(password.suffix(4)))) }
    }

    @Test("a missing file is reported as missing")
    func missing() throws {
        #expect(throws: AccountsFileError(path: "/nonexistent/tern/users", reason: .missing)) {
            try UserTable.load(path: "/nonexistent/tern/users")
        }
    }
}
