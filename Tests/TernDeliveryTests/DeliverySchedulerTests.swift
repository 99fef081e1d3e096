import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import TernSMTP
import TernSpool
@testable import TernDelivery

/// Collects the scheduler's events so that tests can wait for a condition
/// on them (polled, with a deadline) instead of sleeping.
final class EventRecorder: Sendable {
    private let events = Mutex<[DeliveryEvent]>([])

    func record(_ event: DeliveryEvent) { events.withLock { $0.append(event) } }

    var all: [DeliveryEvent] { events.withLock { $0 } }

    struct Timeout: Error, CustomStringConvertible {
        var events: [DeliveryEvent]
        var description: String { "timed out; events so far: \(events)" }
    }

    func waitUntil(timeout: Duration = .seconds(30), _ condition: ([DeliveryEvent]) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(all) {
            guard ContinuousClock.now < deadline else { throw Timeout(events: all) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func processed(_ id: QueueID) -> [DeliveryEvent] {
        all.filter { if case .processed(id, _, _) = $0 { return true } else { return false } }
    }

    func completed(_ id: QueueID) -> Bool {
        all.contains { if case .processed(id, true, _) = $0 { return true } else { return false } }
    }
}

/// A real spool, real Maildirs under one temporary directory, and a
/// scheduler over them.
struct Harness {
    let dir: TemporaryDirectory
    let spool: Spool
    let router: TableRouter
    let configuration: DeliveryConfiguration
    let logs = LogCapture()

    init(router: TableRouter, retry: RetrySchedule = RetrySchedule(),
         configure: (inout DeliveryConfiguration) -> Void = { _ in }) throws {
        dir = try TemporaryDirectory()
        spool = try Spool(directory: dir.path + "/spool")
        self.router = router
        var configuration = DeliveryConfiguration(
            maildirTemplate: try MailboxPathTemplate(dir.path + "/mail/{domain}/{user}/Maildir"),
            hostname: "mx.example.com", concurrency: 4, retrySchedule: retry)
        configure(&configuration)
        self.configuration = configuration
    }

    func maildir(_ user: String, _ domain: String = "example.com") -> String {
        "\(dir.path)/mail/\(domain)/\(user)/Maildir"
    }

    func accept(_ recipients: [String], sender: String? = "sender@example.org") throws -> QueueID {
        try spool.accept(envelope: Sample.envelope(recipients, sender: sender), origin: Sample.origin,
                         message: Sample.message)
    }

    func makeScheduler(_ events: EventRecorder, remote: any RemoteTransport = UnconfiguredRemoteTransport())
        -> DeliveryScheduler
    {
        DeliveryScheduler(spool: spool, router: router, configuration: configuration, remote: remote,
                          logger: Logger(label: "tern.delivery.test", factory: logs.handler),
                          onEvent: { events.record($0) })
    }

    /// Runs a scheduler for the duration of `body`, then shuts it down
    /// gracefully and waits for `run()` to return.
    func withScheduler(_ events: EventRecorder = EventRecorder(),
                       _ body: (DeliveryScheduler, EventRecorder) async throws -> Void) async throws {
        let scheduler = makeScheduler(events)
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await events.waitUntil { $0.contains { if case .recovered = $0 { true } else { false } } }
                try await body(scheduler, events)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(events.all.last == .stopped)
    }

    func newFiles(_ maildir: String) -> [[UInt8]] {
        fileNames(maildir + "/new").compactMap { fileBytes("\(maildir)/new/\($0)") }
    }
}

@Suite("Delivery scheduler", .timeLimit(.minutes(2)))
struct DeliverySchedulerTests {
    @Test("Three accepted messages are delivered to their Maildirs and the spool is emptied")
    func deliversAll() async throws {
        let router = TableRouter(["alice@example.com": TableRouter.local("alice@example.com"),
                                  "bob@example.com": TableRouter.local("bob@example.com"),
                                  "carol@example.org": TableRouter.local("carol@example.org")])
        let h = try Harness(router: router)
        let first = try h.accept(["alice@example.com"])
        let second = try h.accept(["bob@example.com", "carol@example.org"])
        try await h.withScheduler { scheduler, events in
            let third = try h.accept(["alice@example.com"])
            scheduler.enqueue(third)
            try await events.waitUntil { _ in [first, second, third].allSatisfy(events.completed) }
        }
        #expect(h.newFiles(h.maildir("alice")).count == 2)
        #expect(h.newFiles(h.maildir("bob")).count == 1)
        #expect(h.newFiles(h.maildir("carol", "example.org")).count == 1)
        let bob = try #require(h.newFiles(h.maildir("bob")).first)
        #expect(bob == Array("Return-Path: <sender@example.org>\nDelivered-To: bob@example.com\n".utf8)
            + LineEndingConverter.convert(Sample.message))
        #expect(fileNames(h.dir.path + "/spool/env").isEmpty)
        #expect(fileNames(h.dir.path + "/spool/state").isEmpty)

        let lines = h.logs.lines.withLock { $0 }
        let attemptLines = lines.filter { $0.contains("status=sent") }
        #expect(attemptLines.count == 4)
        #expect(attemptLines.contains { $0.contains("\(first): to=<alice@example.com>, dest=local:alice@example.com, delay=") })
    }

    @Test("A message enqueued many times at once is delivered once")
    func enqueueTwice() async throws {
        let h = try Harness(router: TableRouter(["alice@example.com": TableRouter.local("alice@example.com")]))
        try await h.withScheduler { scheduler, events in
            let id = try h.accept(["alice@example.com"])
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { scheduler.enqueue(id) } }
            }
            try await events.waitUntil { _ in events.completed(id) }
        }
        #expect(h.newFiles(h.maildir("alice")).count == 1)
    }

