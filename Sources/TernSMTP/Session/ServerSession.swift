import NIOCore

/// The server side of one SMTP connection as a pure state machine
/// (STYLE: bytes in → replies and actions out; no sockets).
///
/// The owner feeds bytes with `receive(_:)`, performs the returned actions
/// in order, and answers the ones that wait with `resume(_:)`. While an
/// answer is pending, input is buffered, so pipelined commands (RFC 2920)
/// are answered one by one, in order.
public struct ServerSession: Sendable {
    enum State: Sendable {
        /// Connected, no EHLO/HELO yet (or again, after STARTTLS).
        case greeting
        /// Greeted, no transaction.
        case ready
        /// MAIL accepted.
        case transaction(Transaction)
        /// After `354`: reading the body.
        case data(Transaction, MessageReader)
        /// Inside a BDAT chunk.
        case chunk(Transaction, MessageReader, remaining: Int, last: Bool)
        /// A refused BDAT chunk: its octets are read and dropped, then the reply goes out.
        case discardingChunk(remaining: Int, reply: SMTPReply)
        /// In the middle of an AUTH exchange.
        case authenticating(AuthExchange)
        /// Waiting for the owner's answer.
        case waiting(Pending)
        /// STARTTLS answered; waiting for the handshake.
        case awaitingTLS
        case closed
    }

    struct Transaction: Sendable {
        var envelope: Envelope
        /// The reader kept between BDAT chunks.
        var chunkReader: MessageReader?
    }

    enum Pending: Sendable {
        case authentication
        case sender(Envelope)
        case recipient(Transaction, EnvelopeRecipient)
        case delivery
    }

    struct Greeting: Sendable {
        var name: String
        var extended: Bool
    }

    public let configuration: SessionConfiguration
    var state: State = .greeting
    var input: ByteBuffer
    var framer = LineFramer()
    var greeting: Greeting?
    public private(set) var tls: TLSInfo?
    public private(set) var authenticatedUser: String?
    var errors = 0
    /// Messages accepted in this session.
    public private(set) var messagesAccepted = 0

    /// Longest command line read (larger than the 512 of RFC 5321 so that
    /// MAIL/RCPT with the extension parameters fit; each verb is then checked).
    static let framingLimit = 2048
    /// RFC 5321 §4.5.3.1.4 plus the allowances of SIZE (RFC 1870), ENVID and
    /// ORCPT (RFC 3461 §5) and AUTH= (RFC 4954).
    static let mailRcptLineLimit = 1280

    public init(configuration: SessionConfiguration, tls: TLSInfo? = nil) {
        self.configuration = configuration
        self.tls = tls
        self.input = ByteBufferAllocator().buffer(capacity: 0)
    }

    /// Which timeout applies now (RFC 5321 §4.5.3.2).
    public enum TimeoutKind: Sendable { case command, dataBlock, none }

    public var timeoutKind: TimeoutKind {
        switch state {
        case .data, .chunk, .discardingChunk: return .dataBlock
        case .waiting, .awaitingTLS, .closed: return .none
        default: return .command
        }
    }

    /// Bytes received but not processed yet (pipelined commands waiting for
    /// an answer). The owner stops reading from the peer while this is large.
    public var bufferedInputBytes: Int { input.readableBytes }

    public var isClosed: Bool { if case .closed = state { return true } else { return false } }

    /// True while no transaction or transfer is in progress: a shutdown may close now.
    public var isIdle: Bool {
        switch state {
        case .greeting, .ready, .closed, .awaitingTLS: return true
        default: return false
        }
    }

    // MARK: Inputs

    /// The greeting, once the connection (and, on 465, the TLS handshake) is up.
    public mutating func start() -> [SessionAction] {
        [.send(Replies.greeting(configuration.hostname))]
    }

    public mutating func receive(_ bytes: ByteBuffer) -> [SessionAction] {
        guard !isClosed else { return [] }
        var bytes = bytes
        if input.readableBytes == 0 && input.readerIndex > 0 { input.clear() }
        input.writeBuffer(&bytes)
        var actions: [SessionAction] = []
        process(into: &actions)
        return actions
    }

