import Foundation
import TernSpool

/// The settings of local delivery and the scheduler. Every default is the
/// one a single host needs and matches etc/tern.toml.
public struct DeliveryConfiguration: Hashable, Sendable {
    /// Where local users' Maildirs are (`[mailbox] maildir`).
    /// Default: `/var/mail/{domain}/{user}/Maildir`.
    public var maildirTemplate: MailboxPathTemplate
    /// This host's name, used in Maildir file names and in bounces
    /// (`MAILER-DAEMON@hostname`, `Reporting-MTA:`) (`hostname`).
    /// Default: the system's host name (gethostname(2)).
    public var hostname: String
    /// How many messages are delivered at once; also the number of threads
    /// the scheduler's own thread pool gets for blocking file work.
    /// Default: 20, as Postfix's `default_destination_concurrency_limit`:
    /// with fewer, local delivery fell behind accepting under load (the
    /// threads mostly wait for fsync), and with more the threads only
    /// queued on the same directories.
    public var concurrency: Int
    /// How many messages may wait on remote delivery at once, on top of
    /// `concurrency` (the remote engine limits each destination to 20
    /// connections itself). Default: 200.
    public var remoteConcurrency: Int = 200
    /// Backoff after temporary failures and the queue lifetime.
    /// Default: `RetrySchedule()` — 1 min doubling to 1 h, 20 % jitter, 5 days.
    public var retrySchedule: RetrySchedule
    /// How soon a recipient that could not be attempted at all (remote
    /// delivery not configured) is looked at again. Nothing is counted or
    /// expired by these looks. Default: 1 hour.
    public var notAttemptedInterval: Duration
    /// How soon a message whose record could not be read or written
    /// (an I/O error in the spool) is tried again. Default: 1 minute.
    public var spoolErrorInterval: Duration
    /// How long after arrival a message with recipients still being
    /// retried earns its sender one delay notice (RFC 3464 DSN with
    /// `Action: delayed`), for recipients whose NOTIFY allows it
    /// (`[delivery] delay_warning`). nil turns delay notices off
    /// (`delay_warning = "0"`). Default: 4 hours.
    public var delayWarning: Duration?
    /// A failure notice returns the whole original message (unless the
    /// sender asked for headers only, RET=HDRS) when it is at most this
    /// many bytes; a larger one is returned as its headers only, and the
    /// notice says so. Default: 256 KiB.
    public var returnedMessageLimit: Int
    /// Signs the notices this host writes (DKIM): returns header fields to
    /// put in front of a notice, or nothing. Default: nil (unsigned).
    public var noticeSigner: NoticeSigner?

    /// How long a message may stay queued (`[delivery] queue_lifetime`);
    /// the same value as `retrySchedule.queueLifetime`. Default: 5 days.
    public var queueLifetime: Duration {
        get { retrySchedule.queueLifetime }
        set { retrySchedule.queueLifetime = newValue }
    }

    public init(maildirTemplate: MailboxPathTemplate = .default,
                hostname: String = DeliveryConfiguration.systemHostname(),
                concurrency: Int = 20,
                retrySchedule: RetrySchedule = RetrySchedule(),
                notAttemptedInterval: Duration = .seconds(3600),
                spoolErrorInterval: Duration = .seconds(60),
                delayWarning: Duration? = .seconds(4 * 3600),
                returnedMessageLimit: Int = 256 * 1024) {
        self.maildirTemplate = maildirTemplate
        self.hostname = hostname
        self.concurrency = max(1, concurrency)
        self.retrySchedule = retrySchedule
        self.notAttemptedInterval = notAttemptedInterval
        self.spoolErrorInterval = spoolErrorInterval
        self.delayWarning = delayWarning.flatMap { $0 > .zero ? $0 : nil }
        self.returnedMessageLimit = max(0, returnedMessageLimit)
    }

    /// gethostname(2), or `localhost` if it fails.
    public static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// A function that signs a message Tern wrote itself (a bounce or delay
/// notice), kept in `DeliveryConfiguration`; equal only to itself.
public struct NoticeSigner: Hashable, Sendable {
    private let token: Token
    /// The header fields to put in front of `message` (CRLF), or none.
    public let fields: @Sendable (_ message: [UInt8]) -> [UInt8]

    public init(_ fields: @escaping @Sendable (_ message: [UInt8]) -> [UInt8]) {
        let token = Token()
        self.token = token
        self.fields = fields
    }

    private final class Token: Sendable {}

    public static func == (a: NoticeSigner, b: NoticeSigner) -> Bool { a.token === b.token }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(token)) }
}
