import Testing
@testable import TernMailAuth

/// RFC 7489 §6.3 record parsing, against conformance/dmarc/record-parse.yaml
/// (its `rfc7489` column) and cases of our own.
@Suite("DMARC record parsing")
struct DMARCRecordTests {
    struct Case: CustomStringConvertible, Sendable {
        var n: Int
        var record: String
        var verdict: String
        var description: String { "\(n): \(record)" }
    }

    static let cases: [Case] = {
        guard let doc = try? Conformance.yaml("dmarc/record-parse.yaml"), let list = doc.list("cases") else { return [] }
        return list.compactMap { item in
            guard let c = item as? [String: Any], let n = c.int("n"), let verdict = c.string("rfc7489") else { return nil }
            return Case(n: n, record: c.string("record") ?? "", verdict: verdict)
        }
    }()

    @Test("record-parse.yaml was read: 21 cases")
    func read() {
        #expect(Self.cases.count == 21)
    }

    @Test("Each record of record-parse.yaml gets the RFC 7489 verdict", arguments: DMARCRecordTests.cases)
    func conformance(_ c: Case) {
        let parsed = Result { () throws(DMARCRecord.ParseError) in try DMARCRecord(parsing: c.record) }
        switch c.verdict {
        case "usable":
            let record = try? parsed.get()
            #expect(record != nil && record?.policyWasReplaced == false, "\(parsed)")
        case "usable-defaults":
            let record = try? parsed.get()
            #expect(record != nil && record?.ignoredTerms.isEmpty == false, "\(parsed)")
        case "as-p-none":
            #expect((try? parsed.get())?.policyWasReplaced == true, "\(parsed)")
        case "no-dmarc":
            #expect((try? parsed.get()) == nil, "\(parsed)")
        default:
            Issue.record("unknown verdict \(c.verdict)")
        }
    }

    @Test("A full record sets every tag")
    func fullRecord() throws {
        let r = try DMARCRecord(parsing: "v=DMARC1; p=quarantine; sp=reject; pct=25; adkim=s; aspf=s; "
                                + "rua=mailto:a@example.com!10m, mailto:b@example.com; ruf=mailto:f@example.com; "
                                + "fo=1:d; rf=afrf; ri=3600")
        #expect(r.policy == .quarantine)
        #expect(r.subdomainPolicy == .reject)
        #expect(r.percentage == 25)
        #expect(r.dkimAlignment == .strict && r.spfAlignment == .strict)
        #expect(r.aggregateReportURIs == [.init(uri: "mailto:a@example.com", maximumSize: 10 * 1024 * 1024),
                                          .init(uri: "mailto:b@example.com", maximumSize: nil)])
        #expect(r.failureReportURIs.map(\.uri) == ["mailto:f@example.com"])
        #expect(r.failureOptions == ["1", "d"])
        #expect(r.reportInterval == 3600)
        #expect(r.ignoredTerms.isEmpty)
    }

    @Test("Defaults: pct 100, relaxed alignment, fo 0, rf afrf, ri 86400, no sp")
    func defaults() throws {
        let r = try DMARCRecord(parsing: "v=DMARC1;p=reject")
        #expect(r.policy == .reject && r.subdomainPolicy == nil)
        #expect(r.percentage == 100 && r.dkimAlignment == .relaxed && r.spfAlignment == .relaxed)
        #expect(r.failureOptions == ["0"] && r.reportFormats == ["afrf"] && r.reportInterval == 86_400)
    }

    @Test("v=DMARC1 must come first and match exactly; tag names and keywords ignore case",
          arguments: [("p=reject; v=DMARC1", false), ("v=DMARC2; p=reject", false), ("v=dmarc1; p=reject", false),
                      ("V=DMARC1; P=Reject", true), ("v = DMARC1 ;\tp = reject ;", true), (" v=DMARC1; p=none", true),
                      ("v=DMARC1x; p=none", false), ("v=spf1 -all", false)])
    func version(_ text: String, _ usable: Bool) {
        #expect(((try? DMARCRecord(parsing: text)) != nil) == usable)
    }

    @Test("A missing or invalid p with a valid rua acts as p=none (§6.6.3)")
    func missingPolicyWithRua() throws {
        let r = try DMARCRecord(parsing: "v=DMARC1; p=bogus; sp=reject; rua=mailto:d@example.com")
        #expect(r.policy == .none && r.subdomainPolicy == nil && r.policyWasReplaced)
        #expect(throws: DMARCRecord.ParseError.self) { try DMARCRecord(parsing: "v=DMARC1; p=bogus; rua=notauri") }
    }

    @Test("Bad values fall back to defaults", arguments: ["pct=101", "pct=-1", "pct=1000", "pct=", "adkim=x",
                                                          "aspf=relaxed", "ri=99999999999", "fo=2", "rf=iodef"])
    func badValues(_ tag: String) throws {
        let r = try DMARCRecord(parsing: "v=DMARC1; p=reject; \(tag)")
        #expect(r.percentage == 100 && r.dkimAlignment == .relaxed && r.spfAlignment == .relaxed)
        #expect(r.reportInterval == 86_400 && r.failureOptions == ["0"] && r.reportFormats == ["afrf"])
        #expect(r.ignoredTerms == [tag])
    }

    @Test("The first of a repeated tag counts")
    func repeatedTag() throws {
        let r = try DMARCRecord(parsing: "v=DMARC1; p=none; p=reject")
        #expect(r.policy == .none)
    }

    @Test("pct=0 and pct=100 are the bounds")
    func pctBounds() throws {
        #expect(try DMARCRecord(parsing: "v=DMARC1; p=reject; pct=0").percentage == 0)
        #expect(try DMARCRecord(parsing: "v=DMARC1; p=reject; pct=100").percentage == 100)
    }
}
