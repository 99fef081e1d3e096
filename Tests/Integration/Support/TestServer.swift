import Foundation
import Logging
import NIOCore
import TernAccounts
import TernServer
import TernSMTP

/// A whole Tern started in-process on ephemeral loopback ports, with its own
/// state directory, users, aliases and a certificate made for the test.
final class TestServer: @unchecked Sendable {
    let directory: URL
    let server: Server
    let certificatePEM: String
    private let runTask: Task<Void, any Error>

    static let domain = "tern.test"
    static let users = ["user@tern.test": "secret", "alice@tern.test": "wonderland"]
    /// The passwords of `users`, for any domain: `user@<domain>` has "secret".
    static let passwords = ["user": "secret", "alice": "wonderland"]
    /// This server's local domain (`tern.test` unless started with another).
    let domain: String
    /// The loopback address the listeners are on.
    let host: String

    var mxPort: Int { server.port(of: .mx) ?? 0 }
    var submissionPort: Int { server.port(of: .submission) ?? 0 }
    var submissionsPort: Int { server.port(of: .submissions) ?? 0 }

    /// - Parameter tweak: adjusts the configuration before the start.
    /// - Parameters:
    ///   - domain: the local domain; users are `user@` and `alice@` it.
    ///   - host: the loopback address every listener binds.
    ///   - extraUsers: more accounts (full address → password), in any domain.
    static func start(domain: String = TestServer.domain, host: String = "127.0.0.1",
                      aliases: String? = nil, extraUsers: [String: String] = [:],
                      tweak: (inout Configuration) -> Void = { _ in },
                      options tweakOptions: (inout Server.Options) -> Void = { _ in }) async throws -> TestServer {
        let aliases = aliases ?? "postmaster: user@\(domain)\n"
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let pem = try SelfSignedCertificate.make(commonName: "mx.\(domain)", dnsNames: ["mx.\(domain)"],
                                                 ipAddresses: [host])
        try pem.certificate.write(to: dir.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try pem.privateKey.write(to: dir.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        var usersText = ""
        for (user, password) in passwords.sorted(by: { $0.key < $1.key }) {
            usersText += "\(user)@\(domain):\(try PasswordHash.make(password: password).stored)\n"
        }
        for (address, password) in extraUsers.sorted(by: { $0.key < $1.key }) {
            usersText += "\(address):\(try PasswordHash.make(password: password).stored)\n"
        }
        try usersText.write(to: dir.appendingPathComponent("users"), atomically: true, encoding: .utf8)
        try aliases.write(to: dir.appendingPathComponent("aliases"), atomically: true, encoding: .utf8)

        let toml = """
            hostname = "mx.\(domain)"
            domains = ["\(domain)"]
            state_dir = "state"
            [[listener]]
            address = "\(host):0"
            role = "mx"
            [[listener]]
            address = "\(host):0"
            role = "submission"
            [[listener]]
            address = "\(host):0"
            role = "submissions"
            [tls]
            certificate = "cert.pem"
            private_key = "key.pem"
            [accounts]
            users = "users"
            aliases = "aliases"
            [mailbox]
            maildir = "mail/{domain}/{user}/Maildir"
            [dns]
            # Never the system resolver: a port where nothing answers, unless a test sets its own.
            nameservers = ["127.0.0.1:1"]
            reverse_lookup = false
            [checks]
            # No SPF/DMARC lookups against that silent nameserver, unless a test sets its own.
            spf = "off"
            dkim = "off"
            dmarc = "off"
            """
        var configuration = try Configuration(toml: toml, file: "test.toml", baseDirectory: dir.path)
        tweak(&configuration)
        var options = self.options
        tweakOptions(&options)
        let server = try await Server.start(configuration, options: options, logger: logger)
        return TestServer(directory: dir, domain: domain, host: host, server: server, certificatePEM: pem.certificate)
    }

    static var options: Server.Options {
        var options = Server.Options()
        options.authFailureDelayStep = 0.01
        options.drainTimeout = .seconds(5)
        options.eventLoopThreads = 2
        options.shutdownSignals = []
        options.reloadSignals = []
        options.pickupInterval = .milliseconds(100)
        return options
    }

    static var logger: Logger {
        var logger = Logger(label: "tern-test")
        logger.logLevel = ProcessInfo.processInfo.environment["TERN_TEST_LOG"] != nil ? .debug : .critical
        return logger
    }

    /// A new server on the configuration and state of one that has stopped
    /// (its `stop()` must not be called then: this one owns the directory).
    static func restart(state old: TestServer) async throws -> TestServer {
        let server = try await Server.start(old.server.configuration, options: options, logger: logger)
        return TestServer(directory: old.directory, domain: old.domain, host: old.host, server: server,
                          certificatePEM: old.certificatePEM)
    }

    private init(directory: URL, domain: String, host: String, server: Server, certificatePEM: String) {
        self.directory = directory
        self.domain = domain
        self.host = host
        self.server = server
        self.certificatePEM = certificatePEM
        self.runTask = Task { try await server.run() }
    }

    func stop() async {
        await server.shutdown()
        _ = await runTask.result
        try? FileManager.default.removeItem(at: directory)
    }

    func maildir(_ user: String) -> URL {
        directory.appendingPathComponent("mail/\(domain)/\(user)/Maildir")
    }

    /// The messages in a user's `new/`, oldest first.
    func messages(_ user: String) -> [String] {
        TestServer.messages(inMaildir: maildir(user))
    }

    /// The messages in the `new/` of any Maildir, oldest first.
    static func messages(inMaildir maildir: URL) -> [String] {
        let dir = maildir.appendingPathComponent("new")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
        return names.compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }
    }

    /// Waits until `user` has `count` messages and the spool is empty, or the deadline passes.
    func waitForMessages(_ user: String, count: Int, timeout: Duration = .seconds(10)) async -> [String] {
        _ = await waitUntil(timeout: timeout) { self.messages(user).count >= count && self.spoolIsEmpty }
        return messages(user)
    }

    var spoolIsEmpty: Bool {
        let env = directory.appendingPathComponent("state/spool/env").path
        return ((try? FileManager.default.contentsOfDirectory(atPath: env)) ?? []).isEmpty
    }

    /// A client on the MX port after greeting, EHLO, MAIL and one accepted RCPT.
    func openTransaction(sender: String = "a@b.test", recipient: String = "user@tern.test") async throws -> SMTPTestClient {
        let c = try await SMTPTestClient.connect(port: mxPort)
        guard try await c.readReply().code == 220,
              try await c.command("EHLO client.test").code == 250,
              try await c.command("MAIL FROM:<\(sender)>").code == 250,
              try await c.command("RCPT TO:<\(recipient)>").code == 250 else {
            throw SMTPTestClient.ClientError.malformed("could not open a transaction")
        }
        return c
    }

    /// State files of unfinished entries (recipient states and history, JSON).
    var spoolStates: [String] {
        let dir = directory.appendingPathComponent("state/spool/state")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.compactMap { try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8) }
    }

    /// Queue entries still in the spool.
    var spoolRecords: [String] {
        let env = directory.appendingPathComponent("state/spool/env")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: env.path)) ?? []
        return names.compactMap { try? String(contentsOf: env.appendingPathComponent($0), encoding: .utf8) }
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; says
/// whether it held. Tests wait on what they can observe, never on a sleep.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Runs blocking work (a socket the test reads synchronously, like the
/// control client) on a thread of its own: on the cooperative pool it could
/// hold the very threads the server under test needs to answer.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
