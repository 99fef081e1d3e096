import Crypto
import _CryptoExtras
import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

@Suite("DKIM signing", .serialized)
struct DKIMSigningTests {
    static func text(_ relative: String) throws -> String { String(decoding: try Conformance.bytes(relative), as: UTF8.self) }

    /// The value of tag `name` in the n-th DKIM-Signature of `bytes`, white space removed.
    static func tag(_ name: String, in bytes: [UInt8], signature n: Int = 0) -> String? {
        let fields = HeaderFields.parse(bytes).filter { $0.hasName("DKIM-Signature") }
        guard n < fields.count else { return nil }
        let value = String(decoding: HeaderFields.unfoldedValue(of: fields[n], in: bytes), as: UTF8.self)
        return (try? DKIMTagList.parse(value))?[name].map(DKIMTagList.removingWhitespace)
    }

    static func rfc8463Parameters() -> DKIMSignatureParameters {
        var p = DKIMSignatureParameters()
        p.signedHeaders = ["from", "to", "subject", "date", "message-id", "from", "subject", "date"]
        p.headerListSeparator = " : "
        p.identity = "@football.example.com"
        p.writesQueryMethod = true
        p.timestamp = 1_528_637_909
        return p
    }

    @Test("Signing rfc8463/unsigned.eml reproduces both published signatures byte for byte",
          arguments: [("ed25519-brisbane.private.pem", "brisbane", "ed25519_b"),
                      ("ed25519-brisbane.seed.b64", "brisbane", "ed25519_b"),
                      ("rsa-test.private.pem", "test", "rsa_b")])
    func rfc8463Reproduced(file: String, selector: String, expectedKey: String) throws {
        let expected = try Conformance.yaml("dkim/rfc8463/expected.yaml").dict("expected") ?? [:]
        let key = try DKIMSigningKey.parse(try Self.text("dkim/rfc8463/" + file), domain: "football.example.com", selector: selector)
        let unsigned = try Conformance.bytes("dkim/rfc8463/unsigned.eml")
        let field = try DKIMSigner.signatureField(for: unsigned, key: key, parameters: Self.rfc8463Parameters())
        let signed = field + unsigned
        #expect(Self.tag("bh", in: signed) == expected.string("body_hash_sha256_relaxed"))
        #expect(Self.tag("b", in: signed) == expected.string(expectedKey))
        #expect(Self.tag("h", in: field).map { _ in true } == true)
    }

    @Test("The hash input equals the canonicalized data expected.yaml spells out")
    func rfc8463SignedData() throws {
        let expected = try Conformance.yaml("dkim/rfc8463/expected.yaml").dict("expected") ?? [:]
        let signed = try Conformance.bytes("dkim/rfc8463/signed.eml")
        let message = DKIMMessage(signed)
        let first = message.fields[0]
        let names = ["from", "to", "subject", "date", "message-id", "from", "subject", "date"]
        var data: [UInt8] = []
        for f in DKIMCanonicalizer.signedFields(names, in: message, excluding: first) {
            data += DKIMCanonicalizer.header(message.fieldBytes(f), .relaxed)
        }
        data += DKIMCanonicalizer.header(DKIMCanonicalizer.withoutSignatureValue(message.fieldBytes(first)), .relaxed).dropLast(2)
        #expect(String(decoding: data, as: UTF8.self) == expected.string("signed_data_ed25519"))
    }

    @Test("RFC 6376 §3.4.5 canonicalization example and empty-body hashes")
    func canonicalizationExamples() throws {
        let doc = try Conformance.yaml("dkim/rfc6376/expected.yaml")
        let ex = doc.dict("section_3_4_5_example") ?? [:]
        let message = DKIMMessage(Array((ex.string("input_message") ?? "").utf8))
        let relaxed = message.fields.flatMap { DKIMCanonicalizer.header(message.fieldBytes($0), .relaxed) }
        let simple = message.fields.flatMap { DKIMCanonicalizer.header(message.fieldBytes($0), .simple) }
        #expect(String(decoding: relaxed, as: UTF8.self) == ex.string("relaxed_header"))
        #expect(String(decoding: simple, as: UTF8.self) == ex.string("simple_header"))
        #expect(String(decoding: DKIMCanonicalizer.body(message.body, .relaxed), as: UTF8.self) == ex.string("relaxed_body"))
        #expect(String(decoding: DKIMCanonicalizer.body(message.body, .simple), as: UTF8.self) == ex.string("simple_body"))
        let empty = doc.dict("empty_body_hashes") ?? [:]
        #expect(Data(SHA256Hash(DKIMCanonicalizer.body([], .relaxed))).base64EncodedString() == empty.string("sha256_relaxed"))
        #expect(Data(SHA256Hash(DKIMCanonicalizer.body([], .simple))).base64EncodedString() == empty.string("sha256_simple"))
    }

