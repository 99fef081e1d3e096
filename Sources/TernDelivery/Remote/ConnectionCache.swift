import Synchronization

/// Idle connections kept for the next message to the same destination
/// (Postfix's connection cache): a message for a domain reuses a session
/// to one of its hosts instead of looking up, connecting, greeting and
/// negotiating TLS again. A connection is kept for `keep` after its last
/// transaction; stale or closed ones are dropped when looked at.
final class ConnectionCache: Sendable {
    private let keep: Duration
    private let idle = Mutex<[String: [SMTPClientConnection]]>([:])
    /// Connections per key at most (the rest are closed).
    private let perKey = 8

    init(keep: Duration) {
        self.keep = keep
    }

    var isEnabled: Bool { keep > .zero }

    /// An idle, live connection for `key`, or nil.
    func take(_ key: String) -> SMTPClientConnection? {
        guard isEnabled else { return nil }
        var stale: [SMTPClientConnection] = []
        let found = idle.withLock { table -> SMTPClientConnection? in
            var list = table[key] ?? []
            defer { table[key] = list.isEmpty ? nil : list }
            while let connection = list.popLast() {
                if connection.isUsable && connection.idleSince.duration(to: .now) < keep { return connection }
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
        let kept = idle.withLock { table -> Bool in
            var list = table[key] ?? []
            guard list.count < perKey else { return false }
            list.append(connection)
            table[key] = list
            return true
        }
        if !kept { await connection.quit() }
        else { expireLater(key) }
    }

    /// Ends every idle connection (shutdown).
    func closeAll() async {
        let all = idle.withLock { table -> [SMTPClientConnection] in
            defer { table = [:] }
            return table.values.flatMap { $0 }
        }
        for connection in all { await connection.quit() }
    }

    /// Ends connections of `key` that stayed idle too long.
    private func expireLater(_ key: String) {
        let keep = self.keep
        Task { [weak self] in
            try? await Task.sleep(for: keep + .milliseconds(100))
            guard let self else { return }
            let expired = self.idle.withLock { table -> [SMTPClientConnection] in
                let list = table[key] ?? []
                let (old, fresh) = (list.filter { !$0.isUsable || $0.idleSince.duration(to: .now) >= keep },
                                    list.filter { $0.isUsable && $0.idleSince.duration(to: .now) < keep })
                table[key] = fresh.isEmpty ? nil : fresh
                return old
            }
            for connection in expired { await connection.quit() }
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
