import Foundation
import TernSMTP
import TernSpool

/// What the scheduler reports as it works, for tests and metrics. Given to
/// the `onEvent` closure of `DeliveryScheduler`, from any thread.
public enum DeliveryEvent: Hashable, Sendable {
    /// Startup recovery finished; `entries` committed messages were found.
    case recovered(entries: Int)
    /// One destination of one recipient was tried (one log line).
    case attempted(QueueID, recipient: Mailbox, destination: RouteDestination?, outcome: DeliveryOutcome)
    /// An attempt on a message is over and its record is written.
    /// `completed`: the entry left the spool. `nextAttempt`: when the
    /// scheduler will look at it again (nil: not until something enqueues it).
    case processed(QueueID, completed: Bool, nextAttempt: Date?)
    /// The run loop returned after in-flight deliveries finished.
    case stopped
}
