import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Recipient expansion")
struct ExpansionTests {
    /// One configuration exercising every rule of the lookup order.
    static func standard(separators: String = "+") throws -> Accounts {
        try makeAccounts(
            domains: ["example.com", "bücher.example", "example.org"],
            users: ["alice@example.com", "Bob@Example.com", "carol@xn--bcher-kva.example", "dave@example.org",
                    "info@example.com", "team-lead@example.com"],
            aliases: """
            postmaster: alice
            info: bob
            sales@example.com: alice, bob@example.com, partner@remote.example
            sales+vip@example.com: dave@example.org
            alice@example.com: alice@example.com, archive@remote.example
            Info@Bücher.example: carol, sales@example.com
            @example.org: dave
            """,
            separators: separators)
    }

    @Test("lookup order: alias, user, sub-address, bare local part, catch-all", arguments: [
        // exact alias that names itself keeps a copy for the user
        ("alice@example.com", ["local:alice@example.com", "remote:archive@remote.example"]),
        ("ALICE@EXAMPLE.COM", ["local:alice@example.com", "remote:archive@remote.example"]),
        // sub-address stripped, then the alias of the base address
        ("alice+news@example.com", ["local:alice@example.com", "remote:archive@remote.example"]),
        // users: the users-file spelling is the canonical name
        ("bob@example.com", ["local:Bob@Example.com"]),
        ("bob+x@EXAMPLE.com", ["local:Bob@Example.com"]),
        // alias → alias, breadth first, no duplicates
        ("sales@example.com", ["local:Bob@Example.com", "remote:partner@remote.example",
                               "local:alice@example.com", "remote:archive@remote.example"]),
        // an exact alias with a separator in its key wins over stripping
        ("sales+vip@example.com", ["local:dave@example.org"]),
        ("sales+other@example.com", ["local:Bob@Example.com", "remote:partner@remote.example",
                                     "local:alice@example.com", "remote:archive@remote.example"]),
        // bare local part alias, target in the same domain
        ("postmaster@example.com", ["local:alice@example.com", "remote:archive@remote.example"]),
        ("PostMaster@bücher.example", ["unknown"]),
        // a user wins over a bare-local-part alias
        ("info@example.com", ["local:info@example.com"]),
        // bare alias in example.org → bob@example.org → catch-all
        ("info@example.org", ["local:dave@example.org"]),
        // IDN: U-label and A-label are one domain
        ("carol@bücher.example", ["local:carol@xn--bcher-kva.example"]),
        ("CAROL@XN--BCHER-KVA.EXAMPLE", ["local:carol@xn--bcher-kva.example"]),
        ("info@xn--bcher-kva.example", ["local:carol@xn--bcher-kva.example", "local:Bob@Example.com",
                                        "remote:partner@remote.example", "local:alice@example.com",
                                        "remote:archive@remote.example"]),
        // catch-all
        ("nobody@example.org", ["local:dave@example.org"]),
        ("nobody+x@example.org", ["local:dave@example.org"]),
        // unknown
        ("nobody@example.com", ["unknown"]),
        ("+tag@example.com", ["unknown"]),
        ("nobody@bücher.example", ["unknown"]),
        // remote recipients are passed through
        ("Someone@Remote.example", ["remote:Someone@Remote.example"]),
    ])
    func lookupOrder(recipient: String, expected: [String]) throws {
        let accounts = try Self.standard()
        #expect(summary(accounts.expand(try mailbox(recipient))) == expected)
    }

    @Test("deliveredTo keeps the recipient exactly as the client wrote it")
    func deliveredTo() throws {
        let accounts = try Self.standard()
        let recipient = try mailbox("Alice+Tag@EXAMPLE.com")
        let destinations = try accounts.expand(recipient).get()
        #expect(destinations.first == .local(user: "alice@example.com", deliveredTo: recipient))
        guard case .local(_, let deliveredTo) = destinations.first else {
            Issue.record("expected a local destination")
            return
        }
        #expect(deliveredTo.text == "Alice+Tag@EXAMPLE.com")
    }

    @Test("several separator characters, or none", arguments: [
        ("+-", "alice-work@example.com", ["local:alice@example.com", "remote:archive@remote.example"]),
        ("+-", "alice+work@example.com", ["local:alice@example.com", "remote:archive@remote.example"]),
        ("+-", "team-lead@example.com", ["local:team-lead@example.com"]),
        // the first separator of any kind splits, as with Postfix's recipient_delimiter
        ("+-", "team-lead+x@example.com", ["unknown"]),
        ("+", "team-lead+x@example.com", ["local:team-lead@example.com"]),
        ("+", "alice-work@example.com", ["unknown"]),
        ("", "alice+work@example.com", ["unknown"]),
        ("", "bob@example.com", ["local:Bob@Example.com"]),
    ])
    func separators(separators: String, recipient: String, expected: [String]) throws {
        let accounts = try Self.standard(separators: separators)
        #expect(summary(accounts.expand(try mailbox(recipient))) == expected)
    }

