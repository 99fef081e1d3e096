import Foundation
import TernSMTP
import TernSpool

/// What one delivery status notification (RFC 3464) says: the values
/// `DSNMessage.build` renders, free of spool and clock, so that the same
/// report always gives the same bytes.
public struct DeliveryReport: Hashable, Sendable {
    /// A bounce or a delay notice; decides the subject, the wording and
    /// how much of the original is returned.
    public enum Kind: Hashable, Sendable {
        /// Delivery failed for good (`Action: failed`).
        case failure
        /// Delivery is still being retried (`Action: delayed`).
        case delay
    }

    public var kind: Kind
    /// This host's name: `MAILER-DAEMON@hostname`, `Reporting-MTA: dns; hostname`
    /// (RFC 3464 §2.2.2) and the right-hand side of the Message-ID.
    public var hostname: String
    /// The original envelope sender, to whom the notice goes (`To:`).
    public var sender: Mailbox
    /// The original ENVID, decoded (RFC 3461 §4.4); written xtext-encoded
    /// as `Original-Envelope-Id:` (RFC 3464 §2.2.1).
    public var envelopeID: String?
    /// When this host accepted the original (`Arrival-Date:`, RFC 3464 §2.2.5).
    public var arrivalDate: Date
    /// The original's queue ID, named in the text and in `X-Tern-Queue-ID:`.
    public var queueID: String?
    /// The recipients reported on, in envelope order; at least one.
    public var recipients: [Recipient]
    /// Use the RFC 6533 types (message/global…, `utf-8;` addresses) and
    /// UTF-8 in headers: the original came with SMTPUTF8, or the notice
    /// goes to a UTF-8 address.
    public var international: Bool
    /// The notice's own `Date:`.
    public var date: Date
    /// The notice's own `Message-ID:`, with its angle brackets.
    public var messageID: String
    /// The multipart boundary (without the leading dashes). If the
    /// returned original happens to contain it, a suffix is added.
    public var boundary: String

    public init(kind: Kind, hostname: String, sender: Mailbox, envelopeID: String? = nil, arrivalDate: Date,
                queueID: String? = nil, recipients: [Recipient], international: Bool = false, date: Date,
                messageID: String, boundary: String) {
        self.kind = kind
        self.hostname = hostname
        self.sender = sender
        self.envelopeID = envelopeID
        self.arrivalDate = arrivalDate
        self.queueID = queueID
        self.recipients = recipients
        self.international = international
        self.date = date
        self.messageID = messageID
        self.boundary = boundary
    }

    /// One recipient's block in the report (RFC 3464 §2.3).
    public struct Recipient: Hashable, Sendable {
        /// `Action:` (RFC 3464 §2.3.3); Tern reports only these two.
        public enum Action: String, Hashable, Sendable {
            case failed
            case delayed
        }

        /// The envelope recipient: `Final-Recipient:` (§2.3.2).
        public var mailbox: Mailbox
        /// ORCPT as given at RCPT: `Original-Recipient:` (§2.3.1).
        public var originalRecipient: OriginalRecipient?
        public var action: Action
        /// `Status:`, `class.subject.detail` (§2.3.4, RFC 3463); its class
        /// is made to agree with the action (5 for failed, 4 for delayed).
        public var status: String
        /// The server that answered, when there was one: `Remote-MTA: dns; …` (§2.3.5).
        public var remoteMTA: String?
        /// The reply that decided it: `Diagnostic-Code: smtp; …` (§2.3.6).
        public var diagnostic: SpoolReply?
        /// `Last-Attempt-Date:` (§2.3.7).
        public var lastAttempt: Date?
        /// `Will-Retry-Until:` (§2.3.8), for delayed recipients.
        public var willRetryUntil: Date?

        public init(mailbox: Mailbox, originalRecipient: OriginalRecipient? = nil, action: Action, status: String,
                    remoteMTA: String? = nil, diagnostic: SpoolReply? = nil, lastAttempt: Date? = nil,
                    willRetryUntil: Date? = nil) {
            self.mailbox = mailbox
            self.originalRecipient = originalRecipient
            self.action = action
            self.status = status
            self.remoteMTA = remoteMTA
            self.diagnostic = diagnostic
            self.lastAttempt = lastAttempt
            self.willRetryUntil = willRetryUntil
        }

        /// `status` if it is a well-formed RFC 3463 code whose class agrees
        /// with the action, else the same code with the right class, else
        /// the action's "other or undefined" code (5.0.0 / 4.0.0).
        public var reportedStatus: String {
            let wanted = action == .failed ? "5" : "4"
            let parts = status.split(separator: ".", omittingEmptySubsequences: false)
            let wellFormed = parts.count == 3
                && parts[0].count == 1 && ["2", "4", "5"].contains(parts[0])
                && (1...3).contains(parts[1].count) && (1...3).contains(parts[2].count)
                && parts[1...].allSatisfy { $0.allSatisfy { $0.isASCII && $0.isNumber } }
            guard wellFormed else { return "\(wanted).0.0" }
            return "\(wanted).\(parts[1]).\(parts[2])"
        }
    }
}