    public mutating func resume(_ answer: SessionAnswer) -> [SessionAction] {
        guard case .waiting(let pending) = state else { return [] }
        var actions: [SessionAction] = []
        switch (pending, answer) {
        case (.authentication, .authentication(let user)):
            state = .ready
            if let user {
                authenticatedUser = user
                actions.append(.send(Replies.authSucceeded))
            } else {
                reply(Replies.authFailed, into: &actions)
            }
        case (.sender(let envelope), .sender(let refusal)):
            if let refusal {
                state = .ready
                reply(refusal, into: &actions)
            } else {
                state = .transaction(Transaction(envelope: envelope))
                actions.append(.send(Replies.senderOK))
            }
        case (.recipient(var tx, let recipient), .recipient(let refusal)):
            if let refusal {
                reply(refusal, into: &actions)
            } else {
                tx.envelope.recipients.append(recipient)
                actions.append(.send(Replies.recipientOK))
            }
            state = .transaction(tx)
        case (.delivery, .delivery(let result)):
            state = .ready
            if result.isPositive { messagesAccepted += 1 }
            reply(result, into: &actions)
        default:
            // An answer to a question that was not asked: a bug in the owner.
            actions.append(.send(Replies.temporaryFailure("internal error")))
            actions.append(.close)
            state = .closed
            return actions
        }
        process(into: &actions)
        return actions
    }

    /// The TLS handshake after STARTTLS completed: all earlier state is
    /// forgotten (RFC 3207 §4.2) and the client must send EHLO again.
    public mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction] {
        tls = info
        greeting = nil
        authenticatedUser = nil
        framer = LineFramer()
        state = .greeting
        var actions: [SessionAction] = []
        process(into: &actions)
        return actions
    }

    /// The current timeout expired (RFC 5321 §4.5.3.2).
    public mutating func timedOut() -> [SessionAction] {
        guard !isClosed else { return [] }
        state = .closed
        return [.send(Replies.timeout), .close]
    }

    /// The server is stopping: say so and close (only call when `isIdle`, or to force).
    public mutating func shutdown() -> [SessionAction] {
        guard !isClosed else { return [] }
        state = .closed
        return [.send(Replies.shuttingDown), .close]
    }

    // MARK: The loop

    mutating func process(into actions: inout [SessionAction]) {
        while true {
            switch state {
            case .closed, .waiting, .awaitingTLS:
                return
            case .data(let tx, var reader):
                var unused = 0
                let progress = reader.read(from: &input, mode: .dotTerminated, remaining: &unused)
                switch progress {
                case .needMore:
                    state = .data(tx, reader)
                    return
                case .bareLineEnding:
                    closeWith(Replies.bareLineEnding, into: &actions)
                case .end:
                    finishMessage(tx, reader, into: &actions)
                }
            case .chunk(var tx, var reader, var remaining, let last):
                let progress = reader.read(from: &input, mode: .counted, remaining: &remaining)
                switch progress {
                case .needMore:
                    state = .chunk(tx, reader, remaining: remaining, last: last)
                    return
                case .bareLineEnding:
                    // The chunk's octets are still owed to us: read and drop them.
                    state = .discardingChunk(remaining: remaining, reply: Replies.bareLineEndingInChunk)
                case .end:
                    if last {
                        if reader.finishCountedMessage() {
                            finishMessage(tx, reader, into: &actions)
                        } else {
                            state = .ready
                            reply(Replies.bareLineEndingInChunk, into: &actions)
                        }
                    } else {
                        tx.chunkReader = reader
                        state = .transaction(tx)
                        actions.append(.send(Replies.chunkReceived(reader.verdict.size)))
                    }
                }
            case .discardingChunk(let remaining, let refusal):
                let n = min(remaining, input.readableBytes)
                input.moveReaderIndex(forwardBy: n)
                if n < remaining {
                    state = .discardingChunk(remaining: remaining - n, reply: refusal)
                    return
                }
                state = greeting == nil ? .greeting : .ready
                reply(refusal, into: &actions)
            case .authenticating(let exchange):
                guard let event = framer.next(from: &input, limit: CommandParser.maximumAuthLine) else { return }
                switch event {
                case .bareLineEnding: closeWith(Replies.bareLineEnding, into: &actions)
                case .tooLong:
                    state = .ready
                    reply(Replies.lineTooLong, into: &actions)
                case .line(let line): continueAuth(exchange, line: line, into: &actions)
                }
            case .greeting, .ready, .transaction:
                guard let event = framer.next(from: &input, limit: ServerSession.framingLimit) else { return }
                switch event {
                case .bareLineEnding: closeWith(Replies.bareLineEnding, into: &actions)
                case .tooLong: reply(Replies.lineTooLong, into: &actions)
                case .line(let line): handle(line: line, into: &actions)
                }
            }
        }
    }

    /// Sends a reply; error replies count towards the session's error limit.
    mutating func reply(_ r: SMTPReply, into actions: inout [SessionAction]) {
        actions.append(.send(r))
        guard !r.isPositive, r.code != 421 else { return }
        errors += 1
        if errors >= configuration.maximumErrors {
            closeWith(Replies.tooManyErrors, into: &actions)
        }
    }

    mutating func closeWith(_ r: SMTPReply, into actions: inout [SessionAction]) {
        actions.append(.send(r))
        actions.append(.close)
        state = .closed
        input.clear()
    }
}
