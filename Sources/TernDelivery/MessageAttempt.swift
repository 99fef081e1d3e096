import Foundation
import TernSMTP
import TernSpool

/// One destination tried for one recipient in one attempt.
struct DestinationResult: Hashable, Sendable {
    var recipientIndex: Int
    /// nil when routing itself failed.
    var destination: RouteDestination?
    var outcome: DeliveryOutcome
}

/// The first half of an attempt on one message: its record as loaded, the
/// recipients that were due, what local delivery did, and the remote
/// destinations still to hand to the remote transport.
struct AttemptPlan: Sendable {
    var entry: SpoolEntry
    var attempted: [Int] = []
    var results: [DestinationResult] = []
    var remote: [(index: Int, destination: RouteDestination, mailbox: Mailbox)] = []
}

/// Routing and local delivery for one message attempt. Blocking: the
/// scheduler runs `plan` on its thread pool.
struct LocalAttempt: Sendable {
    let spool: Spool
    let router: any RecipientRouter
    let maildir: MaildirDelivery
    let template: MailboxPathTemplate

    /// A deferred recipient this close to its time is taken along.
    static let tolerance: TimeInterval = 1

    static func isDue(_ state: RecipientState, now: Date) -> Bool {
        switch state {
        case .pending: return true
        case .deferred(_, _, let next): return next.timeIntervalSince(now) <= tolerance
        case .delivered, .failed: return false
        }
    }

    /// Loads the record, routes every due recipient and delivers its local
    /// destinations. Returns nil for a held message.
    func plan(_ id: QueueID, now: Date) throws(SpoolError) -> AttemptPlan? {
        let entry = try spool.load(id)
        if entry.held { return nil }
        var plan = AttemptPlan(entry: entry)
        // Within one attempt a local user gets the message once, however
        // many recipients lead to them (as Postfix's duplicate filter does).
        var deliveredNow: [String: String] = [:]
        for (index, record) in entry.recipients.enumerated() where LocalAttempt.isDue(record.state, now: now) {
            plan.attempted.append(index)
            let destinations: [RouteDestination]
            switch router.route(record.mailbox) {
            case .unknownRecipient:
                plan.results.append(routingFailure(index, .userUnknown(record.mailbox.text)))
                continue
            case .temporaryFailure(let text):
                plan.results.append(routingFailure(index, DeliveryError(code: 451, status: "4.3.0", text: text)))
                continue
            case .permanentFailure(let text):
                // RFC 3463 X.1.0 "other address status".
                plan.results.append(routingFailure(index, DeliveryError(code: 550, status: "5.1.0", text: text)))
                continue
            case .destinations(let list):
                guard !list.isEmpty else {
                    plan.results.append(routingFailure(index, .userUnknown(record.mailbox.text)))
                    continue
                }
                destinations = list
            }
            var seen = Set(record.completedDestinations)
            for destination in destinations where seen.insert(destination.key).inserted {
                switch destination {
                case .local(let user, let deliveredTo):
                    let outcome: DeliveryOutcome
                    if let earlier = deliveredNow[destination.key] {
                        outcome = .delivered(detail: "duplicate of \(earlier)")
                    } else {
                        outcome = deliverLocally(entry, user: user, deliveredTo: deliveredTo, now: now)
                        if case .delivered(let detail) = outcome { deliveredNow[destination.key] = detail }
                    }
                    plan.results.append(DestinationResult(recipientIndex: index, destination: destination, outcome: outcome))
                case .remote(let mailbox):
                    plan.remote.append((index, destination, mailbox))
                }
            }
        }
        return plan
    }

    private func routingFailure(_ index: Int, _ error: DeliveryError) -> DestinationResult {
        DestinationResult(recipientIndex: index, destination: nil, outcome: DeliveryOutcome(error))
    }

    private func deliverLocally(_ entry: SpoolEntry, user: String, deliveredTo: Mailbox, now: Date) -> DeliveryOutcome {
        var path: String
        do {
            path = try template.expand(user: user)
        } catch {
            return DeliveryOutcome(.misconfigured("maildir template \(template): \(error)"))
        }
        if let folder = entry.origin.folder {
            // DMARC quarantine: the user's Junk folder.
            do {
                path = try maildir.folder(folder, of: path)
            } catch {
                return DeliveryOutcome(error)
            }
        }
        let message: SpoolMessageReader
        do {
            message = try spool.openMessage(entry.id)
        } catch {
            // The spool's problem, not the mailbox's: try again later.
            return DeliveryOutcome(DeliveryError(code: 451, status: "4.3.0", text: "cannot read the queued message: \(error)"))
        }
        do {
            let delivered = try maildir.deliver(message: message, to: path, returnPath: entry.envelope.sender,
                                                deliveredTo: deliveredTo, now: now)
            return .delivered(detail: "maildir \(delivered.path)")
        } catch {
            return DeliveryOutcome(error)
        }
    }
}

