import Testing
@testable import TernServer

@Suite("Configuration values: durations, sizes, endpoints, paths, suggestions")
struct ConfigValueTests {
    static let durations: [(String, Int64?)] = [
        ("30s", 30), ("5m", 300), ("1h", 3_600), ("5d", 432_000), ("2w", 1_209_600),
        ("1h30m", 5_400), ("1d2h3m4s", 93_784), ("90", 90), ("0", 0), ("0s", 0), ("4h", 14_400),
        ("", nil), ("5", 5), ("5x", nil), ("m", nil), ("5 m", nil), ("-5m", nil), ("1.5h", nil),
        ("30m1h", nil), ("1h1h", nil), ("5M", nil), ("h5", nil), ("99999999999", nil), ("3660d", 316_224_000),
        ("3661d", nil),
    ]

    @Test("a duration string parses to seconds, or is refused", arguments: durations)
    func duration(text: String, seconds: Int64?) {
        #expect(ConfigDuration.parse(text) == seconds.map { .seconds($0) })
    }

    @Test("a duration formats to the shortest string that reads back", arguments: [
        (Int64(0), "0"), (30, "30s"), (300, "5m"), (5_400, "1h30m"), (432_000, "5d"), (1_209_600, "2w"),
        (93_784, "1d2h3m4s"),
    ])
    func durationFormat(seconds: Int64, text: String) {
        #expect(ConfigDuration.format(.seconds(seconds)) == text)
        #expect(ConfigDuration.parse(text) == .seconds(seconds))
    }

    static let sizes: [(String, Int64?)] = [
        ("50MiB", 52_428_800), ("10MB", 10_000_000), ("512KiB", 524_288), ("1024", 1_024), ("1GiB", 1_073_741_824),
        ("2GB", 2_000_000_000), ("100kB", 100_000), ("100KB", 100_000), ("7B", 7), ("50 MiB", 52_428_800),
        ("50mib", 52_428_800), ("0", 0),
        ("", nil), ("MiB", nil), ("50 furlongs", nil), ("1.5MiB", nil), ("-1", nil), ("50  MiB", nil), ("50MiB ", nil),
        ("1 ", nil), ("2TiB", nil), ("1025GiB", nil), ("99999999999999999999", nil),
    ]

    @Test("a size string parses to bytes, or is refused", arguments: sizes)
    func size(text: String, bytes: Int64?) {
        #expect(ConfigByteSize.parse(text) == bytes)
    }

    @Test("a size formats to the shortest exact string", arguments: [
        (Int64(52_428_800), "50MiB"), (10_000_000, "10MB"), (524_288, "512KiB"), (1_000, "1kB"), (1_023, "1023"),
        (0, "0"),
    ])
    func sizeFormat(bytes: Int64, text: String) {
        #expect(ConfigByteSize.format(bytes) == text)
        #expect(ConfigByteSize.parse(text) == bytes)
    }

    static let listenAddresses: [(String, String?)] = [
        ("0.0.0.0:25", "0.0.0.0:25"), ("[::]:25", "[::]:25"), ("127.0.0.1:0", "127.0.0.1:0"),
        ("[0:0::1]:587", "[::1]:587"), ("[2001:DB8::1]:465", "[2001:db8::1]:465"), ("192.0.2.1:65535", "192.0.2.1:65535"),
        ("192.0.2.1", nil), ("192.0.2.1:", nil), ("192.0.2.1:65536", nil), ("192.0.2.1:-1", nil), ("192.0.2.1:2a", nil),
        ("mx.example.com:25", nil), ("::1:25", nil), ("[::1]", nil), ("[::1]25", nil), ("[mx]:25", nil),
        ("256.0.0.1:25", nil), ("", nil), ("[::1", nil), ("1.2.3:25", nil),
    ]

    @Test("a listen address must be an IP literal with a port", arguments: listenAddresses)
    func listenAddress(text: String, canonical: String?) {
        let parsed = try? Configuration.Endpoint.parse(text, defaultPort: nil, allowsPortZero: true).get()
        #expect(parsed?.description == canonical)
    }

    static let nameservers: [(String, String?)] = [
        ("127.0.0.1", "127.0.0.1:53"), ("127.0.0.1:5353", "127.0.0.1:5353"), ("::1", "[::1]:53"),
        ("[::1]", "[::1]:53"), ("[::1]:5353", "[::1]:5353"), ("127.0.0.1:0", nil), ("ns.example:53", nil),
    ]

