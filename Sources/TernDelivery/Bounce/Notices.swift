import Foundation
import TernSMTP
import TernSpool

/// The bounce stage: turns what an entry owes its sender into DSN messages
/// (RFC 3464) queued in the spool, and records that they were queued.
///
/// - **Failure notices.** All recipients in `.failed(bounce: .owed)` are
///   reported together in one notice (`Action: failed`); they then become
///   `.sent(at:)`. `BounceStatus.forFailure` has already left out what is
///   owed nothing: a null reverse-path (RFC 5321 §4.5.5 — so a notice is
///   never bounced itself) and NOTIFY without FAILURE (RFC 3461 §4.1).
/// - **Delay notices.** Once per message, when `delayWarning` has passed
///   since arrival and recipients are still deferred, one notice
///   (`Action: delayed`) reports those whose NOTIFY is absent or names
///   DELAY; `SpoolEntry.delayNoticeSentAt` records it.
///
/// A notice is a new spool entry: envelope sender `<>`, the original
/// sender as its one recipient, no NOTIFY, origin `MessageOrigin.deliveryNotice`.
/// It is committed before the entry says it was sent, so a crash between
/// the two sends it twice rather than never; when it cannot be committed
/// (a full disk) the obligation stays in the entry for a later attempt.
///
/// Blocking (reads the original, writes the spool): runs on the
/// scheduler's thread pool.
enum Notices {
    /// Queues one notice message; `Spool.accept` in production.
    typealias Enqueue = (_ id: QueueID, _ envelope: Envelope, _ origin: MessageOrigin, _ message: [UInt8],
                         _ now: Date) throws -> QueueID

    /// What one pass did.
    struct Outcome: Sendable {
        /// Notices committed to the spool, for the scheduler to enqueue.
        var queued: [QueueID] = []
        /// Why a notice that was due could not be queued (for the log).
        var failures: [String] = []
        /// The entry changed and must be written.
        var changed = false
    }

    /// Queues every notice `entry` owes at `now` and updates `entry` to say so.
    static func send(for entry: inout SpoolEntry, now: Date, spool: Spool, configuration: DeliveryConfiguration,
                     enqueue: Enqueue? = nil) -> Outcome {
        let enqueue = enqueue ?? { id, envelope, origin, message, now in
            try spool.accept(id: id, envelope: envelope, origin: origin, messageParts: [message], now: now)
        }
        var outcome = Outcome()
        guard let sender = entry.envelope.sender.mailbox else {
            // Nothing is ever owed to `<>`; an older record that says so is corrected.
            for (i, record) in entry.recipients.enumerated() {
                if case .failed(let reply, let at, .owed) = record.state {
                    entry.recipients[i].state = .failed(reply: reply, at: at, bounce: .notOwed)
                    outcome.changed = true
                }
            }
            return outcome
        }

        let owed = entry.recipients.indices.filter { i in
            if case .failed(_, _, .owed) = entry.recipients[i].state { return true }
            return false
        }
        if !owed.isEmpty {
            let reports = owed.compactMap { failureReport(entry, index: $0) }
            do {
                let id = try queue(.failure, reports, for: entry, sender: sender, now: now, spool: spool,
                                   configuration: configuration, enqueue: enqueue)
                for i in owed {
                    if case .failed(let reply, let at, _) = entry.recipients[i].state {
                        entry.recipients[i].state = .failed(reply: reply, at: at, bounce: .sent(at: now))
                    }
                }
                outcome.queued.append(id)
                outcome.changed = true
            } catch {
                outcome.failures.append("cannot queue the failure notice: \(error)")
            }
        }

        if let warning = configuration.delayWarning, let due = delayNoticeDue(entry, after: warning), due <= now {
            let reports = delayedRecipients(entry).compactMap {
                delayReport(entry, index: $0, until: entry.arrivedAt.addingTimeInterval(
                    RetryScheduleSeconds.of(configuration.queueLifetime)))
            }
            do {
                let id = try queue(.delay, reports, for: entry, sender: sender, now: now, spool: spool,
                                   configuration: configuration, enqueue: enqueue)
                entry.delayNoticeSentAt = now
                outcome.queued.append(id)
                outcome.changed = true
            } catch {
                outcome.failures.append("cannot queue the delay notice: \(error)")
            }
        }
        return outcome
    }

    // MARK: Delay notices

    /// The recipients a delay notice would report now: deferred, with
    /// NOTIFY absent or naming DELAY (RFC 3461 §4.1), for a sender that is
    /// not `<>`.
    static func delayedRecipients(_ entry: SpoolEntry) -> [Int] {
        guard entry.envelope.sender != .null else { return [] }
        return entry.recipients.indices.filter { i in
            guard case .deferred = entry.recipients[i].state else { return false }
            return entry.envelope.recipients[i].notify?.delay ?? true
        }
    }

