import Foundation
import Synchronization

/// Wakes the scheduler's loop when something changed (a message was
/// enqueued, a delivery finished, shutdown began). Level-triggered: a
/// signal given while nobody waits is kept until the next wait, and the
/// loop re-reads its state after every wake, so no signal is ever lost.
/// One waiter at a time.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next signal, at `deadline`, or when the task is cancelled.
    func wait(until deadline: Date?) async {
        if let deadline {
            let seconds = deadline.timeIntervalSinceNow
            guard seconds > 0 else { return }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.wait() }
                group.addTask { try? await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up)))) }
                await group.next()
                group.cancelAll()
            }
        } else {
            await wait()
        }
    }

    private func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume()
        }
    }
}
