import NIOCore
import Synchronization

/// Answers kept for as long as their TTL allows (RFC 1035 §3.2.1), and
/// NXDOMAIN and NODATA for as long as RFC 2308 §5 allows. Failures are
/// never kept. Keyed by the lowercased name and type asked for.
final class DNSCache: Sendable {
    struct Key: Hashable, Sendable {
        var name: String
        var type: UInt16
    }

    private struct Entry: Sendable {
        var result: DNSResult<DNSRecordData>
        var expires: NIODeadline
    }

    let capacity: Int
    private let entries = Mutex<[Key: Entry]>([:])

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// The result kept for `key`, with the answer's TTL lowered by the time
    /// it has been kept; nil when there is none or it has expired.
    func lookup(_ key: Key, now: NIODeadline) -> DNSResult<DNSRecordData>? {
        guard capacity > 0 else { return nil }
        return entries.withLock { table -> DNSResult<DNSRecordData>? in
            guard let entry = table[key] else { return nil }
            guard entry.expires > now else {
                table[key] = nil
                return nil
            }
            guard case .found(var answer) = entry.result else { return entry.result }
            let remaining = (entry.expires - now).nanoseconds
            let seconds = (remaining + 999_999_999) / 1_000_000_000
            answer.ttl = UInt32(clamping: seconds)
            return .found(answer)
        }
    }

    /// Keeps `result` for `ttl` seconds; a zero TTL keeps nothing. When
    /// full, expired entries go first, then those closest to expiring.
    func store(_ key: Key, _ result: DNSResult<DNSRecordData>, ttl: UInt32, now: NIODeadline) {
        guard capacity > 0, ttl > 0 else { return }
        switch result {
        case .found, .nxdomain, .nodata: break
        case .servfail, .timeout, .failure: return
        }
        let entry = Entry(result: result, expires: now + .seconds(Int64(ttl)))
        entries.withLock { table in
            if table[key] == nil && table.count >= capacity {
                table = table.filter { $0.value.expires > now }
                if table.count >= capacity {
                    let excess = table.count - capacity + max(1, capacity / 10)
                    let soonest = table.sorted { $0.value.expires < $1.value.expires }.prefix(excess)
                    for (old, _) in soonest { table[old] = nil }
                }
            }
            table[key] = entry
        }
    }

    var count: Int { entries.withLock { $0.count } }

    func removeAll() {
        entries.withLock { $0.removeAll() }
    }
}
