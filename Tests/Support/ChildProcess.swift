import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, its standard output and error
/// going to a file. Unlike Foundation's Process, the child starts with no
/// signals blocked (threads of a Swift process block most signals, and a
/// spawned child inherits that mask: nsd would then never see SIGTERM), and
/// waiting for it is a plain waitpid.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var status: Int32?

    init(executable: String, arguments: [String], output: String) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        self.pid = pid
    }

    /// False once the child has exited (and has been reaped).
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return reap(blocking: false) == nil
    }

    /// "status N" or "signal N" once exited.
    var exitDescription: String {
        lock.lock()
        defer { lock.unlock() }
        guard let status = reap(blocking: false) else { return "running" }
        let signal = status & 0x7F
        return signal == 0 ? "status \((status >> 8) & 0xFF)" : "signal \(signal)"
    }

    /// SIGTERM, up to `grace` seconds for the child to exit (nsd stops its
    /// own children first), then SIGKILL. Returns once it is reaped.
    func terminate(grace: Double = 10) {
        lock.lock()
        defer { lock.unlock() }
        guard reap(blocking: false) == nil else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            if reap(blocking: false) != nil { return }
            usleep(10_000)  // polling for exit with a deadline
        }
        kill(pid, SIGKILL)
        _ = reap(blocking: true)
    }

    /// The wait status once the child has exited; caller holds the lock.
    private func reap(blocking: Bool) -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        while true {
            let result = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if result == pid {
                status = raw
                return raw
            }
            if result == -1 && errno == EINTR { continue }
            if result == -1 {
                status = -1  // not our child any more (reaped elsewhere)
                return -1
            }
            return nil
        }
    }

    deinit { terminate() }
}
