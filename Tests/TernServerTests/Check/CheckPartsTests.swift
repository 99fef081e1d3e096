import Foundation
import Testing
@testable import TernServer

@Suite("tern check: the pure parts")
struct CheckPartsTests {
    @Test("MTA-STS records by RFC 8461 §3.1", arguments: [
        ("v=STSv1; id=20250101T000000;", "20250101T000000"),
        ("v=STSv1;id=abc", "abc"),
        ("v=STSv1; id=1; ext-1=value", "1"),
        ("v=STSv1; id=has-dash;", "id= must be 1 to 32 letters and digits, got \"has-dash\""),
        ("v=STSv1; id=123456789012345678901234567890123", "id= must be 1 to 32 letters and digits, got \"123456789012345678901234567890123\""),
        ("v=STSv1;", "no id= field"),
        ("v=STSv1; id=1; id=2", "id= is given twice"),
        ("v=STSv1; id=1;; ", "has an empty field (\";;\")"),
        ("v=STSv2; id=1", "must begin with \"v=STSv1;\""),
    ])
    func mtaSTS(text: String, expected: String) {
        switch MTASTSRecord.parse(text) {
        case .success(let record): #expect(record.id == expected)
        case .failure(let error): #expect(error.description == expected)
        }
    }

    @Test("TLS-RPT records by RFC 8460 §3", arguments: [
        ("v=TLSRPTv1; rua=mailto:tlsrpt@example.com", "mailto:tlsrpt@example.com"),
        ("v=TLSRPTv1;rua=mailto:a@example.com, https://reports.example.com/tlsrpt",
         "mailto:a@example.com https://reports.example.com/tlsrpt"),
        ("v=TLSRPTv1;", "no rua= field"),
        ("v=TLSRPTv1; rua=ftp://example.com", "rua= must list mailto: or https: URIs, got \"ftp://example.com\""),
    ])
    func tlsRPT(text: String, expected: String) {
        switch TLSRPTRecord.parse(text) {
        case .success(let record): #expect(record.reportURIs.joined(separator: " ") == expected)
        case .failure(let error): #expect(error.description == expected)
        }
    }

    @Test("certificate names match by RFC 6125 §6.4.3: a wildcard stands for one whole left-most label", arguments: [
        ("mx.example.com", "mx.example.com", true), ("MX.Example.COM", "mx.example.com", true),
        ("*.example.com", "mx.example.com", true), ("*.example.com", "a.mx.example.com", false),
        ("*.example.com", "example.com", false), ("*.com", "example.com", false),
        ("m*.example.com", "mx.example.com", false), ("other.example.com", "mx.example.com", false),
    ])
    func nameMatching(pattern: String, hostname: String, matches: Bool) {
        #expect(CertificateAssessment.matches(pattern: pattern, hostname: hostname) == matches)
    }

    @Test("public addresses: not loopback, private, shared, link-local or unique-local", arguments: [
        ("192.0.2.1", true), ("203.0.113.7", true), ("2001:db8::1", true),
        ("127.0.0.1", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.32.0.1", true),
        ("192.168.1.1", false), ("100.64.0.1", false), ("169.254.1.1", false),
        ("::1", false), ("fe80::1", false), ("fd00::1", false),
    ])
    func publicAddresses(address: String, isPublic: Bool) {
        #expect(CheckRun.isPublic(address) == isPublic)
    }

    @Test("zone lines: absolute names, TXT in quoted strings of at most 255 octets")
    func zoneLines() {
        #expect(ZoneLine.mx("example.com", "mx.example.com") == "example.com. IN MX 10 mx.example.com.")
        #expect(ZoneLine.txt("example.com", "v=spf1 a:\"x\" -all") == #"example.com. IN TXT "v=spf1 a:\"x\" -all""#)
        let long = String(repeating: "a", count: 300)
        #expect(ZoneLine.txt("k.example", long) == "k.example. IN TXT \"\(String(repeating: "a", count: 255))\" \"\(String(repeating: "a", count: 45))\"")
    }

    @Test("the text report: a heading per scope, problems in capitals with the record to publish, then the summary")
    func textReport() {
        var error = CheckFinding(.spf, "example.com", .error, "example.com has no SPF record",
                                 record: "example.com. IN TXT \"v=spf1 a:mx.example.com -all\"")
        error.scope = "domain example.com"
        var ok = CheckFinding(.mx, "example.com", .ok, "MX 10 mx.example.com")
        ok.scope = "domain example.com"
        let text = CheckReport.text([ok, error])
        #expect(text == """
            domain example.com
              ok      mx        example.com: MX 10 mx.example.com
              ERROR   spf       example.com: example.com has no SPF record
                                publish:  example.com. IN TXT "v=spf1 a:mx.example.com -all"

            1 error, 0 warnings, 1 ok: fix the errors above (publish the records shown; DNS changes take up to their TTL to be seen), then run tern check again.

            """)
        #expect(!CheckReport.text([ok, error], problemsOnly: true).contains("MX 10"))
    }
}
