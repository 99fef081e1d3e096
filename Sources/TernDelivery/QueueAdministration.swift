import Foundation
import TernSMTP
import TernSpool

/// What an administrator can do to a queued message (`tern queue …`).
public enum QueueChange: Sendable, Hashable, Codable {
    /// Keep it in the queue untried until released.
    case hold
    /// Undo `hold`; the message is looked at at once.
    case release
    /// Try every waiting recipient now (only those in `domain` when set).
    case flush(domain: String?)
    /// Give up now: every waiting recipient fails and the sender gets a
    /// failure notice (DSN), as when the queue lifetime ends.
    case bounce
    /// Remove it without a notice to anyone.
    case delete
}

/// The outcome of a `QueueChange` on one message.
public enum QueueChangeResult: String, Sendable, Hashable, Codable {
    case changed
    /// Nothing to do (already held, nothing waiting for that domain…).
    case unchanged
    case removed
}

/// The queue as `tern queue list` and `show` present it. Codable: the
/// control socket carries it, and `--json` prints it.
public struct QueueListing: Sendable, Hashable, Codable {
    public struct Recipient: Sendable, Hashable, Codable {
        public var address: String
        /// pending | deferred | delivered | failed | bounce-owed
        public var state: String
        public var attempts: Int
        public var nextAttempt: Date?
        /// The last error (deferred) or the failure (failed), as the
        /// remote server or the local delivery said it.
        public var lastError: String?
    }

    public struct Entry: Sendable, Hashable, Codable {
        public var id: String
        public var size: Int
        public var arrivedAt: Date
        /// The envelope sender, `<>` for a bounce.
        public var sender: String
        public var held: Bool
        public var recipients: [Recipient]
        /// `tern queue show` only: the attempt history and the header section.
        public var history: [String]?
        public var headers: String?
        /// How it came in: `mx from 192.0.2.1`, `submission by alice@…`, `local`.
        public var origin: String?
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }
}

/// Queue administration on the spool: listing, and the changes of
/// `QueueChange`. Blocking file work. With a running server the changes go
/// through `DeliveryScheduler.change` (which keeps attempts and changes on
/// one message apart); with the server stopped the `tern` command calls
/// these directly, holding the state directory's lock.
public enum QueueAdministration {
    /// The header section shown by `show` is cut after this many bytes.
    static let headerLimit = 64 * 1024

    public static func list(_ spool: Spool) throws(SpoolError) -> QueueListing {
        var entries: [QueueListing.Entry] = []
        for id in try spool.queuedIDs() {
            guard let entry = try? spool.load(id) else { continue }  // completed meanwhile, or corrupt (recovery's job)
            entries.append(summary(entry))
        }
        return QueueListing(entries: entries.sorted { $0.arrivedAt < $1.arrivedAt })
    }

