import NIOCore

/// What the session asks its owner to do. Actions that need an answer put the
/// session on hold; it buffers input until the matching `resume` call.
public enum SessionAction: Sendable {
    /// Write this reply (flush at the end of the batch).
    case send(SMTPReply)
    /// The `220` for STARTTLS was sent: start the TLS handshake now, then call
    /// `tlsEstablished(_:)`. Bytes received before it were already discarded.
    case startTLS
    /// Close the connection after the replies before it are written.
    case close
    /// Check credentials (blocking work: not on an event loop). Answer with `resume(.authentication)`.
    case authenticate(AuthRequest)
    /// Decide on a MAIL FROM. Answer with `resume(.sender)`.
    case checkSender(ReversePath, MailParameters)
    /// Decide on a RCPT TO. Answer with `resume(.recipient)`.
    case checkRecipient(Mailbox, RcptParameters)
    /// The message is complete: store it durably, then answer `resume(.delivery)`.
    case deliver(DeliveryRequest)
}

/// An AUTH exchange's outcome to check. Never log `password`.
public struct AuthRequest: Sendable, CustomStringConvertible {
    public var mechanism: String
    public var authorizationID: String
    public var username: String
    public var password: String

    public var description: String { "AUTH \(mechanism) user=\(username)" }
}

/// A complete message and what the Received field needs about the session.
public struct DeliveryRequest: Sendable {
    public var envelope: Envelope
    /// The message as received (dot-unstuffed, CRLF line endings).
    public var message: ByteBuffer
    public var heloName: String
    /// `ESMTP`, `ESMTPS`, `ESMTPSA`, `UTF8SMTPSA`… (RFC 3848, RFC 6531 §3.7.3).
    public var protocolName: String
    public var tls: TLSInfo?
    public var authenticatedUser: String?
}

/// Answers to the actions that wait.
public enum SessionAnswer: Sendable {
    /// The canonical user name on success, nil on bad credentials.
    case authentication(String?)
    /// nil accepts; a reply refuses.
    case sender(SMTPReply?)
    /// nil accepts; a reply refuses.
    case recipient(SMTPReply?)
    /// `250 queued as …` or a failure reply.
    case delivery(SMTPReply)
}
