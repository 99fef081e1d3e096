import Foundation
import Testing
@testable import TernSpool

@Suite("Retry schedule")
struct RetryScheduleTests {
    @Test("The delay starts at a minute and doubles up to an hour", arguments: [
        (1, 60), (2, 120), (3, 240), (4, 480), (5, 960), (6, 1920), (7, 3600), (8, 3600), (50, 3600), (5000, 3600),
    ])
    func baseDelay(attempts: Int, seconds: Int64) {
        #expect(RetrySchedule().baseDelay(afterAttempts: attempts) == .seconds(seconds))
    }

    @Test("Jitter only shortens the delay, by at most its fraction", arguments: [UInt64.min, 1 << 62, UInt64.max])
    func jitterBounds(word: UInt64) {
        var rng = FixedRandom(value: word)
        let schedule = RetrySchedule()
        for attempts in 1...10 {
            let base = schedule.baseDelay(afterAttempts: attempts)
            let d = schedule.delay(afterAttempts: attempts, using: &rng)
            #expect(d <= base)
            #expect(d >= base * 0.8 - .milliseconds(1))
        }
    }

    @Test("With the random source at zero there is no jitter at all")
    func zeroJitter() {
        var rng = FixedRandom(value: 0)
        #expect(RetrySchedule().delay(afterAttempts: 3, using: &rng) == .seconds(240))
    }

    static let ages: [(TimeInterval, Bool)] = [
        (0, false), (3600, false), (345_600, false), (431_999, false), (432_000, true), (777_600, true),
    ]

    @Test("A recipient is retried until the queue lifetime of five days ends, then given up", arguments: ages)
    func lifetime(age: Double, givesUp: Bool) {
        var rng = FixedRandom(value: 0)
        let arrived = Date(timeIntervalSince1970: 1_700_000_000)
        let now = arrived.addingTimeInterval(age)
        let decision = RetrySchedule().decide(afterAttempts: 4, arrivedAt: arrived, now: now, using: &rng)
        if givesUp {
            #expect(decision == .giveUp)
        } else {
            #expect(decision == .retry(at: now.addingTimeInterval(480)))
        }
    }

    @Test("The queue lifetime is configurable")
    func shortLifetime() {
        var rng = FixedRandom(value: 0)
        let schedule = RetrySchedule(queueLifetime: .seconds(600))
        let arrived = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(schedule.decide(afterAttempts: 1, arrivedAt: arrived, now: arrived.addingTimeInterval(601), using: &rng) == .giveUp)
    }
}
