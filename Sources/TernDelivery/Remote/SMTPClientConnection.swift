import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TernSMTP
import TernSpool

/// One outgoing SMTP connection: a socket driven by a `ClientSession`.
///
/// `open` connects (from the configured source address), reads the
/// greeting and runs EHLO, STARTTLS and AUTH until the session is ready;
/// `send` runs one transaction, streaming the message from the spool;
/// `quit` ends it. Every wait for the server has the session's RFC 5321
/// §4.5.3.2 timeout: when it passes, the connection is closed and the wait
/// fails. Used by one task at a time (it moves between tasks through the
/// connection cache, hence `@unchecked Sendable`).
final class SMTPClientConnection: @unchecked Sendable {
    /// Where it is connected: the MX or relay name and the address used.
    let peer: PeerName
    let channel: any Channel
    private var session: ClientSession
    private var reader = ReplyReader()
    private var queued: [SMTPReply] = []
    private let inbound: AsyncThrowingStream<ByteBuffer, any Error>
    private var iterator: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private let handler: ReplyStreamHandler
    private let timeouts: ClientTimeouts
    private let tls: ClientTLS
    /// The negotiated TLS version (`TLSv1.3`), once TLS is up.
    private(set) var tlsVersion: String?
    /// When the connection last finished a transaction (for the cache).
    var idleSince = ContinuousClock.now

    struct PeerName: Hashable, Sendable, CustomStringConvertible {
        var host: String
        var address: SocketAddress
        var description: String { "\(host)[\(address.ipAddress ?? "?")]:\(address.port ?? 0)" }
    }

    /// The TLS contexts one connection may need.
    struct ClientTLS: Sendable {
        /// For STARTTLS or implicit TLS; nil = never TLS.
        var context: NIOSSLContext?
        /// The name to verify the certificate against (and SNI); nil =
        /// verify the peer's IP address (when the context verifies at all).
        var serverHostname: String?
    }

    var capabilities: ServerCapabilities { session.capabilities }
    /// Ready for another transaction: idle, connected, and the server has
    /// said nothing since (an unsolicited 421 would otherwise be read as
    /// the answer to the next MAIL).
    var isUsable: Bool {
        session.isReady && channel.isActive && queued.isEmpty && !reader.isInsideReply && handler.unreadBytes == 0
    }

    private init(peer: PeerName, channel: any Channel, handler: ReplyStreamHandler,
                 stream: AsyncThrowingStream<ByteBuffer, any Error>, configuration: ClientSessionConfiguration,
                 timeouts: ClientTimeouts, tls: ClientTLS) {
        self.peer = peer
        self.channel = channel
        self.handler = handler
        self.inbound = stream
        self.iterator = stream.makeAsyncIterator()
        self.session = ClientSession(configuration: configuration)
        self.timeouts = timeouts
        self.tls = tls
    }

