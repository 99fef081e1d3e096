/// Turns the CRLF line endings of a message as received over SMTP (RFC 5321
/// §2.3.8) into the bare LF that Maildir files use, as Postfix's local(8)
/// and Dovecot's LDA do. Streaming: a CR at the end of one chunk is held
/// until the next chunk shows whether an LF follows. A CR not followed by
/// LF is kept, so nothing but the line ending changes.
public struct LineEndingConverter: Sendable {
    private var heldCR = false

    public init() {}

    /// Appends the converted `input` to `output`.
    public mutating func convert(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + input.count + 1)
        for byte in input {
            if heldCR {
                heldCR = false
                if byte != UInt8(ascii: "\n") { output.append(UInt8(ascii: "\r")) }
            }
            if byte == UInt8(ascii: "\r") {
                heldCR = true
            } else {
                output.append(byte)
            }
        }
    }

    /// Flushes a CR held at the very end of the message.
    public mutating func finish(into output: inout [UInt8]) {
        if heldCR {
            output.append(UInt8(ascii: "\r"))
            heldCR = false
        }
    }

    /// Converts a whole message at once.
    public static func convert(_ bytes: [UInt8]) -> [UInt8] {
        var converter = LineEndingConverter()
        var out: [UInt8] = []
        bytes.withUnsafeBytes { converter.convert($0, into: &out) }
        converter.finish(into: &out)
        return out
    }
}
