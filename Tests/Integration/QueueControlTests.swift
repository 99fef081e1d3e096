import Foundation
import Testing
import TernDelivery
import TernSpool
@testable import TernServer

/// `tern queue …` and `tern sendmail`'s submissions against a running
/// server, over its real control socket; and the same queue commands on
/// the spool of a stopped server.
@Suite("Queue control", .serialized)
struct QueueControlTests {
    /// A server whose remote mail goes to a relay where nothing listens:
    /// every remote recipient is deferred at once.
    static func start() async throws -> TestServer {
        try await TestServer.start { c in
            c.delivery.relay = Configuration.Relay(host: "127.0.0.1", port: 1)
        }
    }

    static func ask(_ server: TestServer, _ request: ControlRequest, body: [UInt8] = []) async throws -> ControlResponse {
        let client = ControlClient(stateDirectory: server.server.configuration.stateDirectory)
        return try await onOwnThread { try client.send(request, body: body) }
    }

    /// Queues a message from root (trusted: its -f is kept) over the socket.
    static func submit(_ server: TestServer, to recipient: String, subject: String) async throws -> String {
        let message = Array("Subject: \(subject)\nTo: \(recipient)\n\nhello\n".utf8)
        let request = LocalSubmission.Request(sender: "alice@tern.test", recipients: [recipient], size: message.count)
        let response = try await ask(server, ControlRequest(command: .submit, submission: request), body: message)
        #expect(response.error == nil)
        return try #require(response.queueID)
    }

    static func entry(_ server: TestServer, _ id: String) async throws -> QueueListing.Entry? {
        try await ask(server, ControlRequest(command: .list)).listing?.entries.first { $0.id == id }
    }

    static func waitForState(_ server: TestServer, _ id: String, _ state: String) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            if try await entry(server, id)?.recipients.first?.state == state { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    @Test("list, show, hold, flush, release and bounce a deferred message; the sender gets the DSN")
    func lifecycle() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let id = try await Self.submit(server, to: "bob@remote.test", subject: "queued for later")
        #expect(try await Self.waitForState(server, id, "deferred"))

        let listed = try #require(try await Self.entry(server, id))
        #expect(listed.sender == "<alice@tern.test>")
        #expect(listed.recipients.first?.address == "bob@remote.test")
        #expect(listed.recipients.first?.lastError?.isEmpty == false)
        #expect(listed.recipients.first?.nextAttempt != nil)
        #expect(QueueTable.render(QueueListing(entries: [listed]), now: Date()).contains("bob@remote.test"))

        let shown = try #require(try await Self.ask(server, ControlRequest(command: .show, id: id)).entry)
        #expect(shown.headers?.contains("Subject: queued for later\r\n") == true)
        #expect(shown.headers?.contains("Message-ID: <\(id)@mx.tern.test>") == true)
        #expect(shown.history?.contains { $0.contains("bob@remote.test deferred") } == true)
        #expect(shown.origin?.hasPrefix("local") == true)

        var response = try await Self.ask(server, ControlRequest(command: .change, change: .hold, target: .id(id)))
        #expect(response.changes == [id: .changed])
        #expect(try await Self.entry(server, id)?.held == true)
        // A held message is not flushed.
        response = try await Self.ask(server, ControlRequest(command: .change, change: .flush(domain: nil), target: .id(id)))
        #expect(response.changes == [id: .unchanged])

        response = try await Self.ask(server, ControlRequest(command: .change, change: .release, target: .id(id)))
        #expect(response.changes == [id: .changed])
        // Released: tried again at once, and deferred again (attempts grow).
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        var attempts = 0
        while clock.now < deadline {
            attempts = try await Self.entry(server, id)?.recipients.first?.attempts ?? 0
            if attempts >= 2 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(attempts >= 2)

        // Flush by domain makes the deferred recipient due now.
        response = try await Self.ask(server, ControlRequest(command: .change, change: .flush(domain: "remote.test"),
                                                             target: .domain("remote.test")))
        #expect(response.changes?[id] == .changed)

        response = try await Self.ask(server, ControlRequest(command: .change, change: .bounce, target: .id(id)))
        #expect(response.error == nil)
        let bounces = await server.waitForMessages("alice", count: 1)
        #expect(bounces.count == 1)
        #expect(bounces.first?.contains("delivery given up by the mail administrator") == true)
        #expect(await waitUntil { server.spoolIsEmpty })

        // Unknown IDs are reported as such.
        response = try await Self.ask(server, ControlRequest(command: .show, id: "0000000000000000000A"))
        #expect(response.error?.contains("no") == true)
    }

    @Test("delete --all-deferred removes deferred messages without a notice")
    func deleteDeferred() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let first = try await Self.submit(server, to: "bob@remote.test", subject: "one")
        let second = try await Self.submit(server, to: "carol@remote.test", subject: "two")
        #expect(try await Self.waitForState(server, first, "deferred"))
        #expect(try await Self.waitForState(server, second, "deferred"))
        let response = try await Self.ask(server, ControlRequest(command: .change, change: .delete, target: .deferred))
        #expect(response.changes == [first: .removed, second: .removed])
        #expect(try await Self.ask(server, ControlRequest(command: .list)).listing?.entries.isEmpty == true)
        #expect(server.messages("alice").isEmpty)
    }

