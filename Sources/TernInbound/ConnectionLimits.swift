import Foundation
import Synchronization

/// Counts open inbound connections, in total and per client address.
/// Defaults: 1000 in total, 20 per address (`[limits]`).
public final class ConnectionLimiter: Sendable {
    public enum Admission: Sendable { case admitted, tooMany, tooManyFromAddress }

    private struct Counts {
        var total = 0
        var perAddress: [String: Int] = [:]
    }

    private let counts = Mutex(Counts())
    public let maximumTotal: Int
    public let maximumPerAddress: Int

    public init(maximumTotal: Int = 1000, maximumPerAddress: Int = 20) {
        self.maximumTotal = maximumTotal
        self.maximumPerAddress = maximumPerAddress
    }

    /// Takes a slot; call `release` exactly once for every `.admitted`.
    public func acquire(_ address: String) -> Admission {
        counts.withLock { c in
            if c.total >= maximumTotal { return .tooMany }
            let n = c.perAddress[address, default: 0]
            if n >= maximumPerAddress { return .tooManyFromAddress }
            c.total += 1
            c.perAddress[address] = n + 1
            return .admitted
        }
    }

    public func release(_ address: String) {
        counts.withLock { c in
            c.total -= 1
            let n = c.perAddress[address, default: 1] - 1
            c.perAddress[address] = n > 0 ? n : nil
        }
    }

    public var open: Int { counts.withLock { $0.total } }
}

/// AUTH failures per client address in a sliding window. Each failure delays
/// the next reply a little more; past the limit the client gets `421`.
/// Defaults: 5 failures in 15 minutes, 1 s more delay per failure (max 5 s).
public final class AuthFailureTracker: Sendable {
    private let failures = Mutex<[String: [Date]]>([:])
    public let limit: Int
    public let window: TimeInterval
    public let delayStep: TimeInterval

    public init(limit: Int = 5, window: TimeInterval = 15 * 60, delayStep: TimeInterval = 1) {
        self.limit = limit
        self.window = window
        self.delayStep = delayStep
    }

    /// Records a failure; returns how many this address has in the window.
    public func record(_ address: String, now: Date = Date()) -> Int {
        failures.withLock { table in
            var list = (table[address] ?? []).filter { now.timeIntervalSince($0) < window }
            list.append(now)
            table[address] = list
            if table.count > 100_000 { table = table.filter { !$0.value.isEmpty } }
            return list.count
        }
    }

    public func count(_ address: String, now: Date = Date()) -> Int {
        failures.withLock { table in
            (table[address] ?? []).filter { now.timeIntervalSince($0) < window }.count
        }
    }

    public func isBlocked(_ address: String, now: Date = Date()) -> Bool { count(address, now: now) >= limit }

    /// How long to wait before answering the n-th failure.
    public func delay(afterFailures n: Int) -> TimeInterval { min(Double(n), 5) * delayStep }
}
