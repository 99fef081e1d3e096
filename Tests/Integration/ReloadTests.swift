import Foundation
import Testing
import Logging
import TernAccounts
@testable import TernInbound
@testable import TernServer

/// `tern reload` (the control socket's reload, what SIGHUP does): users,
/// aliases and the certificate are read again with a session open across it.
@Suite("Reload", .serialized)
struct ReloadTests {
    @Test("A reload picks up a new user and a new certificate; a session open across it delivers its message")
    func reloadWithSessionOpen() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let open = try await server.openTransaction()

        // A new user and a renewed certificate, then the reload asked over the socket.
        let users = server.directory.appendingPathComponent("users")
        let line = "carol@tern.test:\(try PasswordHash.make(password: "pw").stored)\n"
        try (try String(contentsOf: users, encoding: .utf8) + line).write(to: users, atomically: true, encoding: .utf8)
        let renewed = try SelfSignedCertificate.make(commonName: "mx.tern.test", dnsNames: ["mx.tern.test"], ipAddresses: ["127.0.0.1"])
        try renewed.certificate.write(to: server.directory.appendingPathComponent("cert.pem"), atomically: true, encoding: .utf8)
        try renewed.privateKey.write(to: server.directory.appendingPathComponent("key.pem"), atomically: true, encoding: .utf8)
        let client = ControlClient(stateDirectory: server.server.configuration.stateDirectory)
        let response = try await onOwnThread { try client.send(ControlRequest(command: .reload)) }
        #expect(response.error == nil)
        let report = response.messages ?? []
        #expect(report.contains { $0.hasPrefix("users and aliases") && !$0.contains("NOT") })
        #expect(report.contains { $0.hasPrefix("TLS certificate") && !$0.contains("NOT") })

        // The session opened before the reload finishes its transaction.
        #expect(try await open.command("DATA").code == 354)
        #expect(try await open.command("Subject: across a reload\r\n\r\nstill here\r\n.").code == 250)
        #expect(await server.waitForMessages("user", count: 1).count == 1)

        // The new user exists, and new TLS connections get the new certificate only.
        let fresh = try await server.openTransaction(recipient: "carol@tern.test")
        #expect(try await fresh.command("QUIT").code == 221)
        let tls = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: renewed.certificate)
        #expect(try await tls.readReply().code == 220)
        await #expect(throws: (any Error).self) {
            _ = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        }
    }

    @Test("A changed configuration file: domains, limits and checks apply to new sessions, the rest waits for a restart")
    func configurationApplied() async throws {
        let server = try await TestServer.start(extraUsers: ["dan@other.test": "pw"])
        defer { Task { await server.stop() } }
        let file = server.directory.appendingPathComponent("reloaded.toml").path
        let running = server.server.configuration.redactedDescription
        // other.test becomes local, 2 recipients at most, and the hostname changes (restart needed).
        let changed = running
            .replacingOccurrences(of: "domains = [\"tern.test\"]", with: "domains = [\"tern.test\", \"other.test\"]")
            .replacingOccurrences(of: "recipients = 100", with: "recipients = 2")
            .replacingOccurrences(of: "hostname = \"mx.tern.test\"", with: "hostname = \"mx2.tern.test\"")
        #expect(changed != running)
        try changed.write(toFile: file, atomically: true, encoding: .utf8)

        let open = try await server.openTransaction()  // before the reload: old limits
        #expect(try await open.command("RCPT TO:<alice@tern.test>").code == 250)
        #expect(try await open.command("RCPT TO:<postmaster@tern.test>").code == 250)
        #expect(try await open.command("RCPT TO:<dan@other.test>").code != 250)  // not local yet: relay denied

        let report = await server.server.reload(configurationFile: file)
        #expect(report.contains { $0.contains("applied for new sessions: domains, limits.recipients") })
        #expect(report.contains { $0.contains("after a restart: hostname") })

        // The open session keeps its limits; a new one has the new ones and the new domain.
        #expect(try await open.command("RCPT TO:<user@tern.test>").code == 250)
        let fresh = try await server.openTransaction(recipient: "dan@other.test")
        #expect(try await fresh.command("RCPT TO:<alice@tern.test>").code == 250)
        let third = try await fresh.command("RCPT TO:<user@tern.test>")
        #expect(third.code == 452)
        // A second reload of the same file applies nothing new.
        let again = await server.server.reload(configurationFile: file)
        #expect(again.contains { $0.contains("nothing to apply") })
        // A broken file changes nothing.
        try "hostname = \"".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(await server.server.reload(configurationFile: file).contains { $0.contains("has errors") })
    }

    @Test("A configuration read again names the settings that changed")
    func changedKeys() throws {
        let base = """
            hostname = "mx.tern.test"
            domains = ["tern.test"]
            [[listener]]
            address = "127.0.0.1:25"
            """
        let old = try Configuration(toml: base, baseDirectory: "/tmp")
        let same = try Configuration(toml: base, baseDirectory: "/tmp")
        let new = try Configuration(toml: base + "\n[limits]\nrecipients = 7\n[checks]\nspf = \"reject\"\n", baseDirectory: "/tmp")
        #expect(Server.changedKeys(from: old, to: same).isEmpty)
        #expect(Server.changedKeys(from: old, to: new) == ["checks.spf", "limits.recipients"])
    }
}

@Suite("Log lines")
struct LogLineTests {
    @Test("The accepted-message line names the verdicts of the Authentication-Results field, folded or not")
    func verdicts() {
        let fields = "Authentication-Results: mx.tern.test;\r\n\tspf=pass smtp.mailfrom=a@b.test;\r\n"
            + "\tdkim=fail header.d=b.test; dmarc=pass header.from=b.test\r\nReceived-SPF: pass (x) dkim=none\r\n"
        #expect(TernInbound.SMTPServerHandler.verdicts(in: fields) == "spf=pass dkim=fail dmarc=pass")
        #expect(TernInbound.SMTPServerHandler.verdicts(in: "") == nil)
    }

    @Test("The log file gets one line per event, and a reopen starts a new file after it was moved away")
    func logFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-log-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tern.log").path
        let file = try LogFile(path: path)
        let logger = Logger(label: "tern") { FileLogHandler(label: $0, file: file, level: .info) }
        logger.info("message accepted", metadata: ["id": "X1", "to": "[\"a@b\"]"])
        logger.debug("not written")
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        try file.reopen()
        logger.warning("after\nrotation")
        let old = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let new = try String(contentsOfFile: path, encoding: .utf8)
        #expect(old.hasSuffix(" info tern: id=X1 to=[\"a@b\"] [IntegrationTests] message accepted\n"))
        #expect(!old.contains("not written"))
        #expect(new.hasSuffix("warning tern: [IntegrationTests] after rotation\n"))
    }
}
