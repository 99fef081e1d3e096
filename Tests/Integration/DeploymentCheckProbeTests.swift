import Foundation
import Testing
import TernMailAuth
import TernServer
import TernSMTP
import TernTestSupport

/// `tern check` (DeploymentCheck) connecting out: outbound port 25 tried
/// against an address whose packets a firewall rule drops (blocked), one
/// where nothing listens (refused), and a relay host; the certificate in
/// [tls] and the one a listener serves judged. DNS from a real nsd.
@Suite("tern check: outbound port 25 and TLS", .serialized)
struct DeploymentCheckProbeTests {
    typealias Fixture = CheckWorld.Fixture
    static let hostname = CheckWorld.hostname

    static func fixture() throws -> Fixture { try CheckWorld.fixture() }
    static func shown(_ findings: [CheckFinding]) -> String { CheckWorld.shown(findings) }

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
            findings = try await fixture.run { options in
                options.offline = false
                options.domains = [try Domain(parsing: "good.test")]
            }
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
