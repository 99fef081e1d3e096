/// Sizes as the configuration writes them: `"50MiB"`, `"10MB"`, `"512KiB"`,
/// `"1024"` or an integer (bytes).
///
/// Binary units (KiB, MiB, GiB) are powers of 1024; decimal units (kB/KB, MB,
/// GB) powers of 1000; `B` is bytes. Units are read without regard to case
/// and may follow the number after one space: `"50 MiB"`.
enum ConfigByteSize {
    private static let units: [String: Int64] = [
        "b": 1,
        "kb": 1_000, "mb": 1_000_000, "gb": 1_000_000_000,
        "kib": 1_024, "mib": 1_048_576, "gib": 1_073_741_824,
    ]

    /// The largest size accepted: 1 TiB.
    static let maximum: Int64 = 1 << 40

    /// Parses a size string into bytes; `nil` when it is not one.
    static func parse(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        let digitCount = bytes.prefix { (0x30...0x39).contains($0) }.count
        guard digitCount > 0, digitCount <= 13,
              let number = Int64(String(decoding: bytes[..<digitCount], as: UTF8.self)) else { return nil }
        var rest = bytes[digitCount...]
        let spaced = rest.first == 0x20
        if spaced { rest = rest.dropFirst() }
        let unit = String(decoding: rest, as: UTF8.self).lowercased()
        let multiplier: Int64
        if unit.isEmpty {
            guard !spaced else { return nil }
            multiplier = 1
        } else {
            guard let m = units[unit] else { return nil }
            multiplier = m
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, value <= maximum else { return nil }
        return value
    }

    /// The shortest exact string `parse` reads back: `"50MiB"`, `"10MB"`,
    /// or the bare number of bytes.
    static func format(_ size: Int64) -> String {
        let named: [(String, Int64)] = [
            ("GiB", 1_073_741_824), ("GB", 1_000_000_000),
            ("MiB", 1_048_576), ("MB", 1_000_000),
            ("KiB", 1_024), ("kB", 1_000),
        ]
        for (name, factor) in named where size > 0 && size % factor == 0 {
            return "\(size / factor)\(name)"
        }
        return "\(size)"
    }
}
