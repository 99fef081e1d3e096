import NIOCore

/// Splits command lines out of inbound bytes (RFC 5321 §2.3.8, §4.5.3.1.4).
///
/// Only CRLF ends a line. A bare LF, or a CR not followed by LF, is reported
/// as `.bareLineEnding` — the session answers `521` and closes, so no
/// smuggled line ending is ever interpreted. A line longer than the limit is
/// discarded up to its CRLF and reported once as `.tooLong`, so the tail of
/// an overlong line is never executed as a command.
public struct LineFramer: Sendable {
    public enum Event: Equatable, Sendable {
        /// One line without its CRLF.
        case line([UInt8])
        case tooLong
        case bareLineEnding
    }

    private var discarding = false

    public init() {}

    /// Takes the next event out of `buffer`, or nil when more bytes are needed.
    /// - Parameter limit: the longest line accepted, CRLF included.
    public mutating func next(from buffer: inout ByteBuffer, limit: Int) -> Event? {
        let view = buffer.readableBytesView
        guard let i = view.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) else {
            if discarding || view.count > limit {
                discarding = true
                buffer.moveReaderIndex(forwardBy: view.count)
            }
            return nil
        }
        if view[i] == UInt8(ascii: "\n") {
            return .bareLineEnding
        }
        let next = view.index(after: i)
        guard next < view.endIndex else {
            // A CR at the end of what we have: wait for the next byte, but do
            // not let a long line grow past the limit meanwhile.
            if i - view.startIndex > limit {
                discarding = true
                buffer.moveReaderIndex(forwardBy: i - view.startIndex)
            }
            return nil
        }
        guard view[next] == UInt8(ascii: "\n") else { return .bareLineEnding }
        let length = i - view.startIndex
        let wasDiscarding = discarding
        discarding = false
        if wasDiscarding || length + 2 > limit {
            buffer.moveReaderIndex(forwardBy: length + 2)
            return .tooLong
        }
        let bytes = buffer.readBytes(length: length) ?? []
        buffer.moveReaderIndex(forwardBy: 2)
        return .line(bytes)
    }
}