    @Test("A temporary routing failure leaves the message deferred in the spool with its next attempt set")
    func temporaryFailure() async throws {
        let router = TableRouter(["dave@example.com": .temporaryFailure("users file unreadable")])
        let h = try Harness(router: router)
        let id = try h.accept(["dave@example.com"])
        let before = Date()
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in !events.processed(id).isEmpty }
        }
        let entry = try h.spool.load(id)
        guard case .deferred(let attempts, let lastError, let next) = entry.recipients[0].state else {
            Issue.record("expected deferred, got \(entry.recipients[0].state)")
            return
        }
        #expect(attempts == 1)
        #expect(lastError == SpoolReply(code: 451, enhancedStatus: "4.3.0", text: "users file unreadable"))
        #expect(next > before.addingTimeInterval(47))
        #expect(next < Date().addingTimeInterval(61))
        #expect(entry.history.last?.result == .deferred)
        #expect(fileNames(h.dir.path + "/spool/env") == [id.text])
        #expect(fileNames(h.dir.path + "/spool/state") == [id.text])
    }

    @Test("A user that vanished since RCPT fails with 5.1.1; the bounce is queued and the entry leaves the spool")
    func unknownUser() async throws {
        let h = try Harness(router: TableRouter())
        let id = try h.accept(["gone@example.com"])
        let fromNull = try h.accept(["gone@example.com"], sender: nil)
        let recorder = EventRecorder()
        try await h.withScheduler(recorder) { _, events in
            try await events.waitUntil { _ in
                events.completed(id) && events.completed(fromNull) && fileNames(h.dir.path + "/spool/env").isEmpty
            }
        }
        #expect(recorder.processed(id) == [.processed(id, completed: true, nextAttempt: nil)])
        let failed = recorder.all.compactMap { event -> (Mailbox, DeliveryOutcome)? in
            guard case .attempted(_, let recipient, _, let outcome) = event else { return nil }
            return (recipient, outcome)
        }
        // The original's recipient, then the bounce's: sender@example.org is
        // unknown here too, and a bounce is never bounced (RFC 5321 §4.5.5).
        #expect(failed.map(\.0.text).sorted() == ["gone@example.com", "gone@example.com", "sender@example.org"])
        #expect(failed.allSatisfy { $0.1 == .permanentFailure(DeliveryError.userUnknown($0.0.text).reply) })
    }

    @Test("A remote recipient stays pending while remote delivery is not configured; local ones are delivered")
    func remoteStaysPending() async throws {
        let router = TableRouter(["alice@example.com": TableRouter.local("alice@example.com"),
                                  "friend@example.org": .destinations([.remote(Sample.mailbox("friend@example.org"))])])
        let h = try Harness(router: router)
        let id = try h.accept(["alice@example.com", "friend@example.org"])
        let start = Date()
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in !events.processed(id).isEmpty }
            guard case .processed(_, let completed, let next)? = events.processed(id).first else { return }
            #expect(!completed)
            #expect(try #require(next) > start.addingTimeInterval(3500))
        }
        let entry = try h.spool.load(id)
        #expect(entry.recipients[1].state == .pending)
        guard case .delivered = entry.recipients[0].state else {
            Issue.record("alice: \(entry.recipients[0].state)")
            return
        }
        #expect(entry.history.contains { $0.result == .notAttempted && $0.detail == UnconfiguredRemoteTransport.reason })
        #expect(h.newFiles(h.maildir("alice")).count == 1)
    }

    @Test("A new scheduler over the same spool resumes: retries what was deferred and delivers each alias member once")
    func restartResumes() async throws {
        // team@ expands to alice and bob; bob's users-file entry is broken
        // at first (no domain for the template), which is temporary.
        let team = Sample.mailbox("team@example.com")
        let router = TableRouter([
            "team@example.com": .destinations([.local(user: "alice@example.com", deliveredTo: team),
                                               .local(user: "bob", deliveredTo: team)]),
        ])
        let quick = RetrySchedule(initialDelay: .milliseconds(300), jitter: 0)
        let h = try Harness(router: router, retry: quick)
        let id = try h.accept(["team@example.com"])

        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in !events.processed(id).isEmpty }
        }
        let deferred = try h.spool.load(id)
        // At least one attempt failed (a slow machine may have retried once
        // more before the scheduler stopped).
        guard case .deferred(let attempts, let reply, _) = deferred.recipients[0].state, attempts >= 1 else {
            Issue.record("expected deferred, got \(deferred.recipients[0].state)")
            return
        }
        #expect(reply.enhancedStatus == "4.3.5")
        #expect(deferred.recipients[0].completedDestinations == ["local:alice@example.com"])
        #expect(h.newFiles(h.maildir("alice")).count == 1)

        router.set("team@example.com", .destinations([.local(user: "alice@example.com", deliveredTo: team),
                                                      .local(user: "bob@example.com", deliveredTo: team)]))
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in events.completed(id) }
        }
        #expect(h.newFiles(h.maildir("alice")).count == 1)
        let bob = try #require(h.newFiles(h.maildir("bob")).first)
        #expect(String(decoding: bob, as: UTF8.self).hasPrefix("Return-Path: <sender@example.org>\nDelivered-To: team@example.com\n"))
        #expect(fileNames(h.dir.path + "/spool/env").isEmpty)
        #expect(fileNames(h.dir.path + "/spool/state").isEmpty)
    }

    @Test("A deferred recipient is retried by the running scheduler when its time comes")
    func retriesInPlace() async throws {
        let router = TableRouter(["erin@example.com": .temporaryFailure("not yet")])
        let h = try Harness(router: router, retry: RetrySchedule(initialDelay: .milliseconds(200), jitter: 0))
        let id = try h.accept(["erin@example.com"])
        try await h.withScheduler { _, events in
            try await events.waitUntil { _ in !events.processed(id).isEmpty }
            router.set("erin@example.com", TableRouter.local("erin@example.com"))
            try await events.waitUntil { _ in events.completed(id) }
        }
        #expect(h.newFiles(h.maildir("erin")).count == 1)
    }

    @Test("Graceful shutdown lets a delivery in progress finish and record its outcome")
    func gracefulShutdown() async throws {
        let gate = BlockingRouter(inner: TableRouter(["alice@example.com": TableRouter.local("alice@example.com")]))
        let h = try Harness(router: TableRouter())
        let id = try h.accept(["alice@example.com"])
        let events = EventRecorder()
        let scheduler = DeliveryScheduler(spool: h.spool, router: gate, configuration: h.configuration,
                                          logger: Logger(label: "test", factory: h.logs.handler),
                                          onEvent: { events.record($0) })
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await gate.waitUntilEntered()
            await group.triggerGracefulShutdown()
            #expect(!events.all.contains(.stopped))
            gate.open()
            try await tasks.waitForAll()
        }
        #expect(events.completed(id))
        #expect(events.all.last == .stopped)
        #expect(h.newFiles(h.maildir("alice")).count == 1)
        #expect(fileNames(h.dir.path + "/spool/env").isEmpty)
    }

    @Test("A message enqueued after the scheduler stopped stays pending in the spool for the next start")
    func noNewWorkAfterShutdown() async throws {
        let h = try Harness(router: TableRouter(["alice@example.com": TableRouter.local("alice@example.com")]))
        let events = EventRecorder()
        let scheduler = h.makeScheduler(events)
        let group = ServiceGroup(services: [scheduler], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await events.waitUntil { $0.contains(.recovered(entries: 0)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let id = try h.accept(["alice@example.com"])
        scheduler.enqueue(id)
        #expect(try h.spool.load(id).recipients[0].state == .pending)
    }
}

/// Routes through `inner`, but holds the first call until `open()`: a
/// delivery that is provably in progress. Runs on the scheduler's thread
/// pool, so blocking there is what a slow disk would do.
final class BlockingRouter: RecipientRouter {
    let inner: TableRouter
    private let entered = Mutex(false)
    private let gate = DispatchSemaphore(value: 0)

    init(inner: TableRouter) {
        self.inner = inner
    }

    func route(_ recipient: Mailbox) -> RouteResult {
        let first = entered.withLock { wasEntered in
            defer { wasEntered = true }
            return !wasEntered
        }
        if first { gate.wait() }
        return inner.route(recipient)
    }

    func open() { gate.signal() }

    func waitUntilEntered() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !entered.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else { throw EventRecorder.Timeout(events: []) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
