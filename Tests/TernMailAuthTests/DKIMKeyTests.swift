import Foundation
import Testing
import TernDNS
@testable import TernMailAuth

/// The key files and key records of conformance/dkim/dkimpy (expected.yaml
/// `keys:` and `bad_key_records:`), and RFC 8301 §3.2 with a 512-bit key.
@Suite("DKIM keys and key records", .serialized)
struct DKIMKeyTests {
    static func text(_ relative: String) throws -> String { String(decoding: try Conformance.bytes(relative), as: UTF8.self) }

    static func record(_ file: String) throws -> String {
        try text("dkim/dkimpy/" + file).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("Each dkimpy private key signs, and the signature verifies against its published record (SPKI or bare RSAPublicKey)")
    func keyFiles() async throws {
        let pairs: [(key: String, record: String)] = [
            ("1024_testkey.key", "1024_testkey_wo_markers.pub.txt"),
            ("1024_testkey.key", "1024_testkey_wo_markers.pub.rsa.txt"),
            ("2048_testkey.key", "2048_testkey_wo_markers.pub.txt"),
            ("2048_testkey.key", "2048_testkey_wo_markers.pub.rsa.txt"),
            ("2048_testkey_PKCS8.key", "2048_testkey_PKCS8.key.pub.txt"),
            ("test.private", "test.txt"),
            ("test2.private", "test2.txt"),
            ("ed25519test.key", "ed25519test.dns"),
            ("rfc8032_7_1.key", "ed25519test.dns"),   // a different key: must fail
        ]
        var records: [(name: String, rdata: String)] = []
        for (i, pair) in pairs.enumerated() {
            records.append(("k\(i)._domainkey.example.com", try Self.record(pair.record)))
        }
        let dns = try DKIMTestDNS(records: records)
        let verifier = dns.verifier()
        let message = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/test.message"))
        for (i, pair) in pairs.enumerated() {
            let key = try DKIMSigningKey.parse(try Self.text("dkim/dkimpy/" + pair.key), domain: "example.com", selector: "k\(i)")
            let signed = try DKIMSigner.signatureField(for: message, key: key) + message
            let results = await verifier.verify(signed)
            let expected = pair.key == "rfc8032_7_1.key" ? "fail" : "pass"
            #expect(DKIMTestData.verdicts(results) == [expected], "\(pair.key) with \(pair.record): \(results)")
        }
        await dns.stop()
    }

    @Test("Bad key records never let rfc6376.signed.rsa.msg pass; a record without k= defaults to rsa",
          arguments: [("badversion.txt", "permerror"), ("badk.txt", "permerror"), ("test_bad.txt", "permerror"),
                      ("test_tlsrpt.txt", "permerror"), ("test2.txt", "pass"), ("test.txt", "pass")])
    func badKeyRecords(file: String, expected: String) async throws {
        let dns = try DKIMTestDNS(records: [("variant._domainkey.football.example.com", try Self.record(file))])
        let verifier = dns.verifier(rename: ["test._domainkey.football.example.com": "variant._domainkey.football.example.com"])
        let message = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/rfc6376.signed.rsa.msg"))
        let results = await verifier.verify(message)
        #expect(DKIMTestData.verdicts(results) == [expected], "\(file): \(results)")
        await dns.stop()
    }

    @Test("A signature made with a 512-bit RSA key is a permerror (RFC 8301 §3.2)")
    func shortRSAKey() async throws {
        let keyPath = Conformance.directory.appendingPathComponent("dkim/opendkim/smallkey.pem").path
        let message = DKIMTestData.crlf(try Conformance.bytes("dkim/dkimpy/test.message"))
        // dkimpy signs with any key size; Tern's signer refuses keys under 1024 bits.
        #expect(throws: DKIMSigningKey.LoadError.self) {
            try DKIMSigningKey.parse(try Self.text("dkim/opendkim/smallkey.pem"), domain: "example.com", selector: "small")
        }
        let signature = try Self.run("/usr/bin/python3", ["-c", """
            import sys, dkim
            msg = sys.stdin.buffer.read()
            sys.stdout.buffer.write(dkim.sign(msg, b'small', b'example.com', open(sys.argv[1], 'rb').read(),
                                              canonicalize=(b'relaxed', b'relaxed'), include_headers=[b'from', b'subject']))
            """, keyPath], input: message)
        let publicKey = try Self.run("/usr/bin/openssl", ["rsa", "-in", keyPath, "-pubout", "-outform", "DER"], input: [])
        let dns = try DKIMTestDNS(records: [("small._domainkey.example.com",
                                             "v=DKIM1; k=rsa; p=" + Data(publicKey).base64EncodedString())])
        let results = await dns.verifier().verify(DKIMTestData.crlf(signature) + message)
        #expect(DKIMTestData.verdicts(results) == ["permerror"], "\(results)")
        await dns.stop()
    }

