import Foundation

/// The client side of one SMTP connection, as a state machine: replies in,
/// actions out (RFC 5321 §3–4, with PIPELINING RFC 2920, STARTTLS RFC 3207,
/// AUTH RFC 4954, SIZE RFC 1870, 8BITMIME RFC 6152, SMTPUTF8 RFC 6531 and
/// DSN RFC 3461). No sockets: a driver feeds it `receive(_:)` with each
/// reply and performs the `ClientAction`s it returns.
///
/// The life of a session: greeting → EHLO (HELO when EHLO is refused) →
/// STARTTLS and EHLO again when offered and allowed → AUTH when configured
/// → `.ready`; then any number of transactions (`begin(_:)`, each ending in
/// `.finished`) → `quit()`. Anything that stops the session for every
/// recipient (a refused greeting, a failed STARTTLS that policy requires,
/// a refused AUTH, a reply that makes no sense) is `.failed`, then `.close`.
public struct ClientSession: Sendable {
    public let configuration: ClientSessionConfiguration
    /// What the server offered in its last EHLO reply.
    public private(set) var capabilities = ServerCapabilities(extended: false, serverName: "")
    /// True once TLS is up (STARTTLS done, or implicit TLS).
    public private(set) var tlsActive: Bool
    /// True once AUTH succeeded.
    public private(set) var authenticated = false
    /// Which timeout applies now.
    public private(set) var waiting: ClientWait = .greeting

    private var state: State = .greeting

    private enum AuthStep: Sendable {
        case plain, plainResponse, loginUser, loginPassword, loginDone
    }

    private enum Expect: Sendable {
        case mail
        case recipient(Int)
        case data
    }

    private struct Transaction: Sendable {
        var request: ClientTransaction
        var pipelined: Bool
        var expected: [Expect] = []
        var mailReply: SMTPReply?
        var recipientReplies: [SMTPReply?]
        var dataReply: SMTPReply?
        var nextRecipient = 0
        /// The server went into DATA although nothing could be sent
        /// (pipelining): the data is an empty message, its reply ignored.
        var aborting = false

        var accepted: [Int] {
            recipientReplies.indices.filter { recipientReplies[$0]?.isPositive == true }
        }
    }

    private enum State: Sendable {
        case greeting
        case ehlo
        case helo
        case startTLS
        case handshake
        case auth(AuthStep)
        case ready
        case transaction(Transaction)
        case sendingMessage(Transaction)
        case dataEnd(Transaction)
        case reset
        case quit
        case closed
    }

    public init(configuration: ClientSessionConfiguration) {
        self.configuration = configuration
        self.tlsActive = configuration.implicitTLS
    }

    /// True once the session has failed or quit.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// True between `.ready` and the next `begin(_:)`.
    public var isReady: Bool {
        if case .ready = state { return true }
        return false
    }

    // MARK: - Events

    /// A complete reply from the server.
    public mutating func receive(_ reply: SMTPReply) -> [ClientAction] {
        switch state {
        case .greeting:
            guard reply.code == 220 else {
                return fail(.greeting, reply, "the server refused the connection", quit: true)
            }
            return sendEHLO()

        case .ehlo:
            if reply.code == 250 {
                capabilities = ServerCapabilities(ehlo: reply)
                return afterHello()
            }
            if tlsActive && !configuration.implicitTLS {
                return fail(.ehlo, reply, "EHLO refused after STARTTLS", quit: true)
            }
            // RFC 5321 §3.2: a server that does not know EHLO gets HELO.
            state = .helo
            waiting = .command
            return [.send(ClientSession.line("HELO \(configuration.heloName)"))]

        case .helo:
            guard reply.code == 250 else { return fail(.ehlo, reply, "HELO refused", quit: true) }
            capabilities = ServerCapabilities(extended: false, serverName: reply.lines.first?.split(separator: " ").first.map(String.init) ?? "")
            return afterHello()

        case .startTLS:
            if reply.code == 220 {
                state = .handshake
                waiting = .none
                return [.startTLS]
            }
            if configuration.tls == .required {
                return fail(.startTLS, reply, "STARTTLS refused, and this destination requires TLS", quit: true)
            }
            return afterTLSDecision()

        case .handshake:
            return fail(.protocolError, reply, "a reply arrived during the TLS handshake", quit: false)

        case .auth(let step):
            return authReply(reply, step: step)

        case .ready:
            // An unsolicited reply: usually 421 before a timeout-close.
            return fail(.protocolError, reply, "unexpected reply while idle", quit: false)

        case .transaction(var transaction):
            return transactionReply(reply, &transaction)

        case .sendingMessage:
            return fail(.protocolError, reply, "reply while the message was being sent", quit: false)

        case .dataEnd(var transaction):
            transaction.dataReply = reply
            return finish(transaction, finalReply: reply)

        case .reset:
            guard reply.code == 250 else { return fail(.reset, reply, "RSET refused", quit: true) }
            state = .ready
            waiting = .none
            return [.ready]

        case .quit:
            state = .closed
            waiting = .none
            return [.close]

        case .closed:
            return []
        }
    }