    @Test("A message without From is not signed (RFC 6376 §5.4)")
    func noFrom() throws {
        let key = try DKIMSigningKey.parse(try Self.text("dkim/dkimpy/test.private"), domain: "example.com", selector: "test")
        let message = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/test_nofrom.message"))
        #expect(throws: DKIMSigner.SigningError.noFromField) {
            try DKIMSigner.signatureField(for: message, key: key)
        }
    }

    @Test("Default header list: each present recommended field once, From twice")
    func defaultHeaders() {
        let message = DKIMMessage(Array("From: a@example.com\r\nTo: b@example.net\r\nSubject: x\r\nX-Other: y\r\nDate: now\r\n\r\nbody\r\n".utf8))
        #expect(DKIMSigner.defaultSignedHeaders(for: message) == ["from", "to", "subject", "date", "from"])
    }

    @Test("Keys on disk: keygen writes 0600 files, the newest per algorithm signs, and dkimpy and libopendkim verify both signatures")
    func outboundVerifiedIndependently() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-dkim-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = DKIMKeyStore(directory: dir)
        let oldRSA = try store.generate(domain: "example.com", selector: "old-rsa", algorithm: .rsaSHA256)
        // Make the first key older, then add the ones that should sign.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -86_400)], ofItemAtPath: oldRSA.path)
        let rsa = try store.generate(domain: "example.com", selector: "r2025", algorithm: .rsaSHA256)
        let ed = try store.generate(domain: "example.com", selector: "e2025", algorithm: .ed25519SHA256)
        #expect(throws: DKIMKeyStore.StoreError.self) {
            try store.generate(domain: "example.com", selector: "e2025", algorithm: .ed25519SHA256)
        }
        let mode = (try FileManager.default.attributesOfItem(atPath: rsa.path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        #expect(rsa.recordStrings.allSatisfy { $0.utf8.count <= 255 } && rsa.recordStrings.count == 2)
        #expect(rsa.recordStrings.joined() == rsa.key.keyRecord)
        #expect(ed.recordStrings == [ed.key.keyRecord])

        let keys = try store.signingKeys(for: "example.com")
        #expect(keys.map(\.selector) == ["r2025", "e2025"])

        let records = [rsa.recordName: rsa.key.keyRecord, ed.recordName: ed.key.keyRecord,
                       oldRSA.recordName: oldRSA.key.keyRecord]
        let dns = try DKIMTestDNS(records: records.map { ($0.key, $0.value) })
        let verifier = dns.verifier()
        let signer = DKIMSigner(keys: store)
        for file in ["test.message", "rfc6376.msg", "message.mbox", "test_extra.message", "ed25519test.msg"] {
            let message = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/" + file))
            let fields = try signer.signatureFields(for: message, domain: "example.com")
            let signed = fields + message
            #expect(Self.tag("a", in: signed, signature: 0) == "rsa-sha256")
            #expect(Self.tag("a", in: signed, signature: 1) == "ed25519-sha256")
            #expect(Self.tag("c", in: signed) == "relaxed/relaxed")
            #expect(Self.tag("h", in: signed)?.hasPrefix("from:") == true)
            #expect(Self.tag("h", in: signed)?.hasSuffix(":from") == true)
            // No line longer than 78 octets in what we add.
            #expect(String(decoding: fields, as: UTF8.self).components(separatedBy: "\r\n").allSatisfy { $0.utf8.count <= 78 })
            let ours = await verifier.verify(signed)
            // Ours come first; message.mbox carries an older signature of its own.
            #expect(Array(DKIMTestData.verdicts(ours).prefix(2)) == ["pass", "pass"], "\(file): \(ours)")
            #expect(Array(try DKIMPy.verify(signed, records: records).prefix(2)) == [true, true], "\(file)")
        }
        // Windows-1258 bytes in From: signing and verifying must not crash.
        let w1258 = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/rfc6376.w1258.msg"))
        let signed = try signer.signatureFields(for: w1258, domain: "example.com") + w1258
        let results = await verifier.verify(signed)
        #expect(results.count == 2)
        await dns.stop()
    }

    @Test("Authentication-Results: one dkim= per signature with header.d/s/a/b, dkim=none when unsigned")
    func authenticationResults() {
        let result = DKIMSignatureResult(verdict: .pass, domain: "example.com", selector: "s1", algorithm: "rsa-sha256",
                                         signaturePrefix: "abcdefgh")
        let rendered = AuthenticationResults(authservID: "mx.example.net", results: [result].authenticationResults).rendered()
        let unfolded = rendered.replacingOccurrences(of: "\r\n", with: "").replacingOccurrences(of: "  ", with: " ")
            .replacingOccurrences(of: "  ", with: " ")
        #expect(unfolded.contains("dkim=pass header.d=example.com header.s=s1 header.a=rsa-sha256 header.b=abcdefgh"), "\(rendered)")
        let none = AuthenticationResults(authservID: "mx.example.net", results: [DKIMSignatureResult]().authenticationResults)
        #expect(none.rendered().contains("dkim=none"))
    }
}

