import Foundation
import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Accounts store and reloading")
struct AccountsStoreTests {
    static let users = "alice@example.com:\(helloWorldHash)\n"
    static let aliases = "postmaster: alice\n"

    static func store(in directory: TemporaryDirectory) throws -> AccountsStore {
        try directory.write("users", users)
        try directory.write("aliases", aliases)
        return try AccountsStore(.init(domains: [domain("example.com")], usersPath: directory.file("users"),
                                       aliasesPath: directory.file("aliases")))
    }

    @Test("a configured path that does not exist stops start-up with a clear error")
    func missingAtStartup() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("users", Self.users)
        let aliases = directory.file("aliases")
        #expect(throws: AccountsFileError(path: aliases, reason: .missing)) {
            try AccountsStore(.init(domains: [domain("example.com")], usersPath: directory.file("users"), aliasesPath: aliases))
        }
        #expect(AccountsFileError(path: aliases, reason: .missing).description == "\(aliases): file does not exist")
    }

    @Test("an empty path means no such file")
    func emptyPaths() throws {
        let store = try AccountsStore(.init(domains: [domain("example.com")], usersPath: "", aliasesPath: ""))
        #expect(store.accounts.users.isEmpty && store.accounts.aliases.isEmpty)
        #expect(store.reloadIfChanged() == .unchanged)
        #expect(!store.accounts.recipientExists(try mailbox("alice@example.com")))
    }

    @Test("a broken file at start-up is an error with its line")
    func brokenAtStartup() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try directory.write("users", Self.users + "bob\n")
        try directory.write("aliases", Self.aliases)
        #expect(throws: AccountsFileError(path: directory.file("users"), line: 2, reason: .missingPasswordField)) {
            try AccountsStore(.init(domains: [domain("example.com")], usersPath: directory.file("users"),
                                    aliasesPath: directory.file("aliases")))
        }
    }

    @Test("nothing changed: nothing is reloaded")
    func unchanged() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        #expect(store.reloadIfChanged() == .unchanged)
        #expect(store.reloadIfChanged() == .unchanged)
    }

    @Test("a changed users file is picked up")
    func picksUpChange() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        #expect(!store.accounts.recipientExists(try mailbox("bob@example.com")))
        try directory.write("users", Self.users + "bob@example.com:\(helloWorldHash)\n")
        #expect(store.reloadIfChanged() == .reloaded(warnings: []))
        #expect(store.accounts.recipientExists(try mailbox("bob@example.com")))
        #expect(store.reloadIfChanged() == .unchanged)
    }

    @Test("a broken file keeps the last good snapshot, is reported once, and a fix is picked up")
    func brokenThenFixed() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        let before = store.accounts

        try directory.write("aliases", Self.aliases + "sales: bob,\n  bad@@example.com\n")
        directory.setModificationTime("aliases", secondsSinceEpoch: 1_700_000_000)
        let expected = AccountsFileError(path: directory.file("aliases"), line: 3,
                                         reason: .badAddress("bad@@example.com", detail: "not local-part@domain (RFC 5321 §4.1.2)"))
        #expect(store.reloadIfChanged() == .failed(expected))
        #expect(store.accounts.recipientExists(try mailbox("postmaster@example.com")))
        #expect(store.accounts.aliases == before.aliases)
        #expect(store.reloadIfChanged() == .unchanged)

        try directory.write("aliases", Self.aliases + "sales: alice\n")
        directory.setModificationTime("aliases", secondsSinceEpoch: 1_700_000_100)
        #expect(store.reloadIfChanged() == .reloaded(warnings: []))
        #expect(store.accounts.recipientExists(try mailbox("sales@example.com")))
    }

    @Test("a file that disappears keeps the last good snapshot")
    func disappears() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        try FileManager.default.removeItem(atPath: directory.file("users"))
        #expect(store.reloadIfChanged() == .failed(AccountsFileError(path: directory.file("users"), reason: .missing)))
        #expect(store.accounts.authenticate(username: "alice@example.com", password: "Hello world!") == "alice@example.com")
        try directory.write("users", Self.users)
        #expect(store.reloadIfChanged() == .reloaded(warnings: []))
    }

    @Test("an edit that keeps size and mtime is missed by reloadIfChanged but not by reload")
    func explicitReload() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        directory.setModificationTime("users", secondsSinceEpoch: 1_700_000_000)
        #expect(store.reload() == .reloaded(warnings: []))

        // Same length, same inode (written in place), mtime put back.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("users")))
        try handle.write(contentsOf: Data("carol".utf8))
        try handle.close()
        directory.setModificationTime("users", secondsSinceEpoch: 1_700_000_000)
        #expect(store.reloadIfChanged() == .unchanged)
        #expect(store.accounts.user(named: "alice@example.com") != nil)
        guard case .reloaded(let warnings) = store.reload() else {
            Issue.record("expected a reload")
            return
        }
        #expect(warnings.contains { $0.message.hasPrefix("postmaster@example.com is not deliverable") })
        #expect(store.accounts.user(named: "carol@example.com") != nil)
        #expect(store.accounts.user(named: "alice@example.com") == nil)
    }

    @Test("readers see whole snapshots while reloads run")
    func concurrentReaders() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try Self.store(in: directory)
        let two = Self.users + "bob@example.com:\(helloWorldHash)\n"
        let bob = try mailbox("bob@example.com")
        let counts = try await withThrowingTaskGroup(of: Set<Int>.self) { group in
            group.addTask {
                for i in 0..<50 {
                    try directory.write("users", i.isMultiple(of: 2) ? two : Self.users)
                    _ = store.reload()
                }
                return []
            }
            for _ in 0..<4 {
                group.addTask {
                    var seen = Set<Int>()
                    for _ in 0..<500 {
                        let accounts = store.accounts
                        let n = accounts.users.count
                        // A snapshot's tables always agree with each other.
                        #expect(accounts.recipientExists(bob) == (n == 2))
                        seen.insert(n)
                    }
                    return seen
                }
            }
            var all = Set<Int>()
            for try await seen in group { all.formUnion(seen) }
            return all
        }
        #expect(counts.isSubset(of: [1, 2]))
    }
}
