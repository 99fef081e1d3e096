import Foundation
import Logging
import ServiceLifecycle
import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// `<state_dir>/pickup`: where `tern sendmail` leaves a message while the
/// server is down. Mode 3733 — anyone may create a file, nobody but Tern may
/// list or read the directory, and a file belongs to whoever made it: its
/// owner, not its content, says who sent it. The set-group-ID bit gives each
/// file the directory's group (Tern's), and files are made 0640, so a
/// server that runs as its own unprivileged user (`user`) can read them.
///
/// A file holds what the control socket would have carried: a line of JSON
/// (`LocalSubmission.Request`) and the message bytes. It is written under a
/// name starting with `.` and renamed when complete; the server imports
/// complete files at start and every few seconds, removing each once it is
/// in the spool.
public struct PickupDirectory: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        self.path = stateDirectory + "/pickup"
    }

    /// Where files that cannot be queued are set aside (with the reason logged).
    var refusedPath: String { path + ".refused" }

    /// Creates the directory (mode 3733) if missing.
    func prepare() throws {
        if mkdir(path, 0o3733) != 0 && errno != EEXIST {
            throw PickupError(description: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        chmod(path, 0o3733)
        if mkdir(refusedPath, 0o700) != 0 && errno != EEXIST {
            throw PickupError(description: "cannot create \(refusedPath): \(String(cString: strerror(errno)))")
        }
    }

    public struct PickupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Leaves a message for the server (the client side). Returns the file's name.
    public func drop(_ request: LocalSubmission.Request, message: [UInt8]) throws -> String {
        var request = request
        request.size = message.count
        let bytes = try ControlCoding.line(request) + message
        var random = SystemRandomNumberGenerator()
        let name = "\(Int(Date().timeIntervalSince1970)).\(getpid()).\(random.next() % 1_000_000_000)"
        let temporary = "\(path)/.\(name)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw PickupError(description: "cannot write to \(path): \(String(cString: strerror(errno)))")
        }
        // Readable by the directory's group (Tern's), whatever the caller's umask.
        _ = fchmod(fd, 0o640)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw PickupError(description: "cannot write \(temporary): \(reason)")
            }
            written += n
        }
        guard fsync(fd) == 0, close(fd) == 0 else {
            unlink(temporary)
            throw PickupError(description: "cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, "\(path)/\(name)") == 0 else {
            unlink(temporary)
            throw PickupError(description: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        return name
    }

    /// Queues every complete file (the server side); returns how many.
    /// Files that cannot be queued are set aside, and a partial file left
    /// by a writer that died is removed after an hour.
    func importAll(into submissions: LocalSubmissions, logger: Logger) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return 0 }
        var queued = 0
        for name in names.sorted() {
            let file = "\(path)/\(name)"
            if name.hasPrefix(".") {
                var st = stat()
                if lstat(file, &st) == 0, Date().timeIntervalSince1970 - Double(st.st_mtim.tv_sec) > 3600 { unlink(file) }
                continue
            }
            do {
                let (request, message, owner) = try Self.read(file)
                let id = try submissions.queue(request, identity: LocalSubmission.Identity(uid: owner), message: message)
                unlink(file)
                logger.info("\(id): picked up \(name)", metadata: ["queue_id": "\(id)"])
                queued += 1
            } catch {
                logger.error("pickup: \(name) set aside in \(refusedPath): \(error)")
                rename(file, "\(refusedPath)/\(name)")
            }
        }
        return queued
    }

    private static func read(_ file: String) throws -> (LocalSubmission.Request, [UInt8], uid_t) {
        let fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { throw PickupError(description: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_nlink == 1 else {
            throw PickupError(description: "not a regular file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            filled += n
        }
        guard filled == bytes.count, let newline = bytes.firstIndex(of: 0x0A) else {
            throw PickupError(description: "incomplete file")
        }
        let request = try ControlCoding.decoder().decode(LocalSubmission.Request.self, from: Data(bytes[..<newline]))
        let message = Array(bytes[(newline + 1)...])
        guard message.count == request.size else {
            throw PickupError(description: "the file holds \(message.count) message bytes, it announces \(request.size)")
        }
        return (request, message, st.st_uid)
    }
}

/// Imports the pickup directory at start and every `interval`.
struct PickupService: Service {
    let directory: PickupDirectory
    let submissions: LocalSubmissions
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let directory = self.directory, submissions = self.submissions, logger = self.logger
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            _ = await Task.detached { directory.importAll(into: submissions, logger: logger) }.value
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
