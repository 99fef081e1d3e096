import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Sender addresses and logins")
struct SenderAndLoginTests {
    @Test("which MAIL FROM addresses an authenticated user may use", arguments: [
        ("alice@example.com", "alice@example.com", true),
        ("alice@example.com", "ALICE@Example.COM", true),
        ("ALICE@EXAMPLE.COM", "alice@example.com", true),
        ("alice@example.com", "alice+lists@example.com", true),
        // aliases whose expansion reaches the user, and their sub-addresses
        ("alice@example.com", "sales@example.com", true),
        ("alice@example.com", "sales+q3@example.com", true),
        ("Bob@Example.com", "sales@example.com", true),
        ("alice@example.com", "postmaster@example.com", true),
        ("carol@xn--bcher-kva.example", "Info@bücher.example", true),
        // an exact alias with a separator goes to dave only
        ("alice@example.com", "sales+vip@example.com", false),
        ("dave@example.org", "sales+vip@example.com", true),
        // someone else's mailbox, a catch-all, a remote address, a stranger
        ("alice@example.com", "bob@example.com", false),
        ("dave@example.org", "anything@example.org", false),
        ("alice@example.com", "alice@remote.example", false),
        ("alice@example.com", "nobody@example.com", false),
        ("nobody@example.com", "nobody@example.com", false),
    ])
    func mayUseSender(user: String, address: String, allowed: Bool) throws {
        let accounts = try ExpansionTests.standard()
        #expect(accounts.mayUseSender(user: user, address: try mailbox(address)) == allowed)
    }

    @Test("another user's address stays theirs even when their alias copies to you")
    func otherUsersMailbox() throws {
        let accounts = try makeAccounts(domains: ["example.com"], users: ["alice@example.com", "bob@example.com"],
                                        aliases: "bob@example.com: bob@example.com, alice@example.com\n")
        #expect(summary(accounts.expand(try mailbox("bob@example.com"))) == ["local:bob@example.com", "local:alice@example.com"])
        #expect(!accounts.mayUseSender(user: "alice@example.com", address: try mailbox("bob@example.com")))
        #expect(!accounts.mayUseSender(user: "alice@example.com", address: try mailbox("bob+x@example.com")))
        #expect(accounts.mayUseSender(user: "bob@example.com", address: try mailbox("bob@example.com")))
    }

    static func logins(domains: [String]) throws -> Accounts {
        try makeAccounts(domains: domains,
                         users: ["alice@example.com", "Bob@Example.com", "carol@xn--bcher-kva.example",
                                 "plain@example.com:{PLAIN}Hello world!", "nopass@example.com:"])
    }

    @Test("logins with one local domain", arguments: [
        ("alice@example.com", "Hello world!", "alice@example.com"),
        ("ALICE@EXAMPLE.COM", "Hello world!", "alice@example.com"),
        ("bob@example.com", "Hello world!", "Bob@Example.com"),
        ("alice", "Hello world!", "alice@example.com"),
        ("Alice", "Hello world!", "alice@example.com"),
        ("alice@example.com", "hello world!", nil),
        ("alice@example.com", "", nil),
        ("alice+x@example.com", "Hello world!", nil),
        ("nobody@example.com", "Hello world!", nil),
        ("plain@example.com", "Hello world!", nil),
        ("plain@example.com", "{PLAIN}Hello world!", nil),
        ("nopass@example.com", "", nil),
        ("", "Hello world!", nil),
        ("not an address@", "Hello world!", nil),
    ] as [(String, String, String?)])
    func oneDomain(username: String, password: String, expected: String?) throws {
        #expect(try Self.logins(domains: ["example.com"]).authenticate(username: username, password: password) == expected)
    }

    @Test("logins with several local domains need the full address", arguments: [
        ("alice", nil), ("alice@example.com", "alice@example.com"),
        ("carol@bücher.example", "carol@xn--bcher-kva.example"),
        ("CAROL@XN--BCHER-KVA.EXAMPLE", "carol@xn--bcher-kva.example"),
    ] as [(String, String?)])
    func severalDomains(username: String, expected: String?) throws {
        let accounts = try Self.logins(domains: ["example.com", "bücher.example"])
        #expect(accounts.authenticate(username: username, password: "Hello world!") == expected)
    }
}
