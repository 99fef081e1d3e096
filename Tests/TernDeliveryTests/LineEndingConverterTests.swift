import Testing
@testable import TernDelivery

@Suite("CRLF to LF")
struct LineEndingConverterTests {
    @Test("Only CRLF pairs become LF; everything else is kept", arguments: [
        ("a\r\nb\r\n", "a\nb\n"),
        ("", ""),
        ("\r\n\r\n", "\n\n"),
        ("bare\rcr", "bare\rcr"),
        ("bare\nlf", "bare\nlf"),
        ("ends with cr\r", "ends with cr\r"),
        ("\r\r\n", "\r\n"),
        ("caf\u{E9}\r\n", "caf\u{E9}\n"),
    ])
    func convert(input: String, output: String) {
        #expect(LineEndingConverter.convert(Array(input.utf8)) == Array(output.utf8))
    }

    @Test("Splitting the input anywhere gives the same result")
    func chunked() {
        let input = Array("one\r\ntwo\r\r\nthree\rfour\r\n\r\n.\r\n".utf8)
        let expected = LineEndingConverter.convert(input)
        for cut in 0...input.count {
            var converter = LineEndingConverter()
            var out: [UInt8] = []
            input[..<cut].withUnsafeBytes { converter.convert($0, into: &out) }
            input[cut...].withUnsafeBytes { converter.convert($0, into: &out) }
            converter.finish(into: &out)
            #expect(out == expected, "cut at \(cut)")
        }
    }
}
