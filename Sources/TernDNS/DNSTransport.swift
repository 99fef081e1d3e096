import NIOCore
import Synchronization
import NIOPosix

/// One query sent to one nameserver and its reply, over UDP or TCP. Each
/// exchange opens its own channel and closes it when done; the deadline is
/// a task scheduled on that channel's event loop.
enum DNSTransport {
    enum Outcome: Sendable {
        /// A reply that passed `judge`.
        case reply(DNSReply)
        /// Nothing usable arrived before the deadline, or the connection
        /// failed; the text says which, for logs.
        case noAnswer(String)
        /// The nameserver sent bytes with the query's ID that libldns could
        /// not parse, and nothing better before the deadline.
        case malformed(String)
    }

    enum Verdict {
        case accept(DNSReply)
        case ignore
        case malformed(String)
    }

    /// Whether bytes that arrived from the nameserver answer this query:
    /// same ID, a response, and the same question (RFC 5452 §9.1). A reply
    /// without a question section is taken only when its rcode is an error
    /// other than NXDOMAIN (FORMERR, REFUSED… may omit it), since such a
    /// reply can only make the lookup fail, never supply data.
    static func judge(_ bytes: [UInt8], id: UInt16, question: DNSQuestion) -> Verdict {
        guard bytes.count >= 12, UInt16(bytes[0]) << 8 | UInt16(bytes[1]) == id else { return .ignore }
        let reply: DNSReply
        do { reply = try DNSWire.parse(bytes) } catch { return .malformed(error.description) }
        guard reply.isResponse else { return .ignore }
        if reply.questions.isEmpty && reply.rcode != 0 && reply.rcode != 3 { return .accept(reply) }
        guard reply.questions == [question] else { return .ignore }
        return .accept(reply)
    }

    /// Sends `query` in one datagram from a fresh socket (the kernel picks a
    /// random source port) and waits for a datagram from `server` that
    /// `judge` accepts.
    static func udp(query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress,
                    timeout: TimeAmount, group: any EventLoopGroup, exchanges: OpenExchanges) async -> Outcome {
        let loop = group.next()
        let promise = loop.makePromise(of: Outcome.self)
        let bootstrap = DatagramBootstrap(group: loop).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    UDPExchangeHandler(query: query, id: id, question: question, server: server,
                                       timeout: timeout, promise: promise))
            }
        }
        let wildcard = server.protocol == .inet6 ? "::" : "0.0.0.0"
        guard exchanges.enter() else { return .noAnswer("the resolver is shut down") }
        defer { exchanges.leave() }
        do {
            let channel = try await bootstrap.bind(host: wildcard, port: 0).get()
            exchanges.add(channel)
            defer { exchanges.remove(channel) }
            return (try? await promise.futureResult.get()) ?? .noAnswer("exchange abandoned")
        } catch {
            promise.succeed(.noAnswer("cannot open a UDP socket: \(error)"))
        }
        return (try? await promise.futureResult.get()) ?? .noAnswer("exchange abandoned")
    }

    /// Sends `query` over a new TCP connection with its two-octet length
    /// (RFC 1035 §4.2.2, RFC 7766) and reads one reply; connecting and
    /// answering together must fit in `timeout`.
    static func tcp(query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress,
                    timeout: TimeAmount, group: any EventLoopGroup, exchanges: OpenExchanges) async -> Outcome {
        let loop = group.next()
        let promise = loop.makePromise(of: Outcome.self)
        let deadline = NIODeadline.now() + timeout
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPExchangeHandler(query: query, id: id, question: question, deadline: deadline,
                                           promise: promise))
                }
            }
        guard exchanges.enter() else { return .noAnswer("the resolver is shut down") }
        defer { exchanges.leave() }
        do {
            let channel = try await bootstrap.connect(to: server).get()
            exchanges.add(channel)
            defer { exchanges.remove(channel) }
            return (try? await promise.futureResult.get()) ?? .noAnswer("exchange abandoned")
        } catch {
            promise.succeed(.noAnswer("cannot connect over TCP: \(error)"))
        }
        return (try? await promise.futureResult.get()) ?? .noAnswer("exchange abandoned")
    }
}

