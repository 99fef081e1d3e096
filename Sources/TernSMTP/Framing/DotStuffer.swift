/// Encodes a message for DATA (RFC 5321 §4.5.2): a line that starts with
/// `.` gets a second `.` in front, and the data ends with `CRLF.CRLF`.
///
/// Fed in chunks of any size, so a large message streams from the spool
/// without being held whole. The spool keeps messages with CRLF line
/// endings (the server refuses bare CR and LF), so only CRLF starts a line
/// here; a message that does not end with CRLF gets one before the final dot.
public struct DotStuffer: Sendable {
    private var atLineStart = true
    private var lastWasCR = false
    private var empty = true

    public init() {}

    /// The chunk, dot-stuffed, appended to `out`.
    public mutating func encode(_ chunk: some Collection<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + chunk.count + 8)
        for byte in chunk {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = lastWasCR && byte == UInt8(ascii: "\n")
            lastWasCR = byte == UInt8(ascii: "\r")
            empty = false
        }
    }

    /// The end of data: `CRLF.CRLF`, or `.CRLF` when the message already
    /// ended with a line break (or was empty).
    public func terminator() -> [UInt8] {
        atLineStart || empty ? Array(".\r\n".utf8) : Array("\r\n.\r\n".utf8)
    }

    /// A whole message in one call.
    public static func stuff(_ message: some Collection<UInt8>) -> [UInt8] {
        var stuffer = DotStuffer()
        var out: [UInt8] = []
        stuffer.encode(message, into: &out)
        out += stuffer.terminator()
        return out
    }
}
