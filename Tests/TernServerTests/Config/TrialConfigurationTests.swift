import Testing
import TernSMTP
@testable import TernServer

@Suite("The trial configuration and the rendered configuration")
struct TrialConfigurationTests {
    @Test("the trial configuration runs on loopback ports with everything under var/")
    func trial() {
        let c = Configuration.trial(baseDirectory: "/home/ann/tern")
        #expect(c.hostname.ascii == "localhost")
        #expect(c.domains.map(\.ascii) == ["localhost"])
        #expect(c.stateDirectory == "/home/ann/tern/var")
        #expect(c.listeners.map(\.address.description) == ["127.0.0.1:2525", "127.0.0.1:2587", "127.0.0.1:2465"])
        #expect(c.listeners.map(\.role) == [.mx, .submission, .submissions])
        #expect(c.listeners.allSatisfy { !$0.proxyProtocol })
        #expect(c.tls == Configuration.TLS(certificate: "/home/ann/tern/var/tls/cert.pem",
                                           privateKey: "/home/ann/tern/var/tls/key.pem"))
        #expect(c.accounts.users == "/home/ann/tern/var/users")
        #expect(c.accounts.aliases == "/home/ann/tern/var/aliases")
        #expect(c.mailbox.maildir == "/home/ann/tern/var/mail/{domain}/{user}/Maildir")
        // Everything else at its default.
        #expect(c.accounts.subaddressSeparator == Configuration.Accounts().subaddressSeparator)
        #expect(c.dns == Configuration.DNS())
        #expect(c.delivery == Configuration.Delivery())
        #expect(c.dkim == Configuration.DKIM())
        #expect(c.limits == Configuration.Limits())
        #expect(c.timeouts == Configuration.Timeouts())
        #expect(c.metrics == Configuration.Metrics())
        #expect(c.log == Configuration.Log())
    }

    @Test("a relative base directory is made absolute")
    func relativeBase() {
        let c = Configuration.trial(baseDirectory: ".")
        #expect(c.stateDirectory.hasPrefix("/"))
        #expect(c.stateDirectory.hasSuffix("/var"))
        #expect(!c.stateDirectory.contains("/./"))
    }

    @Test("the rendered trial configuration reads back as the same configuration")
    func trialRoundTrip() throws {
        let c = Configuration.trial(baseDirectory: "/srv/trial")
        let again = try Configuration(toml: c.redactedDescription, baseDirectory: "/elsewhere")
        #expect(again == c)
    }

    @Test("a configuration with every setting changed renders and reads back unchanged")
    func fullRoundTrip() throws {
        var c = Configuration.trial(baseDirectory: "/srv/x")
        c.listeners.append(Configuration.Listener(address: .init(address: "::", port: 25, isIPv6: true), proxyProtocol: true))
        c.accounts.aliases = nil
        c.accounts.subaddressSeparator = ""
        c.dns.nameservers = [.init(address: "::1", port: 5353, isIPv6: true), .init(address: "127.0.0.1", port: 53, isIPv6: false)]
        c.delivery.sourceAddress = "192.0.2.1"
        c.delivery.mxPort = 2525
        c.delivery.relay = Configuration.Relay(host: "2001:db8::25", port: 587, username: "u\"ser", passwordFile: "/etc/pw")
        c.delivery.queueLifetime = .seconds(93_784)
        c.delivery.delayWarning = nil
        c.delivery.capture = "/srv/capture"
        c.limits.messageSize = 1_023
        c.limits.authFailureWindow = .seconds(1)
        c.timeouts.dataTotal = .seconds(5_400)
        c.metrics.address = .init(address: "127.0.0.1", port: 9325, isIPv6: false)
        c.log.level = .critical
        c.log.file = "/var/log/tern.log"
        let text = c.redactedDescription
        let again = try Configuration(toml: text, baseDirectory: "/")
        #expect(again == c)
        #expect(text.contains("relay = \"[2001:db8::25]:587\""))
        #expect(text.contains("relay_password_file = \"/etc/pw\""))
        #expect(text.contains("delay_warning = \"0\""))
        #expect(text.contains("queue_lifetime = \"1d2h3m4s\""))
    }

    @Test("secret-looking keys are masked when rendered; others are shown")
    func masking() {
        var writer = TOMLWriter()
        writer.table("delivery")
        writer.set("relay_password", .string("hunter2"))
        writer.set("relay_password_file", .string("/etc/pw"))
        #expect(writer.text == "\n[delivery]\nrelay_password = \"********\"\nrelay_password_file = \"/etc/pw\"\n")
    }

    @Test("rendered strings escape quotes, backslashes and control characters", arguments: [
        ("plain", #""plain""#), (#"a"b"#, #""a\"b""#), (#"a\b"#, #""a\\b""#), ("a\nb", #""a\nb""#),
        ("\u{1}", #""\u0001""#), ("é", #""é""#),
    ])
    func quoting(raw: String, rendered: String) throws {
        #expect(TOMLWriter.quote(raw) == rendered)
        #expect(try TOML.parse("k = " + rendered)["k"]?.string == raw)
    }
}
