#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One version of a file, as cheaply told apart as stat(2) allows: device,
/// inode, size and modification time (to the nanosecond where the file system
/// keeps it). An atomic rename changes the inode; an in-place edit changes
/// the size or the mtime.
public struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modifiedSeconds: Int64
    let modifiedNanoseconds: Int64

    init(_ s: stat) {
        device = UInt64(truncatingIfNeeded: s.st_dev)
        inode = UInt64(truncatingIfNeeded: s.st_ino)
        size = Int64(s.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int64(s.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int64(s.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int64(s.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(s.st_mtim.tv_nsec)
        #endif
    }

    /// The identity of the file at `path` now, or nil when it does not exist.
    static func current(path: String) throws(AccountsFileError) -> FileIdentity? {
        var s = stat()
        guard stat(path, &s) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw AccountsFileError(path: path, reason: .io(operation: "stat", errno: code))
        }
        return FileIdentity(s)
    }
}
