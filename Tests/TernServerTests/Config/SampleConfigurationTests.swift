import Foundation
import Testing
import TernSMTP
@testable import TernServer

@Suite("etc/tern.toml, the sample configuration")
struct SampleConfigurationTests {
    /// The repository's etc/tern.toml, found from this file:
    /// Tests/TernServerTests/Config/ → repository root.
    static let samplePath: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("etc/tern.toml").path
    }()

    @Test("the sample decodes without errors")
    func decodes() throws {
        _ = try Configuration.load(file: Self.samplePath)
    }

    @Test("the sample shows the code's default for every setting but the example identity, listeners and TLS")
    func showsDefaults() throws {
        let sample = try Configuration.load(file: Self.samplePath)
        // Example values, marked so in the file's comments:
        #expect(sample.hostname.ascii == "mx.example.com")
        #expect(sample.domains.map(\.ascii) == ["example.com"])
        #expect(sample.listeners.map(\.address.description) == ["0.0.0.0:25", "0.0.0.0:587", "0.0.0.0:465"])
        #expect(sample.listeners.map(\.role) == [.mx, .submission, .submissions])
        #expect(sample.tls == Configuration.TLS(certificate: "/etc/letsencrypt/live/mx.example.com/fullchain.pem",
                                                privateKey: "/etc/letsencrypt/live/mx.example.com/privkey.pem"))
        // Everything else equals a configuration built from the code's defaults.
        var defaults = Configuration(hostname: sample.hostname, domains: sample.domains, listeners: sample.listeners)
        defaults.tls = sample.tls
        #expect(sample == defaults)
        #expect(sample.listeners.allSatisfy { $0.proxyProtocol == Configuration.Listener(address: $0.address).proxyProtocol })
    }

    @Test("the sample shows every key Tern knows, and no other")
    func showsEveryKey() throws {
        let text = try String(contentsOfFile: Self.samplePath, encoding: .utf8)
        let root = try TOML.parse(text, file: Self.samplePath)
        var keys: Set<String> = []
        for entry in root.entries {
            if let table = entry.value.table {
                keys.formUnion(table.keys.map { entry.key + "." + $0 })
            } else if let elements = entry.value.array, elements.allSatisfy({ $0.table != nil }), !elements.isEmpty {
                for element in elements { keys.formUnion((element.table?.keys ?? []).map { entry.key + "." + $0 }) }
            } else {
                keys.insert(entry.key)
            }
        }
        #expect(keys == Set(ConfigurationSchema.allKeys))
    }
}
