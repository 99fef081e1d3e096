/// Reads a server's replies from the bytes of a connection (RFC 5321 §4.2):
/// `250-first`, …, `250 last`, each line ended by CRLF.
///
/// A client reads what strangers send, so it is lenient where it is safe
/// (a bare LF also ends a line; text may be any bytes, decoded as UTF-8 with
/// replacement) and strict where it is not: a line longer than
/// `maximumLineLength`, a reply longer than `maximumLines`, a line that does
/// not start with three digits, or continuation lines whose codes disagree
/// end the session with `Malformed`.
public struct ReplyReader: Sendable {
    /// RFC 5321 §4.5.3.1.5 allows 512 octets; servers write more in EHLO
    /// and in long rejection texts, so allow some room.
    public static let maximumLineLength = 4096
    public static let maximumLines = 200

    public struct Malformed: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    private var pending: [UInt8] = []
    private var lines: [String] = []
    private var code: Int?

    public init() {}

    /// Adds bytes; returns every reply they complete, in order.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(Malformed) -> [SMTPReply] {
        var replies: [SMTPReply] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                if let reply = try take(pending) { replies.append(reply) }
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count > ReplyReader.maximumLineLength {
                    throw Malformed(description: "reply line longer than \(ReplyReader.maximumLineLength) octets")
                }
            }
        }
        return replies
    }

    /// True when part of a reply has been read but not all of it.
    public var isInsideReply: Bool { !pending.isEmpty || !lines.isEmpty }

    private mutating func take(_ line: [UInt8]) throws(Malformed) -> SMTPReply? {
        guard line.count >= 3, line[0...2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let lineCode = Int(String(decoding: line[0...2], as: UTF8.self)), lineCode >= 200, lineCode < 600 else {
            throw Malformed(description: "reply line without a reply code: \(ReplyReader.printable(line))")
        }
        let separator: UInt8? = line.count > 3 ? line[3] : nil
        guard separator == nil || separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw Malformed(description: "reply code not followed by space or hyphen: \(ReplyReader.printable(line))")
        }
        if let code, code != lineCode {
            throw Malformed(description: "multiline reply changes its code from \(code) to \(lineCode)")
        }
        code = lineCode
        let text = line.count > 4 ? String(decoding: line[4...], as: UTF8.self) : ""
        lines.append(text)
        guard lines.count <= ReplyReader.maximumLines else {
            throw Malformed(description: "reply longer than \(ReplyReader.maximumLines) lines")
        }
        if separator == UInt8(ascii: "-") { return nil }
        defer {
            lines.removeAll()
            code = nil
        }
        return ReplyReader.reply(code: lineCode, lines: lines)
    }

    /// Splits an enhanced status code (RFC 2034 §4) off the lines when the
    /// first line has one whose class matches the reply's.
    static func reply(code: Int, lines: [String]) -> SMTPReply {
        guard let first = lines.first,
              let space = first.firstIndex(of: " ") ?? (EnhancedStatus(first) != nil ? first.endIndex : nil),
              let status = EnhancedStatus(String(first[..<space])), status.statusClass == code / 100 else {
            return SMTPReply(code, nil, lines)
        }
        let prefix = status.description
        let stripped = lines.map { line -> String in
            guard line.hasPrefix(prefix) else { return line }
            return String(line.dropFirst(prefix.count).drop(while: { $0 == " " }))
        }
        return SMTPReply(code, status, stripped)
    }

    static func printable(_ line: [UInt8]) -> String {
        String(decoding: line.prefix(80).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }
}
