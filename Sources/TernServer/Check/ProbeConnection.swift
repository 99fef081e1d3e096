#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization
import TernSMTP

/// A short client connection for `tern check`: connects within a time
/// limit, reads SMTP replies, sends command lines, starts TLS and keeps the
/// certificates the server showed. It never sends mail: callers greet, look
/// and QUIT.
///
/// SECURITY: the peer is a stranger (another provider's MX) or this host's
/// own listener. Replies are read by `ReplyReader` with its line and size
/// limits; the certificates are kept as DER for the caller to judge, and
/// TLS is never trusted for anything here.
final class ProbeConnection: @unchecked Sendable {
    /// Why a probe failed.
    enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Nothing answered within the time limit: the packets were dropped.
        case timedOut
        /// The connection was refused or failed at once (RST, unreachable).
        case refused(String)
        /// The peer closed the connection or sent something that is not SMTP.
        case protocolError(String)
        /// The TLS handshake failed.
        case tls(String)

        var description: String {
            switch self {
            case .timedOut: "no answer (timed out)"
            case .refused(let why): "connection failed: \(why)"
            case .protocolError(let why): why
            case .tls(let why): "TLS handshake failed: \(why)"
            }
        }
    }

    private let channel: any Channel
    private let handler: ProbeStreamHandler
    private var iterator: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    private var reader = ReplyReader()
    private var pendingReplies: [SMTPReply] = []
    private let timeout: Duration

    private init(channel: any Channel, handler: ProbeStreamHandler,
                 stream: AsyncThrowingStream<ByteBuffer, any Error>, timeout: Duration) {
        self.channel = channel
        self.handler = handler
        self.iterator = stream.makeAsyncIterator()
        self.timeout = timeout
    }

    /// Connects to `address` (from `source` when given). Every later wait
    /// (a reply, the TLS handshake) is bounded by `timeout` too.
    static func connect(to address: SocketAddress, from source: SocketAddress? = nil, timeout: Duration,
                        group: any EventLoopGroup) async throws(Failure) -> ProbeConnection {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let handler = ProbeStreamHandler(continuation: continuation)
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
        if let source { bootstrap = bootstrap.bind(to: source) }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch ChannelError.connectTimeout {
            throw .timedOut
        } catch {
            throw .refused(Self.phrase(error))
        }
        return ProbeConnection(channel: channel, handler: handler, stream: stream, timeout: timeout)
    }

    /// The next reply, within the time limit.
    func readReply() async throws(Failure) -> SMTPReply {
        if !pendingReplies.isEmpty { return pendingReplies.removeFirst() }
        let expiry = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [handler, channel] in
            handler.markTimedOut()
            channel.close(promise: nil)
        }
        defer { expiry.cancel() }
        while pendingReplies.isEmpty {
            let next: ByteBuffer?
            do {
                next = try await iterator.next()
            } catch {
                throw handler.timedOut ? .timedOut : .protocolError("connection failed: \(Self.phrase(error))")
            }
            guard let bytes = next else {
                throw handler.timedOut ? .timedOut : .protocolError("the server closed the connection")
            }
            do {
                pendingReplies += try reader.feed(bytes.readableBytesView)
            } catch {
                throw .protocolError("not an SMTP reply: \(error)")
            }
        }
        return pendingReplies.removeFirst()
    }

    /// Sends one command line (CRLF is added).
    func send(_ line: String) async throws(Failure) {
        do {
            try await channel.writeAndFlush(ByteBuffer(string: line + "\r\n"))
        } catch {
            throw .protocolError("cannot send \(line.split(separator: " ").first ?? ""): \(Self.phrase(error))")
        }
    }

    /// Starts TLS on the connection (after `220` to STARTTLS, or at once
    /// for implicit TLS) with `serverName` as SNI, and answers the chain the
    /// server sent, leaf first, as DER. The chain is not verified here.
    func startTLS(serverName: String) async throws(Failure) -> [[UInt8]] {
        let chain = Mutex<[[UInt8]]>([])
        let promise = channel.eventLoop.makePromise(of: Void.self)
        let expiry = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [handler, channel] in
            handler.markTimedOut()
            channel.close(promise: nil)
        }
        defer { expiry.cancel() }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            // The callback below sees the chain and lets the handshake
            // finish; judging it is the caller's business.
            configuration.certificateVerification = .noHostnameVerification
            let context = try NIOSSLContext(configuration: configuration)
            let tls = try NIOSSLClientHandler(context: context, serverHostname: serverName) { certificates, verdict in
                chain.withLock { $0 = certificates.compactMap { try? $0.toDERBytes() } }
                verdict.succeed(.certificateVerified)
            }
            handler.awaitHandshake(promise, on: channel)
            try await channel.pipeline.addHandler(tls, position: .first).get()
            try await promise.futureResult.get()
        } catch {
            throw handler.timedOut ? .timedOut : .tls(Self.phrase(error))
        }
        return chain.withLock { $0 }
    }

    /// Sends QUIT (not waiting long for the answer) and closes.
    func quit() async {
        if (try? await send("QUIT")) != nil { _ = try? await readReply() }
        close()
    }

    func close() {
        channel.close(promise: nil)
    }

    /// A short text for a NIO or socket error.
    static func phrase(_ error: any Error) -> String {
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if let connection = error as? NIOConnectionError {
            return connection.connectionErrors.first.map { phrase($0.error) } ?? "\(connection)"
        }
        return "\(error)"
    }
}

/// Passes received bytes to the connection's stream and reports the end of
/// the TLS handshake.
final class ProbeStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    /// Bytes a peer may send before anyone asked: a probe reads a greeting
    /// and a few replies, never more.
    static let maximumBytes = 1 << 20

    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    private let expired = Atomic<Bool>(false)
    // Touched only on the channel's event loop.
    private var received = 0
    private var handshake: EventLoopPromise<Void>?

    init(continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
        self.continuation = continuation
    }

    var timedOut: Bool { expired.load(ordering: .relaxed) }

    func markTimedOut() { expired.store(true, ordering: .relaxed) }

    func awaitHandshake(_ promise: EventLoopPromise<Void>, on channel: any Channel) {
        channel.eventLoop.execute {
            self.handshake = promise
            if !channel.isActive { self.failHandshake(ProbeConnection.Failure.protocolError("connection closed")) }
        }
    }

    private func failHandshake(_ error: any Error) {
        handshake?.fail(error)
        handshake = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received += buffer.readableBytes
        guard received <= Self.maximumBytes else {
            context.close(promise: nil)
            return
        }
        continuation.yield(buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            handshake?.succeed()
            handshake = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failHandshake(error)
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failHandshake(ProbeConnection.Failure.protocolError("connection closed"))
        continuation.finish()
        context.fireChannelInactive()
    }
}
