import Foundation

/// What a server said it supports in its EHLO reply (RFC 5321 §4.1.1.1).
public struct ServerCapabilities: Hashable, Sendable {
    /// The server answered EHLO (false after a HELO fallback: no extensions).
    public var extended: Bool
    /// The name the server gave on the first line of its EHLO reply.
    public var serverName: String
    public var pipelining = false
    public var startTLS = false
    public var eightBitMIME = false
    public var smtpUTF8 = false
    public var dsn = false
    public var enhancedStatusCodes = false
    public var chunking = false
    /// `SIZE n`: the largest message the server takes; 0 = no fixed limit;
    /// nil = SIZE not advertised.
    public var maximumSize: Int?
    /// Upper-cased SASL mechanisms from `AUTH …` (and the old `AUTH=…`).
    public var authMechanisms: Set<String> = []

    public init(extended: Bool, serverName: String) {
        self.extended = extended
        self.serverName = serverName
    }

    /// Reads an EHLO reply's extension lines (all lines but the first).
    public init(ehlo reply: SMTPReply) {
        self.init(extended: true, serverName: reply.lines.first?.split(separator: " ").first.map(String.init) ?? "")
        for line in reply.lines.dropFirst() {
            let words = line.split(separator: " ").map { $0.uppercased() }
            guard let keyword = words.first else { continue }
            switch keyword {
            case "PIPELINING": pipelining = true
            case "STARTTLS": startTLS = true
            case "8BITMIME": eightBitMIME = true
            case "SMTPUTF8": smtpUTF8 = true
            case "DSN": dsn = true
            case "ENHANCEDSTATUSCODES": enhancedStatusCodes = true
            case "CHUNKING": chunking = true
            case "SIZE": maximumSize = words.count > 1 ? Int(words[1]) ?? 0 : 0
            case "AUTH": authMechanisms.formUnion(words.dropFirst())
            default:
                if keyword.hasPrefix("AUTH=") {
                    authMechanisms.formUnion(keyword.dropFirst(5).split(separator: " ").map(String.init))
                }
            }
        }
    }
}

/// Whether a connection must, may or must not be encrypted with STARTTLS.
public enum ClientTLSPolicy: Hashable, Sendable {
    /// Never STARTTLS.
    case disabled
    /// STARTTLS when offered; plain text otherwise (RFC 3207 for MX hosts,
    /// which rarely have certificates one could check).
    case opportunistic
    /// STARTTLS or nothing: a server that does not offer it fails the
    /// session (a relay host, or later MTA-STS/DANE policy).
    case required
}

/// SASL credentials for a relay host. `description` never shows the password.
public struct ClientCredentials: Hashable, Sendable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "user \(username)" }
}

public struct ClientSessionConfiguration: Hashable, Sendable {
    /// The EHLO argument: this host's name.
    public var heloName: String
    public var tls: ClientTLSPolicy
    /// AUTH after EHLO (and after STARTTLS when that happens) when set.
    public var credentials: ClientCredentials?
    /// The connection is TLS from its first byte (port 465): no STARTTLS.
    public var implicitTLS: Bool

    public init(heloName: String, tls: ClientTLSPolicy = .opportunistic, credentials: ClientCredentials? = nil,
                implicitTLS: Bool = false) {
        self.heloName = heloName
        self.tls = tls
        self.credentials = credentials
        self.implicitTLS = implicitTLS
    }
}

/// One message to send on a session: the envelope to give and the size of
/// the message as it is queued.
public struct ClientTransaction: Hashable, Sendable {
    public var sender: ReversePath
    public var recipients: [EnvelopeRecipient]
    public var messageSize: Int
    public var body: BodyType
    public var smtpUTF8: Bool
    public var dsnReturn: DSNReturn?
    public var envelopeID: String?

    public init(envelope: Envelope, recipients: [EnvelopeRecipient], messageSize: Int) {
        self.sender = envelope.sender
        self.recipients = recipients
        self.messageSize = messageSize
        self.body = envelope.body
        self.smtpUTF8 = envelope.smtpUTF8
        self.dsnReturn = envelope.dsnReturn
        self.envelopeID = envelope.envelopeID
    }
}

