import Foundation
import Testing
import TernSpool
@testable import TernDelivery

@Suite("Due queue")
struct DueQueueTests {
    let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    @Test("IDs come out in order of their times, and only once due")
    func order() {
        var queue = DueQueue()
        let ids = (0..<50).map { _ in QueueID.generate() }
        for (i, id) in ids.enumerated().reversed() { queue.schedule(id, at: t0.addingTimeInterval(Double(i))) }
        #expect(queue.popDue(now: t0.addingTimeInterval(-1)) == nil)
        var out: [QueueID] = []
        while let id = queue.popDue(now: t0.addingTimeInterval(100)) { out.append(id) }
        #expect(out == ids)
        #expect(queue.count == 0)
        #expect(queue.nextTime() == nil)
    }

    @Test("Scheduling an ID again only ever moves it earlier")
    func earlierWins() {
        var queue = DueQueue()
        let id = QueueID.generate()
        queue.schedule(id, at: t0.addingTimeInterval(60))
        queue.schedule(id, at: t0.addingTimeInterval(120))
        #expect(queue.time(of: id) == t0.addingTimeInterval(60))
        queue.schedule(id, at: t0)
        #expect(queue.count == 1)
        #expect(queue.nextTime() == t0)
        #expect(queue.popDue(now: t0) == id)
        #expect(queue.popDue(now: t0.addingTimeInterval(1000)) == nil)
    }
}
