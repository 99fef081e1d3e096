import Foundation
import Logging
import NIOPosix
import TernSMTP
import TernSpool

extension DeliveryScheduler {
    /// The result of writing an attempt back to the spool.
    struct Written: Sendable {
        var entry: SpoolEntry
        var parked: Set<Int>
        var completed: Bool
        /// What the bounce stage did (`Notices`).
        var notices = Notices.Outcome()
    }

    /// Settles an attempt's results into the entry, queues the notices it
    /// owes (`Notices`: bounces, a delay notice) and writes it back:
    /// `complete` when every recipient is final, else `update` (when
    /// anything was attempted or a notice was queued). Each notice queued
    /// is passed to `queued` as soon as it is committed, so that it is
    /// delivered even if writing the entry then fails. Blocking.
    static func write(_ plan: AttemptPlan, finished: Date, spool: Spool, configuration: DeliveryConfiguration,
                      queued: (QueueID) -> Void = { _ in }) throws -> Written {
        var entry = plan.entry
        var rng = SystemRandomNumberGenerator()
        let parked = Settlement.apply(plan.results, attempted: plan.attempted, to: &entry, now: finished,
                                      schedule: configuration.retrySchedule, using: &rng)
        let notices = Notices.send(for: &entry, now: finished, spool: spool, configuration: configuration)
        notices.queued.forEach(queued)
        if entry.isComplete {
            try spool.complete(entry.id)
            return Written(entry: entry, parked: parked, completed: true, notices: notices)
        }
        if !plan.attempted.isEmpty || notices.changed { try spool.update(entry) }
        return Written(entry: entry, parked: parked, completed: false, notices: notices)
    }

    /// One attempt on one message: route and deliver locally (thread pool),
    /// hand remote recipients to the remote transport, then write the new
    /// states (thread pool) and log. Returns when to look at it again.
    ///
    /// An attempt with no remote recipient (the common case) writes its
    /// outcome in the same thread-pool job that delivered, saving a round
    /// trip between the pools.
    func attempt(_ id: QueueID, on pool: NIOThreadPool) async -> Date? {
        let started = Date()
        let local = self.local
        let spool = self.spool
        let configuration = self.configuration
        let queued: @Sendable (QueueID) -> Void = { [weak self] notice in self?.enqueue(notice) }
        let first: (plan: AttemptPlan, written: Result<Written, any Error>?, finished: Date)
        do {
            guard let done = try await pool.runIfActive({ () throws -> (AttemptPlan, Result<Written, any Error>?, Date)? in
                guard let plan = try local.plan(id, now: started) else { return nil }
                let finished = Date()
                guard plan.remote.isEmpty else { return (plan, nil, finished) }
                return (plan, Result { try DeliveryScheduler.write(plan, finished: finished, spool: spool,
                                                                   configuration: configuration, queued: queued) },
                        finished)
            }) else {
                logger.info("\(id): held, not delivered", metadata: ["queue_id": "\(id)"])
                onEvent(.processed(id, completed: false, nextAttempt: nil))
                return nil
            }
            first = done
        } catch {
            return spoolFailed(id, error, reading: true)
        }
        var plan = first.plan
        var finished = first.finished
        let outcome: Result<Written, any Error>
        if let written = first.written {
            outcome = written
        } else {
            enterRemote()
            let outcomes = await remote.deliver(plan.entry, to: plan.remote.map(\.mailbox))
            leaveRemote()
            for (i, item) in plan.remote.enumerated() {
                let outcome = i < outcomes.count ? outcomes[i]
                    : .temporaryFailure(SpoolReply(code: 451, enhancedStatus: "4.3.0", text: "remote transport gave no outcome"))
                plan.results.append(DestinationResult(recipientIndex: item.index, destination: item.destination, outcome: outcome))
            }
            finished = Date()
            let settled = plan
            let at = finished
            // Every attempted recipient delivered: writing it back only
            // completes the entry (a rename and an unlink, no fsync, no
            // notice), cheap enough to do here rather than hand the work to
            // the pool and back — the common case of remote delivery.
            let onlyCompletes = settled.attempted.count == settled.entry.recipients.count
                && settled.results.allSatisfy { if case .delivered = $0.outcome { true } else { false } }
                && settled.entry.recipients.allSatisfy { $0.state.needsDelivery }
            do {
                if onlyCompletes {
                    outcome = .success(try DeliveryScheduler.write(settled, finished: at, spool: spool,
                                                                   configuration: configuration, queued: queued))
                } else {
                    outcome = .success(try await pool.runIfActive {
                        try DeliveryScheduler.write(settled, finished: at, spool: spool, configuration: configuration,
                                                    queued: queued)
                    })
                }
            } catch {
                outcome = .failure(error)
            }
        }
        let written: Written
        switch outcome {
        case .success(let w):
            written = w
        case .failure(let error):
            // The deliveries above happened but are not recorded: they will
            // be made again (at least once, never lost).
            return spoolFailed(id, error, reading: false)
        }

        for result in plan.results {
            log(result, entry: written.entry, now: finished)
            onEvent(.attempted(id, recipient: written.entry.recipients[result.recipientIndex].mailbox,
                               destination: result.destination, outcome: result.outcome))
        }
        logNotices(written)
        // A notice still owed after this attempt could not be queued: try
        // again after the spool's error interval.
        let next = written.completed ? nil
            : Settlement.nextDue(written.entry, parked: written.parked, now: finished,
                                 notAttemptedInterval: configuration.notAttemptedInterval,
                                 delayWarning: configuration.delayWarning,
                                 noticeRetry: configuration.spoolErrorInterval)
        if written.completed {
            logger.info("\(id): removed from the queue, all recipients done", metadata: ["queue_id": "\(id)"])
        }
        onEvent(.processed(id, completed: written.completed, nextAttempt: next))
        return next
    }

