import Foundation
import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Users file editor")
struct UsersFileTests {
    static let hash = UserTableTests.hash

    static func mailbox(_ text: String) throws -> Mailbox { try Mailbox(parsing: text) }

    @Test("add creates a missing file with mode 0640 and a yescrypt entry")
    func addCreates() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = UsersFile(path: directory.file("users"))
        try file.add(Self.mailbox("alice@example.com"), password: "first pass")
        #expect(directory.mode("users") == 0o640)
        let text = try directory.read("users")
        #expect(text.hasPrefix("alice@example.com:{CRYPT}$y$"))
        #expect(text.hasSuffix("\n"))
        let entries = try file.list()
        #expect(entries.map(\.name) == ["alice@example.com"])
        #expect(entries[0].password?.verify("first pass") == true)
        #expect(try directory.contents() == ["users"])
    }

    @Test("add keeps every other byte: comments, CRLF, a missing final newline")
    func addKeepsBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let original = "# users\r\n\n  # odd comment\nbob@example.com:\(Self.hash):1000::Bob::\n#last"
        let path = try directory.write("users", original)
        try UsersFile(path: path).add(Self.mailbox("alice@example.com"), hash: PasswordHash(parsing: Self.hash))
        let text = try directory.read("users")
        #expect(text == original + "\nalice@example.com:\(Self.hash)\n")
    }

    @Test("add refuses an existing user in any spelling and leaves the file alone", arguments: [
        "ALICE@example.com", "alice@EXAMPLE.COM", "alice@example.com",
    ])
    func addDuplicate(spelling: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let original = "# x\nalice@example.com:\(Self.hash)\n"
        let path = try directory.write("users", original)
        #expect(throws: UsersFile.EditError.alreadyExists("alice@example.com", line: 2)) {
            try UsersFile(path: path).add(Self.mailbox(spelling), hash: PasswordHash(parsing: Self.hash))
        }
        #expect(try directory.read("users") == original)
    }

    @Test("add refuses an IDN domain already present as its A-label")
    func addDuplicateIDN() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("users", "carol@xn--bcher-kva.example:\(Self.hash)\n")
        #expect(throws: UsersFile.EditError.alreadyExists("carol@xn--bcher-kva.example", line: 1)) {
            try UsersFile(path: path).add(Self.mailbox("Carol@Bücher.example"), hash: PasswordHash(parsing: Self.hash))
        }
    }

    @Test("setPassword replaces only the password field of that line")
    func setPassword() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let before = "# users\nalice@example.com:\(Self.hash)\r\nbob@example.com:\(Self.hash):1000:1000:Bob:/home/bob::quota=1G\n# end\n"
        let path = try directory.write("users", before)
        let file = UsersFile(path: path)
        try file.setPassword(of: Self.mailbox("BOB@example.com"), to: "new secret")
        // Split on LF bytes: for Swift, CR LF is one Character.
        let lines = try directory.read("users").utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        #expect(lines[0] == "# users")
        #expect(lines[1] == "alice@example.com:\(Self.hash)\r")
        #expect(lines[2].hasPrefix("bob@example.com:{CRYPT}$y$"))
        #expect(lines[2].hasSuffix(":1000:1000:Bob:/home/bob::quota=1G"))
        #expect(lines[3] == "# end")
        #expect(lines.count == 5 && lines[4] == "")
        let bob = try #require(try file.user(Self.mailbox("bob@example.com")))
        #expect(bob.password?.verify("new secret") == true)
        #expect(bob.password?.verify("Hello world!") == false)
        #expect(bob.home == "/home/bob")
    }

    @Test("delete removes only that line")
    func delete() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("users", "# a\nalice@example.com:\(Self.hash)\n\n# b\nbob@example.com:\(Self.hash)\n")
        try UsersFile(path: path).delete(Self.mailbox("Alice@Example.com"))
        #expect(try directory.read("users") == "# a\n\n# b\nbob@example.com:\(Self.hash)\n")
    }

    @Test("changing or deleting an unknown user fails")
    func unknownUser() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("users", "alice@example.com:\(Self.hash)\n")
        let file = UsersFile(path: path)
        #expect(throws: UsersFile.EditError.noSuchUser("bob@example.com")) {
            try file.delete(Self.mailbox("bob@example.com"))
        }
        #expect(throws: UsersFile.EditError.noSuchUser("alice+x@example.com")) {
            try file.setPassword(of: Self.mailbox("alice+x@example.com"), hash: PasswordHash(parsing: Self.hash))
        }
    }

    @Test("edits replace the file by rename, keep its mode and leave no temporary file")
    func atomicReplace() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let original = "alice@example.com:\(Self.hash)\n"
        let path = try directory.write("users", original)
        #expect(chmod(path, 0o600) == 0)
        let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? reader.close() }
        try UsersFile(path: path).add(Self.mailbox("bob@example.com"), hash: PasswordHash(parsing: Self.hash))
        // The old file, still open, was not written to: the new one replaced it.
        #expect(String(decoding: reader.readDataToEndOfFile(), as: UTF8.self) == original)
        #expect(try directory.read("users") == original + "bob@example.com:\(Self.hash)\n")
        #expect(directory.mode("users") == 0o600)
        #expect(try directory.contents() == ["users"])
    }

    @Test("a symlinked users file is updated where it lives; the link stays")
    func symlinkedFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let real = try directory.write("real-users", "alice@example.com:\(Self.hash)\n")
        #expect(symlink(real, directory.file("users")) == 0)
        try UsersFile(path: directory.file("users")).delete(Self.mailbox("alice@example.com"))
        let destination = try FileManager.default.destinationOfSymbolicLink(atPath: directory.file("users"))
        #expect(destination == real)
        #expect(try directory.read("real-users") == "")
    }

    @Test("a broken file is not edited; the error names its line")
    func brokenFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let original = "alice@example.com:\(Self.hash)\nnot an address\n"
        let path = try directory.write("users", original)
        #expect(throws: UsersFile.EditError.file(AccountsFileError(path: path, line: 2, reason: .missingPasswordField))) {
            try UsersFile(path: path).add(Self.mailbox("bob@example.com"), hash: PasswordHash(parsing: Self.hash))
        }
        #expect(try directory.read("users") == original)
    }

    @Test("addresses that cannot be a passwd-file user are refused", arguments: [
        "\"a:b\"@example.com", "#alice@example.com", "\"john doe\"@example.com", "alice@[IPv6:2001:db8::1]",
    ])
    func unsuitable(address: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let mailbox = try Self.mailbox(address)
        #expect {
            try UsersFile(path: directory.file("users")).add(mailbox, hash: PasswordHash(parsing: Self.hash))
        } throws: { error in
            guard case .unsuitableAddress = error as? UsersFile.EditError else { return false }
            return true
        }
        #expect(try directory.contents() == [])
    }

    @Test("listing a missing file gives no users")
    func listMissing() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect(try UsersFile(path: directory.file("users")).list().isEmpty)
    }
}
