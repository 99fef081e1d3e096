import Foundation
import Testing
@testable import TernServer

@Suite("Configuration errors name file, line and key")
struct ConfigurationErrorTests {
    /// (document, every error it must report, in order)
    static let cases: [(String, [String])] = [
        // Unknown keys and sections
        (minimalTOML + "[limits]\nrecipent = 5", ["tern.toml:7: unknown key 'limits.recipent'; did you mean 'recipients'?"]),
        (minimalTOML + "[limts]\nrecipients = 5", ["tern.toml:6: unknown section '[limts]'; did you mean 'limits'?"]),
        ("hostnme = \"a.example\"\n" + minimalTOML, ["tern.toml:1: unknown key 'hostnme'; did you mean 'hostname'?"]),
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:2526\"\nrol = \"mx\"",
         ["tern.toml:8: unknown key 'listener.rol'; did you mean 'role'?"]),
        (minimalTOML + "[limits]\ncolour = 5", ["tern.toml:7: unknown key 'limits.colour'"]),
        (minimalTOML + "[frobnicate]\n", ["tern.toml:6: unknown section '[frobnicate]'"]),
        // Types
        (minimalTOML + "[limits]\nrecipients = \"100\"", ["tern.toml:7: 'limits.recipients' must be an integer, got string"]),
        ("limits = 5\n" + minimalTOML, ["tern.toml:1: 'limits' must be a section ([limits]), got integer"]),
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:1\"\nproxy_protocol = \"yes\"",
         ["tern.toml:8: 'listener.proxy_protocol' must be true or false, got string"]),
        ("hostname = \"mx.example.com\"\ndomains = [\"a.example\", 5]\n[[listener]]\naddress = \"127.0.0.1:1\"",
         ["tern.toml:2: 'domains' must hold only strings, got an integer"]),
        ("hostname = \"mx.example.com\"\ndomains = \"a.example\"\n[[listener]]\naddress = \"127.0.0.1:1\"",
         ["tern.toml:2: 'domains' must be an array of strings, got string"]),
        // Durations and sizes
        (minimalTOML + "[timeouts]\ncommand = \"5x\"",
         [#"tern.toml:7: 'timeouts.command' is not a duration: "5x"; write e.g. "30s", "5m", "1h30m", "5d" (at most 10 years)"#]),
        (minimalTOML + "[timeouts]\ncommand = true",
         [#"tern.toml:7: 'timeouts.command' must be a duration such as "5m" or a number of seconds, got boolean"#]),
        (minimalTOML + "[timeouts]\ndata_total = \"0\"", ["tern.toml:7: 'timeouts.data_total' must be longer than 0"]),
        (minimalTOML + "[limits]\nmessage_size = \"50 furlongs\"",
         [#"tern.toml:7: 'limits.message_size' is not a size: "50 furlongs"; write e.g. "50MiB", "10MB", "512KiB" or bytes (at most 1TiB)"#]),
        (minimalTOML + "[limits]\nmessage_size = 0", ["tern.toml:7: 'limits.message_size' must be at least 1 byte"]),
        (minimalTOML + "[limits]\nrecipients = 0", ["tern.toml:7: 'limits.recipients' must be at least 1, got 0"]),
        (minimalTOML + "[delivery]\nqueue_lifetime = \"1h\"\ndelay_warning = \"4h\"",
         [#"tern.toml:8: 'delivery.delay_warning' must be shorter than 'delivery.queue_lifetime' (1h), or "0" for no warning"#]),
        // Listeners
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:2526\"\nrole = \"relay\"",
         [#"tern.toml:8: 'listener.role' must be one of mx, submission, submissions; got "relay""#]),
        (minimalTOML + "[[listener]]\naddress = \"mx.example.com:25\"",
         [#"tern.toml:7: 'listener.address' must be an IP address, not a name, got "mx.example.com:25""#]),
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:65536\"",
         [#"tern.toml:7: 'listener.address' has a bad port: it must be 0–65535, got "127.0.0.1:65536""#]),
        (minimalTOML + "[[listener]]\naddress = \"[::1]\"",
         [#"tern.toml:7: 'listener.address' needs a port: "192.0.2.1:25" or "[::]:25", got "[::1]""#]),
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:2525\"",
         [#"tern.toml:7: 'listener.address' "127.0.0.1:2525" is used by two listeners (also on line 4)"#]),
        (minimalTOML + "[[listener]]\nrole = \"mx\"", ["tern.toml:6: 'listener.address' is required in every [[listener]]"]),
        ("hostname = \"mx.example.com\"\ndomains = [\"example.com\"]\n",
         ["tern.toml: no listener: add a [[listener]] section with an address and a role"]),
        ("hostname = \"mx.example.com\"\ndomains = [\"example.com\"]\n[listener]\naddress = \"127.0.0.1:1\"",
         ["tern.toml:3: 'listener' must be an array of tables: write [[listener]], not [listener]"]),
        (minimalTOML + "[[listener]]\naddress = \"127.0.0.1:2587\"\nrole = \"submission\"",
         [#"tern.toml:8: 'listener.role' is "submission", which needs TLS: set 'tls.certificate' and 'tls.private_key'"#]),
        // Identity
        ("hostname = \"mx.example.com\"\ndomains = [\"example..com\"]\n[[listener]]\naddress = \"127.0.0.1:1\"",
         [#"tern.toml:2: 'domains' is not a valid domain: "example..com" (letters, digits and hyphens between dots only, no trailing dot)"#]),
        ("hostname = \"[192.0.2.1]\"\ndomains = [\"example.com\"]\n[[listener]]\naddress = \"127.0.0.1:1\"",
         [#"tern.toml:1: 'hostname' must be a domain name, not an address literal: "[192.0.2.1]""#]),
        ("hostname = \"mx.example.com\"\ndomains = [\n  \"example.com\",\n  \"EXAMPLE.com\",\n]\n[[listener]]\naddress = \"127.0.0.1:1\"",
         [#"tern.toml:4: 'domains' lists "EXAMPLE.com" twice (also on line 3)"#]),
        ("hostname = \"mx.example.com\"\ndomains = []\n[[listener]]\naddress = \"127.0.0.1:1\"",
         ["tern.toml:2: 'domains' is empty: list at least one local domain"]),
        ("hostname = \"mx.example.com\"\n[[listener]]\naddress = \"127.0.0.1:1\"",
         [#"tern.toml: 'domains' is not set: list the local domains, e.g. domains = ["example.com"]"#]),
        ("hostname = \"bad_host\"\ndomains = [\"example.com\"]\n[[listener]]\naddress = \"127.0.0.1:1\"\n[limits]\nrecipients = 0", [
            #"tern.toml:1: 'hostname' is not a valid domain: "bad_host" (letters, digits and hyphens between dots only, no trailing dot)"#,
            "tern.toml:6: 'limits.recipients' must be at least 1, got 0",
        ]),
        // Other sections
        (minimalTOML + "[tls]\ncertificate = \"cert.pem\"",
         ["tern.toml:7: 'tls.certificate' is set, so 'tls.private_key' must be set too"]),
        (minimalTOML + "[accounts]\nusers = \"\"", ["tern.toml:7: 'accounts.users' must not be empty"]),
        (minimalTOML + "[accounts]\nsubaddress_separator = \"a\"",
         [#"tern.toml:7: 'accounts.subaddress_separator' must be "" or punctuation such as "+" or "-" (each character separates), got "a""#]),
        (minimalTOML + "[mailbox]\nmaildir = \"/var/mail/{domain}\"",
         ["tern.toml:7: 'mailbox.maildir' must contain {user}, or every user would share one Maildir"]),
        (minimalTOML + "[mailbox]\nmaildir = \"/var/mail/{home}/{user}\"",
         ["tern.toml:7: 'mailbox.maildir' may use only {domain} and {user}, got {home}"]),
        (minimalTOML + "[dns]\nnameservers = [\"ns.example.net\"]",
         [#"tern.toml:7: 'dns.nameservers' entry must be an IP address, not a name, got "ns.example.net""#]),
        (minimalTOML + "[delivery]\nmx_port = 0", ["tern.toml:7: 'delivery.mx_port' must be between 1 and 65535, got 0"]),
        (minimalTOML + "[delivery]\nsource_address = \"mx.example.com\"",
         [#"tern.toml:7: 'delivery.source_address' must be "" or an IP address, got "mx.example.com""#]),
        (minimalTOML + "[delivery]\nrelay_username = \"u\"\nrelay_password_file = \"p\"", [
            "tern.toml:7: 'delivery.relay_username' is set but 'delivery.relay' is empty",
            "tern.toml:8: 'delivery.relay_password_file' is set but 'delivery.relay' is empty",
        ]),
        (minimalTOML + "[delivery]\nrelay = \"smtp.example.net:587\"\nrelay_username = \"u\"",
         ["tern.toml:8: 'delivery.relay_username' needs 'delivery.relay_password_file' too"]),
        (minimalTOML + "[delivery]\naddress_order = \"ipv5\"",
         [#"tern.toml:7: 'delivery.address_order' must be one of "ipv4-first", "ipv6-first", "ipv4-only", "ipv6-only", got "ipv5""#]),
        (minimalTOML + "[delivery]\nretry_min = \"10m\"\nretry_max = \"5m\"",
         ["tern.toml:8: 'delivery.retry_max' must not be shorter than 'delivery.retry_min' (10m)"]),
        (minimalTOML + "[delivery]\nrelay_ca_file = \"ca.pem\"",
         ["tern.toml:7: 'delivery.relay_ca_file' is set but 'delivery.relay' is empty"]),
        (minimalTOML + "[routes]\n\"gmail.com\" = \"relay\"",
         ["tern.toml:7: 'routes.\"gmail.com\"' routes to the relay but 'delivery.relay' is empty"]),
        (minimalTOML + "[delivery]\nrelay = \"smtp.example.net:587\"\n[routes]\n\"gmail.com\" = \"fast\"\n\"not a domain\" = \"direct\"\n\"x.test\" = 1", [
            #"tern.toml:9: 'routes."gmail.com"' must be "relay" or "direct", got "fast""#,
            #"tern.toml:10: 'routes."not a domain"': "not a domain" is not a domain name"#,
            #"tern.toml:11: 'routes."x.test"' must be "relay" or "direct", got integer"#,
        ]),
        (minimalTOML + "[checks]\nspf = \"strict\"\ndmarc = \"on\"", [
            #"tern.toml:7: 'checks.spf' must be one of off, annotate, reject; got "strict""#,
            #"tern.toml:8: 'checks.dmarc' must be one of off, annotate, enforce; got "on""#,
        ]),
        (minimalTOML + "[metrics]\naddress = \"localhost:9325\"",
         [#"tern.toml:7: 'metrics.address' must be an IP address, not a name, got "localhost:9325""#]),
        (minimalTOML + "[log]\nlevel = \"loud\"",
         [#"tern.toml:7: 'log.level' must be one of trace, debug, info, notice, warning, error, critical; got "loud""#]),
        // Syntax errors carry a column
        (minimalTOML + "[limits]\nrecipients = = 5", ["tern.toml:7:14: expected a value, found '='"]),
        (minimalTOML + "[limits]\nrecipients = 5\nrecipients = 6", ["tern.toml:8:1: duplicate key 'limits.recipients' (first defined on line 7)"]),
    ]

    @Test("a bad setting is reported with file, line and key", arguments: cases)
    func reported(document: String, expected: [String]) {
        #expect(errors(document).map(\.description) == expected)
    }

    @Test("an error carries its key and line as fields")
    func fields() {
        let found = errors(minimalTOML + "[limits]\nrecipients = \"100\"")
        #expect(found == [ConfigurationError(file: "tern.toml", line: 7, key: "limits.recipients",
                                             message: "'limits.recipients' must be an integer, got string")])
    }

    @Test("all problems are reported together, in file order, one per line")
    func collectsAll() {
        let document = """
            hostname = "mx.example.com"
            domains = ["example.com"]
            [[listener]]
            address = "127.0.0.1:2525"
            [timeouts]
            command = "soon"
            [limits]
            recipients = "many"
            colour = "blue"
            [log]
            level = "loud"
            """
        do {
            _ = try decode(document)
            Issue.record("decoded a file with four errors")
        } catch {
            #expect(error.errors.map(\.line) == [6, 8, 9, 11])
            #expect(error.errors.map(\.key) == ["timeouts.command", "limits.recipients", "limits.colour", "log.level"])
            #expect(error.description.split(separator: "\n").count == 4)
            #expect(error.description.hasPrefix("tern.toml:6: 'timeouts.command' is not a duration"))
        }
    }

    @Test("a relay that looks like it holds a password is not repeated in the message")
    func relayNotEchoed() {
        let found = errors(minimalTOML + "[delivery]\nrelay = \"user:hunter2@smtp.example.net:587\"")
        #expect(found.count == 1)
        #expect(found.first?.line == 7)
        #expect(found.first?.description.contains("hunter2") == false)
    }

    @Test("control characters in a bad value are escaped in the message")
    func escapedInMessage() {
        let found = errors(minimalTOML + "[log]\nlevel = \"a\\u001b[31mb\"")
        #expect(found.first?.description.contains("\u{1B}") == false)
        #expect(found.first?.description.contains(#"\u{1B}[31mb"#) == true)
    }

    @Test("a missing file is an error naming its path")
    func missingFile() {
        let path = "/nonexistent-\(UUID().uuidString)/tern.toml"
        #expect(throws: ConfigurationErrors([
            ConfigurationError(file: path, message: "cannot read the configuration file: No such file or directory"),
        ])) {
            _ = try Configuration.load(file: path)
        }
    }

    @Test("a folder given as the file is an error naming it")
    func folderAsFile() {
        #expect {
            _ = try Configuration.load(file: NSTemporaryDirectory())
        } throws: { error in
            (error as? ConfigurationErrors)?.description.hasPrefix(NSTemporaryDirectory() + ": cannot read") == true
        }
    }

    @Test("a file is loaded with its paths resolved against its folder and errors naming it")
    func loadsFile() throws {
        let folder = NSTemporaryDirectory() + "tern-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let file = folder + "/etc/tern.toml"
        try Data((minimalTOML + "[accounts]\nusers = \"users\"\naliases = \"../aliases\"\n").utf8).write(to: URL(fileURLWithPath: file))
        let c = try Configuration.load(file: file)
        #expect(c.accounts.users == ConfigPath.normalize(folder + "/etc/users"))
        #expect(c.accounts.aliases == ConfigPath.normalize(folder + "/aliases"))

        try Data((minimalTOML + "[limits]\nrecipent = 5\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: ConfigurationErrors([
            ConfigurationError(file: file, line: 7, key: "limits.recipent",
                               message: "unknown key 'limits.recipent'; did you mean 'recipients'?"),
        ])) {
            _ = try Configuration.load(file: file)
        }
    }
}
