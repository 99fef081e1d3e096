import TernSMTP

/// What a session knows about itself when it asks the policy.
public struct SessionFacts: Sendable {
    public var role: SessionConfiguration.Role
    public var clientAddress: String
    public var authenticatedUser: String?

    public init(role: SessionConfiguration.Role, clientAddress: String, authenticatedUser: String?) {
        self.role = role
        self.clientAddress = clientAddress
        self.authenticatedUser = authenticatedUser
    }
}

/// Decisions about envelopes and credentials (DESIGN: "asks Policy: relay
/// allowed? recipient exists?"). Sender and recipient checks are answered
/// from memory; `authenticate` is blocking (crypt(3)) and is called on a
/// thread pool.
public protocol InboundPolicy: Sendable {
    /// nil accepts the sender; a reply refuses it.
    func checkSender(_ path: ReversePath, facts: SessionFacts) -> SMTPReply?
    /// nil accepts the recipient; a reply refuses it.
    func checkRecipient(_ mailbox: Mailbox, facts: SessionFacts) -> SMTPReply?
    /// The canonical user name when the password is right. Blocking.
    func authenticate(username: String, password: String) -> String?
}

/// Where accepted messages go: the durable spool.
public protocol InboundQueue: Sendable {
    /// A fresh queue ID (cheap, non-blocking): it goes into the Received field.
    func makeID() -> String
    /// Writes the message durably (Received field first, then the body) and
    /// returns only when it is safe to answer `250`. Blocking.
    /// - Throws: an `SMTPReply` (4xx) saying why it could not be stored.
    func store(id: String, envelope: Envelope, origin: MessageOrigin, receivedField: String, body: ByteBuffer) throws
    /// Called once `store` returned and the client was told `250`.
    func committed(id: String)
}

import NIOCore
