import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

/// Every vector of conformance/dkim/ judged as its expected.yaml says under
/// RFC 8301, keys served by a real nsd and fetched through TernDNS.
/// Each set prints its score ("DKIM conformance <set>: n/m").
@Suite("DKIM conformance", .serialized)
struct DKIMConformanceTests {
    struct Case {
        var file: String
        var expect: [String]
        var bytes: [UInt8]
    }

    /// Verifies each case and records every miss; returns the score.
    static func run(_ set: String, cases: [Case], dns: DKIMTestDNS) async -> (passed: Int, total: Int) {
        let verifier = dns.verifier()
        var passed = 0
        for c in cases {
            let results = await verifier.verify(c.bytes)
            let ok = results.count == c.expect.count && zip(c.expect, results).allSatisfy { DKIMTestData.matches($0, $1) }
            if ok {
                passed += 1
                if c.expect != DKIMTestData.verdicts(results) {
                    print("DKIM conformance \(set)/\(c.file): expected \(c.expect), accepted \(results.map { "\($0.verdict.rawValue) (\($0.reason ?? ""))" })")
                }
            } else {
                Issue.record("\(set)/\(c.file): expected \(c.expect), got \(results.map { "\($0.verdict.rawValue) (\($0.reason ?? ""))" })")
            }
        }
        print("DKIM conformance \(set): \(passed)/\(cases.count)")
        return (passed, cases.count)
    }

    static func strings(_ any: Any?) -> [String] {
        if let s = any as? String { return [s] }
        return (any as? [Any] ?? []).compactMap { $0 as? String }
    }

    @Test("libopendkim is linked with Ed25519 support")
    func ed25519Feature() {
        #expect(DKIMVerifier.supportsEd25519)
    }

    @Test("rfc8463: both signatures of signed.eml pass")
    func rfc8463() async throws {
        let dns = try DKIMTestDNS(records: DKIMTestDNS.zoneFile(String(decoding: try Conformance.bytes("dkim/rfc8463/zone.txt"), as: UTF8.self)))
        let doc = try Conformance.yaml("dkim/rfc8463/expected.yaml")
        let expect = Self.strings(doc.dict("verify")?["signed.eml"])
        let score = await Self.run("rfc8463", cases: [Case(file: "signed.eml", expect: expect,
                                                           bytes: try Conformance.bytes("dkim/rfc8463/signed.eml"))], dns: dns)
        #expect(score.passed == score.total && score.total == 1)
        await dns.stop()
    }

    @Test("rfc6376: the Appendix A.2 example passes")
    func rfc6376() async throws {
        let dns = try DKIMTestDNS(records: DKIMTestDNS.zoneFile(String(decoding: try Conformance.bytes("dkim/rfc6376/zone.txt"), as: UTF8.self)))
        let doc = try Conformance.yaml("dkim/rfc6376/expected.yaml")
        let a2 = doc.dict("appendix_a2_example") ?? [:]
        let file = a2.string("file") ?? "appendix-a2-example.eml"
        let score = await Self.run("rfc6376", cases: [Case(file: file, expect: Self.strings(a2["expect"]),
                                                           bytes: try Conformance.bytes("dkim/rfc6376/" + file))], dns: dns)
        #expect(score.passed == 1 && score.total == 1)
        await dns.stop()
    }

    @Test("dkimpy: the verify vectors")
    func dkimpy() async throws {
        let dns = try DKIMTestDNS(records: DKIMTestDNS.zoneFile(String(decoding: try Conformance.bytes("dkim/dkimpy/zone.txt"), as: UTF8.self)))
        let doc = try Conformance.yaml("dkim/dkimpy/expected.yaml")
        let cases = try (doc.list("verify") ?? []).compactMap { $0 as? [String: Any] }.map { v in
            let file = v.string("file") ?? ""
            return Case(file: file, expect: Self.strings(v["expect"]),
                        bytes: DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/" + file)))
        }
        let score = await Self.run("dkimpy", cases: cases, dns: dns)
        #expect(score.passed == score.total && score.total == 6)
        await dns.stop()
    }

    @Test("opendkim: the 81 vectors, rsa-sha1 ones under RFC 8301")
    func opendkim() async throws {
        let dns = try DKIMTestDNS(records: DKIMTestDNS.zoneFile(String(decoding: try Conformance.bytes("dkim/opendkim/zone.txt"), as: UTF8.self)))
        let doc = try Conformance.yaml("dkim/opendkim/vectors.yaml")
        let cases = try (doc.list("vectors") ?? []).compactMap { $0 as? [String: Any] }.map { v in
            let file = v.string("file") ?? ""
            let expect = v.string("expect_rfc8301") ?? v.string("expect") ?? "?"
            return Case(file: file, expect: [expect], bytes: try Conformance.bytes("dkim/opendkim/" + file))
        }
        // The vectors judge the first signature only.
        let verifier = dns.verifier()
        var passed = 0
        for c in cases {
            let results = await verifier.verify(c.bytes)
            if let first = results.first, DKIMTestData.matches(c.expect[0], first) {
                passed += 1
                if c.expect[0] != first.verdict.rawValue {
                    print("DKIM conformance opendkim/\(c.file): expected \(c.expect[0]), accepted \(first.verdict.rawValue) (\(first.reason ?? ""))")
                }
            } else if results.isEmpty, c.expect[0] == "none" {
                passed += 1
            } else {
                Issue.record("opendkim/\(c.file): expected \(c.expect[0]), got \(results.map { "\($0.verdict.rawValue) (\($0.reason ?? ""))" })")
            }
        }
        print("DKIM conformance opendkim: \(passed)/\(cases.count)")
        #expect(passed == cases.count && cases.count == 81)
        await dns.stop()
    }

    @Test("mail-auth: real-world messages (005 expired now)")
    func mailAuth() async throws {
        let doc = try Conformance.yaml("dkim/mail-auth/expected.yaml")
        var records: [(name: String, rdata: String)] = []
        var cases: [Case] = []
        for v in (doc.list("vectors") ?? []).compactMap({ $0 as? [String: Any] }) {
            let file = v.string("file") ?? ""
            let raw = try Conformance.bytes("dkim/mail-auth/" + file)
            // Key lines, an empty line, then the message.
            var split = raw.count
            for i in 0..<(raw.count - 1) where raw[i] == 0x0A && raw[i + 1] == 0x0A { split = i + 1; break }
            records += DKIMTestDNS.zoneFile(String(decoding: raw[..<split], as: UTF8.self))
            let message = DKIMTestData.crlf(Array(raw[min(raw.count, split + 1)...]))
            cases.append(Case(file: file, expect: Self.strings(v["expect_now"] ?? v["expect"]), bytes: message))
        }
        let dns = try DKIMTestDNS(records: records)
        let score = await Self.run("mail-auth", cases: cases, dns: dns)
        #expect(score.passed == score.total && score.total == 6)
        await dns.stop()
    }
}
