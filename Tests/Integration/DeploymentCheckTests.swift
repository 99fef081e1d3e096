import Foundation
import Testing
import TernMailAuth
import TernServer
import TernSMTP
import TernTestSupport

/// `tern check` (DeploymentCheck) against a real nsd serving the test
/// domains: a domain with everything right passes; each missing or wrong
/// record is reported with the record to publish; outbound port 25 is
/// tried against a local listener (open), an address whose packets a
/// firewall rule drops (blocked) and one where nothing listens (refused);
/// the certificate in [tls] and the one the listeners serve are judged.
@Suite("tern check against a real nsd", .serialized)
struct DeploymentCheckTests {
    static let hostname = "mx.good.test"

    /// What a test works with: nsd, a folder with DKIM keys and
    /// certificates, and a configuration pointing at both.
    struct Fixture {
        let nsd: NSDServer
        let directory: URL
        var configuration: Configuration

        var keys: String { directory.appendingPathComponent("dkim").path }

        /// Stops nsd (synchronously) and removes the folder.
        func stop() {
            nsd.stop()
            try? FileManager.default.removeItem(at: directory)
        }

        func run(_ tweak: (inout DeploymentCheck.Options) throws -> Void = { _ in }) async rethrows -> [CheckFinding] {
            var options = DeploymentCheck.Options()
            options.offline = true
            try tweak(&options)
            return await DeploymentCheck(configuration: configuration, options: options).run()
        }
    }

    /// The parts of a local domain that `zone(healthy:)` can leave out.
    enum Part { case mx, spf, dkim, dmarc }

    /// The local domains of the fixture, each with one thing wrong (or none).
    static let localDomains: [(name: String, without: Set<Part>, extra: [String])] = [
        ("good.test", [], [
            "mx IN A 127.0.0.1", "mx IN TXT \"v=spf1 a -all\"", "mx2 IN A 127.0.0.8",
            "_mta-sts IN TXT \"v=STSv1; id=20250101T000000;\"", "mta-sts IN A 127.0.0.1",
            "_smtp._tls IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@good.test\"",
        ]),
        ("nomx.test", [.mx], []),
        ("elsewhere.test", [.mx], ["@ IN MX 10 mx.elsewhere.test.", "mx IN A 192.0.2.1"]),
        ("nullmx.test", [.mx], ["@ IN MX 0 ."]),
        ("nospf.test", [.spf], []),
        ("spffail.test", [.spf], ["@ IN TXT \"v=spf1 ip4:192.0.2.1 -all\""]),
        ("spfbroken.test", [.spf], ["@ IN TXT \"v=spf1 ip4:127.0.0.1 bogus:x -all\""]),
        ("twospf.test", [], ["@ IN TXT \"v=spf1 -all\""]),
        ("nodkim.test", [.dkim], []),
        ("wrongdkim.test", [.dkim], []),
        ("nodmarc.test", [.dmarc], []),
        ("baddmarc.test", [.dmarc], ["_dmarc IN TXT \"v=DMARC1; p=bogus\""]),
        ("badsts.test", [], ["_mta-sts IN TXT \"v=STSv1; id=not-alnum;\"", "mta-sts IN A 127.0.0.1"]),
        ("stsnohost.test", [], ["_mta-sts IN TXT \"v=STSv1; id=1;\""]),
        ("badtlsrpt.test", [], ["_smtp._tls IN TXT \"v=TLSRPTv1;\""]),
    ]

