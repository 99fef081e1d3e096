/// Durations as the configuration writes them: `"30s"`, `"5m"`, `"1h30m"`,
/// `"5d"`, `"2w"`, a bare `"90"` or an integer (seconds), and `"0"`.
///
/// Units: `s` seconds, `m` minutes, `h` hours, `d` days, `w` weeks; each at
/// most once, largest first. Whole seconds only.
enum ConfigDuration {
    private static let units: [(symbol: UInt8, seconds: Int64)] = [
        (UInt8(ascii: "w"), 604_800),
        (UInt8(ascii: "d"), 86_400),
        (UInt8(ascii: "h"), 3_600),
        (UInt8(ascii: "m"), 60),
        (UInt8(ascii: "s"), 1),
    ]

    /// The longest duration accepted: ten years. Anything longer is a typo.
    static let maximumSeconds: Int64 = 10 * 366 * 86_400

    /// Parses a duration string; `nil` when it is not one.
    static func parse(_ text: String) -> Duration? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        if bytes.allSatisfy(isDigit) {
            return seconds(bytes[...])
        }
        var total: Int64 = 0
        var i = 0
        var nextUnit = 0
        while i < bytes.count {
            let start = i
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            guard i > start, i < bytes.count, i - start <= 10 else { return nil }
            guard let unit = units.indices.first(where: { units[$0].symbol == bytes[i] }), unit >= nextUnit,
                  let count = Int64(String(decoding: bytes[start..<i], as: UTF8.self)) else { return nil }
            total += count * units[unit].seconds
            guard total <= maximumSeconds else { return nil }
            nextUnit = unit + 1
            i += 1
        }
        return .seconds(total)
    }

    /// Whole seconds from digits, or `nil` if out of range.
    private static func seconds(_ digits: ArraySlice<UInt8>) -> Duration? {
        guard digits.count <= 12, let value = Int64(String(decoding: digits, as: UTF8.self)),
              value <= maximumSeconds else { return nil }
        return .seconds(value)
    }

    private static func isDigit(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) }

    /// The shortest string that `parse` reads back as `duration`:
    /// `"1h30m"`, `"5d"`, `"0"`. Fractions of a second are dropped.
    static func format(_ duration: Duration) -> String {
        var remaining = max(0, duration.components.seconds)
        guard remaining > 0 else { return "0" }
        var text = ""
        for unit in units where remaining >= unit.seconds {
            let count = remaining / unit.seconds
            remaining -= count * unit.seconds
            text += "\(count)" + String(UnicodeScalar(unit.symbol))
        }
        return text
    }
}
