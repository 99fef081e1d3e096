#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces a file so that a reader sees either the old or the new version,
/// never a mix, and the new one survives a crash once `replace` returns:
/// write a temporary file in the same folder, fsync it, rename it over the
/// old one, fsync the folder (the chasquid `safeio` / Maildir pattern).
///
/// The new file keeps the old one's permission bits and, when the process
/// may set them (root), its owner and group — so `tern user add` run as root
/// leaves `/etc/tern/users` readable by the group that runs the server. A new
/// file gets mode 0640.
enum AtomicFileWriter {
    static let defaultMode: mode_t = 0o640

    static func replace(path: String, with bytes: [UInt8]) throws(AccountsFileError) {
        let target = resolvedPath(path)
        let folder = directory(of: target)
        var old = stat()
        let exists = stat(target, &old) == 0
        let mode = exists ? old.st_mode & 0o7777 : defaultMode
        let temporary = folder + "/." + baseName(of: target) + ".tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AccountsFileError(path: path, reason: .io(operation: "create \(temporary)", errno: errno)) }
        var committed = false
        defer { if !committed { unlink(temporary) } }
        do {
            defer { close(fd) }
            if exists { _ = fchown(fd, old.st_uid, old.st_gid) }  // best effort: only root may give a file away
            guard fchmod(fd, mode) == 0 else { throw AccountsFileError(path: path, reason: .io(operation: "fchmod", errno: errno)) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw AccountsFileError(path: path, reason: .io(operation: "write", errno: errno))
                }
                offset += n
            }
            guard fsync(fd) == 0 else { throw AccountsFileError(path: path, reason: .io(operation: "fsync", errno: errno)) }
        }
        guard rename(temporary, target) == 0 else {
            throw AccountsFileError(path: path, reason: .io(operation: "rename", errno: errno))
        }
        committed = true
        try syncDirectory(folder, reportingAs: path)
    }

    /// Runs `body` holding an exclusive flock(2) on the folder of `path`, so
    /// that two `tern user` commands cannot both read, edit and write the
    /// file and lose one change. The lock is advisory; the server never takes it.
    static func withFolderLock<T, E: Error>(
        of path: String, onFailure wrap: (AccountsFileError) -> E, _ body: () throws(E) -> T
    ) throws(E) -> T {
        let folder = directory(of: resolvedPath(path))
        let fd = open(folder, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard fd >= 0 else { throw wrap(AccountsFileError(path: path, reason: .io(operation: "open folder \(folder)", errno: errno))) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw wrap(AccountsFileError(path: path, reason: .io(operation: "flock", errno: errno))) }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    private static func syncDirectory(_ folder: String, reportingAs path: String) throws(AccountsFileError) {
        let fd = open(folder, O_RDONLY | O_CLOEXEC | O_DIRECTORY)
        guard fd >= 0 else { throw AccountsFileError(path: path, reason: .io(operation: "open folder", errno: errno)) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw AccountsFileError(path: path, reason: .io(operation: "fsync folder", errno: errno)) }
    }

    /// Follows symlinks, so a users file that is a link to elsewhere is
    /// replaced where it really lives rather than the link being overwritten.
    static func resolvedPath(_ path: String) -> String {
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