    @Test("a nameserver is an IP literal with an optional port", arguments: nameservers)
    func nameserver(text: String, canonical: String?) {
        let parsed = try? Configuration.Endpoint.parse(text, defaultPort: 53, allowsPortZero: false).get()
        #expect(parsed?.description == canonical)
    }

    @Test("the reason an endpoint is refused is named", arguments: [
        ("mx.example.com:25", Configuration.Endpoint.EndpointError.notAnIPAddress),
        ("::1:25", .ipv6NeedsBrackets), ("192.0.2.1", .missingPort), ("192.0.2.1:99999", .badPort(allowsZero: true)),
        ("[::1]x", .syntax),
    ])
    func endpointReason(text: String, reason: Configuration.Endpoint.EndpointError) {
        #expect(throws: reason) {
            _ = try Configuration.Endpoint.parse(text, defaultPort: nil, allowsPortZero: true).get()
        }
    }

    static let relays: [(String, String?, Int?)] = [
        ("smtp.example.net:587", "smtp.example.net", 587), ("SMTP.Example.NET:465", "smtp.example.net", 465),
        ("192.0.2.7:587", "192.0.2.7", 587), ("[2001:db8::7]:587", "2001:db8::7", 587),
        ("smtp.example.net", nil, nil), ("smtp.example.net:0", nil, nil), ("user:pw@smtp.example.net:587", nil, nil),
        ("smtp_example.net:587", nil, nil), ("2001:db8::7:587", nil, nil), (":587", nil, nil),
    ]

    @Test("a relay is a host name or IP address and a port", arguments: relays)
    func relay(text: String, host: String?, port: Int?) {
        let parsed = ConfigurationDecoder.hostAndPort(text)
        #expect(parsed?.0 == host)
        #expect(parsed?.1 == port)
    }

    static let paths: [(String, String, String)] = [
        ("/abs/file", "/etc/tern", "/abs/file"),
        ("users", "/etc/tern", "/etc/tern/users"),
        ("./var/users", "/etc/tern", "/etc/tern/var/users"),
        ("../lib/tern", "/etc/tern", "/etc/lib/tern"),
        ("../../../x", "/etc/tern", "/x"),
        ("a//b/./c/", "/base", "/base/a/b/c"),
        ("mail/{domain}/{user}/Maildir", "/srv", "/srv/mail/{domain}/{user}/Maildir"),
    ]

    @Test("a relative path is resolved against the configuration's folder", arguments: paths)
    func path(path: String, base: String, resolved: String) {
        #expect(ConfigPath.resolve(path, against: base) == resolved)
    }

    @Test("the folder of a relative configuration file is absolute")
    func directoryOfRelativeFile() {
        let folder = ConfigPath.directory(of: "conf/tern.toml")
        #expect(folder.hasPrefix("/"))
        #expect(folder.hasSuffix("/conf"))
        #expect(ConfigPath.directory(of: "/tern.toml") == "/")
    }

    @Test("a likely typo gets the closest known key as a suggestion", arguments: [
        ("recipent", "recipients"), ("recipients_", "recipients"), ("mesage_size", "message_size"),
        ("conections", "connections"), ("Recipients", "recipients"), ("erorrs", "errors"),
        ("colour", nil), ("x", nil), ("received", nil),
    ] as [(String, String?)])
    func suggestion(unknown: String, suggested: String?) {
        #expect(KeySuggestion.closest(to: unknown, among: ConfigurationSchema.keys(of: "limits")) == suggested)
    }

    @Test("edit distance counts insertions, deletions, substitutions and transpositions", arguments: [
        ("", "abc", 3), ("abc", "abc", 0), ("abc", "abd", 1), ("abc", "acb", 1), ("recipent", "recipients", 2),
        ("kitten", "sitting", 3),
    ])
    func distance(a: String, b: String, expected: Int) {
        #expect(KeySuggestion.distance(a, b) == expected)
    }

    @Test("keys that may hold a secret are recognised; files holding one are not", arguments: [
        ("delivery.relay_password", true), ("api_token", true), ("client_secret", true),
        ("delivery.relay_password_file", false), ("delivery.relay_username", false), ("limits.recipients", false),
    ])
    func secretKeys(key: String, secret: Bool) {
        #expect(ConfigurationSchema.isSecret(key) == secret)
    }
}
