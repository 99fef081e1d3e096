import TernSMTP
import TernSpool

/// The part of the original message that a notice returns (RFC 3464 §2,
/// third part): the whole message, its header section, or nothing, with
/// the reason when less was returned than asked for.
///
/// Returned content keeps the message's bytes except that every line ends
/// in CRLF (a bare CR or LF becomes CRLF), and never holds a line longer
/// than 998 octets (RFC 5322 §2.1.1): content that would is cut back to
/// the header section, or left out.
public struct ReturnedOriginal: Hashable, Sendable {
    public enum Content: Hashable, Sendable {
        /// The whole message (message/rfc822 or message/global).
        case message([UInt8])
        /// Its header section, each field ending in CRLF (text/rfc822-headers
        /// or message/global-headers, RFC 6522 / RFC 6533).
        case headers([UInt8])
        /// Nothing returned.
        case none
    }

    /// Why less than the sender asked for came back; the text part says so.
    public enum Shortfall: Hashable, Sendable {
        /// The message is larger than the limit (its size and the limit).
        case tooLarge(size: Int, limit: Int)
        /// The header section alone is larger than `headerLimit`; it was
        /// cut at a field boundary.
        case headersTruncated
        /// Binary content (BODY=BINARYMIME) or a line over 998 octets
        /// cannot travel in a mail body unencoded.
        case notText
    }

    public var content: Content
    public var shortfall: Shortfall?

    public init(content: Content, shortfall: Shortfall? = nil) {
        self.content = content
        self.shortfall = shortfall
    }

    /// Lines of returned content are at most this long, CRLF excluded (RFC 5322 §2.1.1).
    public static let maximumLine = 998
    /// The header section is returned up to this many bytes.
    public static let headerLimit = 64 * 1024

    /// Chooses what to return of `message`, given whole.
    ///
    /// - Parameters:
    ///   - wantWhole: RET=FULL or absent on a failure notice; false for
    ///     RET=HDRS and for delay notices.
    ///   - binary: the original was sent with BODY=BINARYMIME; it is then
    ///     returned as headers only.
    ///   - limit: the largest message returned whole.
    public static func select(from message: [UInt8], size: Int? = nil, wantWhole: Bool, binary: Bool = false,
                              limit: Int) -> ReturnedOriginal {
        let size = size ?? message.count
        var shortfall: Shortfall?
        if wantWhole {
            if binary {
                shortfall = .notText
            } else if size > limit || message.count < size {
                shortfall = .tooLarge(size: size, limit: limit)
            } else {
                let whole = normalized(message[...])
                if longestLine(whole) <= maximumLine { return ReturnedOriginal(content: .message(whole)) }
                shortfall = .notText
            }
        }
        var (headers, truncated) = headerSection(message)
        if truncated && shortfall == nil { shortfall = .headersTruncated }
        headers = normalized(headers[...])
        if headers.isEmpty { return ReturnedOriginal(content: .none, shortfall: shortfall) }
        guard longestLine(headers) <= maximumLine else {
            return ReturnedOriginal(content: .none, shortfall: shortfall ?? .notText)
        }
        return ReturnedOriginal(content: .headers(headers), shortfall: shortfall)
    }

    /// Reads what `select` needs from a spooled message — the whole of it
    /// only when it may be returned whole, else no more than the header
    /// limit — and selects.
    public static func read(_ reader: SpoolMessageReader, size: Int, wantWhole: Bool, binary: Bool = false,
                            limit: Int) throws(SpoolError) -> ReturnedOriginal {
        let whole = wantWhole && !binary && size <= limit
        let wanted = whole ? size : min(size, headerLimit + 4)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wanted)
        var chunk = [UInt8](repeating: 0, count: min(max(wanted, 1), 65536))
        while bytes.count < wanted {
            let room = min(chunk.count, wanted - bytes.count)
            let n = try chunk.withUnsafeMutableBytes { b in
                Result { () throws(SpoolError) -> Int in try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: b[0..<room])) }
            }.get()
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return select(from: bytes, size: whole ? bytes.count : size, wantWhole: wantWhole, binary: binary, limit: limit)
    }

    /// The header section of `message` (each field with its CRLF, without
    /// the empty line that ends it), cut at the last line ending within
    /// `headerLimit` when it is longer; and whether it was cut.
    static func headerSection(_ message: [UInt8]) -> ([UInt8], truncated: Bool) {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var lineStart = 0
        var i = 0
        while i < message.count {
            if i - lineStart > maximumLine || i >= headerLimit { break }
            let b = message[i]
            if b == cr || b == lf {
                if i == lineStart { return (Array(message[0..<lineStart]), false) }  // the empty line
                i += (b == cr && i + 1 < message.count && message[i + 1] == lf) ? 2 : 1
                lineStart = i
            } else {
                i += 1
            }
        }
        // No empty line within reach: a message that is all header (ends
        // there), or one whose header section runs past the limit.
        if i >= message.count && lineStart == message.count { return (message, false) }
        if i >= message.count { return (message + [cr, lf], false) }
        return (Array(message[0..<lineStart]), true)
    }

    /// Every bare CR or LF made CRLF, and a missing final line ending added.
    static func normalized(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 2)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == cr {
                out.append(cr)
                out.append(lf)
                i += (i + 1 < bytes.endIndex && bytes[i + 1] == lf) ? 2 : 1
            } else if b == lf {
                out.append(cr)
                out.append(lf)
                i += 1
            } else {
                out.append(b)
                i += 1
            }
        }
        if let last = out.last, last != lf { out.append(cr); out.append(lf) }
        return out
    }

    /// The longest line in CRLF-normalized bytes, CRLF excluded.
    static func longestLine(_ bytes: [UInt8]) -> Int {
        var longest = 0
        var start = 0
        for (i, b) in bytes.enumerated() where b == UInt8(ascii: "\n") {
            longest = max(longest, i - 1 - start)
            start = i + 1
        }
        return max(longest, bytes.count - start)
    }
}
