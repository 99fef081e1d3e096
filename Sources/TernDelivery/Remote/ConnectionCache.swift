import Synchronization

/// Idle connections kept for the next message to the same destination
/// (Postfix's connection cache): a message for a domain reuses a session
/// to one of its hosts instead of looking up, connecting, greeting and
/// negotiating TLS again. A connection is kept for `keep` after its last
/// transaction; stale or closed ones are dropped when looked at.
final class ConnectionCache: Sendable {
    private let keep: Duration
    private struct State {
        var idle: [String: [SMTPClientConnection]] = [:]
        /// Keys with an expiry pass scheduled (one at a time per key).
        var reaping: Set<String> = []
    }
    private let state = Mutex(State())
    /// Connections per key at most (the rest are closed).
    private let perKey = 8

    init(keep: Duration) {
        self.keep = keep
    }

    var isEnabled: Bool { keep > .zero }

    private func fresh(_ connection: SMTPClientConnection) -> Bool {
        connection.isUsable && connection.idleSince.duration(to: .now) < keep
    }

    /// An idle, live connection for `key`, or nil.
    func take(_ key: String) -> SMTPClientConnection? {
        guard isEnabled else { return nil }
        var stale: [SMTPClientConnection] = []
        let found = state.withLock { s -> SMTPClientConnection? in
            var list = s.idle[key] ?? []
            defer { s.idle[key] = list.isEmpty ? nil : list }
            while let connection = list.popLast() {
                if fresh(connection) { return connection }
                stale.append(connection)
            }
            return nil
        }
        for connection in stale { connection.close() }
        return found
    }

    /// Keeps `connection` for reuse, or ends it when reuse is off, it is
    /// unusable, or enough are kept.
    func put(_ key: String, _ connection: SMTPClientConnection) async {
        guard isEnabled, connection.isUsable else {
            await connection.quit()
            return
        }
        let (kept, reap) = state.withLock { s -> (Bool, Bool) in
            var list = s.idle[key] ?? []
            guard list.count < perKey else { return (false, false) }
            list.append(connection)
            s.idle[key] = list
            return (true, s.reaping.insert(key).inserted)
        }
        if !kept { await connection.quit() }
        if reap { expireLater(key) }
    }

    /// Ends every idle connection (shutdown).
    func closeAll() async {
        let all = state.withLock { s -> [SMTPClientConnection] in
            defer { s.idle = [:] }
            return s.idle.values.flatMap { $0 }
        }
        for connection in all { await connection.quit() }
    }

    /// Ends `key`'s connections once they have been idle too long; looks
    /// again while any are left.
    private func expireLater(_ key: String) {
        let keep = self.keep
        Task { [weak self] in
            try? await Task.sleep(for: keep + .milliseconds(100))
            guard let self else { return }
            let (expired, again) = self.state.withLock { s -> ([SMTPClientConnection], Bool) in
                let list = s.idle[key] ?? []
                let old = list.filter { !self.fresh($0) }
                let kept = list.filter { self.fresh($0) }
                s.idle[key] = kept.isEmpty ? nil : kept
                if kept.isEmpty { s.reaping.remove(key) }
                return (old, !kept.isEmpty)
            }
            for connection in expired { await connection.quit() }
            if again { self.expireLater(key) }
        }
    }
}

/// Limits how many tasks hold a destination at once.
final class DestinationLimiter: Sendable {
    private let limit: Int
    private struct Slot {
        var holders = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let slots = Mutex<[String: Slot]>([:])

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func withSlot<T: Sendable>(_ key: String, _ body: () async -> T) async -> T {
        await acquire(key)
        let result = await body()
        release(key)
        return result
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = slots.withLock { table -> Bool in
                var slot = table[key] ?? Slot()
                defer { table[key] = slot }
                if slot.holders < limit {
                    slot.holders += 1
                    return true
                }
                slot.waiting.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        let next = slots.withLock { table -> CheckedContinuation<Void, Never>? in
            guard var slot = table[key] else { return nil }
            if !slot.waiting.isEmpty {
                let next = slot.waiting.removeFirst()
                table[key] = slot
                return next  // the slot passes to it; holders unchanged
            }
            slot.holders -= 1
            table[key] = slot.holders == 0 ? nil : slot
            return nil
        }
        next?.resume()
    }
}
