#if canImport(Glibc)
import Glibc
#endif

/// Reads one spooled message from its first byte, in chunks, so that a
/// 50 MiB message never has to be in memory at once: the part of the queue
/// file after its header (see `SpoolFiles`). Closes its file when it goes
/// away. Use from one thread, and only until the entry is completed: its
/// file may then be written again for another message (`FreeQueueFiles`).
public final class SpoolMessageReader {
    /// The file read from.
    public let path: String
    /// Where the message starts in that file.
    public let messageOffset: Int
    private var fd: Int32

    /// Opens a queue file and moves past its header.
    init(queueFile path: String) throws(QueueFileContents.Failure) {
        self.path = path
        (fd, messageOffset) = try SpoolMessageReader.openPastHeader(path)
    }

    private static func openPastHeader(_ path: String) throws(QueueFileContents.Failure) -> (Int32, Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .system(SystemCallError("open", path: path, errno: errno)) }
        do throws(QueueFileContents.Failure) {
            var prefix = [UInt8](repeating: 0, count: SpoolFiles.maximumFirstLine)
            let n = prefix.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            guard n >= 0 else { throw .system(SystemCallError("pread", path: path, errno: errno)) }
            let layout: SpoolFiles.Layout?
            do throws(SpoolFiles.Malformed) {
                layout = try prefix.withUnsafeBytes { b in
                    Result { () throws(SpoolFiles.Malformed) in try SpoolFiles.layout(UnsafeRawBufferPointer(rebasing: b[0..<n])) }
                }.get()
            } catch {
                throw .malformed(error.description)
            }
            guard let layout else { throw .malformed("no first line") }
            guard lseek(fd, off_t(layout.messageOffset), SEEK_SET) >= 0 else {
                throw .system(SystemCallError("lseek", path: path, errno: errno))
            }
            return (fd, layout.messageOffset)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Opens a file that holds nothing but a message (no spool header).
    package init(plainFile path: String) throws(SystemCallError) {
        self.path = path
        messageOffset = 0
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: errno) }
    }

    deinit { close() }

    /// Fills as much of `buffer` as the file has; returns 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpoolError) -> Int {
        do {
            return try readChunk(into: buffer)
        } catch {
            throw SpoolError(error)
        }
    }

    /// `read(into:)` with the system call's own error.
    package func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> Int {
        guard fd >= 0 else { return 0 }
        return try FileSystem.read(fd, into: buffer, path: path)
    }

    /// The rest of the message.
    public func readAll() throws(SpoolError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { b in
                Result { () throws(SpoolError) -> Int in try read(into: b) }
            }.get()
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    public func close() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }
}