    /// The TLS handshake after STARTTLS succeeded: everything learnt before
    /// is forgotten and EHLO is sent again (RFC 3207 §4.2).
    public mutating func tlsEstablished() -> [ClientAction] {
        guard case .handshake = state else { return [] }
        tlsActive = true
        capabilities = ServerCapabilities(extended: false, serverName: "")
        return sendEHLO()
    }

    /// The TLS handshake failed: the connection is unusable.
    public mutating func tlsFailed(_ text: String) -> [ClientAction] {
        state = .closed
        waiting = .none
        return [.failed(ClientFailure(.tls, "TLS handshake failed: \(text)")), .close]
    }

    /// The message and its final dot are written.
    public mutating func messageSent() -> [ClientAction] {
        guard case .sendingMessage(let transaction) = state else { return [] }
        state = .dataEnd(transaction)
        waiting = .dataTermination
        return []
    }

    /// Starts a transaction; only when `isReady`.
    public mutating func begin(_ request: ClientTransaction) -> [ClientAction] {
        guard case .ready = state else {
            return [.finished(ClientTransactionResult(
                replies: request.recipients.map { _ in SMTPReply(451, EnhancedStatus(4, 4, 0), "session not ready") },
                local: true))]
        }
        if let refusal = refusal(for: request) {
            return [.finished(ClientTransactionResult(replies: request.recipients.map { _ in refusal }, local: true)),
                    .ready]
        }
        let pipelined = capabilities.pipelining
        var transaction = Transaction(request: request, pipelined: pipelined,
                                      recipientReplies: Array(repeating: nil, count: request.recipients.count))
        var out: [UInt8] = mailCommand(request)
        transaction.expected = [.mail]
        if pipelined {
            for (i, recipient) in request.recipients.enumerated() {
                out += rcptCommand(recipient, request)
                transaction.expected.append(.recipient(i))
            }
            out += ClientSession.line("DATA")
            transaction.expected.append(.data)
            transaction.nextRecipient = request.recipients.count
        }
        state = .transaction(transaction)
        waiting = .mail
        return [.send(out)]
    }

    /// Ends the session politely.
    public mutating func quit() -> [ClientAction] {
        switch state {
        case .closed, .quit: return []
        default:
            state = .quit
            waiting = .quit
            return [.send(ClientSession.line("QUIT"))]
        }
    }

    /// The connection closed or timed out: what was in progress fails.
    public mutating func connectionLost(_ text: String, stage: ClientFailure.Stage = .connection) -> [ClientAction] {
        switch state {
        case .closed:
            return []
        case .quit:
            state = .closed
            return []
        default:
            state = .closed
            waiting = .none
            return [.failed(ClientFailure(stage, text))]
        }
    }

    // MARK: - Greeting, EHLO, STARTTLS, AUTH

    private mutating func sendEHLO() -> [ClientAction] {
        state = .ehlo
        waiting = .command
        return [.send(ClientSession.line("EHLO \(configuration.heloName)"))]
    }

    private mutating func afterHello() -> [ClientAction] {
        if !tlsActive && configuration.tls != .disabled {
            if capabilities.startTLS {
                state = .startTLS
                waiting = .command
                return [.send(ClientSession.line("STARTTLS"))]
            }
            if configuration.tls == .required {
                return fail(.startTLS, nil, "the server does not offer STARTTLS, and this destination requires TLS",
                            quit: true)
            }
        }
        return afterTLSDecision()
    }

    private mutating func afterTLSDecision() -> [ClientAction] {
        guard let credentials = configuration.credentials, !authenticated else {
            state = .ready
            waiting = .none
            return [.ready]
        }
        if !tlsActive {
            // Never send a password in the clear.
            return fail(.auth, nil, "refusing to AUTH without TLS", quit: true)
        }
        let mechanisms = capabilities.authMechanisms
        if mechanisms.contains("PLAIN") {
            state = .auth(.plain)
            waiting = .command
            let token = ClientSession.base64("\0\(credentials.username)\0\(credentials.password)")
            return [.send(ClientSession.line("AUTH PLAIN \(token)"))]
        }
        if mechanisms.contains("LOGIN") {
            state = .auth(.loginUser)
            waiting = .command
            return [.send(ClientSession.line("AUTH LOGIN"))]
        }
        let offered = mechanisms.isEmpty ? "none" : mechanisms.sorted().joined(separator: " ")
        return fail(.auth, nil, "the server offers no AUTH mechanism Tern speaks (PLAIN, LOGIN); offered: \(offered)",
                    quit: true)
    }

