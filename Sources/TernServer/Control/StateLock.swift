import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `<state_dir>/tern.lock`, held (flock) by the one process that may write
/// the spool: the running server, or a `tern queue` command working on the
/// spool while the server is stopped. The holder's pid is written in it.
public final class StateLock: Sendable {
    public let path: String
    /// The locked file, until `release`.
    private let fd: Mutex<Int32?>

    public struct Busy: Error, CustomStringConvertible {
        public var path: String
        public var pid: String
        public var description: String {
            "another Tern process\(pid.isEmpty ? "" : " (pid \(pid))") holds \(path): is the server running?"
        }
    }

    /// Takes the lock without waiting; throws `Busy` when another process holds it.
    public init(stateDirectory: String) throws {
        path = stateDirectory + "/tern.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else {
            throw Busy(path: path, pid: "").withDescription("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
            close(fd)
            let pid = n > 0 ? String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            throw Busy(path: path, pid: pid)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
        self.fd = Mutex(fd)
    }

    /// Lets another process take the lock (also done when this is freed).
    public func release() {
        fd.withLock { fd in
            if let held = fd { close(held) }  // closing the only descriptor releases the flock
            fd = nil
        }
    }

    deinit {
        release()
    }
}

private struct LockOpenError: Error, CustomStringConvertible {
    var description: String
}

extension StateLock.Busy {
    func withDescription(_ text: String) -> any Error { LockOpenError(description: text) }
}
