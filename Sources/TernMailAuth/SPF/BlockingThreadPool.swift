import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed set of threads of its own for blocking C calls (libspf2), so
/// that no event loop and no Swift concurrency thread ever blocks on them.
/// Jobs run in the order submitted, each on one of the threads.
final class BlockingThreadPool: Sendable {
    typealias Job = @Sendable () -> Void

    private let queue = JobQueue()

    /// Starts `count` threads (at least one) named `name-N`.
    init(count: Int, name: String) {
        for index in 0..<max(1, count) {
            let queue = self.queue
            let thread = Thread { queue.work() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Runs `job` on one of the pool's threads.
    func submit(_ job: @escaping Job) {
        queue.push(job)
    }

    /// Runs `body` on a pool thread and returns its value.
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            submit { continuation.resume(returning: body()) }
        }
    }

    /// Lets the threads finish the jobs already queued, then end.
    func shutdown() {
        queue.stop()
    }

    deinit { shutdown() }

    /// The jobs and the threads' loop; the threads own it, so it outlives
    /// the pool until they end.
    private final class JobQueue: @unchecked Sendable {
        private let condition = NSCondition()
        private var jobs: [Job] = []
        private var head = 0
        private var stopping = false

        func push(_ job: @escaping Job) {
            condition.lock()
            jobs.append(job)
            condition.signal()
            condition.unlock()
        }

        func stop() {
            condition.lock()
            stopping = true
            condition.broadcast()
            condition.unlock()
        }

        func work() {
            while true {
                condition.lock()
                while head == jobs.count && !stopping { condition.wait() }
                if head == jobs.count {
                    condition.unlock()
                    return
                }
                let job = jobs[head]
                head += 1
                if head > 64 && head * 2 > jobs.count {
                    jobs.removeFirst(head)
                    head = 0
                }
                condition.unlock()
                job()
            }
        }
    }
}
