import Foundation

/// A value behind a plain pthread mutex: a thread that finds it taken
/// sleeps in the kernel at once.
///
/// `Synchronization.Mutex` spins before it sleeps. For the spool's small,
/// hot locks — taken by some fifty pool threads on a two-core machine,
/// where the holder is often preempted — that spinning showed up as ~3 % of
/// CPU (`_MutexHandle.lockSlow`); sleeping costs less there.
package final class SleepingMutex<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
