// Bare values (TOML 1.0 §Integer, §Float, §Boolean): the token is read up to
// the first character that cannot belong to it, then classified. Dates and
// times are recognised only to be refused with a clear message.

extension TOMLParser {
    /// Parses `true`, `false`, an integer, a float, `inf` or `nan` at the cursor.
    mutating func parseBareValue() throws(TOMLError) -> TOMLValue.Kind {
        let start = scanner.location
        let begin = scanner.index
        while let b = scanner.peek(), Self.isBareValueByte(b) { scanner.advance() }
        let token = String(decoding: scanner.bytes(from: begin), as: UTF8.self)
        guard !token.isEmpty else {
            let found = scanner.peek().map { "'\(Self.printable($0))'" } ?? "the end of the file"
            throw scanner.error("expected a value, found \(found)", at: start)
        }
        switch token {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        if Self.looksLikeDateOrTime(token) {
            throw scanner.error("dates and times are not used by Tern: write durations as strings like \"5d\"", at: start)
        }
        let bytes = Array(token.utf8)
        guard let first = bytes.first,
              (0x30...0x39).contains(first) || first == UInt8(ascii: "+") || first == UInt8(ascii: "-") else {
            throw scanner.error("expected a value, found '\(token)' (strings need quotes)", at: start)
        }
        if bytes.count > 2, first == UInt8(ascii: "0"),
           let radix = Self.radix(bytes[1]) {
            return .integer(try prefixedInteger(bytes.dropFirst(2), radix: radix, token: token, start: start))
        }
        if bytes.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            return .float(try float(bytes[...], token: token, start: start))
        }
        return .integer(try decimalInteger(bytes[...], token: token, start: start))
    }

    /// Characters that may appear in a bare value token.
    private static func isBareValueByte(_ b: UInt8) -> Bool {
        TOMLScanner.isBareKeyByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".") || b == UInt8(ascii: ":")
    }

    private static func radix(_ b: UInt8) -> UInt64? {
        switch b {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
    }

    /// `1979-05-27`, `07:32:00` and their combinations.
    private static func looksLikeDateOrTime(_ token: String) -> Bool {
        let b = Array(token.utf8)
        func digits(_ range: Range<Int>) -> Bool {
            range.allSatisfy { $0 < b.count && (0x30...0x39).contains(b[$0]) }
        }
        let date = digits(0..<4) && b.count > 4 && b[4] == UInt8(ascii: "-")
        let time = digits(0..<2) && b.count > 2 && b[2] == UInt8(ascii: ":")
        return date || time
    }

    /// dec-int = [ "-" / "+" ] ( DIGIT / digit1-9 1*( DIGIT / "_" DIGIT ) )
    private func decimalInteger(_ bytes: ArraySlice<UInt8>, token: String, start: TOMLLocation) throws(TOMLError) -> Int64 {
        var digits = bytes
        var negative = false
        if let sign = digits.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard Self.validDigitRun(digits, isDigit: { (0x30...0x39).contains($0) }) else {
            throw scanner.error("invalid number '\(token)'", at: start)
        }
        let plain = digits.filter { $0 != UInt8(ascii: "_") }
        if plain.count > 1, plain.first == UInt8(ascii: "0") {
            throw scanner.error("leading zeros are not allowed in '\(token)'", at: start)
        }
        guard let magnitude = Self.accumulate(plain, radix: 10) else {
            throw scanner.error("integer '\(token)' does not fit in 64 bits", at: start)
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else {
                throw scanner.error("integer '\(token)' does not fit in 64 bits", at: start)
            }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else {
            throw scanner.error("integer '\(token)' does not fit in 64 bits", at: start)
        }
        return Int64(magnitude)
    }

    /// hex-int / oct-int / bin-int: no sign; underscores only between digits.
    private func prefixedInteger(_ digits: ArraySlice<UInt8>, radix: UInt64, token: String, start: TOMLLocation) throws(TOMLError) -> Int64 {
        let isDigit: (UInt8) -> Bool = { b in
            guard let v = Self.hexDigitValue(b) else { return false }
            return UInt64(v) < radix
        }
        guard Self.validDigitRun(digits, isDigit: isDigit) else {
            throw scanner.error("invalid number '\(token)'", at: start)
        }
        guard let value = Self.accumulate(digits.filter { $0 != UInt8(ascii: "_") }, radix: radix),
              value <= UInt64(Int64.max) else {
            throw scanner.error("integer '\(token)' does not fit in 64 bits", at: start)
        }
        return Int64(value)
    }

    /// float = float-int-part ( exp / frac [ exp ] )
    private func float(_ bytes: ArraySlice<UInt8>, token: String, start: TOMLLocation) throws(TOMLError) -> Double {
        let invalid = scanner.error("invalid number '\(token)'", at: start)
        var rest = bytes
        if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { rest = rest.dropFirst() }
        let isDigit: (UInt8) -> Bool = { (0x30...0x39).contains($0) }
        let expIndex = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let mantissa = expIndex.map { rest[rest.startIndex..<$0] } ?? rest
        let dot = mantissa.firstIndex(of: UInt8(ascii: "."))
        let intPart = dot.map { mantissa[mantissa.startIndex..<$0] } ?? mantissa
        guard Self.validDigitRun(intPart, isDigit: isDigit) else { throw invalid }
        let intPlain = intPart.filter { $0 != UInt8(ascii: "_") }
        if intPlain.count > 1, intPlain.first == UInt8(ascii: "0") {
            throw scanner.error("leading zeros are not allowed in '\(token)'", at: start)
        }
        if let dot {
            guard Self.validDigitRun(mantissa[mantissa.index(after: dot)...], isDigit: isDigit) else { throw invalid }
        }
        if let expIndex {
            var exponent = rest[rest.index(after: expIndex)...]
            if let sign = exponent.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                exponent = exponent.dropFirst()
            }
            guard Self.validDigitRun(exponent, isDigit: isDigit) else { throw invalid }
        }
        let text = String(decoding: bytes.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        guard let value = Double(text), value.isFinite else {
            throw scanner.error("float '\(token)' is out of range", at: start)
        }
        return value
    }

    /// One or more digits, each underscore between two digits.
    private static func validDigitRun(_ run: ArraySlice<UInt8>, isDigit: (UInt8) -> Bool) -> Bool {
        guard let first = run.first, let last = run.last, isDigit(first), isDigit(last) else { return false }
        var previousUnderscore = false
        for b in run {
            if b == UInt8(ascii: "_") {
                if previousUnderscore { return false }
                previousUnderscore = true
            } else if isDigit(b) {
                previousUnderscore = false
            } else {
                return false
            }
        }
        return true
    }

    /// The digits' value, or `nil` on overflow of 64 bits.
    private static func accumulate(_ digits: [UInt8], radix: UInt64) -> UInt64? {
        var value: UInt64 = 0
        for b in digits {
            guard let d = hexDigitValue(b) else { return nil }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (sum, o2) = shifted.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }
}