    /// When the entry's delay notice falls due (`arrivedAt + warning`), or
    /// nil when none is to be sent: one was already, or no recipient
    /// would be in it.
    static func delayNoticeDue(_ entry: SpoolEntry, after warning: Duration) -> Date? {
        guard entry.delayNoticeSentAt == nil, !delayedRecipients(entry).isEmpty else { return nil }
        return entry.arrivedAt.addingTimeInterval(RetryScheduleSeconds.of(warning))
    }

    // MARK: Building

    private static func failureReport(_ entry: SpoolEntry, index i: Int) -> DeliveryReport.Recipient? {
        guard case .failed(let reply, let at, _) = entry.recipients[i].state else { return nil }
        return DeliveryReport.Recipient(mailbox: entry.recipients[i].mailbox,
                                        originalRecipient: entry.envelope.recipients[i].originalRecipient,
                                        action: .failed, status: reply.enhancedStatus, remoteMTA: reply.remoteMTA,
                                        diagnostic: reply, lastAttempt: at)
    }

    private static func delayReport(_ entry: SpoolEntry, index i: Int, until: Date) -> DeliveryReport.Recipient? {
        guard case .deferred(_, let lastError, _) = entry.recipients[i].state else { return nil }
        let mailbox = entry.recipients[i].mailbox
        let last = entry.history.last { $0.recipient == mailbox && $0.result == .deferred }?.at
        return DeliveryReport.Recipient(mailbox: mailbox,
                                        originalRecipient: entry.envelope.recipients[i].originalRecipient,
                                        action: .delayed, status: lastError.enhancedStatus,
                                        remoteMTA: lastError.remoteMTA, diagnostic: lastError, lastAttempt: last,
                                        willRetryUntil: until)
    }

    struct NothingToReport: Error, CustomStringConvertible {
        var description: String { "no recipient to report" }
    }

    /// Builds one notice and commits it; returns its queue ID.
    private static func queue(_ kind: DeliveryReport.Kind, _ recipients: [DeliveryReport.Recipient],
                              for entry: SpoolEntry, sender: Mailbox, now: Date, spool: Spool,
                              configuration: DeliveryConfiguration, enqueue: Enqueue) throws -> QueueID {
        guard !recipients.isEmpty else { throw NothingToReport() }
        let id = QueueID.generate(now: now)
        let hostname = configuration.hostname
        let international = entry.envelope.smtpUTF8 || sender.needsSMTPUTF8
        let report = DeliveryReport(kind: kind, hostname: hostname, sender: sender,
                                    envelopeID: entry.envelope.envelopeID, arrivalDate: entry.arrivedAt,
                                    queueID: entry.id.text, recipients: recipients, international: international,
                                    date: now, messageID: "<\(id.text)@\(hostname)>",
                                    boundary: "\(id.text)/\(hostname)")
        // RFC 3461 §4.3: RET=HDRS asks for headers only; absent, the MTA
        // chooses — the whole message for a failure. A delay notice
        // carries headers only: the message is still on its way.
        let reader = try spool.openMessage(entry.id)
        defer { reader.close() }
        let original = try ReturnedOriginal.read(reader, size: entry.messageSize,
                                                 wantWhole: kind == .failure && entry.envelope.dsnReturn != .headers,
                                                 binary: entry.envelope.body == .binaryMIME,
                                                 limit: configuration.returnedMessageLimit)
        var message = DSNMessage.build(report, original: original)
        if let signer = configuration.noticeSigner {
            message = signer.fields(message) + message
        }
        let envelope = Envelope(sender: .null, recipients: [EnvelopeRecipient(mailbox: sender)],
                                body: DSNMessage.requiresEightBit(message) ? .eightBitMIME : .sevenBit,
                                smtpUTF8: international)
        return try enqueue(id, envelope, .deliveryNotice(hostname: hostname, at: now), message, now)
    }
}

extension MessageOrigin {
    /// The role of messages Tern writes itself: bounces and delay notices.
    public static let deliveryNoticeRole = "dsn"

    /// The origin of a notice this host generated: no client, the host
    /// itself as the HELO name.
    public static func deliveryNotice(hostname: String, at date: Date) -> MessageOrigin {
        MessageOrigin(role: deliveryNoticeRole, clientAddress: "127.0.0.1", heloName: hostname,
                      protocolName: "local", receivedAt: date)
    }
}
