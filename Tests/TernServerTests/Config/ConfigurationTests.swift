import Foundation
import Logging
import Testing
import TernSMTP
@testable import TernServer

/// The smallest valid file: lines 1–5. Tests append sections from line 6 on.
let minimalTOML = """
    hostname = "mx.example.com"
    domains = ["example.com"]
    [[listener]]
    address = "127.0.0.1:2525"
    role = "mx"

    """

func decode(_ text: String, machineHostname: String? = "machine.example.org") throws(ConfigurationErrors) -> Configuration {
    try Configuration.decode(bytes: Array(text.utf8), file: "tern.toml", baseDirectory: "/etc/tern",
                             machineHostname: machineHostname)
}

/// The errors decoding `text` reports, or `[]` if it decodes.
func errors(_ text: String, machineHostname: String? = "machine.example.org") -> [ConfigurationError] {
    do {
        _ = try decode(text, machineHostname: machineHostname)
        return []
    } catch {
        return error.errors
    }
}

@Suite("Configuration decoding")
struct ConfigurationTests {
    @Test("a minimal file decodes with every other setting at its documented default")
    func defaults() throws {
        let c = try decode(minimalTOML)
        #expect(c.hostname.ascii == "mx.example.com")
        #expect(c.domains.map(\.ascii) == ["example.com"])
        #expect(c.listeners == [Configuration.Listener(address: .init(address: "127.0.0.1", port: 2525, isIPv6: false), role: .mx)])
        #expect(c.stateDirectory == "/var/lib/tern")
        #expect(c.tls == nil)
        #expect(c.accounts.users == "/etc/tern/users")
        #expect(c.accounts.aliases == "/etc/tern/aliases")
        #expect(c.accounts.subaddressSeparator == "+")
        #expect(c.mailbox.maildir == "/var/mail/{domain}/{user}/Maildir")
        #expect(c.dns.nameservers.isEmpty)
        #expect(c.delivery.sourceAddress == nil)
        #expect(c.delivery.mxPort == 25)
        #expect(c.delivery.relay == nil)
        #expect(c.delivery.queueLifetime == .seconds(432_000))
        #expect(c.delivery.delayWarning == .seconds(14_400))
        #expect(c.delivery.capture == nil)
        #expect(c.dkim.keys == "/etc/tern/dkim")
        #expect(c.limits.messageSize == 52_428_800)
        #expect(c.limits.recipients == 100)
        #expect(c.limits.connections == 1_000)
        #expect(c.limits.connectionsPerIP == 20)
        #expect(c.limits.errors == 20)
        #expect(c.limits.authFailures == 5)
        #expect(c.limits.authFailureWindow == .seconds(900))
        #expect(c.limits.receivedHeaders == 50)
        #expect(c.timeouts.command == .seconds(300))
        #expect(c.timeouts.dataBlock == .seconds(180))
        #expect(c.timeouts.dataTotal == .seconds(600))
        #expect(c.metrics.address == nil)
        #expect(c.log.level == .info)
        #expect(c.log.file == nil)
    }

