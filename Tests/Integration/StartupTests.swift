import Foundation
import Logging
import NIOPosix
import Testing
import TernServer

/// Nothing starts half-way: every start-up problem is a clear error.
@Suite("Start-up and reload", .serialized)
struct StartupTests {
    func configuration(in dir: URL, listeners: String, tls: Bool = true) throws -> Configuration {
        try "user@tern.test:{CRYPT}$y$j9T$abc$def\n".write(to: dir.appendingPathComponent("users"), atomically: true, encoding: .utf8)
        let toml = """
            hostname = "mx.tern.test"
            domains = ["tern.test"]
            state_dir = "state"
            \(listeners)
            \(tls ? "[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"" : "")
            [accounts]
            users = "users"
            aliases = ""
            [mailbox]
            maildir = "mail/{domain}/{user}/Maildir"
            """
        return try Configuration(toml: toml, file: "t.toml", baseDirectory: dir.path)
    }

    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-start-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    var quiet: Logger {
        var l = Logger(label: "t")
        l.logLevel = .critical
        return l
    }

    var options: Server.Options {
        var o = Server.Options()
        o.shutdownSignals = []
        o.eventLoopThreads = 1
        return o
    }

    @Test("A port in use stops the start with the address named, and nothing else keeps listening")
    func portInUse() async throws {
        let holder = try await TestServer.start()
        defer { Task { await holder.stop() } }
        let dir = try tempDir()
        let busy = holder.mxPort
        let config = try configuration(in: dir, listeners: """
            [[listener]]
            address = "127.0.0.1:0"
            role = "mx"
            [[listener]]
            address = "127.0.0.1:\(busy)"
            role = "mx"
            """, tls: false)
        do {
            _ = try await Server.start(config, options: options, logger: quiet)
            Issue.record("started on a busy port")
        } catch {
            #expect("\(error)".contains("127.0.0.1:\(busy)"))
            #expect("\(error)".contains("already in use"))
        }
    }

    @Test("In trial mode a busy port moves to the next free one")
    func portFallback() async throws {
        let holder = try await TestServer.start()
        defer { Task { await holder.stop() } }
        let dir = try tempDir()
        let busy = holder.mxPort
        let config = try configuration(in: dir, listeners: "[[listener]]\naddress = \"127.0.0.1:\(busy)\"\nrole = \"mx\"", tls: false)
        var o = options
        o.portFallback = true
        let server = try await Server.start(config, options: o, logger: quiet)
        let run = Task { try await server.run() }
        #expect(server.port(of: .mx).map { $0 > busy } == true)
        await server.shutdown()
        _ = await run.result
    }

    @Test("A missing or unreadable certificate names the file")
    func badCertificate() async throws {
        let dir = try tempDir()
        let config = try configuration(in: dir, listeners: "[[listener]]\naddress = \"127.0.0.1:0\"\nrole = \"submissions\"")
        do {
            _ = try await Server.start(config, options: options, logger: quiet)
            Issue.record("started without a certificate")
        } catch {
            #expect("\(error)".contains(dir.appendingPathComponent("cert.pem").path))
        }
        try "not a certificate".write(to: dir.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try "not a key".write(to: dir.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        do {
            _ = try await Server.start(config, options: options, logger: quiet)
            Issue.record("started with a broken certificate")
        } catch {
            #expect("\(error)".contains("cert.pem"))
            #expect("\(error)".contains("PEM"))
        }
    }

    @Test("A missing users file stops the start with its path")
    func missingUsers() async throws {
        let dir = try tempDir()
        var config = try configuration(in: dir, listeners: "[[listener]]\naddress = \"127.0.0.1:0\"\nrole = \"mx\"", tls: false)
        config.accounts.users = dir.appendingPathComponent("nope").path
        do {
            _ = try await Server.start(config, options: options, logger: quiet)
            Issue.record("started without a users file")
        } catch {
            #expect("\(error)".contains("nope"))
        }
    }

    @Test("A user added to the users file is accepted without a restart; a broken file keeps the last good one")
    func reloadUsers() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        func rcpt(_ address: String) async throws -> Int {
            let c = try await SMTPTestClient.connect(port: server.mxPort)
            _ = try await c.readReply()
            _ = try await c.command("EHLO c.test")
            _ = try await c.command("MAIL FROM:<a@b.test>")
            let code = try await c.command("RCPT TO:<\(address)>").code
            await c.close()
            return code
        }
        #expect(try await rcpt("carol@tern.test") == 550)
        let users = server.directory.appendingPathComponent("users")
        let before = try String(contentsOf: users, encoding: .utf8)
        try (before + "carol@tern.test:{CRYPT}$y$j9T$abc$def\n").write(to: users, atomically: true, encoding: .utf8)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        var code = 550
        while code != 250 && clock.now < deadline {
            code = try await rcpt("carol@tern.test")
            if code != 250 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(code == 250)
        // A broken file: the last good users stay.
        try (before + "this line has no colon\n").write(to: users, atomically: true, encoding: .utf8)
        // Whoever looks first (the watcher or this call) sees the change and keeps the old snapshot.
        _ = server.server.accounts.reloadIfChanged()
        #expect(try await rcpt("carol@tern.test") == 250)
        #expect(try await rcpt("user@tern.test") == 250)
    }

    @Test("A renewed certificate is served to new connections after reload; a broken one keeps the old")
    func certificateReload() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let old = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        #expect(try await old.readReply().code == 220)
        let renewed = try SelfSignedCertificate.make(commonName: "mx.tern.test", dnsNames: ["mx.tern.test"], ipAddresses: ["127.0.0.1"])
        try renewed.certificate.write(to: server.directory.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try renewed.privateKey.write(to: server.directory.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        try server.server.tls?.reload()
        // New connections trust only the new certificate; the old session is untouched.
        let fresh = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: renewed.certificate)
        #expect(try await fresh.readReply().code == 220)
        await #expect(throws: (any Error).self) {
            _ = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        }
        #expect(try await old.command("NOOP").code == 250)
        try "garbage".write(to: server.directory.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try server.server.tls?.reload() }
        let still = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: renewed.certificate)
        #expect(try await still.readReply().code == 220)
    }

    @Test("Past the total connection limit new clients get 421")
    func totalConnections() async throws {
        let server = try await TestServer.start { $0.limits.connections = 2 }
        defer { Task { await server.stop() } }
        let a = try await SMTPTestClient.connect(port: server.mxPort)
        #expect(try await a.readReply().code == 220)
        let b = try await SMTPTestClient.connect(port: server.submissionPort)
        #expect(try await b.readReply().code == 220)
        let c = try await SMTPTestClient.connect(port: server.mxPort)
        let refused = try await c.readReply()
        #expect(refused.code == 421 && refused.enhanced == "4.7.0")
        #expect(try await a.command("NOOP").code == 250)
    }
}
