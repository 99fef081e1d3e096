import Foundation
import TernSpool

/// The scheduler's memory: which queue IDs are due when. IDs and times
/// only — STYLE: the scheduler touches no message bytes.
///
/// A binary min-heap of (time, ID) with a dictionary of each ID's current
/// time; scheduling an ID again only ever moves it earlier, and the heap
/// drops outdated pairs lazily as they come to the top.
struct DueQueue: Sendable {
    private var heap: [(at: Date, id: QueueID)] = []
    private var times: [QueueID: Date] = [:]

    /// IDs waiting, each counted once.
    var count: Int { times.count }

    func time(of id: QueueID) -> Date? { times[id] }

    /// Makes `id` due at `at`, or earlier if it already was.
    mutating func schedule(_ id: QueueID, at: Date) {
        if let current = times[id], current <= at { return }
        times[id] = at
        heap.append((at, id))
        siftUp(heap.count - 1)
    }

    /// Takes `id` out; returns when it was due. Its heap pair becomes
    /// outdated and is dropped when it comes to the top.
    mutating func remove(_ id: QueueID) -> Date? {
        times.removeValue(forKey: id)
    }

    /// When the earliest ID is due.
    mutating func nextTime() -> Date? {
        dropOutdated()
        return heap.first?.at
    }

    /// Takes the earliest ID if it is due at `now`.
    mutating func popDue(now: Date) -> QueueID? {
        dropOutdated()
        guard let top = heap.first, top.at <= now else { return nil }
        removeTop()
        times[top.id] = nil
        return top.id
    }

    private mutating func dropOutdated() {
        while let top = heap.first, times[top.id] != top.at {
            removeTop()
        }
    }

    private mutating func removeTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
    }

    private func before(_ a: Int, _ b: Int) -> Bool {
        heap[a].at < heap[b].at || (heap[a].at == heap[b].at && heap[a].id < heap[b].id)
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < heap.count && before(left, first) { first = left }
            if right < heap.count && before(right, first) { first = right }
            if first == parent { return }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}
