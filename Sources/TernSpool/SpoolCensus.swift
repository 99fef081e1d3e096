import Foundation

/// How many messages the spool holds and which is the oldest: what the
/// metrics endpoint reports as the queue's size and age.
public struct SpoolCensus: Sendable, Hashable {
    /// Committed entries (`env/`), held and deferred ones included.
    public var messages: Int
    /// The ID of the oldest of them; nil when the spool is empty.
    public var oldest: QueueID?

    public init(messages: Int, oldest: QueueID?) {
        self.messages = messages
        self.oldest = oldest
    }

    /// Seconds since the oldest entry was queued (its ID carries the time,
    /// to the millisecond); 0 when the spool is empty.
    public func oldestAge(now: Date = Date()) -> Double {
        guard let oldest else { return 0 }
        return max(0, now.timeIntervalSince(oldest.date))
    }
}

extension Spool {
    /// Counts the committed entries and finds the oldest, from the names in
    /// `env/` alone: no file is opened, so it costs one directory read
    /// whatever the messages' sizes. Queue IDs sort by the time they were
    /// made, so the smallest is the oldest. Blocking: call it on a thread
    /// pool (the metrics endpoint calls it once per scrape, never on the
    /// path of a message).
    public func census() throws(SpoolError) -> SpoolCensus {
        let names: [String]
        do throws(SystemCallError) {
            names = try FileSystem.list(queueDirectory)
        } catch {
            throw SpoolError(error)
        }
        var census = SpoolCensus(messages: 0, oldest: nil)
        for name in names {
            guard let id = QueueID(name) else { continue }
            census.messages += 1
            if census.oldest.map({ id < $0 }) ?? true { census.oldest = id }
        }
        return census
    }
}