    /// One line per notice queued, one per notice that could not be.
    private func logNotices(_ written: Written) {
        let id = written.entry.id
        for notice in written.notices.queued {
            logger.info("\(id): sender notice queued as \(notice)",
                        metadata: ["queue_id": "\(id)", "notice_id": "\(notice)"])
        }
        for failure in written.notices.failures {
            logger.error("\(id): \(failure); kept for a later attempt", metadata: ["queue_id": "\(id)"])
        }
    }

    /// Logs a spool error and decides when to look again.
    private func spoolFailed(_ id: QueueID, _ error: any Error, reading: Bool) -> Date? {
        let what = reading ? "cannot read the queue entry" : "cannot record the delivery attempt"
        let metadata: Logger.Metadata = ["queue_id": "\(id)", "error": "\(error)"]
        let next: Date?
        switch error {
        case SpoolError.notFound:
            // Completed meanwhile, or removed by an administrator.
            logger.debug("\(id): no longer queued", metadata: metadata)
            next = nil
        case SpoolError.corruptRecord:
            // recover() at the next start sets it aside; retrying now would fail the same way.
            logger.error("\(id): \(what): \(error); left for recovery at the next start", metadata: metadata)
            next = nil
        case is CancellationError:
            next = nil
        default:
            logger.error("\(id): \(what): \(error)", metadata: metadata)
            next = Date().addingTimeInterval(RetryScheduleSeconds.of(configuration.spoolErrorInterval))
        }
        onEvent(.processed(id, completed: false, nextAttempt: next))
        return next
    }

    /// One line per destination tried, in the spirit of Postfix's
    /// `to=<…>, relay=…, delay=…, dsn=…, status=… (…)`.
    private func log(_ result: DestinationResult, entry: SpoolEntry, now: Date) {
        let record = entry.recipients[result.recipientIndex]
        let destination = result.destination?.key ?? "none"
        let delay = String(format: "%.2f", now.timeIntervalSince(entry.arrivedAt))
        var text: String
        let dsn: String
        let level: Logger.Level
        switch result.outcome {
        case .delivered(let detail):
            text = detail
            dsn = "2.0.0"
            level = .info
        case .temporaryFailure(let reply):
            text = reply.attributed
            dsn = reply.enhancedStatus
            level = .notice
        case .permanentFailure(let reply):
            text = reply.attributed
            dsn = reply.enhancedStatus
            level = .notice
        case .notAttempted(let reason):
            text = reason
            dsn = "4.0.0"
            level = .info
        }
        // For failures, say what follows from them for the recipient.
        switch (result.outcome, record.state) {
        case (.temporaryFailure, .deferred(let attempts, _, let next)):
            text += "; attempt \(attempts), next in \(Int(next.timeIntervalSince(now).rounded()))s"
        case (.temporaryFailure, .failed(let reply, _, let bounce)), (.permanentFailure, .failed(let reply, _, let bounce)):
            if reply.enhancedStatus == "5.4.7" { text += "; \(reply.text)" }
            switch bounce {
            case .owed: text += "; bounce owed"
            case .sent: text += "; bounce sent"
            case .notOwed: text += "; no bounce owed"
            }
        default:
            break
        }
        logger.log(level: level,
                   "\(entry.id): to=<\(record.mailbox.text)>, dest=\(destination), delay=\(delay), dsn=\(dsn), status=\(result.outcome.status) (\(text))",
                   metadata: [
                       "queue_id": "\(entry.id)", "recipient": "\(record.mailbox.text)", "destination": "\(destination)",
                       "status": "\(result.outcome.status)", "dsn": "\(dsn)", "delay": "\(delay)",
                   ])
    }
}