    @Test("every setting is read when given, relative paths from the file's folder")
    func everySetting() throws {
        let c = try decode("""
            hostname = "MX.Example.COM"
            domains = ["example.com", "b\u{00FC}cher.example"]
            state_dir = "state"
            [[listener]]
            address = "0.0.0.0:25"
            [[listener]]
            address = "[::1]:2587"
            role = "submission"
            proxy_protocol = true
            [tls]
            certificate = "tls/cert.pem"
            private_key = "/keys/key.pem"
            [accounts]
            users = "users"
            aliases = ""
            subaddress_separator = "+-"
            [mailbox]
            maildir = "mail/{user}"
            [dns]
            nameservers = ["127.0.0.1:5353", "::1"]
            reverse_lookup = false
            [delivery]
            source_address = "2001:DB8::9"
            mx_port = 2525
            address_order = "ipv6-first"
            relay = "smtp.example.net:465"
            relay_username = "alice"
            relay_password_file = "../relay.secret"
            relay_ca_file = "relay-ca.pem"
            retry_min = "30s"
            retry_max = "2h"
            queue_lifetime = 86400
            delay_warning = "0"
            capture = "/tmp/capture"
            [checks]
            spf = "reject"
            dmarc = "annotate"
            [routes]
            "Gmail.COM" = "relay"
            "bücher.example" = "direct"
            [dkim]
            keys = "keys/dkim"
            [limits]
            message_size = 1000
            recipients = 5
            connections = 10
            connections_per_ip = 2
            errors = 3
            auth_failures = 4
            auth_failure_window = "1h"
            received_headers = 30
            [timeouts]
            command = "1m"
            data_block = 30
            data_total = "1h30m"
            [metrics]
            address = "127.0.0.1:9325"
            [log]
            level = "DEBUG"
            file = "log/tern.log"
            """)
        #expect(c.hostname.ascii == "mx.example.com")
        #expect(c.domains.map(\.ascii) == ["example.com", "xn--bcher-kva.example"])
        #expect(c.stateDirectory == "/etc/tern/state")
        #expect(c.listeners == [
            Configuration.Listener(address: .init(address: "0.0.0.0", port: 25, isIPv6: false), role: .mx),
            Configuration.Listener(address: .init(address: "::1", port: 2587, isIPv6: true), role: .submission,
                                   proxyProtocol: true),
        ])
        #expect(c.tls == Configuration.TLS(certificate: "/etc/tern/tls/cert.pem", privateKey: "/keys/key.pem"))
        #expect(c.accounts.users == "/etc/tern/users")
        #expect(c.accounts.aliases == nil)
        #expect(c.accounts.subaddressSeparator == "+-")
        #expect(c.mailbox.maildir == "/etc/tern/mail/{user}")
        #expect(c.dns.nameservers.map(\.description) == ["127.0.0.1:5353", "[::1]:53"])
        #expect(c.dns.reverseLookup == false)
        #expect(c.delivery.sourceAddress == "2001:db8::9")
        #expect(c.delivery.mxPort == 2525)
        var relay = Configuration.Relay(host: "smtp.example.net", port: 465, username: "alice",
                                        passwordFile: "/etc/relay.secret")
        relay.caFile = "/etc/tern/relay-ca.pem"
        #expect(c.delivery.relay == relay)
        #expect(c.delivery.relay?.usesImplicitTLS == true)
        #expect(c.delivery.addressOrder == "ipv6-first")
        #expect(c.delivery.retryMin == .seconds(30))
        #expect(c.delivery.retryMax == .seconds(7_200))
        #expect(c.routes == ["gmail.com": "relay", "xn--bcher-kva.example": "direct"])
        #expect(c.checks.spf == .reject)
        #expect(c.checks.dmarc == .annotate)
        #expect(c.delivery.queueLifetime == .seconds(86_400))
        #expect(c.delivery.delayWarning == nil)
        #expect(c.delivery.capture == "/tmp/capture")
        #expect(c.dkim.keys == "/etc/tern/keys/dkim")
        #expect(c.limits.messageSize == 1_000)
        #expect(c.limits.recipients == 5)
        #expect(c.limits.connections == 10)
        #expect(c.limits.connectionsPerIP == 2)
        #expect(c.limits.errors == 3)
        #expect(c.limits.authFailures == 4)
        #expect(c.limits.authFailureWindow == .seconds(3_600))
        #expect(c.limits.receivedHeaders == 30)
        #expect(c.timeouts.command == .seconds(60))
        #expect(c.timeouts.dataBlock == .seconds(30))
        #expect(c.timeouts.dataTotal == .seconds(5_400))
        #expect(c.metrics.address?.description == "127.0.0.1:9325")
        #expect(c.log.level == .debug)
        #expect(c.log.file == "/etc/tern/log/tern.log")
    }

    static let withoutHostname = minimalTOML.replacingOccurrences(of: "hostname = \"mx.example.com\"\n", with: "")

    @Test("without a hostname the machine's hostname is used")
    func machineHostname() throws {
        let c = try decode(Self.withoutHostname, machineHostname: "box.example.net")
        #expect(c.hostname.ascii == "box.example.net")
    }

    @Test("without a hostname, a machine hostname that is not a domain is an error")
    func badMachineHostname() {
        #expect(errors(Self.withoutHostname, machineHostname: "bad_name").map(\.description) == [
            "tern.toml: 'hostname' is not set and the machine's hostname (\"bad_name\") is not a valid domain: set 'hostname'",
        ])
    }

    @Test("the machine hostname is read from the system")
    func systemHostname() {
        #expect(Configuration.machineHostname()?.isEmpty == false)
    }

    @Test("a top-level key written after a section header belongs to that section")
    func stateDirUnderListener() {
        let found = errors(minimalTOML + "state_dir = \"x\"\n")
        #expect(found.map(\.description) == ["tern.toml:6: unknown key 'listener.state_dir'"])
    }
}
