import Foundation
import TernMailAuth
import TernServer
import TernTestSupport

/// The world the `tern check` tests look at: an nsd serving local domains
/// that are right or have one thing wrong, reverse DNS for 127.0.0.x,
/// probe domains, and DKIM keys on disk (Ed25519 for every domain, RSA as
/// well for good.test).
enum CheckWorld {
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
    /// each local domain (and an RSA one, r1, for good.test), published unless the domain leaves DKIM out
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
            if domain.name == "good.test" {
                // RSA too, as `tern dkim keygen` makes by default: its record spans several strings.
                let rsa = try store.generate(domain: domain.name, selector: "r1", algorithm: .rsaSHA256)
                lines.append("r1._domainkey IN TXT \(quoted(rsa.recordStrings))")
            }
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

}
