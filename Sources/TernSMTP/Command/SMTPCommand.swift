/// A command from the client, parsed (RFC 5321 §4.1.1 and extensions).
public enum SMTPCommand: Hashable, Sendable {
    /// RFC 5321 §4.1.1.1
    case ehlo(String)
    case helo(String)
    /// RFC 5321 §4.1.1.2, with ESMTP parameters.
    case mail(ReversePath, MailParameters)
    /// RFC 5321 §4.1.1.3, with ESMTP parameters.
    case rcpt(ForwardPath, RcptParameters)
    /// RFC 5321 §4.1.1.4
    case data
    /// RFC 3030 §2: `BDAT size [LAST]`.
    case bdat(size: Int, last: Bool)
    /// RFC 5321 §4.1.1.5
    case rset
    /// RFC 5321 §4.1.1.6
    case vrfy(String)
    /// RFC 5321 §4.1.1.7
    case expn(String)
    /// RFC 5321 §4.1.1.8
    case help(String?)
    /// RFC 5321 §4.1.1.9 (the argument is ignored)
    case noop
    /// RFC 5321 §4.1.1.10
    case quit
    /// RFC 3207 §4
    case startTLS
    /// RFC 4954 §4: mechanism and optional initial response ("=" means empty).
    case auth(mechanism: String, initialResponse: String?)
    /// An HTTP request line or header on the SMTP port (cross-protocol attack).
    case httpRequest
}

/// Parameters of MAIL FROM (RFC 1870, RFC 6152, RFC 6531, RFC 3461, RFC 4954 §5).
public struct MailParameters: Hashable, Sendable {
    public var size: Int?
    public var body: BodyType?
    public var smtpUTF8 = false
    public var ret: DSNReturn?
    public var envelopeID: String?
    /// AUTH=: the submitter identity claimed by a relaying client (nil for `<>`).
    public var auth: String?
    public init() {}
}

/// Parameters of RCPT TO (RFC 3461 §4.1, §4.2).
public struct RcptParameters: Hashable, Sendable {
    public var notify: DSNNotify?
    public var originalRecipient: OriginalRecipient?
    public init() {}
}
