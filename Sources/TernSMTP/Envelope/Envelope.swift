import Foundation

/// `BODY=` (RFC 6152, RFC 3030).
public enum BodyType: String, Hashable, Sendable, Codable {
    case sevenBit = "7BIT"
    case eightBitMIME = "8BITMIME"
    case binaryMIME = "BINARYMIME"
}

/// One accepted recipient with its DSN parameters (RFC 3461 §4).
public struct EnvelopeRecipient: Hashable, Sendable, Codable {
    /// The recipient as given at RCPT time; `Postmaster` without a domain is
    /// completed with the server's primary domain by the session.
    public var mailbox: Mailbox
    public var notify: DSNNotify?
    public var originalRecipient: OriginalRecipient?

    public init(mailbox: Mailbox, notify: DSNNotify? = nil, originalRecipient: OriginalRecipient? = nil) {
        self.mailbox = mailbox
        self.notify = notify
        self.originalRecipient = originalRecipient
    }
}

/// The envelope of one transaction: everything MAIL and RCPT said.
public struct Envelope: Hashable, Sendable, Codable {
    public var sender: ReversePath
    public var recipients: [EnvelopeRecipient]
    public var body: BodyType
    public var smtpUTF8: Bool
    /// SIZE= as declared by the client, if any (RFC 1870).
    public var declaredSize: Int?
    public var dsnReturn: DSNReturn?
    /// ENVID=, decoded from xtext (RFC 3461 §4.4).
    public var envelopeID: String?

    public init(sender: ReversePath, recipients: [EnvelopeRecipient] = [], body: BodyType = .sevenBit,
                smtpUTF8: Bool = false, declaredSize: Int? = nil, dsnReturn: DSNReturn? = nil,
                envelopeID: String? = nil) {
        self.sender = sender
        self.recipients = recipients
        self.body = body
        self.smtpUTF8 = smtpUTF8
        self.declaredSize = declaredSize
        self.dsnReturn = dsnReturn
        self.envelopeID = envelopeID
    }
}

/// Where a message came from: what the Received field and later checks need.
public struct MessageOrigin: Hashable, Sendable, Codable {
    /// The listener's role: "mx", "submission", "submissions", or "local"
    /// (sendmail); "dsn" for a bounce or delay notice this host generated.
    public var role: String
    public var clientAddress: String
    /// The EHLO/HELO argument.
    public var heloName: String
    /// The client's verified reverse name, when one was looked up.
    public var reverseName: String?
    public var tlsVersion: String?
    public var tlsCipher: String?
    /// The AUTH identity, for submissions.
    public var authenticatedUser: String?
    /// `ESMTP`, `ESMTPS`, `ESMTPSA`, `UTF8SMTPS`… (RFC 3848, RFC 6531 §3.7.3).
    public var protocolName: String
    public var receivedAt: Date
    /// The Maildir folder local copies go to instead of the inbox
    /// (`Junk` for a message DMARC quarantined); nil = the inbox.
    public var folder: String?

    public init(role: String, clientAddress: String, heloName: String, reverseName: String? = nil,
                tlsVersion: String? = nil, tlsCipher: String? = nil, authenticatedUser: String? = nil,
                protocolName: String, receivedAt: Date) {
        self.role = role
        self.clientAddress = clientAddress
        self.heloName = heloName
        self.reverseName = reverseName
        self.tlsVersion = tlsVersion
        self.tlsCipher = tlsCipher
        self.authenticatedUser = authenticatedUser
        self.protocolName = protocolName
        self.receivedAt = receivedAt
    }
}