    private mutating func authReply(_ reply: SMTPReply, step: AuthStep) -> [ClientAction] {
        guard let credentials = configuration.credentials else { return [] }
        if reply.code == 235 {
            authenticated = true
            state = .ready
            waiting = .none
            return [.ready]
        }
        if reply.code == 334 {
            switch step {
            case .plain:
                // The server wanted the response on its own line (RFC 4954 §4).
                state = .auth(.plainResponse)
                return [.send(ClientSession.line(ClientSession.base64("\0\(credentials.username)\0\(credentials.password)")))]
            case .loginUser:
                state = .auth(.loginPassword)
                return [.send(ClientSession.line(ClientSession.base64(credentials.username)))]
            case .loginPassword:
                state = .auth(.loginDone)
                return [.send(ClientSession.line(ClientSession.base64(credentials.password)))]
            case .plainResponse, .loginDone:
                // Cancel an exchange that goes on too long.
                state = .auth(.loginDone)
                return [.send(ClientSession.line("*"))]
            }
        }
        return fail(.auth, reply, "the server refused AUTH as \(credentials.username)", quit: true)
    }

    // MARK: - Transactions

    /// A reason to refuse the message before sending anything, as a reply.
    private func refusal(for request: ClientTransaction) -> SMTPReply? {
        if ClientSession.requiresUTF8(request) && !capabilities.smtpUTF8 {
            // RFC 6531 §3.2: no downgrade; the message bounces.
            return SMTPReply(550, EnhancedStatus(5, 6, 7),
                             "the message needs SMTPUTF8 and \(serverLabel) does not support it")
        }
        if let maximum = capabilities.maximumSize, maximum > 0, request.messageSize > maximum {
            return SMTPReply(552, EnhancedStatus(5, 3, 4),
                             "message of \(request.messageSize) octets is larger than \(serverLabel) accepts (\(maximum))")
        }
        if request.body != .sevenBit && !capabilities.eightBitMIME {
            return SMTPReply(554, EnhancedStatus(5, 6, 3),
                             "8-bit message and \(serverLabel) does not support 8BITMIME")
        }
        return nil
    }

    /// True when the transaction cannot be written in ASCII: a UTF-8 local
    /// part anywhere, or a message announced as SMTPUTF8. (UTF-8 domains
    /// alone are written as A-labels.)
    static func requiresUTF8(_ request: ClientTransaction) -> Bool {
        if request.smtpUTF8 { return true }
        if let sender = request.sender.mailbox, !sender.localPart.utf8.allSatisfy({ $0 < 0x80 }) { return true }
        return request.recipients.contains { !$0.mailbox.localPart.utf8.allSatisfy { $0 < 0x80 } }
    }

    private var serverLabel: String {
        capabilities.serverName.isEmpty ? "the server" : capabilities.serverName
    }

    private func useUTF8(_ request: ClientTransaction) -> Bool {
        capabilities.smtpUTF8 && ClientSession.requiresUTF8(request)
    }

    private func path(_ mailbox: Mailbox, utf8: Bool) -> String {
        "<\(mailbox.wireLocalPart)@\(utf8 ? mailbox.domain.text : mailbox.domain.ascii)>"
    }

    private func mailCommand(_ request: ClientTransaction) -> [UInt8] {
        let utf8 = useUTF8(request)
        var command = "MAIL FROM:" + (request.sender.mailbox.map { path($0, utf8: utf8) } ?? "<>")
        if capabilities.maximumSize != nil { command += " SIZE=\(request.messageSize)" }
        if request.body == .eightBitMIME && capabilities.eightBitMIME { command += " BODY=8BITMIME" }
        if utf8 { command += " SMTPUTF8" }
        if capabilities.dsn {
            if let ret = request.dsnReturn { command += " RET=\(ret.rawValue)" }
            if let envid = request.envelopeID { command += " ENVID=\(XText.encode(envid))" }
        }
        return ClientSession.line(command)
    }

    private func rcptCommand(_ recipient: EnvelopeRecipient, _ request: ClientTransaction) -> [UInt8] {
        var command = "RCPT TO:" + path(recipient.mailbox, utf8: useUTF8(request))
        if capabilities.dsn {
            if let notify = recipient.notify { command += " NOTIFY=\(notify)" }
            if let orcpt = recipient.originalRecipient { command += " ORCPT=\(orcpt)" }
        }
        return ClientSession.line(command)
    }