    @Test("A local submission gets From, Date and Message-ID, -t recipients, no Bcc, and is delivered")
    func localSubmission() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let message = Array("To: Someone <user@tern.test>\nBcc: alice@tern.test\nSubject: cron\n\nbody line\n".utf8)
        var request = LocalSubmission.Request(fullName: "Cron Daemon", extractRecipients: true)
        request.size = message.count
        let response = try await Self.ask(server, ControlRequest(command: .submit, submission: request), body: message)
        #expect(response.error == nil)
        let forUser = await server.waitForMessages("user", count: 1)
        let forAlice = await server.waitForMessages("alice", count: 1)
        #expect(forUser.count == 1 && forAlice.count == 1)
        let delivered = try #require(forUser.first)
        // The test runs as root, so the sender is root at the hostname.
        // (Maildir files have Unix line ends.)
        #expect(delivered.contains("From: Cron Daemon <root@mx.tern.test>\n"))
        #expect(delivered.contains("\nDate: "))
        #expect(delivered.contains("\nMessage-ID: <"))
        #expect(delivered.contains("Received: by mx.tern.test (Tern, from userid 0)"))
        #expect(!delivered.contains("Bcc:"))
        #expect(delivered.contains("\n\nbody line\n"))
    }

    @Test("A message with no recipients is refused with a reason")
    func refusedSubmission() async throws {
        let server = try await Self.start()
        defer { Task { await server.stop() } }
        let message = Array("Subject: nobody\n\nx\n".utf8)
        let request = LocalSubmission.Request(extractRecipients: true, size: message.count)
        let response = try await Self.ask(server, ControlRequest(command: .submit, submission: request), body: message)
        #expect(response.error?.contains("no recipients") == true)
    }

    @Test("A user who is not trusted sends as name@hostname whatever -f says; the queue commands are refused to them")
    func untrustedUser() throws {
        let rules = LocalSubmission(hostname: "mx.tern.test", defaultDomain: "tern.test", trustedUsers: ["www-data"])
        let nobody = LocalSubmission.Identity(uid: 65534)
        #expect(!rules.isTrusted(nobody))
        let request = LocalSubmission.Request(sender: "ceo@tern.test", recipients: ["root"])
        let prepared = try rules.prepare(request, identity: nobody, message: Array("x\n".utf8), id: QueueID.generate())
        #expect(prepared.envelope.sender.mailbox?.text == "\(nobody.name)@mx.tern.test")
        #expect(prepared.envelope.recipients.map(\.mailbox.text) == ["root@tern.test"])
        // No header section: the line is the body, after the added fields.
        #expect(String(decoding: prepared.message, as: UTF8.self).hasSuffix("\r\n\r\nx\r\n"))
        #expect(!ControlService.isAdministrator(PeerCredentials(pid: 1, uid: 65534, gid: 65534), name: nobody.name))
        #expect(ControlService.isAdministrator(PeerCredentials(pid: 1, uid: 0, gid: 0), name: "root"))

        let root = LocalSubmission.Identity(uid: 0)
        let trusted = try rules.prepare(request, identity: root, message: Array("x\n".utf8), id: QueueID.generate())
        #expect(trusted.envelope.sender.mailbox?.text == "ceo@tern.test")
    }

    @Test("Address lists: names, quotes, groups and comments")
    func addressLists() {
        #expect(LocalSubmission.addresses(in: "a@x.test, \"Doe, J\" <j@x.test>, team: b@x.test, c@x.test;, d@x.test (home)")
                == ["a@x.test", "j@x.test", "b@x.test", "c@x.test", "d@x.test"])
    }

    @Test("With the server stopped: the queue is listed and changed on the spool, and the lock keeps a second server out")
    func offline() async throws {
        let server = try await Self.start()
        let state = server.server.configuration.stateDirectory
        let id = try await Self.submit(server, to: "bob@remote.test", subject: "offline")
        #expect(try await Self.waitForState(server, id, "deferred"))

        // While it runs, a second server on the same state directory cannot start.
        await #expect(throws: (any Error).self) {
            _ = try await Server.start(server.server.configuration, logger: .init(label: "second"))
        }
        await server.server.shutdown()
        // The state lock is free once the server has stopped.
        #expect(await waitUntil {
            guard let lock = try? StateLock(stateDirectory: state) else { return false }
            lock.release()
            return true
        })

        var response = try OfflineQueue.handle(ControlRequest(command: .list), stateDirectory: state)
        #expect(response.listing?.entries.map(\.id) == [id])
        response = try OfflineQueue.handle(ControlRequest(command: .change, change: .hold, target: .id(id)), stateDirectory: state)
        #expect(response.changes == [id: .changed])
        response = try OfflineQueue.handle(ControlRequest(command: .list), stateDirectory: state)
        #expect(response.listing?.entries.first?.held == true)

        // A message left in the pickup directory while the server is down…
        let message = Array("Subject: picked up\n\nwhile stopped\n".utf8)
        _ = try PickupDirectory(stateDirectory: state).drop(LocalSubmission.Request(recipients: ["user@tern.test"]),
                                                            message: message)
        // …is delivered by the next server on this state directory.
        let again = try await TestServer.restart(state: server)
        defer { Task { await again.stop() } }
        // (The held message stays: waitForMessages would wait for an empty spool.)
        #expect(await waitUntil { !again.messages("user").isEmpty })
        #expect(again.messages("user").first?.contains("while stopped") == true)
        #expect(try await Self.entry(again, id)?.held == true)
    }
}
