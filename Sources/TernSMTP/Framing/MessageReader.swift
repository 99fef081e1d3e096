import NIOCore

/// Reads a message body from the wire, for DATA (RFC 5321 §4.1.1.4, §4.5.2)
/// and for BDAT chunks (RFC 3030).
///
/// DATA: removes one leading dot from each line and ends only at
/// CRLF "." CRLF. BDAT: counts octets; no dot handling. Both refuse any bare
/// CR or LF at once (the caller answers `521 5.5.2` and closes for DATA), so
/// no end-of-data look-alike can start a second transaction.
///
/// Limits are checked but never stop the reading: an oversized message or an
/// overlong line is read to its real end, so its tail is never taken for
/// commands, and the verdict comes after the end.
public struct MessageReader: Sendable {
    public enum Mode: Sendable, Equatable {
        case dotTerminated
        case counted
    }

    public enum Progress: Equatable, Sendable {
        /// More bytes are needed.
        case needMore
        /// The end of data (DATA) or of the chunk (BDAT) was reached.
        case end
        /// A bare CR or LF was seen: the transfer cannot be trusted.
        case bareLineEnding
    }

    /// What the content looked like once complete.
    public struct Verdict: Equatable, Sendable {
        public var size: Int
        public var tooBig: Bool
        public var lineTooLong: Bool
        public var receivedFields: Int
    }

    private enum State: Sendable {
        case lineStart, inLine, cr, dot, dotCR
    }

    /// RFC 5321 §4.5.3.1.6: 1000 octets including CRLF.
    public static let maximumLineLength = 998

    public let maximumSize: Int
    public private(set) var message: ByteBuffer
    private var state: State = .lineStart
    private var size = 0
    private var tooBig = false
    private var lineTooLong = false
    private var lineLength = 0
    private var lineStartOffset = 0
    private var inHeaders = true
    private var receivedFields = 0

    public init(maximumSize: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.maximumSize = maximumSize
        self.message = allocator.buffer(capacity: min(maximumSize, 16 * 1024))
    }

    public var verdict: Verdict {
        Verdict(size: size, tooBig: tooBig, lineTooLong: lineTooLong, receivedFields: receivedFields)
    }

    /// Bytes of the message so far (dot-unstuffed); empty once it grew too big.
    public func takeMessage() -> ByteBuffer { message }

    /// True when the last byte read was the end of a line (a BDAT message must end so).
    public var endsWithLineBreak: Bool { state == .lineStart }

    /// Ends a BDAT message: a last line without CRLF gets one (RFC 3030 §3
    /// leaves it to the server); false when it ended in a bare CR.
    public mutating func finishCountedMessage() -> Bool {
        switch state {
        case .lineStart: return true
        case .cr, .dot, .dotCR: return false
        case .inLine:
            var crlf = ByteBuffer(bytes: [13, 10])
            var unused = 2
            _ = read(from: &crlf, mode: .counted, remaining: &unused)
            return true
        }
    }

    /// Consumes from `buffer`. For `.counted`, `remaining` octets belong to the
    /// chunk and is decremented as they are read.
    public mutating func read(from buffer: inout ByteBuffer, mode: Mode, remaining: inout Int) -> Progress {
        while buffer.readableBytes > 0 {
            if mode == .counted && remaining == 0 { return .end }
            switch state {
            case .lineStart:
                lineLength = 0
                lineStartOffset = message.writerIndex
                if mode == .dotTerminated, buffer.readableBytesView.first == UInt8(ascii: ".") {
                    buffer.moveReaderIndex(forwardBy: 1)
                    state = .dot
                } else {
                    state = .inLine
                }
            case .dot:
                guard let b = buffer.readableBytesView.first else { return .needMore }
                if b == UInt8(ascii: "\r") {
                    buffer.moveReaderIndex(forwardBy: 1)
                    state = .dotCR
                } else if b == UInt8(ascii: "\n") {
                    return .bareLineEnding
                } else {
                    lineLength = 1  // the stuffed dot counts towards the wire line
                    state = .inLine
                }
            case .dotCR:
                guard let b = buffer.readableBytesView.first else { return .needMore }
                guard b == UInt8(ascii: "\n") else { return .bareLineEnding }
                buffer.moveReaderIndex(forwardBy: 1)
                state = .lineStart
                return .end
            case .inLine:
                var view = buffer.readableBytesView
                if mode == .counted && view.count > remaining {
                    view = view[view.startIndex..<(view.startIndex + remaining)]
                }
                let stop = view.firstIndex(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") })
                let contentCount = (stop ?? view.endIndex) - view.startIndex
                if let stop, view[stop] == UInt8(ascii: "\n") { return .bareLineEnding }
                // Content plus the CR, if one was found.
                let take = stop == nil ? contentCount : contentCount + 1
                append(from: &buffer, count: take)
                if mode == .counted { remaining -= take }
                lineLength += contentCount
                if stop != nil { state = .cr }
            case .cr:
                guard let b = buffer.readableBytesView.first else { return .needMore }
                guard b == UInt8(ascii: "\n") else { return .bareLineEnding }
                append(from: &buffer, count: 1)
                if mode == .counted { remaining -= 1 }
                completeLine()
                state = .lineStart
            }
        }
        if mode == .counted && remaining == 0 { return .end }
        return .needMore
    }

    private mutating func append(from buffer: inout ByteBuffer, count: Int) {
        size += count
        if tooBig {
            buffer.moveReaderIndex(forwardBy: count)
            return
        }
        if size > maximumSize {
            tooBig = true
            message.clear()
            buffer.moveReaderIndex(forwardBy: count)
            return
        }
        if var slice = buffer.readSlice(length: count) {
            message.writeBuffer(&slice)
        }
    }

    private mutating func completeLine() {
        if lineLength > MessageReader.maximumLineLength { lineTooLong = true }
        guard inHeaders, !tooBig else { return }
        if lineLength == 0 {
            inHeaders = false
            return
        }
        // RFC 5321 §6.3: count Received fields to detect loops.
        let prefix = "received:".utf8
        guard let head = message.getBytes(at: lineStartOffset, length: min(prefix.count, lineLength)),
              head.count == prefix.count else { return }
        if zip(head, prefix).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) { receivedFields += 1 }
    }
}
