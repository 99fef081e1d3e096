/// Punycode (RFC 3492) and the IDNA label conversions SMTPUTF8 needs
/// (RFC 5890 A-labels / U-labels). Only the transformation is done here;
/// label validity beyond LDH and length is the caller's concern.
public enum Punycode {
    // RFC 3492 §5 parameter values.
    private static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700
    private static let initialBias = 72, initialN = 0x80

    private static func adapt(_ delta: Int, _ numPoints: Int, _ firstTime: Bool) -> Int {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (((base - tMin + 1) * delta) / (delta + skew))
    }

    private static func digit(_ d: Int) -> Character {
        // 0..25 → a..z, 26..35 → 0..9
        Character(Unicode.Scalar(UInt8(d < 26 ? d + 97 : d + 22)))
    }

    private static func value(of c: UInt8) -> Int? {
        switch c {
        case 0x30...0x39: return Int(c) - 22
        case 0x41...0x5A: return Int(c) - 0x41
        case 0x61...0x7A: return Int(c) - 0x61
        default: return nil
        }
    }

    /// RFC 3492 §6.3 encoding of one label's code points.
    public static func encode(_ input: String) -> String? {
        let scalars = input.unicodeScalars.map { Int($0.value) }
        var output = ""
        for s in scalars where s < 0x80 { output.append(Character(Unicode.Scalar(UInt8(s)))) }
        let basicCount = output.unicodeScalars.count
        var handled = basicCount
        if basicCount > 0 { output.append("-") }
        var n = initialN, delta = 0, bias = initialBias
        while handled < scalars.count {
            guard let m = scalars.filter({ $0 >= n }).min() else { return nil }
            let (mul, o1) = (m - n).multipliedReportingOverflow(by: handled + 1)
            if o1 { return nil }
            delta += mul
            n = m
            for c in scalars {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, handled + 1, handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return output
    }

    /// RFC 3492 §6.2 decoding; nil on malformed input.
    public static func decode(_ input: String) -> String? {
        let bytes = Array(input.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        var output: [Int] = []
        let lastDash = bytes.lastIndex(of: UInt8(ascii: "-"))
        var index = 0
        if let lastDash {
            output = bytes[..<lastDash].map { Int($0) }
            index = lastDash + 1
        }
        var n = initialN, i = 0, bias = initialBias
        while index < bytes.count {
            let oldI = i
            var w = 1
            var k = base
            while true {
                guard index < bytes.count, let d = value(of: bytes[index]) else { return nil }
                index += 1
                let (dw, o1) = d.multipliedReportingOverflow(by: w)
                if o1 { return nil }
                let (ni, o2) = i.addingReportingOverflow(dw)
                if o2 { return nil }
                i = ni
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if d < t { break }
                let (nw, o3) = w.multipliedReportingOverflow(by: base - t)
                if o3 { return nil }
                w = nw
                k += base
            }
            bias = adapt(i - oldI, output.count + 1, oldI == 0)
            n += i / (output.count + 1)
            i %= output.count + 1
            guard n <= 0x10FFFF else { return nil }
            output.insert(n, at: i)
            i += 1
        }
        var result = ""
        for cp in output {
            guard let scalar = Unicode.Scalar(UInt32(cp)) else { return nil }
            result.unicodeScalars.append(scalar)
        }
        return result
    }

    /// A-label for a label: ASCII labels are returned lowercased, others get "xn--".
    public static func toASCII(label: String) -> String? {
        if label.utf8.allSatisfy({ $0 < 0x80 }) { return label.lowercased() }
        guard let encoded = encode(label.lowercased()) else { return nil }
        return "xn--" + encoded
    }

    /// U-label for a label: "xn--" labels are decoded, others returned lowercased.
    public static func toUnicode(label: String) -> String? {
        let lower = label.lowercased()
        guard lower.hasPrefix("xn--") else { return lower }
        guard let decoded = decode(String(lower.dropFirst(4))), !decoded.isEmpty else { return nil }
        // An A-label must decode to something that is not plain ASCII (RFC 5890 §2.3.2.1).
        guard !decoded.unicodeScalars.allSatisfy({ $0.value < 0x80 }) else { return nil }
        return decoded
    }
}
