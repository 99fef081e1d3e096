/// Textual IP addresses as SPF records write them.
enum IPAddressText {
    /// `ip4-network = qnum "." qnum "." qnum "." qnum` with
    /// `qnum = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35`
    /// (RFC 7208 §5.6): 0–255, no leading zeros.
    static func ipv4(_ text: [UInt8]) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(isDigit), p.count == 1 || p.first != UInt8(ascii: "0"),
                  let n = Int(String(decoding: p, as: UTF8.self)), n <= 255 else { return nil }
            out.append(UInt8(n))
        }
        return out
    }

    /// The text forms of RFC 4291 §2.2: eight groups of 1–4 hex digits, one
    /// "::" for a run of zero groups, the last 32 bits optionally dotted IPv4.
    static func ipv6(_ text: [UInt8]) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        var head = text[...], tail: ArraySlice<UInt8> = []
        var compressed = false
        if let r = find(text, [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            compressed = true
            head = text[..<r]
            tail = text[(r + 2)...]
            if find(Array(tail), [UInt8(ascii: ":"), UInt8(ascii: ":")]) != nil { return nil }
        }
        func groups(_ s: ArraySlice<UInt8>, allowIPv4: Bool) -> [UInt8]? {
            if s.isEmpty { return [] }
            let pieces = s.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
            var out: [UInt8] = []
            for (index, piece) in pieces.enumerated() {
                if allowIPv4, index == pieces.count - 1, piece.contains(UInt8(ascii: ".")) {
                    guard let v4 = ipv4(Array(piece)) else { return nil }
                    out += v4
                    continue
                }
                guard !piece.isEmpty, piece.count <= 4, piece.allSatisfy(isHexDigit),
                      let v = UInt16(String(decoding: piece, as: UTF8.self), radix: 16) else { return nil }
                out += [UInt8(v >> 8), UInt8(v & 0xFF)]
            }
            return out
        }
        guard let first = groups(head, allowIPv4: !compressed), let second = groups(tail, allowIPv4: true) else { return nil }
        if compressed {
            guard first.count + second.count <= 14 else { return nil }
            return first + [UInt8](repeating: 0, count: 16 - first.count - second.count) + second
        }
        return first.count == 16 ? first : nil
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        isDigit(c) || ((c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "f"))
    }

    private static func find(_ haystack: [UInt8], _ needle: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle { return i }
        return nil
    }
}