    static func run(_ executable: String, _ arguments: [String], input: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DKIMPy.Failed(description: "\(executable) failed: " + String(decoding: err, as: UTF8.self))
        }
        return [UInt8](out)
    }

    @Test("Key record p= as bare RSAPublicKey is wrapped as SubjectPublicKeyInfo; SPKI stays as it is")
    func recordNormalization() throws {
        let bare = try Self.record("1024_testkey_wo_markers.pub.rsa.txt")
        let spki = try Self.record("1024_testkey_wo_markers.pub.txt")
        #expect(DKIMKeyRecord.parse(DKIMKeyRecord.normalizedForVerifier(bare))?.publicKey
                == DKIMKeyRecord.parse(spki)?.publicKey)
        #expect(DKIMKeyRecord.normalizedForVerifier(spki) == spki)
    }

    @Test("Tag lists: duplicates and malformed specs are errors; a trailing ';' is fine")
    func tagLists() throws {
        #expect(try DKIMTagList.parse("v=1; a=rsa-sha256;")["a"] == "rsa-sha256")
        #expect(try DKIMTagList.parse(" v = 1 ;\r\n\tb= ab\r\n cd ")["b"] == "ab\r\n cd")
        #expect(throws: DKIMTagList.ParseError.duplicateTag("d")) { try DKIMTagList.parse("d=a.example; d=b.example") }
        #expect(throws: DKIMTagList.ParseError.self) { try DKIMTagList.parse("v=1;; a=x") }
        // "v=DKIM1: g=*" is one well-formed tag whose value is not "DKIM1".
        let field = try #require(DKIMSignatureField.parse("v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=x; b=y").field)
        #expect(DKIMVerifier.keyProblem("v=DKIM1: g=*; k=rsa; p=AAAA", for: field) != nil)
    }
}

@Suite("DKIM malformed input")
struct DKIMMalformedTests {
    static let fields: [String] = [
        "DKIM-Signature:",
        "DKIM-Signature: ;;;",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=; b=",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA; l=999999999999999999999999",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA; x=12; t=99999999999",
        "DKIM-Signature: v=1; a=rsa-sha256; d=..; s=s; h=from; bh=AAAA; b=AAAA",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=a..b; h=from; bh=AAAA; b=AAAA",
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed/relaxed; d=example.com; s=s; h=from; bh=AAAA; b=AAAA",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA; d=example.net",
        "DKIM-Signature: v=1; a=rsa-sha256; d=\u{00e9}xample.com; s=s; h=from; bh=AAAA; b=AAAA",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=AAAA; b=AAAA; z=" + String(repeating: "x", count: 5000),
    ]

    @Test("Malformed signatures are permerror without a crash or a DNS query", arguments: DKIMMalformedTests.fields)
    func malformed(field: String) async {
        let message = Array((field + "\r\nFrom: a@example.com\r\nSubject: x\r\n\r\nbody\r\n").utf8)
        let results = await DKIMVerifier(lookup: { name in
            name == "s._domainkey.example.com" ? .nxdomain : .failure("unexpected query for \(name)")
        }).verify(message)
        #expect(results.count == 1)
        #expect(results.first?.verdict == .permerror, "\(results)")
    }

    @Test("Unsigned and odd messages give no results and do not crash")
    func unsigned() async {
        let verifier = DKIMVerifier(lookup: { _ in .nxdomain })
        for message in ["", "\r\n", "From: a@example.com\r\n", "no header at all", "From: a@example.com\r\n\r\n"] {
            #expect(await verifier.verify(Array(message.utf8)).isEmpty)
        }
        #expect(await verifier.verify([0xFF, 0xFE, 0x0D, 0x0A, 0x0D, 0x0A]).isEmpty)
    }
}
