import Foundation
import Synchronization
import Testing
@testable import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// A fake fsync for `DirectorySync`: a logical clock stamps every change a
/// caller makes and the start and end of every fsync, and chosen fsyncs
/// can be held at a gate or made to fail.
final class FakeDirectory: Sendable {
    struct Sync: Hashable {
        var number: Int
        var started: Int
        var ended: Int?
    }

    struct State {
        var clock = 0
        var syncs: [Sync] = []
        var gates: [Int: DispatchSemaphore] = [:]
        var failing: Set<Int> = []
    }

    let state = Mutex(State())

    /// Stamps a change (a rename) and returns its time.
    func change() -> Int {
        state.withLock { s in
            s.clock += 1
            return s.clock
        }
    }

    /// The next tick of the clock, without a change.
    func now() -> Int { change() }

    /// Fsync number `n` (from 1) waits at a gate until `release(n)`.
    func hold(_ n: Int) {
        state.withLock { $0.gates[n] = DispatchSemaphore(value: 0) }
    }

    func release(_ n: Int) {
        state.withLock { $0.gates[n] }?.signal()
    }

    /// Fsync number `n` fails with EIO.
    func fail(_ n: Int) {
        _ = state.withLock { $0.failing.insert(n) }
    }

    var syncs: [Sync] { state.withLock { $0.syncs } }

    var sync: DirectorySync.Sync {
        { [self] path throws(SystemCallError) in
            let (number, gate) = state.withLock { s -> (Int, DispatchSemaphore?) in
                s.clock += 1
                let n = s.syncs.count + 1
                s.syncs.append(Sync(number: n, started: s.clock))
                return (n, s.gates[n])
            }
            gate?.wait()
            let fails = state.withLock { s -> Bool in
                s.clock += 1
                s.syncs[number - 1].ended = s.clock
                return s.failing.contains(number)
            }
            if fails { throw SystemCallError("fsync", path: path, errno: EIO) }
        }
    }
}

/// A value behind a lock that escaping closures can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        mutex.withLock { body(&$0) }
    }
}

/// Runs `body` on a new thread (not the cooperative pool: it blocks).
func onThread(_ body: @escaping @Sendable () -> Void) {
    Thread.detachNewThread(body)
}

/// Polls `condition` until it holds or 10 s pass.
func eventually(_ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(10)
    while !condition() {
        if Date() > deadline { return false }
        usleep(1000)
    }
    return true
}

@Suite("Directory fsync group commit", .timeLimit(.minutes(1)))
struct DirectorySyncTests {
    @Test("A lone caller gets one fsync of its own")
    func lone() throws {
        let fake = FakeDirectory()
        let sync = DirectorySync(path: "/d", sync: fake.sync)
        try sync.syncAfterChange()
        try sync.syncAfterChange()
        #expect(fake.syncs.count == 2)
        #expect(sync.completedSyncs == 2)
    }

    @Test("A change made after an fsync started is not covered by it: the caller waits for the next fsync")
    func startedBeforeDoesNotCover() throws {
        let fake = FakeDirectory()
        let sync = DirectorySync(path: "/d", sync: fake.sync)
        fake.hold(1)
        fake.hold(2)
        let returned = Locked<[String: Int]>([:])
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        onThread {
            _ = fake.change()
            try? sync.syncAfterChange()
            returned.withLock { $0["a"] = fake.now() }
            first.signal()
        }
        #expect(eventually { fake.syncs.count == 1 })  // fsync 1 runs, held
        let changedAt = fake.change()  // B renames while fsync 1 runs
        onThread {
            try? sync.syncAfterChange()
            returned.withLock { $0["b"] = fake.now() }
            second.signal()
        }
        #expect(eventually { sync.pendingCallers == 2 })
        fake.release(1)
        first.wait()
        // A is done; B must not be: fsync 1 started before its change.
        #expect(eventually { fake.syncs.count == 2 })  // B leads fsync 2, held
        #expect(returned.withLock { $0["b"] } == nil)
        let syncs = fake.syncs
        #expect(syncs[1].started > changedAt)
        #expect(syncs[0].started < changedAt)
        fake.release(2)
        second.wait()
        let b = try #require(returned.withLock { $0["b"] })
        #expect(b > (try #require(fake.syncs[1].ended)))
    }

    @Test("Callers that arrive while an fsync runs share the next one, and its error reaches each of them")
    func batchError() throws {
        let fake = FakeDirectory()
        let sync = DirectorySync(path: "/d", sync: fake.sync)
        fake.hold(1)
        fake.fail(2)
        let results = Locked<[String: Int32]>([:])  // 0 = success, else errno
        let done = DispatchSemaphore(value: 0)
        func call(_ name: String) {
            onThread {
                let result: Int32
                do throws(SystemCallError) {
                    try sync.syncAfterChange()
                    result = 0
                } catch {
                    result = error.errno
                }
                results.withLock { $0[name] = result }
                done.signal()
            }
        }
        call("leader")
        #expect(eventually { fake.syncs.count == 1 })
        let batch = (0..<8).map { "waiter\($0)" }
        for name in batch { call(name) }
        #expect(eventually { sync.pendingCallers == 9 })
        fake.release(1)
        for _ in 0..<9 { done.wait() }
        #expect(fake.syncs.count == 2)  // the eight shared one fsync
        let got = results.withLock { $0 }
        #expect(got["leader"] == 0)
        for name in batch { #expect(got[name] == EIO, "\(name)") }
        // The next batch is not blamed for an earlier one's failure.
        try sync.syncAfterChange()
        #expect(fake.syncs.count == 3)
        #expect(sync.pendingCallers == 0)
    }

    @Test("Under many threads every caller returns only after an fsync that started after its change ended, and fsyncs are shared")
    func manyThreads() throws {
        let fake = FakeDirectory()
        let sync = DirectorySync(path: "/d", sync: { path throws(SystemCallError) in
            try fake.sync(path)
            usleep(200)  // a little like a disk
        })
        let threads = 32
        let calls = 100
        let violations = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        for t in 0..<threads {
            onThread {
                for c in 0..<calls {
                    let changedAt = fake.change()
                    do {
                        try sync.syncAfterChange()
                    } catch {
                        violations.withLock { $0.append("\(t)/\(c): \(error)") }
                    }
                    let returnedAt = fake.now()
                    let covered = fake.syncs.contains { s in
                        s.started > changedAt && (s.ended.map { $0 < returnedAt } ?? false)
                    }
                    if !covered { violations.withLock { $0.append("\(t)/\(c) not covered") } }
                }
                done.signal()
            }
        }
        for _ in 0..<threads { done.wait() }
        #expect(violations.withLock { $0 }.isEmpty)
        let syncs = fake.syncs
        #expect(syncs.count < threads * calls)
        // One at a time, in order.
        for (a, b) in zip(syncs, syncs.dropFirst()) {
            #expect((a.ended ?? .max) < b.started)
        }
        #expect(sync.pendingCallers == 0)
    }

    @Test("The real fsync works on a real directory and fails for a missing one")
    func real() throws {
        let dir = try TemporaryDirectory()
        let sync = DirectorySync.forDirectory(dir.path)
        #expect(DirectorySync.forDirectory(dir.path) === sync)
        try sync.syncAfterChange()
        #expect(throws: SystemCallError.self) { try DirectorySync.forDirectory(dir.path + "/missing").syncAfterChange() }
    }
}