    /// Connects and runs the session up to `.ready`.
    static func open(host: String, address: SocketAddress, source: SocketAddress?, group: any EventLoopGroup,
                     configuration: ClientSessionConfiguration, tls: ClientTLS,
                     timeouts: ClientTimeouts) async -> Result<SMTPClientConnection, ClientFailure> {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let handler = ReplyStreamHandler(continuation: continuation)
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeouts.connect))
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
        if let source { bootstrap = bootstrap.bind(to: source) }
        let implicit = configuration.implicitTLS
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if implicit, let context = tls.context {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: context, serverHostname: tls.serverHostname))
                }
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            return .failure(ClientFailure(.connection, "cannot connect to \(host)[\(address.ipAddress ?? "?")]:\(address.port ?? 0): \(error)"))
        }
        let connection = SMTPClientConnection(peer: PeerName(host: host, address: address), channel: channel,
                                              handler: handler, stream: stream, configuration: configuration,
                                              timeouts: timeouts, tls: tls)
        if implicit {
            if let failure = await connection.waitForHandshake() {
                connection.close()
                return .failure(failure)
            }
        }
        let step = await connection.drive([], message: nil)
        if let failure = step.failure {
            connection.close()
            return .failure(failure)
        }
        guard step.ready else {
            connection.close()
            return .failure(ClientFailure(.protocolError, "the session ended before it was ready"))
        }
        return .success(connection)
    }

    /// Runs one transaction. The message is opened only when the server
    /// says 354.
    func send(_ transaction: ClientTransaction,
              message: @escaping @Sendable () throws -> SpoolMessageReader) async -> (ClientTransactionResult?, ClientFailure?) {
        let actions = session.begin(transaction)
        let step = await drive(actions, message: message)
        idleSince = .now
        return (step.result, step.failure)
    }

    /// Sends QUIT, reads the 221 (briefly), closes.
    func quit() async {
        if channel.isActive {
            _ = await drive(session.quit(), message: nil)
        }
        close()
    }

    func close() {
        channel.close(promise: nil)
    }

    // MARK: - The driving loop

    private struct Step {
        var result: ClientTransactionResult?
        var failure: ClientFailure?
        var ready = false
        var closed = false
    }

    /// Performs actions and feeds replies until the session is ready again,
    /// has failed, or has closed.
    private func drive(_ initial: [ClientAction], message: (@Sendable () throws -> SpoolMessageReader)?) async -> Step {
        var step = Step()
        var actions = initial
        while true {
            var next: [ClientAction] = []
            for action in actions {
                switch action {
                case .send(let bytes):
                    if let failure = await write(bytes) { next += session.connectionLost(failure.text) }
                case .startTLS:
                    next += await startTLS()
                case .sendMessage:
                    next += await sendMessage(message)
                case .ready:
                    step.ready = true
                case .finished(let result):
                    step.result = result
                case .failed(let failure):
                    step.failure = step.failure ?? failure
                case .close:
                    step.closed = true
                    close()
                }
            }
            if !next.isEmpty {
                actions = next
                continue
            }
            if step.ready || step.closed || session.isClosed { return step }
            switch await nextReply() {
            case .success(let reply):
                actions = session.receive(reply)
            case .failure(let failure):
                actions = session.connectionLost(failure.text, stage: failure.stage)
                if actions.isEmpty { return step }
            }
        }
    }

    private func write(_ bytes: [UInt8]) async -> ClientFailure? {
        do {
            try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
            return nil
        } catch {
            return ClientFailure(.connection, "write to \(peer) failed: \(error)")
        }
    }

    private func startTLS() async -> [ClientAction] {
        guard let context = tls.context else { return session.tlsFailed("no TLS context") }
        do {
            let channel = self.channel
            let serverHostname = tls.serverHostname
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(
                    NIOSSLClientHandler(context: context, serverHostname: serverHostname), position: .first)
            }.get()
        } catch {
            close()
            return session.tlsFailed("\(error)")
        }
        if let failure = await waitForHandshake() {
            close()
            return session.tlsFailed(failure.text)
        }
        return session.tlsEstablished()
    }

    /// Waits for the handshake the TLS handler runs, with the connect timeout.
    private func waitForHandshake() async -> ClientFailure? {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        handler.awaitHandshake(promise, on: channel)
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeouts.connect)) {
            promise.fail(ClientFailure(.timeout, "TLS handshake with \(self.peer) timed out"))
        }
        defer { timer.cancel() }
        do {
            try await promise.futureResult.get()
        } catch let failure as ClientFailure {
            return failure
        } catch {
            return ClientFailure(.tls, "TLS handshake with \(peer) failed: \(error)")
        }
        tlsVersion = try? await channel.nioSSL_tlsVersion().get().map(SMTPClientConnection.name)
        return nil
    }

    static func name(_ version: TLSVersion) -> String {
        switch version {
        case .tlsv1: return "TLSv1"
        case .tlsv11: return "TLSv1.1"
        case .tlsv12: return "TLSv1.2"
        case .tlsv13: return "TLSv1.3"
        }
    }

    /// Streams the message dot-stuffed, in chunks, each write under the
    /// data-block timeout.
    private func sendMessage(_ open: (@Sendable () throws -> SpoolMessageReader)?) async -> [ClientAction] {
        guard let open else { return session.connectionLost("no message to send", stage: .transaction) }
        let reader: SpoolMessageReader
        do {
            reader = try open()
        } catch {
            close()
            return session.connectionLost("cannot read the queued message: \(error)", stage: .transaction)
        }
        defer { reader.close() }
        var stuffer = DotStuffer()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n: Int
            do {
                n = try chunk.withUnsafeMutableBytes { try reader.read(into: $0) }
            } catch {
                close()
                return session.connectionLost("cannot read the queued message: \(error)", stage: .transaction)
            }
            var out: [UInt8] = []
            if n > 0 {
                stuffer.encode(chunk[0..<n], into: &out)
            } else {
                out = stuffer.terminator()
            }
            let buffer = channel.allocator.buffer(bytes: out)
            let channel = self.channel
            if let failure = await timed(.dataBlock, { try await channel.writeAndFlush(buffer).get() }) {
                return session.connectionLost(failure.text, stage: failure.stage)
            }
            if n == 0 { break }
        }
        return session.messageSent()
    }

    /// Runs `body`, closing the connection if it takes longer than `wait`'s timeout.
    private func timed(_ wait: ClientWait, _ body: @escaping @Sendable () async throws -> Void) async -> ClientFailure? {
        let deadline = Deadline(timeouts.duration(for: wait), closing: channel)
        defer { deadline.cancel() }
        do {
            try await body()
            return nil
        } catch {
            if deadline.expired { return ClientFailure(.timeout, "timed out writing to \(peer)") }
            return ClientFailure(.connection, "write to \(peer) failed: \(error)")
        }
    }

    /// The next reply, under the timeout the session is waiting with.
    private func nextReply() async -> Result<SMTPReply, ClientFailure> {
        while queued.isEmpty {
            let wait = session.waiting
            let deadline = Deadline(timeouts.duration(for: wait), closing: channel)
            let chunk: ByteBuffer?
            do {
                chunk = try await iterator.next()
            } catch {
                deadline.cancel()
                if deadline.expired { return .failure(timeoutFailure(wait)) }
                return .failure(ClientFailure(.connection, "connection to \(peer) failed: \(error)"))
            }
            deadline.cancel()
            guard let chunk else {
                if deadline.expired { return .failure(timeoutFailure(wait)) }
                return .failure(ClientFailure(.connection, "\(peer) closed the connection"))
            }
            handler.consumed(chunk.readableBytes)
            do {
                queued += try reader.feed(chunk.readableBytesView)
            } catch {
                close()
                return .failure(ClientFailure(.protocolError, "\(peer) sent a malformed reply: \(error)"))
            }
        }
        return .success(queued.removeFirst())
    }

    private func timeoutFailure(_ wait: ClientWait) -> ClientFailure {
        ClientFailure(.timeout, "\(peer) did not answer in time (\(wait))")
    }
}

