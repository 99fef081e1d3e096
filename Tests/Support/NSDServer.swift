// TernTestSupport — fixtures that test targets share.
//
// NSDServer runs a real authoritative DNS server (NLnet Labs' nsd, Debian
// package `nsd`) on a loopback port with the zones a test gives it, so that
// code under test resolves through the network exactly as in production but
// never reaches the system resolver or the internet. It touches only its own
// temporary directory and the child process it starts.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An nsd serving `zones` on 127.0.0.1 at a free port, UDP and TCP, until
/// `stop()` or deinit. Response rate limiting is off (its default drops a
/// few loopback queries); nsd runs in the foreground (`-d`) as the current
/// user, with every file it writes in a temporary directory.
public final class NSDServer: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case notInstalled(String)
        case didNotStart(String)

        public var description: String {
            switch self {
            case .notInstalled(let path): "nsd is not installed at \(path) (Debian package nsd)"
            case .didNotStart(let why): "nsd did not start: \(why)"
            }
        }
    }

    public static let defaultExecutable = "/usr/sbin/nsd"

    /// The address nsd listens on.
    public let address: String
    /// Its port, for UDP and TCP.
    public let port: Int
    /// The directory holding nsd.conf, the zone files and nsd's state.
    public let directory: String
    private let process: ChildProcess
    private let lock = NSLock()
    private var stopped = false

    /// `"127.0.0.1:PORT"`, as a `[dns] nameservers` entry.
    public var nameserver: String { "\(address):\(port)" }

    /// Starts nsd with `zones` (origin such as `"d.test."` → zone file
    /// text; `$ORIGIN` defaults to the origin) and returns once it answers a
    /// query for the first zone's SOA. Throws with nsd's own messages when
    /// it exits or does not answer within `startTimeout` seconds.
    public init(zones: [String: String], executable: String = NSDServer.defaultExecutable,
                startTimeout: Double = 20) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw Failure.notInstalled(executable)
        }
        let directory = try Self.makeTemporaryDirectory()
        self.directory = directory
        self.address = "127.0.0.1"
        let origins = zones.keys.sorted()
        for origin in origins {
            let file = directory + "/" + Self.fileName(origin)
            guard FileManager.default.createFile(atPath: file, contents: Data((zones[origin] ?? "").utf8)) else {
                throw Failure.didNotStart("cannot write \(file)")
            }
        }
        let probeName = origins.first ?? "."
        // A port that was free a moment ago may be taken by the time nsd
        // binds it (tests run in parallel): try a few.
        var lastError = "no attempt"
        for _ in 0..<5 {
            let port = try Self.freePort()
            try Self.writeConfiguration(directory: directory, address: "127.0.0.1", port: port, origins: origins)
            let child = try ChildProcess(executable: executable, arguments: ["-d", "-c", directory + "/nsd.conf"],
                                         output: directory + "/nsd.log")
            let deadline = Date().addingTimeInterval(startTimeout)
            var answered = false
            while Date() < deadline, child.isRunning {
                if DNSProbe.answers(address: "127.0.0.1", port: port, name: probeName, wait: 0.2) {
                    answered = true
                    break
                }
            }
            if answered {
                self.port = port
                self.process = child
                return
            }
            if child.isRunning {
                child.terminate()
                lastError = "no answer on 127.0.0.1:\(port) within \(startTimeout) s; nsd said:\n"
                    + Self.readLog(directory)
                break
            }
            lastError = "nsd exited (\(child.exitDescription)); it said:\n" + Self.readLog(directory)
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw Failure.didNotStart(lastError)
    }

    /// What nsd has written to its standard error so far.
    public var log: String { Self.readLog(directory) }

    /// Stops nsd (SIGTERM, then waits for it) and removes its directory.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        process.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    // MARK: Setup

    static func fileName(_ origin: String) -> String {
        let trimmed = origin.hasSuffix(".") ? String(origin.dropLast()) : origin
        let safe = trimmed.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" }
        return (safe.isEmpty ? "root" : String(safe)) + ".zone"
    }

    static func writeConfiguration(directory: String, address: String, port: Int, origins: [String]) throws {
        var text = """
        server:
          ip-address: \(address)@\(port)
          port: \(port)
          username: ""
          chroot: ""
          database: ""
          zonesdir: "\(directory)"
          zonelistfile: "\(directory)/zone.list"
          xfrdfile: "\(directory)/xfrd.state"
          xfrdir: "\(directory)"
          pidfile: "\(directory)/nsd.pid"
          server-count: 1
          verbosity: 1
          hide-version: yes
          rrl-ratelimit: 0
          rrl-whitelist-ratelimit: 0
        remote-control:
          control-enable: no

        """
        for origin in origins {
            let name = origin.hasSuffix(".") ? origin : origin + "."
            text += """
            zone:
              name: "\(name)"
              zonefile: "\(fileName(origin))"

            """
        }
        guard FileManager.default.createFile(atPath: directory + "/nsd.conf", contents: Data(text.utf8)) else {
            throw Failure.didNotStart("cannot write \(directory)/nsd.conf")
        }
    }

    static func readLog(_ directory: String) -> String {
        guard let data = FileManager.default.contents(atPath: directory + "/nsd.log") else { return "(no output)" }
        return String(decoding: data, as: UTF8.self)
    }

    static func makeTemporaryDirectory() throws -> String {
        var base = NSTemporaryDirectory()
        while base.hasSuffix("/") { base.removeLast() }
        var template = Array((base + "/tern-nsd-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw Failure.didNotStart("mkdtemp failed: errno \(errno)") }
        return String(cString: made)
    }

    /// A port on 127.0.0.1 free for both UDP and TCP at this moment.
    static func freePort() throws -> Int {
        for _ in 0..<20 {
            let udp = try LoopbackSocket(.udp, port: 0)
            if (try? LoopbackSocket(.tcp, port: udp.port)) != nil { return udp.port }
        }
        throw Failure.didNotStart("no free loopback port")
    }
}