/// Sends one query when the socket is bound, takes the first datagram the
/// judge accepts, closes the channel. Lives on one event loop only.
private final class UDPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let query: [UInt8]
    private let id: UInt16
    private let question: DNSQuestion
    private let server: SocketAddress
    private let timeout: TimeAmount
    private let end: ExchangeEnd
    private var malformed: String?

    init(query: [UInt8], id: UInt16, question: DNSQuestion, server: SocketAddress, timeout: TimeAmount,
         promise: EventLoopPromise<DNSTransport.Outcome>) {
        self.query = query
        self.id = id
        self.question = question
        self.server = server
        self.timeout = timeout
        self.end = ExchangeEnd(promise: promise)
    }

    func channelActive(context: ChannelHandlerContext) {
        end.timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            finish(context: context, malformed.map { .malformed($0) } ?? .noAnswer("no reply within \(timeout)"))
        }
        let envelope = AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: query))
        context.writeAndFlush(wrapOutboundOut(envelope)).assumeIsolated().whenFailure { [self] error in
            finish(context: context, .noAnswer("cannot send: \(error)"))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard !end.finished, envelope.remoteAddress == server else { return }
        switch DNSTransport.judge(Array(envelope.data.readableBytesView), id: id, question: question) {
        case .accept(let reply): finish(context: context, .reply(reply))
        case .ignore: break
        case .malformed(let why): malformed = why
        }
    }

    /// Errors on an unconnected UDP socket (an ICMP report about some
    /// earlier datagram) say nothing certain about this query: keep
    /// waiting for the reply or the deadline.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .noAnswer("socket closed"))
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, _ outcome: DNSTransport.Outcome) {
        end.finish(context: context, outcome)
    }
}

/// Writes one length-prefixed query when connected and reads one
/// length-prefixed reply (RFC 1035 §4.2.2). Lives on one event loop only.
private final class TCPExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let query: [UInt8]
    private let id: UInt16
    private let question: DNSQuestion
    private let deadline: NIODeadline
    private let end: ExchangeEnd
    private var received = ByteBuffer()

    init(query: [UInt8], id: UInt16, question: DNSQuestion, deadline: NIODeadline,
         promise: EventLoopPromise<DNSTransport.Outcome>) {
        self.query = query
        self.id = id
        self.question = question
        self.deadline = deadline
        self.end = ExchangeEnd(promise: promise)
    }

    func channelActive(context: ChannelHandlerContext) {
        end.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            finish(context: context, .noAnswer("no reply over TCP in time"))
        }
        var buffer = context.channel.allocator.buffer(capacity: query.count + 2)
        buffer.writeInteger(UInt16(query.count))
        buffer.writeBytes(query)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenFailure { [self] error in
            finish(context: context, .noAnswer("cannot send over TCP: \(error)"))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        guard !end.finished, let length = received.getInteger(at: received.readerIndex, as: UInt16.self),
              received.readableBytes >= 2 + Int(length),
              let message = received.getBytes(at: received.readerIndex + 2, length: Int(length))
        else { return }
        switch DNSTransport.judge(message, id: id, question: question) {
        case .accept(let reply): finish(context: context, .reply(reply))
        case .ignore: finish(context: context, .noAnswer("TCP reply does not match the query"))
        case .malformed(let why): finish(context: context, .malformed(why))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context: context, .noAnswer("TCP error: \(error)"))
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context: context, .noAnswer("TCP connection closed before the reply"))
        context.fireChannelInactive()
    }

    private func finish(context: ChannelHandlerContext, _ outcome: DNSTransport.Outcome) {
        end.finish(context: context, outcome)
    }
}

/// How an exchange ends, once: its deadline timer cancelled, its promise
/// completed with the outcome, its channel closed. Both exchange handlers
/// hold one. A class, not a struct: closing the channel calls the handler's
/// `channelInactive`, which finishes again while this call is still running.
private final class ExchangeEnd {
    let promise: EventLoopPromise<DNSTransport.Outcome>
    var timer: Scheduled<Void>?
    private(set) var finished = false

    init(promise: EventLoopPromise<DNSTransport.Outcome>) {
        self.promise = promise
    }

    func finish(context: ChannelHandlerContext, _ outcome: DNSTransport.Outcome) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        promise.succeed(outcome)
        context.close(promise: nil)
    }
}

/// The sockets of the exchanges in progress, so that shutting the resolver
/// down ends them at once (their handlers then answer "socket closed")
/// instead of leaving them to an event loop that is about to stop.
final class OpenExchanges: Sendable {
    private struct State {
        var open = true
        var channels: [ObjectIdentifier: any Channel] = [:]
        /// Exchanges between `enter` and `leave`, sockets or not yet.
        var inFlight = 0
    }
    private let state = Mutex(State())

    var isOpen: Bool { state.withLock { $0.open } }

    /// Counts an exchange in; false once shut down.
    func enter() -> Bool {
        state.withLock { s in
            guard s.open else { return false }
            s.inFlight += 1
            return true
        }
    }

    func leave() {
        state.withLock { $0.inFlight -= 1 }
    }

    /// Waits (briefly polling) until no exchange is in flight, at most `limit`.
    func waitUntilIdle(limit: Duration = .seconds(5)) async {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while state.withLock({ $0.inFlight }) > 0 && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    func add(_ channel: any Channel) {
        let closeNow = state.withLock { s -> Bool in
            guard s.open else { return true }
            s.channels[ObjectIdentifier(channel)] = channel
            return false
        }
        if closeNow { channel.close(promise: nil) }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Refuses new exchanges and closes those in progress.
    func closeAll() {
        let channels = state.withLock { s -> [any Channel] in
            s.open = false
            defer { s.channels = [:] }
            return Array(s.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
