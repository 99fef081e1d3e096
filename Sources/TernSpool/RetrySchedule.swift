import Foundation

/// When to try a temporarily failed recipient again, and when to give up.
///
/// RFC 5321 §4.5.4.1: "the retry interval SHOULD be at least 30 minutes"
/// for a remote server and "give-up time generally needs to be at least
/// 4-5 days". Local delivery fails for local reasons (a full disk, a
/// mailbox over quota) that an administrator fixes in minutes, so the
/// defaults start at one minute and double up to one hour; the remote
/// engine may use its own schedule. The delay is shortened by a random
/// fraction (`jitter`) so that messages deferred together do not all come
/// back in the same second.
///
/// Pure: the clock and the random source are parameters.
public struct RetrySchedule: Hashable, Sendable {
    /// Delay after the first failed attempt. Default: 60 seconds.
    public var initialDelay: Duration
    /// Each further failure multiplies the delay by this. Default: 2.
    public var multiplier: Double
    /// The delay never exceeds this. Default: one hour.
    public var maximumDelay: Duration
    /// Each delay is shortened by up to this fraction of itself, chosen at
    /// random; 0 turns jitter off. Default: 0.2.
    public var jitter: Double
    /// How long a message may stay in the queue: a recipient still failing
    /// temporarily after this long (counted from arrival) fails for good
    /// with 5.4.7 (RFC 3463 "delivery time expired"). Default: 5 days, as
    /// `queue_lifetime = "5d"` in tern.toml.
    public var queueLifetime: Duration

    public init(initialDelay: Duration = .seconds(60), multiplier: Double = 2,
                maximumDelay: Duration = .seconds(3600), jitter: Double = 0.2,
                queueLifetime: Duration = .seconds(5 * 24 * 3600)) {
        self.initialDelay = initialDelay
        self.multiplier = multiplier
        self.maximumDelay = maximumDelay
        self.jitter = jitter
        self.queueLifetime = queueLifetime
    }

    /// The delay without jitter after `attempts` failed attempts (1 or more):
    /// `initialDelay × multiplierᵃᵗᵗᵉᵐᵖᵗˢ⁻¹`, at most `maximumDelay`.
    public func baseDelay(afterAttempts attempts: Int) -> Duration {
        let initial = RetrySchedule.seconds(initialDelay)
        let maximum = RetrySchedule.seconds(maximumDelay)
        let exponent = Double(max(0, attempts - 1))
        let raw = initial * pow(max(1, multiplier), exponent)
        return .milliseconds(Int64((min(raw.isFinite ? raw : maximum, maximum) * 1000).rounded()))
    }

    /// The delay after `attempts` failed attempts, with jitter drawn from `rng`.
    public func delay(afterAttempts attempts: Int, using rng: inout some RandomNumberGenerator) -> Duration {
        let base = RetrySchedule.seconds(baseDelay(afterAttempts: attempts))
        let fraction = min(max(jitter, 0), 1)
        let cut = fraction > 0 ? Double.random(in: 0..<fraction, using: &rng) : 0
        return .milliseconds(Int64((base * (1 - cut) * 1000).rounded()))
    }

    /// What to do after a temporary failure.
    public enum Decision: Hashable, Sendable {
        /// Try again at this time.
        case retry(at: Date)
        /// The queue lifetime is over: fail the recipient.
        case giveUp
    }

    /// Decides after the `attempts`-th failed attempt (counting this one) of
    /// a message that arrived at `arrivedAt`.
    public func decide(afterAttempts attempts: Int, arrivedAt: Date, now: Date,
                       using rng: inout some RandomNumberGenerator) -> Decision {
        if hasExpired(arrivedAt: arrivedAt, now: now) { return .giveUp }
        let wait = RetrySchedule.seconds(delay(afterAttempts: attempts, using: &rng))
        return .retry(at: now.addingTimeInterval(wait))
    }

    /// As `decide(afterAttempts:arrivedAt:now:using:)` with the system's random source.
    public func decide(afterAttempts attempts: Int, arrivedAt: Date, now: Date) -> Decision {
        var rng = SystemRandomNumberGenerator()
        return decide(afterAttempts: attempts, arrivedAt: arrivedAt, now: now, using: &rng)
    }

    /// True once the message has been queued for `queueLifetime` or longer.
    public func hasExpired(arrivedAt: Date, now: Date) -> Bool {
        now.timeIntervalSince(arrivedAt) >= RetrySchedule.seconds(queueLifetime)
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