    /// One entry in full: recipients, history, headers.
    public static func show(_ id: QueueID, spool: Spool) throws(SpoolError) -> QueueListing.Entry {
        let entry = try spool.load(id)
        var item = summary(entry)
        item.history = entry.history.map(describe)
        let o = entry.origin
        var origin = o.role
        if !o.clientAddress.isEmpty { origin += " from \(o.reverseName ?? o.heloName) [\(o.clientAddress)]" }
        if let user = o.authenticatedUser { origin += " by \(user)" }
        if let tls = o.tlsVersion { origin += " with \(tls)" }
        item.origin = origin
        let reader = try spool.openMessage(id)
        defer { reader.close() }
        var buffer = [UInt8](repeating: 0, count: headerLimit)
        var filled = 0
        while filled < buffer.count {
            let n = try buffer.withUnsafeMutableBytes { b in
                Result { () throws(SpoolError) in try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: b[filled...])) }
            }.get()
            if n == 0 { break }
            filled += n
        }
        let bytes = buffer[..<filled]
        let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)).map { $0.lowerBound + 2 } ?? filled
        item.headers = String(decoding: bytes[..<end], as: UTF8.self)
        return item
    }

    static func summary(_ entry: SpoolEntry) -> QueueListing.Entry {
        let recipients = entry.recipients.map { record -> QueueListing.Recipient in
            var r = QueueListing.Recipient(address: record.mailbox.text, state: "pending", attempts: record.state.attempts)
            switch record.state {
            case .pending: break
            case .delivered:
                r.state = "delivered"
            case .deferred(_, let error, let next):
                r.state = "deferred"
                r.nextAttempt = next
                r.lastError = error.attributed
            case .failed(let reply, _, let bounce):
                r.state = bounce == .owed ? "bounce-owed" : "failed"
                r.lastError = reply.attributed
            }
            return r
        }
        return QueueListing.Entry(id: entry.id.text, size: entry.messageSize, arrivedAt: entry.arrivedAt,
                                  sender: entry.envelope.sender.description, held: entry.held, recipients: recipients)
    }

    private static func describe(_ attempt: DeliveryAttempt) -> String {
        var line = "\(attempt.at.formatted(.iso8601)) \(attempt.recipient.text) \(attempt.result.rawValue)"
        if let d = attempt.destination { line += " via \(d)" }
        if let reply = attempt.reply { line += ": \(reply.attributed)" }
        if let detail = attempt.detail { line += " (\(detail))" }
        return line
    }

    /// Applies `change` to the entry `id`. The caller makes sure no attempt
    /// runs on it meanwhile. Returns what happened and whether the entry
    /// should be looked at by the scheduler now.
    public static func apply(_ change: QueueChange, to id: QueueID, spool: Spool,
                             now: Date = Date()) throws(SpoolError) -> (result: QueueChangeResult, enqueue: Bool) {
        if case .delete = change {
            _ = try spool.load(id)  // notFound for an unknown ID
            try spool.complete(id)
            return (.removed, false)
        }
        var entry = try spool.load(id)
        let before = entry
        switch change {
        case .hold:
            entry.held = true
        case .release:
            entry.held = false
            makeDue(&entry, domain: nil, now: now)
        case .flush(let domain):
            if entry.held { return (.unchanged, false) }
            makeDue(&entry, domain: domain, now: now)
        case .bounce:
            entry.held = false
            for i in entry.recipients.indices where entry.recipients[i].state.needsDelivery {
                var text = "delivery given up by the mail administrator"
                if case .deferred(_, let error, _) = entry.recipients[i].state { text += "; last error: \(error.attributed)" }
                let reply = SpoolReply(code: 550, enhancedStatus: "5.0.0", text: text)
                entry.recipients[i].state = .failed(reply: reply, at: now, bounce: BounceStatus.forFailure(
                    of: entry.envelope.recipients[i], sender: entry.envelope.sender))
                entry.record(DeliveryAttempt(at: now, recipient: entry.recipients[i].mailbox, destination: nil,
                                             result: .failed, reply: reply, detail: "tern queue bounce"))
            }
        case .delete:
            preconditionFailure("handled above")
        }
        if entry == before {
            // A flush of pending recipients changes nothing on disk but still asks for an attempt.
            if case .flush = change { return (.unchanged, entry.recipients.contains { $0.state.needsDelivery }) }
            return (.unchanged, false)
        }
        try spool.update(entry)
        return (.changed, !entry.held)
    }

    /// Deferred recipients (in `domain`, when set) become due at `now`.
    private static func makeDue(_ entry: inout SpoolEntry, domain: String?, now: Date) {
        let only = domain.map { try? Domain(parsing: $0) }
        for i in entry.recipients.indices {
            guard case .deferred(let attempts, let error, let next) = entry.recipients[i].state, next > now,
                  only.map({ $0 == entry.recipients[i].mailbox.domain }) ?? true else { continue }
            entry.recipients[i].state = .deferred(attempts: attempts, lastError: error, nextAttempt: now)
        }
    }

    /// The IDs a change addresses: one named message, or every message in
    /// the queue that `matches`.
    public static func select(_ spool: Spool, _ matches: (SpoolEntry) -> Bool) throws(SpoolError) -> [QueueID] {
        try spool.queuedIDs().filter { id in (try? spool.load(id)).map(matches) ?? false }
    }
}

extension DeliveryScheduler {
    /// Applies `change` to `id` while no attempt runs on it (waiting for
    /// one in progress to end), then schedules it as the change asks.
    public func change(_ id: QueueID, _ change: QueueChange, now: Date = Date()) async throws -> QueueChangeResult {
        let spool = self.spool
        let outcome = try await administer(id) { () throws -> (QueueChangeResult, Bool) in
            try QueueAdministration.apply(change, to: id, spool: spool, now: now)
        }
        if outcome.1 { enqueue(id) }
        logger.notice("\(id): queue \(change) by the administrator: \(outcome.0.rawValue)", metadata: ["queue_id": "\(id)"])
        return outcome.0
    }

    /// Runs `body` with `id` claimed: the scheduler does not start an
    /// attempt on it meanwhile, and one in progress ends first. Whatever
    /// was scheduled for it stays scheduled.
    func administer<T: Sendable>(_ id: QueueID, _ body: @Sendable () throws -> T) async throws -> T {
        while true {
            let claimed = state.withLock { s -> Bool in
                guard !s.running.contains(id) else { return false }
                s.running.insert(id)
                return true
            }
            if claimed { break }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if !s.running.contains(id) { return true }
                    s.waiting[id, default: []].append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        }
        let due = state.withLock { $0.due.remove(id) }
        defer { finish(id, nextAttempt: due) }
        return try body()
    }
}