    private mutating func transactionReply(_ reply: SMTPReply, _ t: inout Transaction) -> [ClientAction] {
        guard !t.expected.isEmpty else {
            return fail(.protocolError, reply, "more replies than commands", quit: false)
        }
        let expect = t.expected.removeFirst()
        switch expect {
        case .mail:
            t.mailReply = reply
            if !reply.isPositive {
                if t.pipelined {
                    // The RCPT and DATA replies are still coming: read them.
                    state = .transaction(t)
                    waiting = .recipient
                    return []
                }
                return finish(t, finalReply: nil)
            }
            if !t.pipelined {
                return sendNextRecipient(&t)
            }
            state = .transaction(t)
            waiting = .recipient
            return []

        case .recipient(let index):
            t.recipientReplies[index] = reply
            if !t.pipelined {
                return sendNextRecipient(&t)
            }
            state = .transaction(t)
            waiting = t.expected.count == 1 ? .dataInitiation : .recipient
            return []

        case .data:
            t.dataReply = reply
            if reply.code == 354 {
                if t.mailReply?.isPositive != true || t.accepted.isEmpty {
                    // RFC 2920 §3.1 says the server should have refused
                    // DATA; end it with an empty message and ignore the reply.
                    t.aborting = true
                    state = .dataEnd(t)
                    waiting = .dataTermination
                    return [.send(Array(".\r\n".utf8))]
                }
                state = .sendingMessage(t)
                waiting = .dataBlock
                return [.sendMessage]
            }
            return finish(t, finalReply: nil)
        }
    }

    private mutating func sendNextRecipient(_ t: inout Transaction) -> [ClientAction] {
        if t.nextRecipient < t.request.recipients.count {
            let index = t.nextRecipient
            t.nextRecipient += 1
            t.expected = [.recipient(index)]
            state = .transaction(t)
            waiting = .recipient
            return [.send(rcptCommand(t.request.recipients[index], t.request))]
        }
        guard !t.accepted.isEmpty else { return finish(t, finalReply: nil) }
        t.expected = [.data]
        state = .transaction(t)
        waiting = .dataInitiation
        return [.send(ClientSession.line("DATA"))]
    }

    /// Decides every recipient, reports, and goes back to ready (through
    /// RSET when the transaction did not reach its end).
    private mutating func finish(_ t: Transaction, finalReply: SMTPReply?) -> [ClientAction] {
        var replies: [SMTPReply] = []
        let noReply = SMTPReply(451, EnhancedStatus(4, 4, 0), "no reply for this recipient")
        for i in t.request.recipients.indices {
            if let mail = t.mailReply, !mail.isPositive {
                replies.append(mail)
            } else if let rcpt = t.recipientReplies[i], !rcpt.isPositive {
                replies.append(rcpt)
            } else if t.aborting {
                replies.append(t.recipientReplies[i] ?? noReply)
            } else if let final = finalReply {
                replies.append(final)
            } else if let data = t.dataReply {
                replies.append(data)
            } else {
                replies.append(t.recipientReplies[i] ?? noReply)
            }
        }
        // Recipients accepted at RCPT but with no DATA sent (every other
        // recipient refused, non-pipelined): nothing was delivered to them.
        if finalReply == nil && t.dataReply == nil {
            for i in replies.indices where replies[i].isPositive {
                replies[i] = SMTPReply(451, EnhancedStatus(4, 4, 0), "message not sent")
            }
        }
        let sent = finalReply != nil && !t.aborting
        let result = ClientTransactionResult(replies: replies, messageSent: sent)
        if finalReply != nil {
            state = .ready
            waiting = .none
            return [.finished(result), .ready]
        }
        state = .reset
        waiting = .command
        return [.finished(result), .send(ClientSession.line("RSET"))]
    }

    private mutating func fail(_ stage: ClientFailure.Stage, _ reply: SMTPReply?, _ text: String,
                               quit: Bool) -> [ClientAction] {
        let failure = ClientFailure(stage, reply: reply, text)
        if quit && reply?.code != 421 {
            state = .quit
            waiting = .quit
            return [.failed(failure), .send(ClientSession.line("QUIT"))]
        }
        state = .closed
        waiting = .none
        return [.failed(failure), .close]
    }

    // MARK: - Helpers

    static func line(_ text: String) -> [UInt8] {
        Array(text.utf8) + [13, 10]
    }

    static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }
}
