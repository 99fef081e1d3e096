import Foundation
import Synchronization

/// The name of one queued message: the `ID` in "250 2.0.0 queued as ID" and
/// the file name of its message and record in the spool.
///
/// Twenty characters of lowercase base32 (the Crockford alphabet, which has
/// no `i`, `l`, `o` or `u` and sorts in ASCII order):
///
///     ttttttttttccrrrrrrrr
///     │         │ └ 40 random bits: no collision across processes
///     │         └ 10-bit counter: order within one millisecond
///     └ 50 bits of milliseconds since 1970
///
/// IDs made by one process sort in the order they were made; IDs from
/// different processes sort by their millisecond. The characters are safe in
/// file names, URLs and log lines, and case-insensitive file systems cannot
/// confuse two of them.
public struct QueueID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// The twenty-character text.
    public let text: String

    public static let length = 20
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// Accepts exactly what `generate()` produces: twenty characters of the
    /// alphabet. Anything else (a stray file in the spool, a path with `/` or
    /// `..`) is refused, so a queue ID can always be used as a file name.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == QueueID.length, bytes.allSatisfy({ QueueID.alphabet.contains($0) }) else {
            return nil
        }
        self.text = text
    }

    private init(validated text: String) {
        self.text = text
    }

    public var description: String { text }

    public static func < (lhs: QueueID, rhs: QueueID) -> Bool { lhs.text < rhs.text }

    /// When the ID was made, to the millisecond.
    public var date: Date {
        var millis: UInt64 = 0
        for c in text.utf8.prefix(10) {
            guard let v = QueueID.alphabet.firstIndex(of: c) else { break }
            millis = millis << 5 | UInt64(v)
        }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// Makes a new ID from the clock, a per-process counter and randomness.
    public static func generate(now: Date = Date()) -> QueueID {
        var rng = SystemRandomNumberGenerator()
        return generate(now: now, using: &rng)
    }

    /// As `generate(now:)`, with the random source injected for tests.
    public static func generate(now: Date, using rng: inout some RandomNumberGenerator) -> QueueID {
        let wallMillis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (millis, counter) = clock.withLock { state -> (UInt64, UInt64) in
            // Never go backwards within this process, even when the wall clock does.
            if wallMillis > state.millis {
                state.millis = wallMillis
                state.counter = 0
            } else if state.counter >= 1023 {
                state.millis += 1
                state.counter = 0
            } else {
                state.counter += 1
            }
            return (state.millis, state.counter)
        }
        let random = rng.next() & 0xFF_FFFF_FFFF
        var out: [UInt8] = []
        out.reserveCapacity(length)
        appendBase32(millis, digits: 10, to: &out)
        appendBase32(counter, digits: 2, to: &out)
        appendBase32(random, digits: 8, to: &out)
        return QueueID(validated: String(decoding: out, as: UTF8.self))
    }

    private static func appendBase32(_ value: UInt64, digits: Int, to out: inout [UInt8]) {
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out.append(alphabet[Int((value >> UInt64(5 * i)) & 31)])
        }
    }

    private struct ClockState {
        var millis: UInt64 = 0
        var counter: UInt64 = 0
    }

    private static let clock = Mutex(ClockState())

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = QueueID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad queue ID \(text)")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }
}
