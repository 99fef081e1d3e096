import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Dates in records: RFC 3339 UTC with milliseconds,
/// `2025-11-23T13:24:00.123Z`.
///
/// A date is kept to the millisecond and read back as exactly
/// `Date(timeIntervalSince1970: Double(ms) / 1000)`, so a record that is
/// read and written again does not drift. Reading also takes whole seconds
/// and up to nine fraction digits (rounded to milliseconds), for records an
/// administrator edited by hand.
enum RecordDate {
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    /// `date` as a record keeps it: what `parse(format(date))` returns.
    static func stored(_ date: Date) -> Date {
        Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
    }

    static func format(_ date: Date) -> String {
        let ms = milliseconds(date)
        var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let fraction = Int(ms - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(fraction), 3))Z"
    }

    static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        // YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z
        guard b.count >= 20, b.last == UInt8(ascii: "Z"), b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var v: Int32 = 0
            for i in range {
                guard (0x30...0x39).contains(b[i]) else { return nil }
                v = v * 10 + Int32(b[i] - 0x30)
            }
            return v
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var millis: Int64 = 0
        if b.count > 20 {
            let digits = b[20..<(b.count - 1)]
            guard b[19] == UInt8(ascii: "."), (1...9).contains(digits.count),
                  digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            var nanos: Int64 = 0
            for d in digits { nanos = nanos * 10 + Int64(d - 0x30) }
            for _ in digits.count..<9 { nanos *= 10 }
            millis = (nanos + 500_000) / 1_000_000
        } else if b[19] != UInt8(ascii: "Z") {
            return nil
        }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = Int64(timegm(&parts))
        return Date(timeIntervalSince1970: Double(seconds * 1000 + millis) / 1000)
    }
}
