import Crypto
import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

/// The mutations listed in conformance/dkim/rfc8463/expected.yaml, applied
/// to signed.eml. Key-record changes are served by the real nsd under other
/// names (the lookup asks for the changed name instead).
@Suite("DKIM RFC 8463 mutations", .serialized)
struct DKIMMutationTests {
    static let brisbane = "brisbane._domainkey.football.example.com"
    static let test = "test._domainkey.football.example.com"

    static func replacing(_ bytes: [UInt8], _ old: String, _ new: String) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let range = text.range(of: old) else { return bytes }
        return Array(text.replacingCharacters(in: range, with: new).utf8)
    }

    @Test("Each mutation of signed.eml gets the verdicts expected.yaml lists")
    func mutations() async throws {
        let zone = DKIMTestDNS.zoneFile(String(decoding: try Conformance.bytes("dkim/rfc8463/zone.txt"), as: UTF8.self))
        let rsaRecord = zone.first { $0.name == Self.test }?.rdata ?? ""
        let dns = try DKIMTestDNS(records: zone + [
            ("revoked._domainkey.football.example.com", "v=DKIM1; k=ed25519; p="),
            ("rsa-at-brisbane._domainkey.football.example.com", rsaRecord),
        ])
        let signed = try Conformance.bytes("dkim/rfc8463/signed.eml")
        let text = String(decoding: signed, as: UTF8.self)
        // The second signature starts at the second "DKIM-Signature:".
        let secondStart = text.range(of: "DKIM-Signature:", range: text.index(after: text.startIndex)..<text.endIndex)
        func inSecond(_ old: String, _ new: String) -> [UInt8] {
            guard let s = secondStart, let r = text.range(of: old, range: s.lowerBound..<text.endIndex) else { return signed }
            return Array(text.replacingCharacters(in: r, with: new).utf8)
        }

        struct Mutation { var name: String; var message: [UInt8]; var rename: [String: String] = [:]; var expect: [String] }
        let mutations: [Mutation] = [
            Mutation(name: "body hungry -> angry", message: Self.replacing(signed, "hungry", "angry"), expect: ["fail", "fail"]),
            Mutation(name: "Subject dinner -> lunch", message: Self.replacing(signed, "Subject: Is dinner", "Subject: Is lunch"),
                     expect: ["fail", "fail"]),
            Mutation(name: "second From above", message: Self.replacing(signed, "From: ", "From: Mallory <m@evil.example>\r\nFrom: "),
                     expect: ["fail", "fail"]),
            Mutation(name: "unsigned X-Mailer", message: Self.replacing(signed, "To: ", "X-Mailer: mutt\r\nTo: "),
                     expect: ["pass", "pass"]),
            Mutation(name: "brisbane record removed", message: signed,
                     rename: [Self.brisbane: "gone._domainkey.football.example.com"], expect: ["permerror", "pass"]),
            Mutation(name: "brisbane p= emptied", message: signed,
                     rename: [Self.brisbane: "revoked._domainkey.football.example.com"], expect: ["permerror", "pass"]),
            Mutation(name: "RSA record at brisbane", message: signed,
                     rename: [Self.brisbane: "rsa-at-brisbane._domainkey.football.example.com"], expect: ["permerror", "pass"]),
            Mutation(name: "a=rsa-sha1 in the second", message: inSecond("a=rsa-sha256", "a=rsa-sha1"),
                     expect: ["pass", "permerror"]),
            Mutation(name: "h= without from in the first",
                     message: Self.replacing(signed, "h=from : to :\r\n subject : date : message-id : from : subject : date;",
                                             "h=to :\r\n subject : date : message-id : subject : date;"),
                     expect: ["permerror", "pass"]),
            Mutation(name: "x= expired in the first", message: Self.replacing(signed, "t=1528637909;", "t=1528637909; x=1528637910;"),
                     expect: ["permerror", "pass"]),
        ]
        var passed = 0
        for m in mutations {
            #expect(m.message != signed || !m.rename.isEmpty, "\(m.name): the mutation did not apply")
            let results = await dns.verifier(rename: m.rename).verify(m.message)
            let ok = results.count == m.expect.count && zip(m.expect, results).allSatisfy { DKIMTestData.matches($0, $1) }
            if ok, m.expect != DKIMTestData.verdicts(results) {
                print("DKIM conformance rfc8463 mutation \(m.name): expected \(m.expect), accepted \(results.map { "\($0.verdict.rawValue) (\($0.reason ?? ""))" })")
            }
            if ok { passed += 1 } else {
                Issue.record("\(m.name): expected \(m.expect), got \(results.map { "\($0.verdict.rawValue) (\($0.reason ?? ""))" })")
            }
        }

        // DNS for the key times out: a lookup that never finds an answer.
        let timeouts = await DKIMVerifier(lookup: { _ in .timeout }).verify(signed)
        if DKIMTestData.verdicts(timeouts) == ["temperror", "temperror"] { passed += 1 } else {
            Issue.record("DNS timeout: got \(DKIMTestData.verdicts(timeouts))")
        }
        print("DKIM conformance rfc8463 mutations: \(passed)/\(mutations.count + 1)")
        await dns.stop()
    }

    @Test("A pass with l= shorter than the body is flagged and does not count for DMARC")
    func partialBody() async throws {
        let key = try DKIMSigningKey.parse(String(decoding: try Conformance.bytes("dkim/rfc8463/ed25519-brisbane.private.pem"), as: UTF8.self),
                                           domain: "football.example.com", selector: "brisbane")
        let unsigned = try Conformance.bytes("dkim/rfc8463/unsigned.eml")
        // Sign only the first 10 octets of the canonical body, by hand: the
        // signer itself never writes l=, so build the field with a tag list.
        let parsed = DKIMMessage(unsigned)
        let body = DKIMCanonicalizer.body(parsed.body, .relaxed)
        let bh = Data(SHA256Digest(Array(body.prefix(10)))).base64EncodedString()
        var field = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=football.example.com; s=brisbane; l=10; h=from:to:subject; bh=\(bh); b="
        var data: [UInt8] = []
        for f in DKIMCanonicalizer.signedFields(["from", "to", "subject"], in: parsed) {
            data += DKIMCanonicalizer.header(parsed.fieldBytes(f), .relaxed)
        }
        data += DKIMCanonicalizer.header(Array(field.utf8), .relaxed).dropLast(2)
        field += Data(try key.sign(data)).base64EncodedString() + "\r\n"
        let message = Array(field.utf8) + unsigned

        let results = await DKIMVerifier(lookup: { name in
            name == Self.brisbane
                ? .found(DNSAnswer(records: [key.keyRecord], ttl: 60, authenticated: false, canonicalName: name))
                : .nxdomain
        }).verify(message)
        #expect(results.count == 1)
        #expect(results.first?.verdict == .pass)
        #expect(results.first?.partialBody == true)
        #expect(results.first?.countsForDMARC == false)
        #expect(results.authenticatedDomains == [AuthenticatedDomain(domain: "football.example.com", passed: false)])
    }
}

/// SHA-256 of bytes, as a Data-convertible digest.
private func SHA256Digest(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
