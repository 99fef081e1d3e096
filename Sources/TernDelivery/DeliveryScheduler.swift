import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TernSMTP
import TernSpool

/// Delivers what the spool holds: the queue manager.
///
/// On `run()` it recovers the spool and schedules every recipient still to
/// be delivered, then loops: take the earliest due message, route its due
/// recipients, deliver them, write the new states back, and schedule the
/// next attempt. It keeps only queue IDs and times in memory; message bytes
/// are read by the transports, on a thread pool.
///
/// - Local destinations go to Maildirs (`MaildirDelivery`), remote ones to
///   the `RemoteTransport` (by default one that tries nothing: remote
///   recipients stay pending, see `UnconfiguredRemoteTransport`).
/// - Temporary failures are retried on `RetrySchedule`; when the queue
///   lifetime ends, or on a permanent failure, the recipient fails with a
///   bounce owed (RFC 3461/3464). The bounce stage (`Notices`) queues the
///   bounce as a new message, and a delay notice once
///   `configuration.delayWarning` has passed; the entry stays until they
///   are queued. An entry whose recipients are all final is removed with
///   `Spool.complete`.
/// - Blocking file work runs on an `NIOThreadPool`, never on an event loop
///   or for long on the cooperative pool. At most
///   `configuration.concurrency` messages are in progress at once.
/// - Delivery is at least once: a crash after a Maildir file is in place
///   but before the record says so delivers it again after the restart.
/// - Graceful shutdown (or cancellation) stops taking new work; deliveries
///   in progress finish and record their outcome before `run()` returns.
public final class DeliveryScheduler: Service, Sendable {
    let spool: Spool
    let configuration: DeliveryConfiguration
    let remote: any RemoteTransport
    private let providedPool: NIOThreadPool?
    let logger: Logger
    let onEvent: @Sendable (DeliveryEvent) -> Void
    let local: LocalAttempt
    let state = Mutex(State())
    private let wake = WakeSignal()

    struct State {
        var due = DueQueue()
        var running: Set<QueueID> = []
        /// Of `running`, those waiting on the remote transport: they do
        /// not hold one of the `concurrency` slots (a slow remote host must
        /// not hold up local delivery), but at most
        /// `remoteConcurrency` of them are in flight.
        var remote = 0
        /// Enqueued while an attempt on it was running: look again after.
        var again: [QueueID: Date] = [:]
        /// Administrators waiting for an attempt on these IDs to end
        /// (`administer`).
        var waiting: [QueueID: [CheckedContinuation<Void, Never>]] = [:]
        var stopping = false
    }

    /// - Parameters:
    ///   - threadPool: where blocking file work runs; nil (the default)
    ///     makes one with `configuration.concurrency` threads for the
    ///     lifetime of `run()`.
    ///   - onEvent: called for every `DeliveryEvent`, from any thread.
    public init(spool: Spool, router: any RecipientRouter, configuration: DeliveryConfiguration = DeliveryConfiguration(),
                remote: any RemoteTransport = UnconfiguredRemoteTransport(), threadPool: NIOThreadPool? = nil,
                logger: Logger, onEvent: @escaping @Sendable (DeliveryEvent) -> Void = { _ in }) {
        self.spool = spool
        self.configuration = configuration
        self.remote = remote
        self.providedPool = threadPool
        self.logger = logger
        self.onEvent = onEvent
        self.local = LocalAttempt(spool: spool, router: router, maildir: MaildirDelivery(hostname: configuration.hostname),
                                  template: configuration.maildirTemplate)
    }

    /// Tells the scheduler that `id` was committed (or released, or changed
    /// by an administrator): it is looked at as soon as a slot is free.
    /// Thread-safe and non-blocking; may be called before `run()`.
    public func enqueue(_ id: QueueID) {
        let now = Date()
        state.withLock { s in
            if s.running.contains(id) {
                s.again[id] = now
            } else {
                s.due.schedule(id, at: now)
            }
        }
        wake.signal()
    }

