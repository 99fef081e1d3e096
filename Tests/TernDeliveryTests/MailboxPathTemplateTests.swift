import Testing
@testable import TernDelivery

@Suite("Mailbox path template")
struct MailboxPathTemplateTests {
    @Test("Placeholders expand to the lowercased parts of the users-file address", arguments: [
        ("/var/mail/{domain}/{user}/Maildir", "alice@example.com", "/var/mail/example.com/alice/Maildir"),
        ("/var/mail/{domain}/{user}/Maildir", "Alice.Smith@Example.COM", "/var/mail/example.com/alice.smith/Maildir"),
        ("/srv/mail/{address}", "bob@example.org", "/srv/mail/bob@example.org"),
        ("/home/{user}/Maildir", "carol@example.net", "/home/carol/Maildir"),
        ("/var/vmail/{domain}/{user}", "用户@例え.テスト", "/var/vmail/例え.テスト/用户"),
        ("/var/mail/{domain}/{user}/Maildir", "bob+tag@example.com", "/var/mail/example.com/bob+tag/Maildir"),
        ("/m/{user}-{user}", "x@y.example", "/m/x-x"),
    ])
    func expand(template: String, user: String, path: String) throws {
        #expect(try MailboxPathTemplate(template).expand(user: user) == path)
    }

    @Test("A value can never climb out of its directory or share another user's", arguments: [
        ("../etc@example.com", "/var/mail/example.com/%2e.%2fetc/Maildir"),
        ("..@example.com", "/var/mail/example.com/%2e./Maildir"),
        (".@example.com", "/var/mail/example.com/%2e/Maildir"),
        (".hidden@example.com", "/var/mail/example.com/%2ehidden/Maildir"),
        ("a/b@example.com", "/var/mail/example.com/a%2fb/Maildir"),
        ("a%2fb@example.com", "/var/mail/example.com/a%252fb/Maildir"),
        ("nul\u{0}byte@example.com", "/var/mail/example.com/nul%00byte/Maildir"),
        ("tab\there@example.com", "/var/mail/example.com/tab%09here/Maildir"),
        ("a..b@example.com", "/var/mail/example.com/a..b/Maildir"),
        ("x@../../root", "/var/mail/%2e.%2f..%2froot/x/Maildir"),
    ])
    func sanitised(user: String, path: String) throws {
        let expanded = try MailboxPathTemplate.default.expand(user: user)
        #expect(expanded == path)
        let components = expanded.split(separator: "/")
        #expect(!components.contains(".."))
        #expect(!components.contains("."))
        #expect(components.count == 5)
        #expect(!expanded.utf8.contains(0))
    }

    @Test("Escaping is one-to-one, so two users never share a Maildir", arguments: [
        ("a/b", "a%2fb"), ("..", ".%2e"), ("%", "%25"), ("%25", "%2525"),
    ])
    func injective(first: String, second: String) throws {
        #expect(MailboxPathTemplate.escape(first[...]) != MailboxPathTemplate.escape(second[...]))
    }

    @Test("Bad templates are refused when the setting is read", arguments: [
        ("/var/mail/{domain}/{login}/Maildir", MailboxPathTemplate.TemplateError.unknownPlaceholder("login")),
        ("/var/mail/{domain/x", .unclosedPlaceholder),
        ("/var/mail/{}", .unknownPlaceholder("")),
    ])
    func badTemplate(template: String, error: MailboxPathTemplate.TemplateError) {
        #expect(throws: error) { try MailboxPathTemplate(template) }
    }

    @Test("An address without the parts the template needs is an error, not a shorter path", arguments: [
        ("alice", MailboxPathTemplate.TemplateError.missingDomain("alice")),
        ("@example.com", .emptyValue("user")),
        ("alice@", .emptyValue("domain")),
    ])
    func badUser(user: String, error: MailboxPathTemplate.TemplateError) {
        #expect(throws: error) { try MailboxPathTemplate.default.expand(user: user) }
    }
}
