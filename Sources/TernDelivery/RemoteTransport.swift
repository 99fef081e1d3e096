import TernSMTP
import TernSpool

/// Delivers a spooled message to remote recipients (MX lookup, SMTP with
/// STARTTLS, MTA-STS, DANE, or a relay host — a later part of TernDelivery).
///
/// The scheduler calls it once per message attempt with every recipient
/// that routed to a remote destination and is due, and records one outcome
/// per recipient. The transport reads the message through the spool it was
/// built with (`Spool.openMessage(entry.id)`); the scheduler never does.
public protocol RemoteTransport: Sendable {
    /// Returns one outcome per recipient, in the same order. A missing
    /// outcome is taken as a temporary failure.
    func deliver(_ entry: SpoolEntry, to recipients: [Mailbox]) async -> [DeliveryOutcome]
}

/// The transport until the remote engine exists: it tries nothing and says
/// so with `.notAttempted`, which the scheduler records in the attempt
/// history without changing the recipient's state or counting an attempt.
/// Remote recipients therefore stay `pending` in the spool — safely, for as
/// long as it takes, since `.notAttempted` never runs out the queue
/// lifetime — and are delivered by the real engine once it is configured
/// and the scheduler restarts or looks again
/// (`DeliveryConfiguration.notAttemptedInterval`).
public struct UnconfiguredRemoteTransport: RemoteTransport {
    public static let reason = "remote delivery not configured yet"

    public init() {}

    public func deliver(_ entry: SpoolEntry, to recipients: [Mailbox]) async -> [DeliveryOutcome] {
        recipients.map { _ in .notAttempted(reason: UnconfiguredRemoteTransport.reason) }
    }
}
