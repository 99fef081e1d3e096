import Foundation
import Testing
import TernAccounts
import TernSMTP

/// The samples in etc/ that administrators copy must parse as they are.
@Suite("Sample files in etc/")
struct SampleFilesTests {
    static var etc: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc")
    }

    @Test("etc/aliases parses and expands as its comments say")
    func aliases() throws {
        let table = try AliasTable.load(path: SampleFilesTests.etc.appendingPathComponent("aliases").path)
        #expect(table.warnings.isEmpty)
        let domain = try Domain(parsing: "example.com")
        let users = try UserTable.parse("alice@example.com:{CRYPT}$y$j9T$a$b\nbob@example.com:{CRYPT}$y$j9T$a$b\n", path: "users")
        let accounts = Accounts(domains: [domain], users: users, aliases: table)
        let sales = try accounts.expand(Mailbox(parsing: "sales@example.com")).get()
        // alice, bob, and bob's forward (bob's own alias applies inside the list).
        #expect(sales.count == 3)
        #expect(sales.contains(.remote(try Mailbox(parsing: "bob@elsewhere.example"))))
        let abuse = try accounts.expand(Mailbox(parsing: "abuse@example.com")).get()
        #expect(abuse.count == 1)
        let bob = try accounts.expand(Mailbox(parsing: "bob@example.com")).get()
        #expect(bob.contains(.remote(try Mailbox(parsing: "bob@elsewhere.example"))))
        #expect(bob.count == 2)
    }

    @Test("etc/users parses (comments only)")
    func users() throws {
        let table = try UserTable.load(path: SampleFilesTests.etc.appendingPathComponent("users").path)
        #expect(table.entries.isEmpty)
    }
}
