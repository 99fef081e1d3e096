import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Warnings from checking users and aliases together")
struct AccountsWarningTests {
    @Test("a local domain without postmaster is warned about (RFC 5321 §4.5.1)")
    func missingPostmaster() throws {
        let accounts = try makeAccounts(domains: ["example.com", "example.org"], users: ["alice@example.com"],
                                        aliases: "postmaster@example.com: alice\n")
        let postmaster = accounts.warnings.filter { $0.message.contains("postmaster") }
        #expect(postmaster.count == 1)
        #expect(postmaster.first?.message.hasPrefix("postmaster@example.org is not deliverable") == true)
        #expect(postmaster.first?.path == nil)
    }

    @Test("postmaster as a bare alias or as a user satisfies every domain")
    func postmasterPresent() throws {
        let viaAlias = try makeAccounts(domains: ["example.com", "example.org"],
                                        users: ["alice@example.com"], aliases: "postmaster: alice@example.com\n")
        #expect(viaAlias.warnings.isEmpty)
        let viaUser = try makeAccounts(domains: ["example.com"], users: ["PostMaster@example.com"])
        #expect(viaUser.warnings.isEmpty)
    }

    @Test("loops, dangling targets and foreign domains are warned about with their lines")
    func aliasProblems() throws {
        let accounts = try makeAccounts(
            domains: ["example.com"],
            users: ["alice@example.com", "stranger@elsewhere.example"],
            aliases: """
            postmaster: alice
            a@example.com: b@example.com
            b@example.com: a@example.com
            list@example.com: alice, ghost
            sales@elsewhere.example: alice@example.com
            @elsewhere.example: alice@example.com
            """)
        let messages = accounts.warnings.map(\.description)
        #expect(messages.contains("users:2: user stranger@elsewhere.example is not in a local domain (example.com): it can log in but receives no mail"))
        #expect(messages.contains("aliases:2: alias a@example.com cannot be delivered: alias loop: a@example.com → b@example.com → a@example.com"))
        #expect(messages.contains("aliases:3: alias b@example.com cannot be delivered: alias loop: b@example.com → a@example.com → b@example.com"))
        #expect(messages.contains("aliases:4: alias list@example.com: target ghost@example.com is neither a user nor an alias; it is left out"))
        #expect(messages.contains("aliases:5: alias sales@elsewhere.example is not in a local domain (example.com); it is never used"))
        #expect(messages.contains("aliases:6: catch-all @elsewhere.example is not for a local domain (example.com); it is never used"))
        #expect(messages.count == 6)
    }

    @Test("a bare-key alias is checked in every local domain")
    func bareKeyPerDomain() throws {
        let accounts = try makeAccounts(domains: ["example.com", "example.org"],
                                        users: ["root@example.com", "postmaster@example.org"],
                                        aliases: "webmaster: root\n")
        #expect(accounts.warnings.map(\.description) == [
            "aliases:1: alias webmaster in example.org: target root@example.org is neither a user nor an alias; it is left out",
            "aliases:1: alias webmaster in example.org cannot be delivered: unknown recipient",
            "postmaster@example.com is not deliverable (unknown recipient); RFC 5321 §4.5.1 requires it: add a line such as 'postmaster: you@example.com' to the aliases",
        ])
    }
}
