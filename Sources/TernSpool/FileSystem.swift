#if canImport(Glibc)
import Glibc
#endif

/// The few POSIX calls the spool and Maildir delivery need, with EINTR
/// retried, short writes continued and every failure a `SystemCallError`
/// naming the call and the path. Blocking: call from a thread pool.
///
/// Shared with TernDelivery through `package` access; not public API.
package enum FileSystem {
    /// What is at a path.
    package enum Kind: Sendable, Equatable {
        case missing
        case directory
        case regular(size: Int)
        case other
    }

    /// What is at `path`; a final symbolic link is followed only when
    /// `followLinks` is set (a dangling link is then `.missing`).
    package static func kind(of path: String, followLinks: Bool = false) throws(SystemCallError) -> Kind {
        var st = stat()
        if (followLinks ? stat(path, &st) : lstat(path, &st)) != 0 {
            if errno == ENOENT { return .missing }
            throw SystemCallError(followLinks ? "stat" : "lstat", path: path, errno: errno)
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFREG: return .regular(size: Int(st.st_size))
        default: return .other
        }
    }

    /// Creates one directory; an existing directory (or a symbolic link to
    /// one, as /var/mail often is) is fine, anything else at the path is
    /// ENOTDIR. Returns whether it was created.
    @discardableResult
    package static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(SystemCallError) -> Bool {
        if mkdir(path, mode) == 0 { return true }
        let e = errno
        if e == EEXIST {
            guard try kind(of: path, followLinks: true) == .directory else { throw SystemCallError("mkdir", path: path, errno: ENOTDIR) }
            return false
        }
        throw SystemCallError("mkdir", path: path, errno: e)
    }

    /// `mkdir -p` with `mode` for each directory it creates, fsyncing the
    /// parent of each so the new name is durable. Existing directories are
    /// left exactly as they are.
    package static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws(SystemCallError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            let parent = prefix.isEmpty ? "/" : prefix
            prefix += "/" + component
            if try makeDirectory(prefix, mode: mode) {
                try syncDirectory(parent)
            }
        }
    }

    /// Opens a directory and fsyncs it, making renames and unlinks in it durable.
    package static func syncDirectory(_ path: String) throws(SystemCallError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0 { throw SystemCallError("fsync", path: path, errno: errno) }
    }

    /// Creates `path` (never replacing an existing file when `exclusive`),
    /// writes every part, fsyncs and closes it. On failure the file is removed.
    /// The create and that removal pass `gate`, the file's directory's, if given.
    package static func writeFile(
        _ path: String, parts: [UnsafeRawBufferPointer], mode: mode_t = 0o600, exclusive: Bool = true,
        gate: DirectoryGate? = nil
    ) throws(SystemCallError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let (fd, openErrno) = pass(gate) { () -> (Int32, Int32) in
            let fd = open(path, flags, mode)
            return (fd, fd < 0 ? errno : 0)
        }
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: openErrno) }
        do throws(SystemCallError) {
            for part in parts { try writeAll(fd, part, path: path) }
            if fsync(fd) != 0 { throw SystemCallError("fsync", path: path, errno: errno) }
        } catch {
            close(fd)
            pass(gate) { _ = unlink(path) }
            throw error
        }
        if close(fd) != 0 {
            let e = errno
            pass(gate) { _ = unlink(path) }
            throw SystemCallError("close", path: path, errno: e)
        }
    }

    /// `body` through `gate` when there is one.
    package static func pass<R, E: Error>(_ gate: DirectoryGate?, _ body: () throws(E) -> R) throws(E) -> R {
        guard let gate else { return try body() }
        return try gate.pass(body)
    }

    /// Writes every part over an existing file from its start (never
    /// creating one, never following a symbolic link), cuts it to the bytes
    /// written when it was longer (`previousSize`), fsyncs and closes it.
    /// On failure the file holds anything: the caller discards it.
    package static func overwriteFile(_ path: String, parts: [UnsafeRawBufferPointer], previousSize: Int) throws(SystemCallError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: errno) }
        do throws(SystemCallError) {
            var size = 0
            for part in parts {
                try writeAll(fd, part, path: path)
                size += part.count
            }
            if size < previousSize, ftruncate(fd, off_t(size)) != 0 {
                throw SystemCallError("ftruncate", path: path, errno: errno)
            }
            if fsync(fd) != 0 { throw SystemCallError("fsync", path: path, errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw SystemCallError("close", path: path, errno: errno) }
    }

    /// Writes the whole buffer, continuing after short writes and EINTR.
    package static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws(SystemCallError) {
        guard var base = buffer.baseAddress else { return }
        var left = buffer.count
        while left > 0 {
            let n = write(fd, base, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError("write", path: path, errno: errno)
            }
            left -= n
            base += n
        }
    }

    /// Reads up to `buffer.count` bytes; 0 at end of file.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws(SystemCallError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw SystemCallError("read", path: path, errno: errno) }
        }
    }

    /// Reads a whole (small) file.
    package static func readFile(_ path: String) throws(SystemCallError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError("open", path: path, errno: errno) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { b in
                Result { () throws(SystemCallError) -> Int in try read(fd, into: b, path: path) }
            }.get()
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    /// Renames `from` to `to`, through `gate` (`from`'s directory's) if given.
    package static func rename(_ from: String, to: String, gate: DirectoryGate? = nil) throws(SystemCallError) {
        let e = pass(gate) { Glibc.rename(from, to) == 0 ? 0 : errno }
        if e != 0 { throw SystemCallError("rename", path: "\(from) -> \(to)", errno: e) }
    }

    /// Hard-links `from` as `to`; fails with EEXIST rather than replace `to`.
    package static func link(_ from: String, to: String) throws(SystemCallError) {
        if Glibc.link(from, to) != 0 { throw SystemCallError("link", path: "\(from) -> \(to)", errno: errno) }
    }

    /// Removes a file; a file that is already gone is not an error. Through
    /// `gate` (the file's directory's) if given.
    package static func remove(_ path: String, gate: DirectoryGate? = nil) throws(SystemCallError) {
        let e = pass(gate) { unlink(path) == 0 ? 0 : errno }
        if e != 0 && e != ENOENT { throw SystemCallError("unlink", path: path, errno: e) }
    }

    /// The names in a directory, without `.` and `..`, in no particular order.
    package static func list(_ path: String) throws(SystemCallError) -> [String] {
        guard let dir = opendir(path) else { throw SystemCallError("opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw SystemCallError("readdir", path: path, errno: errno) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }
}