    public func run() async throws {
        let pool = providedPool ?? NIOThreadPool(numberOfThreads: configuration.concurrency)
        if providedPool == nil { pool.start() }
        do {
            // Recovery schedules each entry as it reads it, so a large spool
            // starts flowing at once; a recovery that fails stops the loop
            // and is thrown below.
            let recoveryFailure = FailureBox()
            await withTaskCancellationOrGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask {
                        do {
                            try await self.recover(on: pool)
                        } catch {
                            recoveryFailure.error.withLock { $0 = error }
                            self.stop()
                        }
                    }
                    while let id = await nextWork() {
                        group.addTask {
                            let next = await self.attempt(id, on: pool)
                            self.finish(id, nextAttempt: next)
                        }
                    }
                }
            } onCancelOrGracefulShutdown: {
                self.stop()
            }
            if let error = recoveryFailure.error.withLock({ $0 }) { throw error }
        } catch {
            if providedPool == nil { try? await pool.shutdownGracefully() }
            throw error
        }
        if providedPool == nil { try? await pool.shutdownGracefully() }
        logger.info("delivery scheduler stopped")
        onEvent(.stopped)
    }

    private struct Recovered: Sendable {
        var entries: [SpoolEntry] = []
        var events: [SpoolRecoveryEvent] = []
    }

    private func recover(on pool: NIOThreadPool) async throws {
        let spool = self.spool
        let configuration = self.configuration
        let recovered = try await pool.runIfActive { [self] in
            var result = Recovered()
            result.entries = try spool.recover(onEvent: { result.events.append($0) }, onEntry: { entry in
                guard let due = Settlement.nextDue(entry, now: Date(),
                                                   notAttemptedInterval: configuration.notAttemptedInterval,
                                                   delayWarning: configuration.delayWarning) else { return }
                self.schedule(entry.id, at: due)
            })
            return result
        }
        for event in recovered.events {
            switch event {
            case .setAside, .stateSetAside: logger.error("spool recovery: \(event)")
            case .removedOrphanState, .removedTemporaryFile: logger.notice("spool recovery: \(event)")
            }
        }
        logger.info("delivery scheduler started", metadata: ["queued": "\(recovered.entries.count)"])
        onEvent(.recovered(entries: recovered.entries.count))
        wake.signal()
    }

    /// A recovered entry is due at `at` (unless an attempt on it is running:
    /// then it is looked at again when that attempt ends).
    private func schedule(_ id: QueueID, at: Date) {
        state.withLock { s in
            if s.running.contains(id) {
                s.again[id] = min(s.again[id] ?? at, at)
            } else {
                s.due.schedule(id, at: at)
            }
        }
        wake.signal()
    }

    private func stop() {
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    private enum Next {
        case run(QueueID)
        case wait(until: Date?)
        case stop
    }

    /// Waits until a message is due and a slot is free; nil once stopping.
    private func nextWork() async -> QueueID? {
        while true {
            let next = state.withLock { s -> Next in
                if s.stopping { return .stop }
                guard s.running.count - s.remote < configuration.concurrency,
                      s.remote < configuration.remoteConcurrency else { return .wait(until: nil) }
                if let id = s.due.popDue(now: Date()) {
                    s.running.insert(id)
                    return .run(id)
                }
                return .wait(until: s.due.nextTime())
            }
            switch next {
            case .stop: return nil
            case .run(let id): return id
            case .wait(let deadline): await wake.wait(until: deadline)
            }
        }
    }

    /// An attempt hands its remote recipients to the transport: its slot
    /// is free for local work until `leaveRemote()`.
    func enterRemote() {
        state.withLock { $0.remote += 1 }
        wake.signal()
    }

    func leaveRemote() {
        state.withLock { $0.remote -= 1 }
        wake.signal()
    }

    func finish(_ id: QueueID, nextAttempt: Date?) {
        let waiting = state.withLock { s in
            s.running.remove(id)
            let again = s.again.removeValue(forKey: id)
            if let at = [nextAttempt, again].compactMap({ $0 }).min() {
                s.due.schedule(id, at: at)
            }
            return s.waiting.removeValue(forKey: id) ?? []
        }
        waiting.forEach { $0.resume() }
        wake.signal()
    }
}

/// Carries an error out of a child task.
private final class FailureBox: Sendable {
    let error = Mutex<(any Error)?>(nil)
}
