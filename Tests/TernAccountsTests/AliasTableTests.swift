import Testing
import TernSMTP
@testable import TernAccounts

@Suite("Aliases file parsing")
struct AliasTableTests {
    static func mailbox(_ text: String) -> AliasTarget {
        // Test tables only hold valid addresses.
        guard let m = try? Mailbox(parsing: text) else { fatalError("bad test address \(text)") }
        return .address(m)
    }

    @Test("keys, several targets, continuation lines, comments and blank lines")
    func syntax() throws {
        let text = """
        # aliases
        postmaster: alice
        sales@example.com: alice@example.com,
          bob,

          # a comment between continuation lines
        \tpartner@remote.example ,
        @example.org:alice@example.com
        "john doe": "john.doe"@example.com, "a,b"@example.com,
        Info@Bücher.Example: carol
        """
        let table = try AliasTable.parse(text, path: "/etc/tern/aliases")
        #expect(table.warnings.isEmpty)
        #expect(table.entries.map(\.line) == [2, 3, 8, 9, 10])
        #expect(table.entries.map(\.key.description) == [
            "postmaster", "sales@example.com", "@example.org", "\"john doe\"", "Info@Bücher.Example",
        ])
        #expect(table.entries[0].targets == [.localPart("alice")])
        #expect(table.entries[1].targets == [
            Self.mailbox("alice@example.com"), .localPart("bob"), Self.mailbox("partner@remote.example"),
        ])
        guard case .catchAll(let domain) = table.entries[2].key else {
            Issue.record("expected a catch-all key")
            return
        }
        #expect(domain.ascii == "example.org")
        #expect(table.entries[3].key == .localPart("john doe"))
        #expect(table.entries[3].targets == [Self.mailbox("\"john.doe\"@example.com"), Self.mailbox("\"a,b\"@example.com")])
        #expect(table.entries[4].targets == [.localPart("carol")])
    }

    @Test("program, file and include targets are skipped with a warning on their own line")
    func unsupportedTargets() throws {
        let text = """
        root: alice,
          |/usr/bin/procmail,
          /var/mail/archive, "|/usr/bin/vacation alice"
        list: :include:/etc/tern/list, bob
        """
        let table = try AliasTable.parse(text, path: "aliases")
        #expect(table.entries.map(\.targets) == [[.localPart("alice")], [.localPart("bob")]])
        #expect(table.warnings.map(\.line) == [2, 3, 3, 4])
        #expect(table.warnings.allSatisfy { $0.path == "aliases" })
        #expect(table.warnings[0].message.contains("program"))
        #expect(table.warnings[1].message.contains("file"))
        #expect(table.warnings[2].message.contains("program"))
        #expect(table.warnings[3].message.contains(":include:"))
        #expect(table.warnings[0].description.hasPrefix("aliases:2: alias root: target '|/usr/bin/procmail' skipped"))
    }

    @Test("an alias with only unsupported targets is kept empty, with a warning")
    func onlyUnsupported() throws {
        let table = try AliasTable.parse("vacation: |/usr/bin/vacation\n", path: "aliases")
        #expect(table.entries.count == 1 && table.entries[0].targets.isEmpty)
        #expect(table.warnings.count == 2)
        #expect(table.warnings.last?.message.contains("no supported targets") == true)
    }

    @Test("errors name the file and the line", arguments: [
        ("# c\nroot alice\n", 2, AccountsFileError.Reason.missingColon),
        ("  alice\nroot: bob\n", 1, .continuationWithoutEntry),
        ("root: alice\n# c\nROOT: bob\n", 3, .duplicateAlias("ROOT", firstLine: 1)),
        ("info@bücher.example: a\ninfo@xn--bcher-kva.example: b\n", 2, .duplicateAlias("info@xn--bcher-kva.example", firstLine: 1)),
        ("@Example.com: a\n@example.COM: b\n", 2, .duplicateAlias("@example.COM", firstLine: 1)),
        ("root:\n\nbob: x\n", 1, .noTargets("root")),
        ("root: ,\n", 1, .noTargets("root")),
        ("root: alice bob\n", 1, .badAddress("alice bob", detail: "targets must be separated by commas")),
        ("root: alice,\n  bad@@example.com\n", 2, .badAddress("bad@@example.com", detail: "not local-part@domain (RFC 5321 §4.1.2)")),
        ("root: \\root\n", 1, .unsupportedTarget("\\root", detail: "'\\user' (deliver without expanding) is not supported; name the user's full address")),
        (": alice\n", 1, .badAddress("", detail: "the alias key is empty")),
        ("@exa_mple.com: alice\n", 1, .badAddress("@exa_mple.com", detail: "the domain is not a valid host name")),
        ("sales@: alice\n", 1, .badAddress("sales@", detail: "not local-part@domain (RFC 5321 §4.1.2)")),
    ])
    func errors(text: String, line: Int, reason: AccountsFileError.Reason) {
        #expect(throws: AccountsFileError(path: "/etc/tern/aliases", line: line, reason: reason)) {
            try AliasTable.parse(text, path: "/etc/tern/aliases")
        }
    }
}
