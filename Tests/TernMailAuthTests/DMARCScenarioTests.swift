import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

/// The 22 scenarios of conformance/dmarc/scenarios/scenarios.yaml, DMARC
/// part only: the SPF and DKIM results are the ones each scenario states
/// (SPF for the MAIL FROM domain, or the HELO name for a null sender; DKIM
/// for the `d=` of the message's DKIM-Signature), the From field is read
/// from the message, and DNS is the scenario zone served by a table.
/// Verifying SPF and DKIM for real is left to the SPF and DKIM engines.
@Suite("DMARC scenarios")
struct DMARCScenarioTests {
    struct Scenario: CustomStringConvertible, @unchecked Sendable {
        var id: String
        var fields: [String: Any]
        var expect: [String: Any]
        var description: String { id }
    }

    static func document() -> [String: Any] { (try? Conformance.yaml("dmarc/scenarios/scenarios.yaml")) ?? [:] }
    static let zone = ZoneLookup(zonedata: document().dict("zonedata") ?? [:])
    static let scenarios: [Scenario] = (document().list("scenarios") ?? []).compactMap {
        guard let s = $0 as? [String: Any], let id = s.string("id"), let expect = s.dict("expect") else { return nil }
        return Scenario(id: id, fields: s, expect: expect)
    }

    @Test("scenarios.yaml was read: 22 scenarios and a zone")
    func read() {
        #expect(Self.scenarios.count == 22)
        #expect(Self.zone.txt.count > 10)
    }

    /// The `d=` of each DKIM-Signature field in a header section.
    static func signingDomains(_ header: [UInt8]) -> [String] {
        HeaderFields.parse(header).filter { $0.hasName("DKIM-Signature") }.compactMap { field in
            let value = String(decoding: HeaderFields.unfoldedValue(of: field, in: header), as: UTF8.self)
            for tag in value.split(separator: ";") {
                let parts = tag.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == "d" {
                    return parts[1].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    @Test("Each scenario reaches the expected DMARC result and disposition", arguments: DMARCScenarioTests.scenarios)
    func scenario(_ s: Scenario) async throws {
        let zone = Self.zone
        var options = DMARCEvaluator.Options()
        options.percentRoll = { 50 }
        let evaluator = DMARCEvaluator(
            discovery: DMARCPolicyDiscovery(suffixes: try PublicSuffixList.system(), lookup: zone.lookup),
            options: options)

        let message = try Conformance.bytes("dmarc/scenarios/" + (s.fields.string("message") ?? ""))
        let mailFrom = s.fields.string("mail_from") ?? ""
        let spfDomain = mailFrom.isEmpty ? (s.fields.string("helo") ?? "") : String(mailFrom.split(separator: "@").last ?? "")
        let spf = AuthenticatedDomain(domain: spfDomain, passed: s.expect.string("spf") == "pass")
        let dkimPassed = s.expect.string("dkim") == "pass"
        let dkim = Self.signingDomains(message).map { AuthenticatedDomain(domain: $0, passed: dkimPassed) }

        let verdict = await evaluator.evaluate(authors: AuthorDomains(headerSection: message), spf: spf, dkim: dkim)

        // "permerror or reject", "none (excluded) or reject": either alternative will do.
        let expected = s.expect.string("dmarc") ?? ""
        if expected.contains(" or ") {
            let first = String(expected.split(separator: " ").first ?? "")
            #expect(verdict.result.rawValue == first || verdict.disposition == .reject, "\(verdict)")
            #expect(verdict.result != .pass)
        } else {
            #expect(verdict.result.rawValue == expected, "\(verdict)")
        }
        if let disposition = s.expect.string("disposition") {
            #expect(verdict.disposition.rawValue == disposition, "\(verdict)")
        }
        let decisive = verdict.evaluations.first { $0.authorDomain == verdict.headerFrom }
        if let aligned = s.expect.bool("spf_aligned") {
            #expect(decisive?.spfAligned == aligned, "\(verdict)")
        }
        if let aligned = s.expect.bool("dkim_aligned") {
            #expect(decisive?.dkimAligned == aligned, "\(verdict)")
        }
        // "policy_from: _dmarc.example.net sp=reject"
        if let policyFrom = s.expect.string("policy_from") {
            let parts = policyFrom.split(separator: " ")
            #expect(parts.count == 2)
            #expect("_dmarc." + (decisive?.policyDomain ?? "") == parts.first.map(String.init))
            let tag = parts.last.map(String.init) ?? ""
            #expect(tag.hasSuffix("=" + (decisive?.requestedPolicy?.rawValue ?? "?")), "\(verdict)")
            #expect(decisive?.usedOrganizationalRecord == tag.hasPrefix("sp="), "\(verdict)")
        }
    }

    @Test("pct sampling: a roll below pct applies the policy, at or above it lowers it")
    func pctSampling() async throws {
        let lookup: DMARCPolicyDiscovery.TXTLookup = { name in
            name == "_dmarc.pct.example"
                ? .found(DNSAnswer(records: ["v=DMARC1; p=reject; pct=30"], ttl: 60, authenticated: false,
                                   canonicalName: name))
                : .nxdomain
        }
        for (roll, expected) in [(0, DMARCDisposition.reject), (29, .reject), (30, .quarantine), (99, .quarantine)] {
            var options = DMARCEvaluator.Options()
            options.percentRoll = { roll }
            let evaluator = DMARCEvaluator(
                discovery: DMARCPolicyDiscovery(suffixes: try PublicSuffixList.system(), lookup: lookup), options: options)
            let e = await evaluator.evaluate(authorDomain: "pct.example", spf: nil, dkim: [])
            #expect(e.result == .fail && e.disposition == expected && e.sampledOut == (roll >= 30))
        }
    }

    @Test("A temporary failure on the organizational-domain query is temperror")
    func organizationalTemperror() async throws {
        let lookup: DMARCPolicyDiscovery.TXTLookup = { name in
            name == "_dmarc.example.com" ? .servfail : .nxdomain
        }
        let discovery = DMARCPolicyDiscovery(suffixes: try PublicSuffixList.system(), lookup: lookup)
        guard case .temperror = await discovery.discover(authorDomain: "a.b.example.com") else {
            Issue.record("expected temperror")
            return
        }
    }

    @Test("Non-DMARC TXT strings next to the record are discarded before counting")
    func otherStringsDiscarded() async throws {
        let lookup: DMARCPolicyDiscovery.TXTLookup = { name in
            .found(DNSAnswer(records: ["google-site-verification=x", "v=DMARC1; p=quarantine"], ttl: 60,
                             authenticated: false, canonicalName: name))
        }
        let discovery = DMARCPolicyDiscovery(suffixes: try PublicSuffixList.system(), lookup: lookup)
        let outcome = await discovery.discover(authorDomain: "example.com")
        guard case .found(let record, "example.com", false) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(record.policy == .quarantine)
    }
}