/// What became of each recipient of one transaction.
public struct ClientTransactionResult: Hashable, Sendable {
    /// One per recipient, in the transaction's order: the reply that decided
    /// it (its RCPT reply when refused there, else MAIL's or the final DATA
    /// reply). Replies the client made up itself (the message was not sent
    /// because the server cannot take it) have `local` set.
    public var replies: [SMTPReply]
    /// True when the replies were made up here, not said by the server.
    public var local: Bool
    /// The message was transmitted (DATA reached its end).
    public var messageSent: Bool

    public init(replies: [SMTPReply], local: Bool = false, messageSent: Bool = false) {
        self.replies = replies
        self.local = local
        self.messageSent = messageSent
    }
}

/// Why a session cannot go on: the host's fault, not a recipient's.
public struct ClientFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Stage: String, Hashable, Sendable {
        case greeting, ehlo, startTLS, tls, auth, reset, transaction, protocolError, connection, timeout
    }

    public var stage: Stage
    /// The server's reply when one caused this.
    public var reply: SMTPReply?
    public var text: String

    public init(_ stage: Stage, reply: SMTPReply? = nil, _ text: String) {
        self.stage = stage
        self.reply = reply
        self.text = text
    }

    /// A 5xx reply (for a relay's AUTH refusal: a bounce, not a retry).
    public var isPermanent: Bool { reply?.isPermanent ?? false }

    public var description: String {
        if let reply { return "\(text): \(reply)" }
        return text
    }
}

/// Which of RFC 5321 §4.5.3.2's client timeouts applies while waiting.
public enum ClientWait: Hashable, Sendable {
    /// The 220 greeting: 5 minutes.
    case greeting
    /// EHLO, STARTTLS, AUTH, RSET, QUIT: 5 minutes.
    case command
    /// MAIL: 5 minutes.
    case mail
    /// RCPT: 5 minutes.
    case recipient
    /// The 354 after DATA: 2 minutes.
    case dataInitiation
    /// Each write of message data: 3 minutes.
    case dataBlock
    /// The reply after the final dot: 10 minutes.
    case dataTermination
    /// The 221 after QUIT: nothing depends on it, so not long (10 s).
    case quit
    /// Not waiting for the server (TLS handshake has its own, idle).
    case none
}

/// The timeouts of `ClientWait`, configurable for tests.
public struct ClientTimeouts: Hashable, Sendable {
    public var greeting: Duration = .seconds(300)
    public var command: Duration = .seconds(300)
    public var mail: Duration = .seconds(300)
    public var recipient: Duration = .seconds(300)
    public var dataInitiation: Duration = .seconds(120)
    public var dataBlock: Duration = .seconds(180)
    public var dataTermination: Duration = .seconds(600)
    /// Connecting, and the TLS handshake. Not in RFC 5321; Postfix uses 30 s.
    public var connect: Duration = .seconds(30)
    /// The reply to QUIT.
    public var quit: Duration = .seconds(10)

    public init() {}

    /// Every timeout set to `d` (tests).
    public static func all(_ d: Duration) -> ClientTimeouts {
        var t = ClientTimeouts()
        t.greeting = d
        t.command = d
        t.mail = d
        t.recipient = d
        t.dataInitiation = d
        t.dataBlock = d
        t.dataTermination = d
        t.connect = d
        t.quit = d
        return t
    }

    public func duration(for wait: ClientWait) -> Duration? {
        switch wait {
        case .greeting: return greeting
        case .command: return command
        case .mail: return mail
        case .recipient: return recipient
        case .dataInitiation: return dataInitiation
        case .dataBlock: return dataBlock
        case .dataTermination: return dataTermination
        case .quit: return quit
        case .none: return nil
        }
    }
}

/// What the client session asks its driver to do, in order.
public enum ClientAction: Hashable, Sendable {
    /// Write these bytes (one command, or several when pipelining).
    case send([UInt8])
    /// The server said 220 to STARTTLS: handshake, then call
    /// `tlsEstablished()` (or `tlsFailed(_:)`).
    case startTLS
    /// The server said 354: write the message through a `DotStuffer`, then
    /// call `messageSent()`.
    case sendMessage
    /// The session is idle and ready: call `begin(_:)` or `quit()`.
    case ready
    /// A transaction ended; `ready` (or a failure) follows.
    case finished(ClientTransactionResult)
    /// The session cannot go on; close follows.
    case failed(ClientFailure)
    /// Close the connection.
    case close
}
