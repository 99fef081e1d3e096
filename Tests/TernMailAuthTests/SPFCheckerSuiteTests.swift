import Foundation
import NIOCore
import NIOPosix
import Testing
import TernDNS
import TernTestSupport
@testable import TernMailAuth

/// conformance/spf/rfc7208-tests.yml (203 tests) through `SPFChecker`: each
/// scenario's zonedata served by a real nsd (`SPFSuiteZones`), TernDNS
/// pointed at it, libspf2 behind the guard and Tern's DNS layer. The score
/// is printed with every miss (test name and RFC section) and compared with
/// libspf2's bare score (libspf2-1.2.10-baseline.yaml, 145/203).
@Suite("SPF checker on the RFC 7208 test suite", .serialized)
struct SPFCheckerSuiteTests {
    /// The score reached; the test fails if it drops below.
    static let minimumScore = 203

    struct Case {
        var scenario: String
        var name: String
        var spec: String
        var helo: String
        var host: String
        var mailFrom: String
        var accepted: Set<String>
        var explanation: String?
    }

    struct Miss: CustomStringConvertible {
        var test: Case
        var got: SPFResult
        var description: String {
            "\(test.name) (RFC 7208 §\(test.spec), \(test.scenario)): expected \(test.accepted.sorted().joined(separator: "|")), "
                + "got \(got.verdict.rawValue)" + (got.reason.map { " — \($0)" } ?? "")
        }
    }

    @Test("The suite scores at least the recorded minimum, and every miss is listed")
    func suite() async throws {
        let docs = try Conformance.yamlDocuments("spf/rfc7208-tests.yml")
        var total = 0, passed: [String] = [], misses: [Miss] = [], explanationMisses: [String] = []
        for case let doc as [String: Any] in docs {
            let scenario = doc.string("description") ?? "?"
            let zones = SPFSuiteZones.zones(doc.dict("zonedata") ?? [:])
            let nsd = try NSDServer(zones: zones)
            defer { nsd.stop() }
            let configuration = DNSResolverConfiguration(
                nameservers: [try SocketAddress(ipAddress: nsd.address, port: nsd.port)],
                timeout: .milliseconds(500), attempts: 1)
            let resolver = DNSResolver(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
            let checker = SPFChecker(lookup: resolver, configuration: .init(receiver: "mx.tern.test"))
            for (name, value) in (doc.dict("tests") ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let t = value as? [String: Any] else { continue }
                let accepted: Set<String> = (t["result"] as? [String]).map { Set($0) } ?? [t.string("result") ?? "?"]
                let test = Case(scenario: scenario, name: name, spec: t.string("spec") ?? "?", helo: t.string("helo") ?? "",
                                host: t.string("host") ?? "", mailFrom: t.string("mailfrom") ?? "",
                                accepted: accepted, explanation: t.string("explanation"))
                total += 1
                guard let ip = DNSAddress(test.host) else {
                    Issue.record("\(name): cannot parse host \(test.host)")
                    continue
                }
                let result = await checker.check(ip: ip, helo: test.helo, mailFrom: test.mailFrom)
                if accepted.contains(result.verdict.rawValue) {
                    passed.append(name)
                    // "DEFAULT": the receiver's own text; Tern gives none then.
                    if let want = test.explanation, result.verdict == .fail,
                       result.explanation != (want == "DEFAULT" ? nil : want) {
                        explanationMisses.append("\(name): expected \"\(want)\", got \"\(result.explanation ?? "")\"")
                    }
                } else {
                    misses.append(Miss(test: test, got: result))
                }
            }
            await resolver.shutdown()
        }

        let baseline = try Self.baselineAgreements()
        let regressions = Set(baseline).subtracting(passed).sorted()
        print("""
            SPF checker on rfc7208-tests.yml: \(passed.count)/\(total) \
            (libspf2 alone: \(baseline.count)/\(total); minimum asserted: \(Self.minimumScore)).
            misses (\(misses.count)):
            \(misses.map { "  - \($0)" }.joined(separator: "\n"))
            tests libspf2 alone gets right that the checker misses: \(regressions.isEmpty ? "none" : regressions.joined(separator: ", "))
            explanations differing on matching fail results (informational, \(explanationMisses.count)):
            \(explanationMisses.map { "  - \($0)" }.joined(separator: "\n"))
            """)
        #expect(total == 203)
        #expect(passed.count >= Self.minimumScore, "score \(passed.count)/\(total); misses: \(misses)")
    }

    /// The tests libspf2 1.2.10 alone agrees on, after the mapping of its
    /// `(invalid)` results the baseline describes.
    static func baselineAgreements() throws -> [String] {
        let doc = try Conformance.yaml("spf/libspf2-1.2.10-baseline.yaml")
        return (doc.list("results") ?? []).compactMap { entry in
            guard let e = entry as? [String: Any], e.bool("agrees") == true else { return nil }
            return e.string("test")
        }
    }
}