    static func loops() throws -> Accounts {
        try makeAccounts(
            domains: ["example.com"],
            users: ["alice@example.com", "u1@example.com", "u2@example.com"],
            aliases: """
            a@example.com: b@example.com
            b@example.com: a
            c@example.com: d@example.com, alice
            d@example.com: c@example.com
            self@example.com: self@example.com
            u1@example.com: u2@example.com
            u2@example.com: u1+x@example.com
            team@example.com: alice, alice@example.com, ALICE@example.com, alice+x, u1, r@remote.example, r@remote.example
            mixed@example.com: alice, ghost
            ghosts@example.com: ghost1, ghost2
            vacation@example.com: |/usr/bin/vacation
            """)
    }

    @Test("loops, self-references, duplicates and dangling targets", arguments: [
        ("a@example.com", ["loop:a@example.com>b@example.com>a@example.com"]),
        ("b@example.com", ["loop:b@example.com>a@example.com>b@example.com"]),
        ("self@example.com", ["loop:self@example.com>self@example.com"]),
        // a cycle that also reaches a user is cut, the user gets the mail
        ("c@example.com", ["local:alice@example.com"]),
        // users forwarding to each other: the cycle closes at their mailboxes
        ("u1@example.com", ["local:u1@example.com", "local:u2@example.com"]),
        ("u2@example.com", ["local:u2@example.com", "local:u1@example.com"]),
        ("team@example.com", ["local:alice@example.com", "remote:r@remote.example", "local:u1@example.com",
                              "local:u2@example.com"]),
        ("mixed@example.com", ["local:alice@example.com"]),
        ("ghosts@example.com", ["unknown"]),
        ("vacation@example.com", ["unknown"]),
    ])
    func loops(recipient: String, expected: [String]) throws {
        #expect(summary(try Self.loops().expand(try mailbox(recipient))) == expected)
    }

    @Test("a chain of 20 aliases expands; 21 is too deep", arguments: [(20, false), (21, true)])
    func depth(length: Int, tooDeep: Bool) throws {
        var lines = (1..<length).map { "l\($0)@example.com: l\($0 + 1)@example.com" }
        lines.append("l\(length)@example.com: alice")
        let accounts = try makeAccounts(domains: ["example.com"], users: ["alice@example.com"],
                                        aliases: lines.joined(separator: "\n"))
        let expected = tooDeep ? ["tooDeep"] : ["local:alice@example.com"]
        #expect(summary(accounts.expand(try mailbox("l1@example.com"))) == expected)
    }

    @Test("RCPT acceptance: local and expandable only", arguments: [
        ("alice@example.com", true), ("alice+x@Example.COM", true), ("nobody@example.com", false),
        ("nobody@example.org", true), ("someone@remote.example", false), ("PostMaster@example.com", true),
    ])
    func recipientExists(recipient: String, exists: Bool) throws {
        #expect(try Self.standard().recipientExists(try mailbox(recipient)) == exists)
    }

    @Test("RCPT acceptance fails for loops and empty aliases", arguments: [
        "a@example.com", "self@example.com", "vacation@example.com", "ghosts@example.com",
    ])
    func recipientExistsFailures(recipient: String) throws {
        #expect(try !Self.loops().recipientExists(try mailbox(recipient)))
    }

    @Test("<Postmaster> without a domain is postmaster of the first local domain")
    func barePostmaster() throws {
        let accounts = try Self.standard()
        #expect(summary(accounts.expand(ForwardPath.postmaster)) == ["local:alice@example.com", "remote:archive@remote.example"])
    }

    @Test("local domains compare case-insensitively, IDN forms included", arguments: [
        ("EXAMPLE.COM", true), ("Bücher.Example", true), ("xn--bcher-kva.example", true),
        ("example.net", false), ("sub.example.com", false),
    ])
    func isLocal(name: String, local: Bool) throws {
        #expect(try Self.standard().isLocal(domain(name)) == local)
    }

    @Test("failures know their SMTP meaning")
    func failureCodes() {
        #expect(ExpansionFailure.unknownRecipient.isPermanent)
        #expect(ExpansionFailure.unknownRecipient.enhancedStatusCode == "5.1.1")
        #expect(!ExpansionFailure.aliasLoop(["a", "a"]).isPermanent)
        #expect(!ExpansionFailure.tooDeep.isPermanent)
    }
}
