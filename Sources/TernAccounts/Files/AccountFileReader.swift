#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a text file: its number, its bytes exactly as stored (with
/// the line terminator, so an editor can write it back unchanged) and its
/// text without the terminator (LF or CRLF).
struct TextLine: Sendable {
    let number: Int
    let raw: ArraySlice<UInt8>
    let text: String
}

/// Reads the users and aliases files: the whole file in one go, with the
/// identity of exactly the version that was read (fstat on the open file).
enum AccountFileReader {
    /// Upper bound on a users or aliases file. Far more than any real table;
    /// it only stops a mistake (a log file configured as the aliases) from
    /// eating memory.
    static let maximumSize = 64 << 20

    static func contents(of path: String) throws(AccountsFileError) -> (bytes: [UInt8], identity: FileIdentity) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT { throw AccountsFileError(path: path, reason: .missing) }
            throw AccountsFileError(path: path, reason: .io(operation: "open", errno: code))
        }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else {
            throw AccountsFileError(path: path, reason: .io(operation: "fstat", errno: errno))
        }
        guard Int64(s.st_size) <= Int64(maximumSize) else {
            throw AccountsFileError(path: path, reason: .io(operation: "read (file larger than 64 MiB)", errno: EFBIG))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(s.st_size))
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw AccountsFileError(path: path, reason: .io(operation: "read", errno: errno))
            }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maximumSize else {
                throw AccountsFileError(path: path, reason: .io(operation: "read (file larger than 64 MiB)", errno: EFBIG))
            }
        }
        return (bytes, FileIdentity(s))
    }

    /// Splits `bytes` into lines. The last line may lack a terminator; an
    /// empty file has no lines. Invalid UTF-8 is an error on that line.
    static func lines(_ bytes: [UInt8], path: String) throws(AccountsFileError) -> [TextLine] {
        var lines: [TextLine] = []
        var start = 0
        var number = 0
        while start < bytes.count {
            number += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            let rawEnd = end < bytes.count ? end + 1 : end
            var textEnd = end
            if textEnd > start, bytes[textEnd - 1] == UInt8(ascii: "\r") { textEnd -= 1 }
            guard let text = String(validating: bytes[start..<textEnd], as: UTF8.self) else {
                throw AccountsFileError(path: path, line: number, reason: .notUTF8)
            }
            lines.append(TextLine(number: number, raw: bytes[start..<rawEnd], text: text))
            start = rawEnd
        }
        return lines
    }
}
