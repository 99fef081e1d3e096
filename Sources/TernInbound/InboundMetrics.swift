import CoreMetrics
import TernSMTP

/// One listener's counters in swift-metrics, for the Prometheus endpoint.
/// Every series carries `listener` = the listener's role (`mx`,
/// `submission`, `submissions`):
///
/// - `tern_connections_total`: connections accepted by the socket.
/// - `tern_connections_refused_total{reason}`: of those, closed at once by
///   the connection limits (`too_many`, `too_many_from_address`).
/// - `tern_tls_handshakes_total{version}`: TLS sessions established
///   (STARTTLS or implicit TLS), by protocol version (`TLSv1.3`, `TLSv1.2`).
/// - `tern_auth_failures_total`: AUTH attempts refused for bad credentials
///   (each one, before the per-address limit cuts the client off).
/// - `tern_messages_accepted_total`: messages stored and answered `250`.
/// - `tern_messages_rejected_total{reason}`: refusals of mail, one per
///   sender, recipient or message refused — see `RejectionReason`.
public struct InboundMetrics: Sendable {
    /// Why a sender, a recipient or a message was refused: the `reason`
    /// label of `tern_messages_rejected_total`.
    public enum RejectionReason: String, Sendable, CaseIterable {
        /// RCPT: no such user or alias (5.1.1).
        case unknownRecipient = "unknown_recipient"
        /// RCPT: not a local domain and the client is not authenticated (5.7.1).
        case relayDenied = "relay_denied"
        /// RCPT: the recipient could not be checked now (4yz).
        case recipientUnavailable = "recipient_unavailable"
        /// RCPT: past `[limits] recipients` (4.5.3).
        case tooManyRecipients = "too_many_recipients"
        /// MAIL: refused by the policy, e.g. a sender the authenticated user does not own.
        case sender
        /// MAIL with SIZE, or the data: past `[limits] message_size` (5.3.4).
        case messageTooBig = "message_too_big"
        /// After DATA: too many Received fields (5.4.6).
        case mailLoop = "mail_loop"
        /// After DATA: a line over 1000 octets or a bare CR/LF in BDAT data.
        case malformed
        /// After DATA: the SPF check said fail (or temperror) and `[checks] spf = "reject"`.
        case spf
        /// After DATA: the From domain's DMARC policy said reject and `[checks] dmarc = "enforce"`.
        case dmarc
        /// After DATA: the spool could not store it (4yz).
        case storage
    }

    private let connections: Counter
    private let refusedTooMany: Counter
    private let refusedTooManyFromAddress: Counter
    private let authFailures: Counter
    private let accepted: Counter
    private let rejected: [RejectionReason: Counter]
    private let listener: String
    private let factory: any MetricsFactory

    /// - Parameters:
    ///   - role: the listener's role, its `listener` label.
    ///   - factory: where the counters live. Default: the process's
    ///     bootstrapped `MetricsSystem`.
    public init(role: SessionConfiguration.Role, factory: any MetricsFactory = MetricsSystem.factory) {
        let listener = role.rawValue
        func counter(_ name: String, _ more: [(String, String)] = []) -> Counter {
            Counter(label: name, dimensions: [("listener", listener)] + more, factory: factory)
        }
        self.listener = listener
        self.factory = factory
        connections = counter("tern_connections_total")
        refusedTooMany = counter("tern_connections_refused_total", [("reason", "too_many")])
        refusedTooManyFromAddress = counter("tern_connections_refused_total", [("reason", "too_many_from_address")])
        authFailures = counter("tern_auth_failures_total")
        accepted = counter("tern_messages_accepted_total")
        var rejected: [RejectionReason: Counter] = [:]
        for reason in RejectionReason.allCases {
            rejected[reason] = counter("tern_messages_rejected_total", [("reason", reason.rawValue)])
        }
        self.rejected = rejected
    }

    func connectionOpened() { connections.increment() }

    func connectionRefused(_ admission: ConnectionLimiter.Admission) {
        switch admission {
        case .admitted: break
        case .tooMany: refusedTooMany.increment()
        case .tooManyFromAddress: refusedTooManyFromAddress.increment()
        }
    }

    /// Versions are few and known only once negotiated: the series is made
    /// on first use (the registry hands back the same one after that).
    func tlsEstablished(version: String) {
        Counter(label: "tern_tls_handshakes_total", dimensions: [("listener", listener), ("version", version)],
                factory: factory).increment()
    }

    func authenticationFailed() { authFailures.increment() }

    func messageAccepted() { accepted.increment() }

    func rejected(_ reason: RejectionReason) { rejected[reason]?.increment() }

    // MARK: Classifying refusals

    /// The reason for a recipient the policy refused.
    static func recipientRefusal(_ reply: SMTPReply) -> RejectionReason {
        if reply.code < 500 { return .recipientUnavailable }
        switch (reply.enhanced?.subject, reply.enhanced?.detail) {
        case (1, 1): return .unknownRecipient
        default: return .relayDenied
        }
    }

    /// The reason for a message the checks after DATA refused: RFC 7372
    /// §3.2 gives SPF its own codes (X.7.23 fail, X.7.24 temperror); the
    /// only other refusal there is DMARC's (5.7.1).
    static func checksRefusal(_ reply: SMTPReply) -> RejectionReason {
        switch (reply.enhanced?.subject, reply.enhanced?.detail) {
        case (7, 23), (7, 24): return .spf
        default: return .dmarc
        }
    }

    /// The reason for a refusal the session itself decided (limits and
    /// framing), or nil for a reply that refuses no mail (syntax, sequence).
    static func sessionRefusal(_ reply: SMTPReply) -> RejectionReason? {
        switch reply {
        case Replies.tooManyRecipients: return .tooManyRecipients
        case Replies.messageTooBig: return .messageTooBig
        case Replies.loopDetected: return .mailLoop
        case Replies.lineTooLongInData, Replies.bareLineEndingInChunk: return .malformed
        default: return nil
        }
    }
}
