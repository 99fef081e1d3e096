import Foundation
import Testing
import TernMailAuth
import TernServer
import TernSMTP
import TernTestSupport

/// `tern check` (DeploymentCheck) against a real nsd serving the test
/// domains (see CheckWorld): a domain with everything right passes, its
/// listeners and outbound port 25 to a local listener included; each
/// missing or wrong record is reported with the record to publish.
@Suite("tern check: DNS records, against a real nsd", .serialized)
struct DeploymentCheckTests {
    typealias Fixture = CheckWorld.Fixture
    static let hostname = CheckWorld.hostname

    static func fixture() throws -> Fixture { try CheckWorld.fixture() }
    static func shown(_ findings: [CheckFinding]) -> String { CheckWorld.shown(findings) }

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
        let keys = findings.filter { $0.area == .dkim && $0.severity == .ok }.map(\.subject)
        #expect(keys.sorted() == ["r1._domainkey.good.test", "s1._domainkey.good.test"], "RSA and Ed25519 keys both checked")
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
}
