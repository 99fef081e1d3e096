#if canImport(Glibc)
import Glibc
#endif

/// Reads one spooled message from the start, in chunks, so that a 50 MiB
/// message never has to be in memory at once. Closes its file when it goes
/// away. Use from one thread.
public final class SpoolMessageReader {
    public let path: String
    private var fd: Int32

    init(path: String) throws(SystemCallError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: errno) }
    }

    deinit { close() }

    /// Fills as much of `buffer` as the file has; returns 0 at the end.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpoolError) -> Int {
        guard fd >= 0 else { return 0 }
        do {
            return try FileSystem.read(fd, into: buffer, path: path)
        } catch {
            throw SpoolError(error)
        }
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