/// A wait with a limit: when `duration` passes first, the connection is
/// closed (which ends the wait) and `expired` says why. nil = no limit.
private struct Deadline {
    private final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }
    private let flag = Flag()
    private let task: Scheduled<Void>?

    init(_ duration: Duration?, closing channel: any Channel) {
        let flag = self.flag
        task = duration.map { d in
            channel.eventLoop.scheduleTask(in: TimeAmount(d)) {
                flag.value.store(true, ordering: .relaxed)
                channel.close(promise: nil)
            }
        }
    }

    var expired: Bool { flag.value.load(ordering: .relaxed) }

    func cancel() { task?.cancel() }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Passes received bytes to the connection's stream; reports the TLS
/// handshake; closes the connection when a peer sends far more than is read.
final class ReplyStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    /// Bytes received and not yet read by the connection: a server that
    /// talks without being asked is cut off past this.
    static let maximumUnread = 1 << 20

    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    private let unread = Atomic<Int>(0)
    // Touched only on the channel's event loop.
    private var handshake: EventLoopPromise<Void>?
    /// The handshake finished before anyone waited for it (implicit TLS).
    private var handshakeDone = false

    init(continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
        self.continuation = continuation
    }

    func consumed(_ bytes: Int) {
        unread.subtract(bytes, ordering: .relaxed)
    }

    /// Bytes received that the connection has not read yet.
    var unreadBytes: Int { unread.load(ordering: .relaxed) }

    /// Completes `promise` when the TLS handler reports the handshake done,
    /// fails it when the connection errs or closes first.
    func awaitHandshake(_ promise: EventLoopPromise<Void>, on channel: any Channel) {
        channel.eventLoop.execute {
            if self.handshakeDone {
                self.handshakeDone = false
                promise.succeed()
                return
            }
            self.handshake = promise
            if !channel.isActive { self.failHandshake(ClientFailure(.tls, "connection closed")) }
        }
    }

    private func failHandshake(_ error: any Error) {
        handshake?.fail(error)
        handshake = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let total = unread.add(buffer.readableBytes, ordering: .relaxed).newValue
        if total > ReplyStreamHandler.maximumUnread {
            context.close(promise: nil)
            return
        }
        continuation.yield(buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            if let handshake {
                handshake.succeed()
                self.handshake = nil
            } else {
                handshakeDone = true
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failHandshake(error)
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failHandshake(ClientFailure(.tls, "connection closed"))
        continuation.finish()
        context.fireChannelInactive()
    }
}