    /// Zones that are not local domains: reverse DNS, probe targets, a
    /// hostname without address.
    static let otherZones: [String: String] = [
        "0.0.127.in-addr.arpa": OutboundTests.zone("0.0.127.in-addr.arpa", [
            "1 IN PTR mx.good.test.", "6 IN PTR elsewhere.test.", "7 IN PTR mx.good.test.", "8 IN PTR mx2.good.test.",
        ]),
        "probe.test": OutboundTests.zone("probe.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.1"]),
        "blocked.test": OutboundTests.zone("blocked.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.253"]),
        "blocked2.test": OutboundTests.zone("blocked2.test", ["@ IN MX 5 mx", "mx IN A 127.0.0.253"]),
        "refusing.test": OutboundTests.zone("refusing.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.254"]),
        "nohost.test": OutboundTests.zone("nohost.test", []),
    ]

    /// Quoted TXT strings of a DKIM key record, as a zone file holds them.
    static func quoted(_ strings: [String]) -> String {
        strings.map { "\"\($0)\"" }.joined(separator: " ")
    }

    /// nsd with every zone; a DKIM key (Ed25519, selector s1) on disk for
    /// each local domain, published unless the domain leaves DKIM out
    /// (wrongdkim.test publishes another key); and a configuration for
    /// mx.good.test with all local domains, one listener on an ephemeral
    /// port (never probed) and no [tls].
    static func fixture() throws -> Fixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = DKIMKeyStore(directory: dir.appendingPathComponent("dkim").path)
        let other = DKIMKeyStore(directory: dir.appendingPathComponent("other-dkim").path)
        var zones = otherZones
        for domain in localDomains {
            let key = try store.generate(domain: domain.name, selector: "s1", algorithm: .ed25519SHA256)
            var lines: [String] = []
            if !domain.without.contains(.mx) { lines.append("@ IN MX 10 mx.good.test.") }
            if !domain.without.contains(.spf) { lines.append("@ IN TXT \"v=spf1 ip4:127.0.0.1 -all\"") }
            if !domain.without.contains(.dmarc) { lines.append("_dmarc IN TXT \"v=DMARC1; p=reject\"") }
            if !domain.without.contains(.dkim) { lines.append("s1._domainkey IN TXT \(quoted(key.recordStrings))") }
            if domain.name == "wrongdkim.test" {
                let stranger = try other.generate(domain: domain.name, selector: "s1", algorithm: .ed25519SHA256)
                lines.append("s1._domainkey IN TXT \(quoted(stranger.recordStrings))")
            }
            zones[domain.name] = OutboundTests.zone(domain.name, lines + domain.extra)
        }
        let nsd: NSDServer
        do {
            nsd = try NSDServer(zones: zones)
        } catch {
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        let toml = """
            hostname = "\(hostname)"
            domains = [\(localDomains.map { "\"\($0.name)\"" }.joined(separator: ", "))]
            state_dir = "state"
            [[listener]]
            address = "127.0.0.1:0"
            [dns]
            nameservers = ["\(nsd.nameserver)"]
            [dkim]
            keys = "dkim"
            [check]
            probe_domains = ["probe.test"]
            probe_timeout = "2s"
            """
        do {
            let configuration = try Configuration(toml: toml, file: "check.toml", baseDirectory: dir.path)
            return Fixture(nsd: nsd, directory: dir, configuration: configuration)
        } catch {
            nsd.stop()
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
    }

    /// The findings as text, for failure messages.
    static func shown(_ findings: [CheckFinding]) -> String {
        CheckReport.text(findings)
    }

    // MARK: Everything right

    @Test("A domain with everything right passes: every check ok, outbound port 25 open to a local listener")
    func everythingRight() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        fixture.configuration.domains = [try Domain(parsing: "good.test")]
        let server = try await TestServer.start(domain: "good.test", host: "127.0.0.1")
        // The running server's listeners, certificate and MX port.
        fixture.configuration.listeners = zip(server.server.configuration.listeners, server.server.boundAddresses).map {
            Configuration.Listener(address: .init(address: "127.0.0.1", port: $1.port ?? 0, isIPv6: false), role: $0.role)
        }
        fixture.configuration.tls = server.server.configuration.tls
        fixture.configuration.delivery.mxPort = server.mxPort
        let findings = await fixture.run { options in
            options.offline = false
            options.extraTrustRoots = [server.certificatePEM]
        }
        await server.stop()
        let problems = findings.filter { $0.severity >= .warning }
        #expect(problems.isEmpty, "\(Self.shown(problems))")
        #expect(findings.passed)
        let checked = Set(findings.filter { $0.severity == .ok }.map(\.area))
        #expect(checked == Set(CheckFinding.Area.allCases), "no ok finding for \(Set(CheckFinding.Area.allCases).subtracting(checked))")
        #expect(findings.filter { $0.area == .listener && $0.severity == .ok }.count == 3)
        let outbound = findings.first { $0.area == .outbound && $0.subject.hasPrefix("probe.test") }
        #expect(outbound?.message.contains("220") == true, "\(Self.shown(findings))")
        #expect(CheckReport.summary(findings).hasPrefix("0 errors, 0 warnings"))
    }

    // MARK: Each record missing or wrong

    struct RecordCase: Sendable, CustomTestStringConvertible {
        var domain: String
        var area: CheckFinding.Area
        var message: String
        /// A line the record to publish must contain; "" = no record expected.
        var record: String
        var testDescription: String { "\(domain): \(area.rawValue) \"\(message)\"" }
    }

    static let recordCases: [RecordCase] = [
        RecordCase(domain: "nomx.test", area: .mx, message: "has no MX record", record: "nomx.test. IN MX 10 mx.good.test."),
        RecordCase(domain: "elsewhere.test", area: .mx, message: "is 10 mx.elsewhere.test, not this host",
                   record: "elsewhere.test. IN MX 10 mx.good.test."),
        RecordCase(domain: "nullmx.test", area: .mx, message: "null MX", record: "nullmx.test. IN MX 10 mx.good.test."),
        RecordCase(domain: "nospf.test", area: .spf, message: "has no SPF record",
                   record: "nospf.test. IN TXT \"v=spf1 a:mx.good.test -all\""),
        RecordCase(domain: "spffail.test", area: .spf, message: "does not allow 127.0.0.1 (fail)",
                   record: "spffail.test. IN TXT \"v=spf1 ip4:127.0.0.1 ip4:192.0.2.1 -all\""),
        RecordCase(domain: "spfbroken.test", area: .spf, message: "does not parse: invalid term \"bogus:x\"",
                   record: "spfbroken.test. IN TXT \"v=spf1 a:mx.good.test -all\""),
        RecordCase(domain: "twospf.test", area: .spf, message: "has 2 SPF records",
                   record: "twospf.test. IN TXT \"v=spf1 a:mx.good.test -all\""),
        RecordCase(domain: "nodkim.test", area: .dkim, message: "no DKIM record for the key",
                   record: "s1._domainkey.nodkim.test. IN TXT ( \"v=DKIM1; k=ed25519; p="),
        RecordCase(domain: "wrongdkim.test", area: .dkim, message: "holds another key than",
                   record: "s1._domainkey.wrongdkim.test. IN TXT ( \"v=DKIM1; k=ed25519; p="),
        RecordCase(domain: "nodmarc.test", area: .dmarc, message: "has no DMARC record",
                   record: "_dmarc.nodmarc.test. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@nodmarc.test\""),
        RecordCase(domain: "baddmarc.test", area: .dmarc, message: "is unusable: invalid p and no valid rua",
                   record: "_dmarc.baddmarc.test. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@baddmarc.test\""),
        RecordCase(domain: "badsts.test", area: .mtaSTS, message: "id= must be 1 to 32 letters and digits",
                   record: "_mta-sts.badsts.test. IN TXT \"v=STSv1; id="),
        RecordCase(domain: "stsnohost.test", area: .mtaSTS, message: "mta-sts.stsnohost.test, which must serve the policy",
                   record: "mta-sts.stsnohost.test. IN A"),
        RecordCase(domain: "badtlsrpt.test", area: .tlsRPT, message: "no rua= field",
                   record: "_smtp._tls.badtlsrpt.test. IN TXT \"v=TLSRPTv1; rua=mailto:postmaster@badtlsrpt.test\""),
    ]

    @Test("Each missing or wrong record of a domain is an error with the record to publish", arguments: recordCases)
    func wrongRecord(_ c: RecordCase) async throws {
        let fixture = try Self.fixture()
        defer { fixture.stop() }
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: c.domain)] }
        let errors = findings.filter { $0.area == c.area && $0.severity == .error }
        #expect(errors.count == 1, "\(Self.shown(findings))")
        let error = errors.first
        #expect(error?.message.contains(c.message) == true, "\(Self.shown(errors))")
        #expect(error?.record?.contains(c.record) == true, "\(Self.shown(errors))")
        #expect(!findings.passed)
        // The other records of the domain are right.
        let others = findings.filter { $0.scope == "domain \(c.domain)" && $0.area != c.area && $0.severity == .error }
        #expect(others.isEmpty, "\(Self.shown(others))")
    }

    @Test("The DKIM record to publish is the one tern dkim keygen printed for the key on disk")
    func dkimRecordIsKeygens() async throws {
        let fixture = try Self.fixture()
        defer { fixture.stop() }
        let key = try #require(try DKIMKeyStore(directory: fixture.keys).signingKeys(for: "nodkim.test").first)
        let path = fixture.keys + "/nodkim.test/s1.key"
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: "nodkim.test")] }
        let record = findings.first { $0.area == .dkim }?.record
        #expect(record == DKIMKeyStore.GeneratedKey(key: key, path: path).zoneLine)
    }

    // MARK: This host's names and addresses

    struct HostCase: Sendable, CustomTestStringConvertible {
        var hostname: String
        var address: String
        var area: CheckFinding.Area
        var severity: CheckFinding.Severity
        var message: String
        var record: String
        var testDescription: String { "\(hostname) at \(address): \(area.rawValue) \"\(message)\"" }
    }

    static let hostCases: [HostCase] = [
        HostCase(hostname: hostname, address: "127.0.0.5", area: .ptr, severity: .error,
                 message: "127.0.0.5 has no reverse DNS", record: "5.0.0.127.in-addr.arpa. IN PTR mx.good.test."),
        HostCase(hostname: hostname, address: "127.0.0.5", area: .hostname, severity: .error,
                 message: "mx.good.test does not point at 127.0.0.5", record: "mx.good.test. IN A 127.0.0.5"),
        HostCase(hostname: hostname, address: "127.0.0.6", area: .ptr, severity: .error,
                 message: "the reverse DNS of 127.0.0.6 is elsewhere.test, not mx.good.test",
                 record: "6.0.0.127.in-addr.arpa. IN PTR mx.good.test."),
        HostCase(hostname: hostname, address: "127.0.0.7", area: .ptr, severity: .error,
                 message: "not forward-confirmed", record: "mx.good.test. IN A 127.0.0.7"),
        HostCase(hostname: "mx.nohost.test", address: "127.0.0.1", area: .hostname, severity: .error,
                 message: "mx.nohost.test has no A or AAAA record", record: "mx.nohost.test. IN A 127.0.0.1"),
        HostCase(hostname: "mx2.good.test", address: "127.0.0.8", area: .spf, severity: .warning,
                 message: "mx2.good.test has no SPF record; receivers check it for bounces",
                 record: "mx2.good.test. IN TXT \"v=spf1 a -all\""),
    ]

    @Test("The hostname, its addresses and their reverse DNS are checked, with the record to publish",
          arguments: hostCases)
    func hostRecords(_ c: HostCase) async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        fixture.configuration.hostname = try Domain(parsing: c.hostname)
        let findings = try await fixture.run { options in
            options.domains = [try Domain(parsing: "good.test")]
            options.addresses = [c.address]
        }
        let matching = findings.filter { $0.area == c.area && $0.severity == c.severity && $0.message.contains(c.message) }
        #expect(matching.count == 1, "\(Self.shown(findings))")
        #expect(matching.first?.record?.contains(c.record) == true, "\(Self.shown(matching))")
    }

    @Test("Without --address, the listeners' explicit address is this host's: 127.0.0.1 is forward-confirmed")
    func addressesFromListeners() async throws {
        let fixture = try Self.fixture()
        defer { fixture.stop() }
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: "good.test")] }
        let host = findings.filter { $0.scope == "host mx.good.test" }
        #expect(host.allSatisfy { $0.severity == .ok }, "\(Self.shown(host))")
        #expect(host.contains { $0.area == .ptr && $0.message == "127.0.0.1 ↔ mx.good.test (forward-confirmed)" })
    }

    // MARK: Outbound port 25

    @Test("Every probe times out behind a dropping firewall rule: port 25 is blocked, and the relay settings are shown")
    func port25Blocked() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        let port = 42_525
        let rule = try DropRule(address: "127.0.0.253", port: port)
        let findings: [CheckFinding]
        do {
            defer { rule.remove() }
            fixture.configuration.delivery.mxPort = port
            fixture.configuration.check.probeDomains = [try Domain(parsing: "blocked.test"), try Domain(parsing: "blocked2.test")]
            fixture.configuration.check.probeTimeout = .milliseconds(500)
            let clock = ContinuousClock()
            let started = clock.now
            findings = try await fixture.run { options in
                options.offline = false
                options.domains = [try Domain(parsing: "good.test")]
            }
            // Both probes run at once, each stopped by its own time limit.
            #expect(clock.now - started < .seconds(10))
        }
        #expect(!rule.isInstalled, "the firewall rule was not removed")
        let outbound = findings.filter { $0.area == .outbound }
        let probes = outbound.filter { $0.subject.contains("[127.0.0.253]:\(port)") }
        #expect(probes.count == 2 && probes.allSatisfy { $0.message == "no answer within 500ms" }, "\(Self.shown(outbound))")
        let verdict = try #require(outbound.last)
        #expect(verdict.severity == .error)
        #expect(verdict.message.contains("went unanswered for 500ms: your provider blocks outbound port \(port)"))
        let advice = verdict.advice ?? ""
        for setting in ["[delivery]", "relay = \"", "relay_username = \"", "relay_password_file = \""] {
            #expect(advice.contains(setting), "advice lacks \(setting): \(advice)")
        }
        #expect(!findings.passed)
    }

    @Test("Every probe refused (nothing listens): outbound port 25 is reported closed")
    func port25Refused() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        fixture.configuration.check.probeDomains = [try Domain(parsing: "refusing.test")]
        let findings = try await fixture.run { options in
            options.offline = false
            options.domains = [try Domain(parsing: "good.test")]
        }
        let verdict = findings.last { $0.area == .outbound }
        #expect(verdict?.severity == .error)
        #expect(verdict?.message.contains("was refused") == true, "\(Self.shown(findings))")
    }

    @Test("--offline skips the outbound test")
    func offline() async throws {
        let fixture = try Self.fixture()
        defer { fixture.stop() }
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: "good.test")] }
        let outbound = findings.filter { $0.area == .outbound }
        #expect(outbound.count == 1 && outbound.first?.severity == .info && outbound.first?.message == "not tested (--offline)")
    }

    @Test("With a relay host set, a blocked port 25 is only a note, and the relay is tried (its password file never read)")
    func relay() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        let passwordFile = fixture.directory.appendingPathComponent("relay-password")
        try "hunter2-relay-secret\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        fixture.configuration.check.probeDomains = [try Domain(parsing: "refusing.test")]
        let good = try Domain(parsing: "good.test")
        let relay = try await TestServer.start(domain: "relay.test", host: "127.0.0.1")
        fixture.configuration.delivery.relay = Configuration.Relay(host: "127.0.0.1", port: relay.mxPort, username: "u",
                                                                   passwordFile: passwordFile.path)
        let findings = await fixture.run { options in
            options.offline = false
            options.domains = [good]
        }
        await relay.stop()
        let outbound = findings.filter { $0.area == .outbound }
        let relayed = outbound.first { $0.subject == "relay 127.0.0.1:\(relay.mxPort)" }
        #expect(relayed?.severity == .ok && relayed?.message.contains("220") == true, "\(Self.shown(outbound))")
        #expect(outbound.last?.severity == .info)
        #expect(outbound.last?.message.contains("mail goes through [delivery] relay") == true)
        #expect(!CheckReport.json(findings, hostname: Self.hostname).contains("hunter2"))
    }

    // MARK: TLS

    struct CertificateCase: Sendable, CustomTestStringConvertible {
        var names: [String]
        var validDays: Int
        var issuedDaysAgo: Int
        var severity: CheckFinding.Severity
        var message: String
        var testDescription: String { message }
    }

    static let certificateCases: [CertificateCase] = [
        CertificateCase(names: ["other.test"], validDays: 365, issuedDaysAgo: 0, severity: .error,
                        message: "not valid for mx.good.test: it names other.test"),
        CertificateCase(names: ["*.good.test"], validDays: 365, issuedDaysAgo: 0, severity: .ok,
                        message: "valid for mx.good.test"),
        CertificateCase(names: [hostname], validDays: 5, issuedDaysAgo: 0, severity: .error,
                        message: "in 5 days: renewal is not working"),
        CertificateCase(names: [hostname], validDays: 30, issuedDaysAgo: 60, severity: .error, message: "expired on"),
        CertificateCase(names: [hostname], validDays: 365, issuedDaysAgo: 0, severity: .warning,
                        message: "self-signed: mail clients, and servers that require a trusted certificate (MTA-STS), refuse it"),
    ]

    @Test("The certificate in [tls] must be for the hostname, not near expiry, and trusted", arguments: certificateCases)
    func certificateFile(_ c: CertificateCase) async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        let pem = try SelfSignedCertificate.make(commonName: c.names[0], dnsNames: c.names, ipAddresses: [],
                                                 validFor: c.validDays,
                                                 now: Date().addingTimeInterval(-Double(c.issuedDaysAgo) * 86_400))
        let file = fixture.directory.appendingPathComponent("cert.pem")
        try pem.certificate.write(to: file, atomically: true, encoding: .utf8)
        fixture.configuration.tls = Configuration.TLS(certificate: file.path, privateKey: file.path)
        // good.test does not count here: its MTA-STS would make trust an error.
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: "nodmarc.test")] }
        let tls = findings.filter { $0.area == .tls && $0.subject == file.path }
        #expect(tls.contains { $0.severity == c.severity && $0.message.contains(c.message) }, "\(Self.shown(tls))")
    }

    @Test("With MTA-STS published, an untrusted certificate is an error")
    func untrustedWithMTASTS() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        let pem = try SelfSignedCertificate.make(commonName: Self.hostname, dnsNames: [Self.hostname], ipAddresses: [])
        let file = fixture.directory.appendingPathComponent("cert.pem")
        try pem.certificate.write(to: file, atomically: true, encoding: .utf8)
        fixture.configuration.tls = Configuration.TLS(certificate: file.path, privateKey: file.path)
        let findings = try await fixture.run { $0.domains = [try Domain(parsing: "good.test")] }
        let trust = findings.first { $0.area == .tls && $0.message.hasPrefix("self-signed") }
        #expect(trust?.severity == .error)
        #expect(trust?.message.contains("MTA-STS is published for good.test") == true, "\(Self.shown(findings))")
    }

    @Test("A listener serving another certificate than the file in [tls] is reported, and what it serves is judged")
    func listenerServesOtherCertificate() async throws {
        var fixture = try Self.fixture()
        defer { fixture.stop() }
        let renewed = try SelfSignedCertificate.make(commonName: Self.hostname, dnsNames: [Self.hostname], ipAddresses: [])
        let file = fixture.directory.appendingPathComponent("renewed.pem")
        try renewed.certificate.write(to: file, atomically: true, encoding: .utf8)
        fixture.configuration.tls = Configuration.TLS(certificate: file.path, privateKey: file.path)
        let domain = try Domain(parsing: "nodmarc.test")
        let server = try await TestServer.start(domain: "good.test", host: "127.0.0.1")
        fixture.configuration.listeners = [
            Configuration.Listener(address: .init(address: "127.0.0.1", port: server.submissionPort, isIPv6: false),
                                   role: .submission),
        ]
        let findings = await fixture.run { options in
            options.domains = [domain]
            options.extraTrustRoots = [server.certificatePEM, renewed.certificate]
        }
        await server.stop()
        let subject = "submission listener 127.0.0.1:\(server.submissionPort)"
        let listener = findings.filter { $0.subject == subject }
        #expect(listener.contains { $0.severity == .warning && $0.message.contains("serves another certificate") },
                "\(Self.shown(findings))")
        #expect(listener.contains { $0.area == .tls && $0.severity == .ok && $0.message == "valid for mx.good.test" })
    }
}