/// Turns the results of one attempt into new recipient states. Pure.
enum Settlement {
    /// Applies `results` to the recipients at `attempted` and appends the
    /// history. Returns the recipients that could not be attempted at all
    /// (`.notAttempted`), whose states are left as they were.
    ///
    /// When one recipient has several destinations, the combined state is
    /// the first that applies of: deferred (any temporary failure: retry,
    /// skipping the destinations already reached), unchanged (anything not
    /// attempted), failed (any permanent failure), delivered.
    static func apply(_ results: [DestinationResult], attempted: [Int], to entry: inout SpoolEntry,
                      now: Date, schedule: RetrySchedule, using rng: inout some RandomNumberGenerator) -> Set<Int> {
        var parked: Set<Int> = []
        for index in attempted {
            let mine = results.filter { $0.recipientIndex == index }
            var record = entry.recipients[index]
            var temporary: SpoolReply?
            var permanent: SpoolReply?
            var skipped = false
            var details: [String] = []
            for result in mine {
                var line = DeliveryAttempt(at: now, recipient: record.mailbox, destination: result.destination?.key,
                                           result: .delivered)
                switch result.outcome {
                case .delivered(let detail):
                    if let key = result.destination?.key, !record.completedDestinations.contains(key) {
                        record.completedDestinations.append(key)
                    }
                    details.append(detail)
                    line.detail = detail
                case .temporaryFailure(let reply):
                    temporary = temporary ?? reply
                    line.result = .deferred
                    line.reply = reply
                case .permanentFailure(let reply):
                    permanent = permanent ?? reply
                    line.result = .failed
                    line.reply = reply
                case .notAttempted(let reason):
                    skipped = true
                    line.result = .notAttempted
                    line.detail = reason
                }
                entry.record(line)
            }

            if let reply = temporary {
                let attempts = record.state.attempts + 1
                switch schedule.decide(afterAttempts: attempts, arrivedAt: entry.arrivedAt, now: now, using: &rng) {
                case .retry(let at):
                    record.state = .deferred(attempts: attempts, lastError: reply, nextAttempt: at)
                case .giveUp:
                    var expired = DeliveryError.expired(after: describe(schedule.queueLifetime), lastError: reply).reply
                    expired.remoteMTA = reply.remoteMTA
                    record.state = .failed(reply: expired, at: now,
                                           bounce: bounce(for: index, in: entry))
                    entry.record(DeliveryAttempt(at: now, recipient: record.mailbox, destination: nil,
                                                 result: .failed, reply: expired))
                }
            } else if skipped {
                parked.insert(index)
            } else if let reply = permanent {
                record.state = .failed(reply: reply, at: now, bounce: bounce(for: index, in: entry))
            } else {
                record.state = .delivered(at: now, detail: details.isEmpty ? "all destinations reached earlier"
                                                                           : details.joined(separator: "; "))
            }
            entry.recipients[index] = record
        }
        return parked
    }

    private static func bounce(for index: Int, in entry: SpoolEntry) -> BounceStatus {
        BounceStatus.forFailure(of: entry.envelope.recipients[index], sender: entry.envelope.sender)
    }

    /// `5d`, `36h`, `90m`, `45s`: the largest unit that divides the lifetime.
    static func describe(_ d: Duration) -> String {
        let s = d.components.seconds
        if s > 0 && s % 86400 == 0 { return "\(s / 86400)d" }
        if s > 0 && s % 3600 == 0 { return "\(s / 3600)h" }
        if s > 0 && s % 60 == 0 { return "\(s / 60)m" }
        return "\(s)s"
    }

    /// When the entry needs the scheduler again, or nil if never (all final,
    /// or held).
    ///
    /// A bounce still owed (`Notices`) is due now, and so is a delay
    /// notice (with `delayWarning`) once `arrivedAt + delayWarning` has
    /// come; after an attempt that could not queue them, `noticeRetry`
    /// later.
    static func nextDue(_ entry: SpoolEntry, parked: Set<Int> = [], now: Date,
                        notAttemptedInterval: Duration, delayWarning: Duration? = nil,
                        noticeRetry: Duration = .zero) -> Date? {
        if entry.held { return nil }
        let later = now.addingTimeInterval(RetryScheduleSeconds.of(notAttemptedInterval))
        let noticeTime = now.addingTimeInterval(RetryScheduleSeconds.of(noticeRetry))
        var due: Date?
        for (index, record) in entry.recipients.enumerated() {
            let at: Date
            switch record.state {
            case .pending: at = parked.contains(index) ? later : now
            case .deferred(_, _, let next): at = parked.contains(index) ? max(next, later) : next
            case .failed(_, _, .owed): at = noticeTime
            case .delivered, .failed: continue
            }
            due = min(due ?? at, at)
        }
        if let delayWarning, let notice = Notices.delayNoticeDue(entry, after: delayWarning) {
            let at = notice > now ? notice : noticeTime
            due = min(due ?? at, at)
        }
        return due
    }
}

enum RetryScheduleSeconds {
    static func of(_ d: Duration) -> TimeInterval {
        let (s, atto) = d.components
        return TimeInterval(s) + TimeInterval(atto) / 1e18
    }
}
