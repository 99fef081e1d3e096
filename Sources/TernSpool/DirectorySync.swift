import Foundation
import Synchronization

/// Group commit for directory fsyncs: callers that each need "the rename I
/// just made in this directory is durable" share one fsync of the directory
/// instead of making one each.
///
/// A caller calls `syncAfterChange()` after its rename (or link, or unlink)
/// has returned. It is covered only by an fsync that *starts* after that
/// moment: an fsync already running may have read the directory before the
/// change and says nothing about it. So:
///
/// - fsyncs of one directory run one at a time and are numbered in the
///   order they start;
/// - a caller arriving while fsync number *n* runs (or, with none running,
///   after *n* fsyncs) needs fsync number *n* + 1 — its *batch*;
/// - when no fsync runs, one waiting caller becomes the leader: it starts
///   the next fsync, on its own thread, without holding the lock; everyone
///   else sleeps on a condition variable;
/// - when fsync *n* ends, every caller of batch *n* returns with its result
///   (its error, if it failed, goes to each of them) and a caller of batch
///   *n* + 1, if any, leads the next one.
///
/// Under load each fsync thus covers every change made while the one before
/// it ran. Callers block: use it from thread-pool threads, never from an
/// event loop.
///
/// One instance per directory, from `forDirectory(_:)` (created on first
/// use and kept for the life of the process). Two paths that name the same
/// directory (through a symbolic link) get two instances, which is correct,
/// only less shared.
///
/// The fsync opens the directory afresh each time, so a directory that was
/// replaced (a Maildir moved away and made again) is never synced through a
/// stale descriptor.
package final class DirectorySync: @unchecked Sendable {
    package typealias Sync = @Sendable (String) throws(SystemCallError) -> Void

    package let path: String
    private let sync: Sync
    private let condition = NSCondition()
    // Everything below is guarded by `condition`.
    /// fsyncs started so far; while one runs, it is number `started`.
    private var started: UInt64 = 0
    /// fsyncs finished so far; `started == completed` when none runs.
    private var completed: UInt64 = 0
    /// Callers of each batch that have not collected its result yet.
    private var waiting: [UInt64: Int] = [:]
    /// The number of the most recent fsync that failed, 0 if none did.
    /// Written under the lock, read without it.
    private let lastFailure = Atomic<UInt64>(0)
    /// The number of the most recent fsync that succeeded after the last
    /// failure. Written under the lock, read without it.
    private let lastSuccess = Atomic<UInt64>(0)
    /// The error of each failed batch, until all its callers collected it.
    private var failures: [UInt64: SystemCallError] = [:]

    /// - Parameter sync: the fsync itself (tests inject one); by default
    ///   `FileSystem.syncDirectory`.
    package init(path: String, sync: @escaping Sync = { path throws(SystemCallError) in try FileSystem.syncDirectory(path) }) {
        self.path = path
        self.sync = sync
    }

    /// The shared instance for `path`.
    package static func forDirectory(_ path: String) -> DirectorySync {
        registry.withLock { table in
            if let existing = table[path] { return existing }
            let made = DirectorySync(path: path)
            table[path] = made
            return made
        }
    }

    private static let registry = SleepingMutex<[String: DirectorySync]>([:])

    /// Returns once an fsync of the directory that started after this call
    /// began has completed; throws that fsync's error if it failed.
    package func syncAfterChange() throws(SystemCallError) {
        condition.lock()
        let batch = started + 1
        waiting[batch, default: 0] += 1
        while completed < batch {
            if started == completed {
                // None runs, so none started after our change yet: lead
                // one. Here started == batch - 1, so it is ours.
                started += 1
                let number = started
                condition.unlock()
                var failure: SystemCallError?
                do {
                    try sync(path)
                } catch {
                    failure = error
                }
                condition.lock()
                completed = number
                if let failure {
                    failures[number] = failure
                    lastFailure.store(number, ordering: .releasing)
                } else {
                    lastSuccess.store(number, ordering: .releasing)
                }
                condition.broadcast()
            } else {
                condition.wait()
            }
        }
        // Fsyncs finish in the order they start and `completed` steps by
        // one, so the fsync numbered `batch` is the one that covered us.
        let failure = failures[batch]
        if let left = waiting[batch], left > 1 {
            waiting[batch] = left - 1
        } else {
            waiting[batch] = nil
            failures[batch] = nil
        }
        condition.unlock()
        if let failure { throw failure }
    }

    /// The batch that covers a change made now: the number of the first
    /// fsync that has not started yet. Read it after the change.
    package var nextBatch: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return started + 1
    }

    /// Whether a change covered by `batch` is known durable: fsync number
    /// `batch` has completed and neither it nor any later one failed (after
    /// a failure nothing before it is trusted, conservatively).
    /// Lock-free.
    package func isDurable(_ batch: UInt64) -> Bool {
        lastFailure.load(ordering: .acquiring) < batch && lastSuccess.load(ordering: .acquiring) >= batch
    }

    /// Callers inside `syncAfterChange()` right now (for tests).
    package var pendingCallers: Int {
        condition.lock()
        defer { condition.unlock() }
        return waiting.values.reduce(0, +)
    }

    /// fsyncs completed so far (for tests and diagnostics).
    package var completedSyncs: UInt64 {
        condition.lock()
        defer { condition.unlock() }
        return completed
    }
}
