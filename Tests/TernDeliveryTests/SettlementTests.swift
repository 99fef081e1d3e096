import Foundation
import Testing
import TernSMTP
import TernSpool
@testable import TernDelivery

/// A random source that always returns the same word.
struct FixedRandom: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

@Suite("Settling an attempt into recipient states")
struct SettlementTests {
    static let now = Date(timeIntervalSince1970: 1_763_904_240)
    static let temp = SpoolReply(code: 452, enhancedStatus: "4.2.2", text: "mailbox full")
    static let perm = SpoolReply(code: 550, enhancedStatus: "5.1.1", text: "user unknown")
    static let alice = RouteDestination.local(user: "alice@example.com", deliveredTo: Sample.mailbox("team@example.com"))
    static let bob = RouteDestination.local(user: "bob@example.com", deliveredTo: Sample.mailbox("team@example.com"))

    func entry(sender: String? = "sender@example.org", arrived: Date = now) -> SpoolEntry {
        SpoolEntry(id: QueueID.generate(), envelope: Sample.envelope(["team@example.com"], sender: sender),
                   origin: Sample.origin, arrivedAt: arrived, messageSize: 10)
    }

    func settle(_ outcomes: [(RouteDestination?, DeliveryOutcome)], entry start: SpoolEntry,
                schedule: RetrySchedule = RetrySchedule()) -> (SpoolEntry, Set<Int>) {
        var entry = start
        var rng = FixedRandom(value: 0)
        let results = outcomes.map { DestinationResult(recipientIndex: 0, destination: $0.0, outcome: $0.1) }
        let parked = Settlement.apply(results, attempted: [0], to: &entry, now: Self.now, schedule: schedule, using: &rng)
        return (entry, parked)
    }

    @Test("All destinations delivered: delivered, and the entry is complete")
    func delivered() {
        let (entry, parked) = settle([(Self.alice, .delivered(detail: "a")), (Self.bob, .delivered(detail: "b"))],
                                     entry: entry())
        #expect(entry.recipients[0].state == .delivered(at: Self.now, detail: "a; b"))
        #expect(entry.recipients[0].completedDestinations == ["local:alice@example.com", "local:bob@example.com"])
        #expect(entry.isComplete)
        #expect(parked.isEmpty)
        #expect(entry.history.count == 2)
    }

