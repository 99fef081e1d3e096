import Foundation
import TernSMTP

/// The two file formats of the spool (see `Spool` for where they live and
/// when they are written).
///
/// **Queue file** `env/<id>`, written once at accept and never changed:
///
///     tern-spool 1 412\n                 ← magic, format version, header length
///     {\n                                ← the header: 412 bytes of JSON and a newline
///       "arrivedAt" : "2025-11-23T13:24:00.123Z",
///       "envelope" : { "body" : "8BITMIME", "recipients" : [ … ], "sender" : "<a@example.org>", … },
///       "id" : "01jd2k7q8z00a1b2c3d4",
///       "messageSize" : 1234,
///       "origin" : { "clientAddress" : "192.0.2.1", "heloName" : "…", … }
///     }\n
///     Received: from …\r\n               ← the message, byte for byte as received
///     …
///
/// The message starts right after the header: at the length of the first
/// line plus the header length, and runs to the end of the file, which is
/// `messageSize` bytes long.
///
/// **State file** `state/<id>`, the mutable part, only for entries that an
/// attempt left unfinished (or that an administrator held):
///
///     {
///       "formatVersion" : 1,
///       "held" : false,
///       "history" : [ … ],
///       "id" : "01jd2k7q8z00a1b2c3d4",
///       "recipients" : [ { "mailbox" : "alice@example.com", "state" : { "status" : "deferred", … } } ]
///     }
///
/// plus `"delayNoticeSentAt"` once a delay notice was queued.
///
/// Both are JSON pretty-printed with sorted keys, so that `cat` and `diff`
/// serve an administrator; dates are RFC 3339 UTC with milliseconds.
enum SpoolFiles {
    static let magic = "tern-spool"
    /// The first line is short; anything longer is not a queue file.
    static let maximumFirstLine = 64
    /// A header this large is damage, not an envelope (100 recipients of
    /// 256 octets make well under 64 KiB).
    static let maximumHeader = 16 << 20

    /// The immutable part of an entry, as the queue file's header.
    struct Header: Codable {
        var id: QueueID
        var envelope: Envelope
        var origin: MessageOrigin
        var arrivedAt: Date
        var messageSize: Int
    }

    /// The mutable part of an entry, as its state file.
    struct State: Codable {
        var formatVersion: Int
        var id: QueueID
        var held: Bool
        var history: [DeliveryAttempt]
        var recipients: [RecipientRecord]
        /// Absent from state files written before delay notices existed,
        /// and left out while nil (the synthesized coding does both).
        var delayNoticeSentAt: Date?
    }

    /// The first line and the header of the queue file for `entry`.
    static func encodeHeader(_ entry: SpoolEntry) throws -> [UInt8] {
        var json = HeaderWriter.write(header(of: entry))
        json.append(UInt8(ascii: "\n"))
        var bytes = Array("\(magic) \(SpoolEntry.currentFormatVersion) \(json.count)\n".utf8)
        bytes.append(contentsOf: json)
        return bytes
    }

    static func header(of entry: SpoolEntry) -> Header {
        Header(id: entry.id, envelope: entry.envelope, origin: entry.origin, arrivedAt: entry.arrivedAt,
               messageSize: entry.messageSize)
    }

    /// The header as `JSONEncoder` writes it (`HeaderWriter` must match it).
    static func foundationJSON(_ header: Header) throws -> [UInt8] {
        Array(try encoder().encode(header))
    }

    static func encodeState(_ entry: SpoolEntry) throws -> [UInt8] {
        let state = State(formatVersion: entry.formatVersion, id: entry.id, held: entry.held, history: entry.history,
                          recipients: entry.recipients, delayNoticeSentAt: entry.delayNoticeSentAt)
        var bytes = Array(try encoder().encode(state))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Where the header ends, read from the first line.
    struct Layout: Hashable {
        /// Bytes of the first line, its newline included.
        var firstLineLength: Int
        var headerLength: Int
        /// Where the message starts.
        var messageOffset: Int { firstLineLength + headerLength }
    }

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// Parses the first line from the start of a queue file. Returns nil
    /// when `prefix` is too short to hold the whole first line yet.
    static func layout(_ prefix: UnsafeRawBufferPointer) throws(Malformed) -> Layout? {
        guard let newline = prefix.prefix(maximumFirstLine).firstIndex(of: UInt8(ascii: "\n")) else {
            if prefix.count < maximumFirstLine { return nil }
            throw Malformed(description: "no first line")
        }
        let line = String(decoding: UnsafeRawBufferPointer(rebasing: prefix[0..<newline]), as: UTF8.self)
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 3, words[0] == magic else {
            throw Malformed(description: "not a queue file (no \"\(magic)\" line)")
        }
        guard let version = Int(words[1]), words[1].allSatisfy(\.isASCII) else {
            throw Malformed(description: "bad format version \"\(words[1])\"")
        }
        guard version == SpoolEntry.currentFormatVersion else {
            throw Malformed(description: "unsupported format version \(version)")
        }
        guard let length = Int(words[2]), words[2].allSatisfy({ $0.isASCII && $0.isNumber }),
              (2...maximumHeader).contains(length) else {
            throw Malformed(description: "bad header length \"\(words[2])\"")
        }
        return Layout(firstLineLength: newline + 1, headerLength: length)
    }

    /// Decodes the header bytes (without the first line).
    static func decodeHeader(_ bytes: UnsafeRawBufferPointer) throws -> Header {
        guard bytes.last == UInt8(ascii: "\n") else { throw Malformed(description: "the header does not end with a newline") }
        return try decoder().decode(Header.self, from: Data(bytes))
    }

    static func decodeState(_ bytes: [UInt8]) throws -> State {
        try decoder().decode(State.self, from: Data(bytes))
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(RecordDate.format(date))
        }
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = RecordDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "bad date \(text)")
            }
            return date
        }
        return decoder
    }
}