private func SHA256Hash(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

/// OpenDKIM's signing vectors carry the exact signature libopendkim made
/// with key.pem: recomputing bh= and b= from the same tags with Tern's
/// canonicalizer and key reproduces them (simple and relaxed, with l=,
/// with z=, over repeated Received fields).
@Suite("DKIM signing vectors of OpenDKIM")
struct DKIMOpenDKIMSigningTests {
    static let vectors: [String] = {
        let doc = (try? Conformance.yaml("dkim/opendkim/vectors.yaml")) ?? [:]
        return (doc.list("vectors") ?? []).compactMap { $0 as? [String: Any] }.filter {
            ($0.string("mode") ?? "").hasPrefix("signing")
        }.compactMap { $0.string("file") }
    }()

    @Test("bh= and b= are reproduced", arguments: DKIMOpenDKIMSigningTests.vectors)
    func reproduce(file: String) throws {
        let bytes = try Conformance.bytes("dkim/opendkim/" + file)
        let message = DKIMMessage(bytes)
        let signatureField = try #require(message.fields.first { $0.hasName("DKIM-Signature") })
        let value = String(decoding: HeaderFields.unfoldedValue(of: signatureField, in: bytes), as: UTF8.self)
        let field = try #require(DKIMSignatureField.parse(value).field)
        let headerMode = try #require(field.headerCanonicalization), bodyMode = try #require(field.bodyCanonicalization)

        var body = DKIMCanonicalizer.body(message.body, bodyMode)
        if let l = field.bodyLength { body = Array(body.prefix(l)) }
        var data: [UInt8] = []
        for f in DKIMCanonicalizer.signedFields(field.signedHeaders, in: message, excluding: signatureField) {
            data += DKIMCanonicalizer.header(message.fieldBytes(f), headerMode)
        }
        data += DKIMCanonicalizer.header(DKIMCanonicalizer.withoutSignatureValue(message.fieldBytes(signatureField)),
                                         headerMode).dropLast(2)
        let key = try DKIMSigningKey.parse(String(decoding: try Conformance.bytes("dkim/opendkim/key.pem"), as: UTF8.self),
                                           domain: "example.com", selector: "test")
        guard case .rsa(let rsa) = key.material else { Issue.record("key.pem is not RSA"); return }
        let bh: String, b: String
        if field.algorithm == .rsaSHA1 {
            bh = Data(Insecure.SHA1.hash(data: body)).base64EncodedString()
            b = try rsa.signature(for: Insecure.SHA1.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
        } else {
            bh = Data(SHA256.hash(data: body)).base64EncodedString()
            b = try rsa.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation.base64EncodedString()
        }
        #expect(bh == field.tags["bh"].map(DKIMTagList.removingWhitespace))
        #expect(b == field.signature)
    }
}