    @Test("A temporary failure defers with the first retry a minute away, keeping what was reached")
    func deferred() {
        let (entry, _) = settle([(Self.alice, .delivered(detail: "a")), (Self.bob, .temporaryFailure(Self.temp))],
                                entry: entry())
        #expect(entry.recipients[0].state == .deferred(attempts: 1, lastError: Self.temp,
                                                        nextAttempt: Self.now.addingTimeInterval(60)))
        #expect(entry.recipients[0].completedDestinations == ["local:alice@example.com"])
        #expect(Settlement.nextDue(entry, now: Self.now, notAttemptedInterval: .seconds(3600))
            == Self.now.addingTimeInterval(60))
    }

    @Test("Attempts count up and the delay doubles")
    func secondDeferral() {
        var start = entry()
        start.recipients[0].state = .deferred(attempts: 2, lastError: Self.temp, nextAttempt: Self.now)
        let (entry, _) = settle([(Self.bob, .temporaryFailure(Self.temp))], entry: start)
        #expect(entry.recipients[0].state == .deferred(attempts: 3, lastError: Self.temp,
                                                        nextAttempt: Self.now.addingTimeInterval(240)))
    }

    @Test("A temporary failure after the queue lifetime fails with 5.4.7 and a bounce owed")
    func expired() {
        let start = entry(arrived: Self.now.addingTimeInterval(-6 * 86400))
        let (entry, _) = settle([(Self.bob, .temporaryFailure(Self.temp))], entry: start)
        guard case .failed(let reply, let at, let bounce) = entry.recipients[0].state else {
            Issue.record("expected failed, got \(entry.recipients[0].state)")
            return
        }
        #expect(reply.code == 554)
        #expect(reply.enhancedStatus == "5.4.7")
        #expect(reply.text.contains("5d"))
        #expect(reply.text.contains("mailbox full"))
        #expect(at == Self.now)
        #expect(bounce == .owed)
        #expect(!entry.isComplete)
        // The bounce is owed: due at once for the bounce stage.
        #expect(Settlement.nextDue(entry, now: Self.now, notAttemptedInterval: .seconds(3600)) == Self.now)
    }

    @Test("Expiry keeps the remote MTA of the last error, for the bounce's Remote-MTA")
    func expiredKeepsRemoteMTA() {
        let start = entry(arrived: Self.now.addingTimeInterval(-6 * 86400))
        var temp = Self.temp
        temp.remoteMTA = "mx1.example.net"
        let (entry, _) = settle([(Self.bob, .temporaryFailure(temp))], entry: start)
        guard case .failed(let reply, _, _) = entry.recipients[0].state else {
            Issue.record("expected failed, got \(entry.recipients[0].state)")
            return
        }
        #expect(reply.enhancedStatus == "5.4.7")
        #expect(reply.remoteMTA == "mx1.example.net")
    }

    @Test("A permanent failure fails the recipient with a bounce owed, or none for a null sender",
          arguments: [(String?.some("sender@example.org"), BounceStatus.owed), (String?.none, .notOwed)])
    func permanent(sender: String?, bounce: BounceStatus) {
        let (entry, _) = settle([(nil, .permanentFailure(Self.perm))], entry: entry(sender: sender))
        #expect(entry.recipients[0].state == .failed(reply: Self.perm, at: Self.now, bounce: bounce))
        #expect(entry.isComplete == (bounce != .owed))
    }

    @Test("NOTIFY without FAILURE owes no bounce (RFC 3461 §4.1)")
    func notifyNever() {
        var envelope = Sample.envelope(["team@example.com"])
        envelope.recipients[0].notify = .never
        let start = SpoolEntry(id: QueueID.generate(), envelope: envelope, origin: Sample.origin, arrivedAt: Self.now,
                               messageSize: 10)
        let (entry, _) = settle([(nil, .permanentFailure(Self.perm))], entry: start)
        #expect(entry.recipients[0].state == .failed(reply: Self.perm, at: Self.now, bounce: .notOwed))
    }

    @Test("Temporary beats not-attempted beats permanent beats delivered", arguments: [
        ([DeliveryOutcome.permanentFailure(perm), .temporaryFailure(temp)], "deferred"),
        ([.notAttempted(reason: "x"), .permanentFailure(perm)], "pending"),
        ([.delivered(detail: "d"), .permanentFailure(perm)], "failed"),
        ([.delivered(detail: "d"), .notAttempted(reason: "x")], "pending"),
    ])
    func precedence(outcomes: [DeliveryOutcome], status: String) {
        let destinations = [Self.alice, Self.bob]
        let (entry, _) = settle(zip(destinations, outcomes).map { ($0, $1) }, entry: entry())
        let actual: String
        switch entry.recipients[0].state {
        case .pending: actual = "pending"
        case .deferred: actual = "deferred"
        case .failed: actual = "failed"
        case .delivered: actual = "delivered"
        }
        #expect(actual == status)
    }

    @Test("A recipient that could not be attempted stays pending, counts nothing, and is looked at in an hour")
    func notAttempted() {
        let (entry, parked) = settle([(.remote(Sample.mailbox("x@example.org")),
                                       .notAttempted(reason: UnconfiguredRemoteTransport.reason))], entry: entry())
        #expect(entry.recipients[0].state == .pending)
        #expect(parked == [0])
        #expect(entry.history.last?.result == .notAttempted)
        #expect(Settlement.nextDue(entry, parked: parked, now: Self.now, notAttemptedInterval: .seconds(3600))
            == Self.now.addingTimeInterval(3600))
        // After a restart nothing is parked: it is looked at again at once.
        #expect(Settlement.nextDue(entry, now: Self.now, notAttemptedInterval: .seconds(3600)) == Self.now)
    }

    @Test("Held entries are never due")
    func held() {
        var e = entry()
        e.held = true
        #expect(Settlement.nextDue(e, now: Self.now, notAttemptedInterval: .seconds(3600)) == nil)
    }

    @Test("The queue lifetime is described in its largest whole unit", arguments: [
        (Duration.seconds(5 * 86400), "5d"), (.seconds(36 * 3600), "36h"), (.seconds(90 * 60), "90m"), (.seconds(45), "45s"),
    ])
    func describe(lifetime: Duration, text: String) {
        #expect(Settlement.describe(lifetime) == text)
    }
}
