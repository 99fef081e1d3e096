import Foundation
import Testing
@testable import TernMailAuth

/// SPFRecordGuard against the records of conformance/spf/rfc7208-tests.yml.
///
/// For each test, the record the check starts from is the one selected at
/// the MAIL FROM domain (the HELO name for a null sender): TXT records, or the
/// name's SPF-type records when it has no TXT (as the README serves them),
/// keeping those that start with "v=spf1" (RFC 7208 §4.5); tests with none or
/// several such records are about record selection, not syntax. The guard
/// must never call that record a permerror when the test expects another
/// result, and must catch every test of `syntaxTests` — the tests whose
/// permerror comes from the record's own syntax. The other permerrors
/// (lookup limits, loops, missing include targets, several records) are the
/// SPF engine's to find.
@Suite("SPF record guard on the RFC 7208 test suite")
struct SPFSuiteTests {
    /// Tests whose expected permerror comes from the syntax of the record at
    /// the checked domain (RFC 7208 §4.6, §5, §6, §7.1).
    static let syntaxTests: Set<String> = [
        "non-ascii-policy", "non-ascii-mech", "non-ascii-result", "control-char-policy", "badip4",
        "detect-errors-anywhere", "modifier-charset-bad1", "modifier-charset-bad2", "redirect-is-modifier",
        "invalid-domain", "all-dot", "all-arg", "all-cidr", "ptr-cidr", "ptr-empty-domain",
        "a-bad-cidr4", "a-bad-cidr6", "a-dual-cidr-ip4-err", "a-bad-domain", "a-null", "a-numeric",
        "a-numeric-toplabel", "a-bad-toplabel", "a-only-toplabel", "a-only-toplabel-trailing-dot", "a-empty-domain",
        "include-syntax-error", "include-cidr", "include-empty-domain",
        "mx-bad-cidr4", "mx-bad-cidr6", "mx-bad-domain", "mx-null", "mx-numeric-top-label", "mx-bad-toplab",
        "mx-empty-domain", "exists-empty-domain", "exists-implicit", "exists-cidr",
        "cidr4-33", "cidr4-032", "bare-ip4", "bad-ip4-port", "bad-ip4-short", "ip4-dual-cidr", "bare-ip6",
        "cidr6-129", "cidr6-bad", "ip6-bad1",
        "redirect-syntax-error", "invalid-modifier", "empty-modifier-name", "exp-empty-domain", "exp-syntax-error",
        "exp-twice", "redirect-empty-domain", "redirect-twice", "unknown-modifier-syntax",
        "exp-only-macro-char", "invalid-macro-char", "invalid-embedded-macro-char", "invalid-trailing-macro-char",
        "undef-macro",
    ]

    struct SuiteTest: Sendable {
        var id: String
        var spec: String
        var accepted: Set<String>
        /// The selected record at the checked domain, when exactly one.
        var record: String?
    }

    struct Suite: Sendable {
        var tests: [SuiteTest] = []
        /// Every string in any zone that starts like an SPF record.
        var allRecords: Set<String> = []
    }

    static func load() throws -> Suite {
        var suite = Suite()
        for case let doc as [String: Any] in try Conformance.yamlDocuments("spf/rfc7208-tests.yml") {
            let zone = doc.dict("zonedata") ?? [:]
            var txt: [String: [String]] = [:], spf: [String: [String]] = [:], noTXT: Set<String> = []
            for (rawName, entries) in zone {
                let name = rawName.lowercased()
                for case let rr as [String: Any] in entries as? [Any] ?? [] {
                    for (type, rdata) in rr where type == "TXT" || type == "SPF" {
                        let text: String? = (rdata as? String) ?? (rdata as? [String])?.joined()
                        guard let text else { continue }
                        if type == "TXT" && text == "NONE" { noTXT.insert(name); continue }
                        if type == "TXT" { txt[name, default: []].append(text) } else { spf[name, default: []].append(text) }
                        if SPFRecordGuard.isSPFRecord(text) { suite.allRecords.insert(text) }
                    }
                }
            }
            for (id, entry) in doc.dict("tests") ?? [:] {
                guard let value = entry as? [String: Any] else { continue }
                let mailFrom = value.string("mailfrom") ?? ""
                let domain = (mailFrom.isEmpty ? value.string("helo") ?? "" : String(mailFrom.split(separator: "@").last ?? ""))
                    .lowercased()
                let served = txt[domain] ?? (noTXT.contains(domain) ? [] : spf[domain] ?? [])
                let selected = served.filter(SPFRecordGuard.isSPFRecord)
                let accepted: Set<String> = (value["result"] as? [String]).map { Set($0) } ?? [value.string("result") ?? "?"]
                suite.tests.append(SuiteTest(id: id, spec: value.string("spec") ?? "", accepted: accepted,
                                             record: selected.count == 1 ? selected.first : nil))
            }
        }
        return suite
    }

    @Test("The guard agrees with every test whose result hinges on syntax, and rejects nothing valid")
    func suite() throws {
        let suite = try Self.load()
        #expect(suite.tests.count == 203)

        var caught: [String] = [], falsePermerrors: [String] = [], leftToEngine: [String] = []
        // Per distinct record: what the tests that start from it say about its syntax.
        var expectedInvalid: Set<String> = [], expectedValid: Set<String> = []
        for test in suite.tests {
            guard let record = test.record else {
                if test.accepted == ["permerror"] { leftToEngine.append("\(test.id) (\(test.spec))") }
                continue
            }
            if Self.syntaxTests.contains(test.id) { expectedInvalid.insert(record) }
            if !test.accepted.contains("permerror") { expectedValid.insert(record) }
            switch SPFRecordGuard.check(record) {
            case .permerror(let why):
                if test.accepted.contains("permerror") {
                    caught.append(test.id)
                } else {
                    falsePermerrors.append("\(test.id): \(record) — \(why)")
                }
            case .valid:
                if test.accepted == ["permerror"] { leftToEngine.append("\(test.id) (\(test.spec))") }
            }
        }
        #expect(falsePermerrors.isEmpty, "records the guard refused although the suite evaluates them: \(falsePermerrors)")
        #expect(Set(caught) == Self.syntaxTests, """
            missed: \(Self.syntaxTests.subtracting(caught).sorted()); \
            beyond the list: \(Set(caught).subtracting(Self.syntaxTests).sorted())
            """)
        #expect(expectedInvalid.isDisjoint(with: expectedValid))

        let judged = expectedInvalid.union(expectedValid)
        let agreeing = judged.filter { record in
            let invalid = SPFRecordGuard.check(record).record == nil
            return invalid == expectedInvalid.contains(record)
        }
        #expect(agreeing.count == judged.count)
        let refusedOverall = suite.allRecords.filter { SPFRecordGuard.check($0).record == nil }
        print("""
            SPF guard on rfc7208-tests.yml: \(caught.count) of the suite's permerror tests caught by syntax \
            (\(Self.syntaxTests.count) expected), \(falsePermerrors.count) false permerrors; \
            \(agreeing.count)/\(judged.count) records with a syntax verdict in the suite classified as expected; \
            \(refusedOverall.count) of \(suite.allRecords.count) distinct SPF strings in the zones refused.
            permerror tests left to the SPF engine (\(leftToEngine.count)): \(leftToEngine.sorted().joined(separator: ", "))
            """)
    }
}
