import Testing
import TernSMTP
@testable import TernServer

@Suite("[check]: what tern check probes")
struct CheckSettingsTests {
    @Test("without [check], three large providers are probed with a 10 s limit")
    func defaults() throws {
        let c = try Configuration(toml: minimalTOML, baseDirectory: "/etc/tern")
        #expect(c.check.probeDomains.map(\.ascii) == ["gmail.com", "outlook.com", "yahoo.com"])
        #expect(c.check.probeTimeout == .seconds(10))
    }

    @Test("probe_domains and probe_timeout are read; an empty list is allowed")
    func values() throws {
        let c = try Configuration(toml: minimalTOML + "[check]\nprobe_domains = [\"Example.ORG\"]\nprobe_timeout = \"1m30s\"",
                                  baseDirectory: "/")
        #expect(c.check.probeDomains == [try Domain(parsing: "example.org")])
        #expect(c.check.probeTimeout == .seconds(90))
        let empty = try Configuration(toml: minimalTOML + "[check]\nprobe_domains = []", baseDirectory: "/")
        #expect(empty.check.probeDomains.isEmpty)
    }

    @Test("bad settings are reported with file, line and key", arguments: [
        ("[check]\nprobe_domains = [\"a..b\"]",
         #"tern.toml:7: 'check.probe_domains' is not a valid domain: "a..b" (letters, digits and hyphens between dots only, no trailing dot)"#),
        ("[check]\nprobe_domains = [\"[192.0.2.1]\"]",
         #"tern.toml:7: 'check.probe_domains' must be a domain name, not an address literal: "[192.0.2.1]""#),
        ("[check]\nprobe_timeout = \"0\"", "tern.toml:7: 'check.probe_timeout' must be longer than 0"),
        ("[check]\nprobe_timout = \"5s\"", "tern.toml:7: unknown key 'check.probe_timout'; did you mean 'probe_timeout'?"),
    ])
    func errors(section: String, expected: String) {
        #expect(throws: ConfigurationErrors.self) { try Configuration(toml: minimalTOML + section, baseDirectory: "/") }
        do {
            _ = try Configuration(toml: minimalTOML + section, baseDirectory: "/")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test("[check] renders and reads back unchanged")
    func roundTrip() throws {
        var c = try Configuration(toml: minimalTOML, baseDirectory: "/")
        c.check.probeDomains = [try Domain(parsing: "probe.example")]
        c.check.probeTimeout = .seconds(3)
        let text = c.redactedDescription
        #expect(text.contains("\n[check]\nprobe_domains = [\"probe.example\"]\nprobe_timeout = \"3s\"\n"))
        #expect(try Configuration(toml: text, baseDirectory: "/") == c)
    }
}
