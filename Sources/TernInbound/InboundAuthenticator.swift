import NIOCore
import TernSMTP

/// What the checks after DATA need to know about a complete message.
public struct ReceivedMessageFacts: Sendable {
    public var role: SessionConfiguration.Role
    public var clientAddress: String
    public var heloName: String
    public var sender: ReversePath
    public var authenticatedUser: String?
    /// The message's header section as received, up to and including the
    /// empty line (or the whole message when it has no body), CRLF.
    public var headerSection: [UInt8]
    /// The whole message as received (DKIM hashes the body).
    public var message: ByteBuffer

    public init(role: SessionConfiguration.Role, clientAddress: String, heloName: String, sender: ReversePath,
                authenticatedUser: String?, headerSection: [UInt8], message: ByteBuffer) {
        self.message = message
        self.role = role
        self.clientAddress = clientAddress
        self.heloName = heloName
        self.sender = sender
        self.authenticatedUser = authenticatedUser
        self.headerSection = headerSection
    }
}

/// The verdict of the checks after DATA (SPF, DKIM, DMARC).
public enum AuthenticationDecision: Sendable, Hashable {
    /// Store the message with `prepend` (fields ending in CRLF:
    /// Authentication-Results, Received-SPF, DKIM-Signature) above the Received field,
    /// without the header fields at `remove` (byte ranges of the message:
    /// forged Authentication-Results), local copies into `folder` (nil =
    /// the inbox; `Junk` for a DMARC quarantine).
    case accept(prepend: String, remove: [Range<Int>], folder: String?)
    /// Refuse the message with this reply (a policy said reject).
    case refuse(SMTPReply)
}

/// Checks a complete message before it is stored (DESIGN: "Inbound checks
/// after DATA"). Called off the event loop; may take DNS round trips.
public protocol InboundAuthenticator: Sendable {
    func check(_ facts: ReceivedMessageFacts) async -> AuthenticationDecision
}
