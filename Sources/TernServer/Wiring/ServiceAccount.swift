import CThreadCredentials
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The unprivileged account `tern serve` becomes (`user` in the
/// configuration), and the two steps that need root to get there.
///
/// SECURITY: started as root, `Server.start` does what needs root first:
/// it reads the accounts, the certificate and the DKIM keys, opens the
/// state directory and gives it to this account (`handOver`), and binds
/// every listener. Then `become` switches the whole process — every thread,
/// since glibc applies setgroups(2), setgid(2) and setuid(2) to all of them —
/// to the account for good, and checks that it cannot come back: each
/// thread's real, effective, saved and file system ids are the account's,
/// no capability is left, setuid(0) fails. (One thread glibc does not
/// reach, the main thread libdispatch keeps parked, is made to switch
/// itself: `tern_thread_become`.) Nothing runs as root afterwards;
/// what is read again later (reload: configuration, users, aliases, DKIM
/// keys, certificate) must be readable by the account, and the Maildirs it
/// writes are its own.
struct ServiceAccount: Sendable, Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The account called `name` in the password database.
    static func named(_ name: String) throws(Failure) -> ServiceAccount {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else {
            let reason = status == 0 ? "there is no such user" : String(cString: strerror(status))
            throw Failure(description: "user = \"\(name)\": \(reason) (make one with: useradd --system "
                          + "--user-group --home-dir /nonexistent --shell /usr/sbin/nologin \(name))")
        }
        return ServiceAccount(name: name, uid: entry.pw_uid, gid: entry.pw_gid)
    }

    /// What start has to do for `user`: the account to hand over to and
    /// become, or nil when there is nothing to do (no `user`, or the process
    /// already runs as it, as under systemd's `User=`).
    static func switchTarget(for user: String?) throws(Failure) -> ServiceAccount? {
        guard let user else { return nil }
        let account = try named(user)
        guard account.uid != 0 else {
            throw Failure(description: "user = \"\(user)\" is root (uid 0): name an unprivileged user")
        }
        let euid = geteuid()
        if euid == account.uid { return nil }
        guard euid == 0 else {
            throw Failure(description: "user = \"\(user)\": only root can switch to another user, and tern serve "
                          + "runs as uid \(euid); start it as root, as \(user), or set user = \"\"")
        }
        return account
    }

    // MARK: The state directory

    /// Gives the state directory to this account: the directory itself, the
    /// spool with everything in it, the lock file, and the pickup
    /// directories themselves — not the files in them, whose owners say
    /// who sent them. Modes are left as they are.
    ///
    /// The account may have owned the tree before (an earlier run), so it
    /// is walked as an attacker's tree would be: every directory is opened
    /// relative to its parent's descriptor without following symbolic
    /// links, every change is made on an open descriptor (fchown), symbolic
    /// links and anything but directories and regular files are left
    /// alone, and so is a regular file with a second hard link (it could
    /// be a file of the system's linked in).
    func handOver(stateDirectory path: String) throws(Failure) {
        let top = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { throw failure("open", path) }
        defer { close(top) }
        try own(top, path: path, directory: true)
        for (name, whole) in [("spool", true), ("tern.lock", false), ("pickup", false), ("pickup.refused", false)] {
            try ownEntry(name, in: top, parentPath: path, recursive: whole)
        }
    }

    /// Owns `name` in the directory `parent` (opened), and with `recursive`
    /// everything below it. A missing entry is fine.
    private func ownEntry(_ name: String, in parent: Int32, parentPath: String, recursive: Bool) throws(Failure) {
        let path = parentPath + "/" + name
        var st = stat()
        guard fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw failure("stat", path)
        }
        let kind = st.st_mode & S_IFMT
        guard kind == S_IFDIR || kind == S_IFREG else { return }
        if kind == S_IFREG && st.st_uid == uid && st.st_gid == gid { return }
        let flags = kind == S_IFDIR ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK
        let fd = openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            // Replaced by a link or removed meanwhile: nothing of ours to own.
            if errno == ELOOP || errno == ENOENT || errno == ENOTDIR { return }
            throw failure("open", path)
        }
        defer { close(fd) }
        try own(fd, path: path, directory: kind == S_IFDIR)
        guard kind == S_IFDIR, recursive else { return }
        for child in try names(in: fd, path: path) {
            try ownEntry(child, in: fd, parentPath: path, recursive: true)
        }
    }

    /// fchown of an open directory or regular file, checked again on the
    /// descriptor itself (type, and a single link for a file).
    private func own(_ fd: Int32, path: String, directory: Bool) throws(Failure) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("stat", path) }
        let kind = st.st_mode & S_IFMT
        guard directory ? kind == S_IFDIR : (kind == S_IFREG && st.st_nlink == 1) else { return }
        guard st.st_uid != uid || st.st_gid != gid else { return }
        guard fchown(fd, uid, gid) == 0 else { throw failure("chown", path) }
    }

    /// The names in an open directory, without `.` and `..`.
    private func names(in fd: Int32, path: String) throws(Failure) -> [String] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let failed = failure("opendir", path)
            if copy >= 0 { close(copy) }
            throw failed
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw failure("readdir", path) }
                return names
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    private func failure(_ call: String, _ path: String) -> Failure {
        Failure(description: "\(call) \(path): \(String(cString: strerror(errno)))")
    }

    // MARK: Switching

    /// Becomes this account for good: supplementary groups (initgroups),
    /// then the group, then the user — all threads — and checks the result.
    func become() throws(Failure) {
        guard initgroups(name, gid) == 0 else { throw failure("initgroups", name) }
        let groups = try supplementaryGroups()
        guard setgid(gid) == 0 else { throw failure("setgid", "\(gid)") }
        guard setuid(uid) == 0 else { throw failure("setuid", "\(uid)") }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, getegid() == gid else {
            throw Failure(description: "after switching to \(name) the process runs as uid \(geteuid()), gid \(getegid())")
        }
        guard setuid(0) != 0 else {
            throw Failure(description: "after switching to \(name) the process could become root again")
        }
        // glibc switched every thread it counts as running. One it counts as
        // exiting keeps its ids: the main thread, parked by libdispatch.
        for task in try tasks() {
            guard let fields = Self.status(of: task), !hasOwnIDs(fields), let tid = pid_t(task) else { continue }
            let result = groups.withUnsafeBufferPointer { list in
                tern_thread_become(tid, uid, gid, list.baseAddress, list.count, 5000)
            }
            guard result == 0 || result == ESRCH else {
                throw Failure(description: "thread \(task) (\(fields["Name"] ?? "?")) did not switch to \(name): "
                              + String(cString: strerror(result)))
            }
        }
        try checkEveryThread()
    }

    /// The calling thread's supplementary groups.
    private func supplementaryGroups() throws(Failure) -> [gid_t] {
        let count = getgroups(0, nil)
        guard count >= 0 else { throw failure("getgroups", name) }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let filled = getgroups(count, &groups)
        guard filled >= 0 else { throw failure("getgroups", name) }
        return Array(groups.prefix(Int(filled)))
    }

    /// The ids of this process's threads, from /proc/self/task.
    private func tasks() throws(Failure) -> [String] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else {
            throw Failure(description: "cannot list /proc/self/task to check the switch to \(name)")
        }
        return tasks
    }

    /// One thread's proc(5) status; nil once it has ended.
    private static func status(of task: String) -> [String: String]? {
        (try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8)).map(statusFields)
    }

    /// Whether `Uid:` and `Gid:` (real, effective, saved and file system
    /// ids) are all this account's.
    private func hasOwnIDs(_ fields: [String: String]) -> Bool {
        fields["Uid"] == Array(repeating: "\(uid)", count: 4).joined(separator: " ")
            && fields["Gid"] == Array(repeating: "\(gid)", count: 4).joined(separator: " ")
    }

    /// Each thread's ids and capabilities as the kernel reports them:
    /// this account's ids only, `CapPrm:` and `CapEff:` empty.
    private func checkEveryThread() throws(Failure) {
        for task in try tasks() {
            // A thread that ended meanwhile has nothing left to check.
            guard let fields = Self.status(of: task) else { continue }
            let expected: [(String, String)] = [
                ("Uid", Array(repeating: "\(uid)", count: 4).joined(separator: " ")),
                ("Gid", Array(repeating: "\(gid)", count: 4).joined(separator: " ")),
                ("CapPrm", "0000000000000000"),
                ("CapEff", "0000000000000000"),
            ]
            for (field, value) in expected where fields[field] != value {
                throw Failure(description: "after switching to \(name), thread \(task) (\(fields["Name"] ?? "?")) "
                              + "has \(field): \(fields[field] ?? "nothing"), not \(value)")
            }
        }
    }

    /// The `Name:\tvalue` lines of a proc status file, whitespace in values
    /// folded to single spaces.
    static func statusFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" })
            fields[String(line[..<colon])] = value.joined(separator: " ")
        }
        return fields
    }
}
