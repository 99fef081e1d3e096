import Foundation
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's word on who is at the other end of a Unix socket (SO_PEERCRED).
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: uid_t
    public var gid: gid_t

    /// Reads them from a connected Unix socket.
    static func of(socket fd: Int32) -> PeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Linux)
        var raw: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &raw, &length) == 0 else { return nil }
        return PeerCredentials(pid: raw.0, uid: raw.1, gid: raw.2)
    }
}

/// Answers control requests; `ControlServer` handles the socket.
protocol ControlHandling: Sendable {
    func handle(_ request: ControlRequest, body: [UInt8], peer: PeerCredentials) async -> ControlResponse
    /// The most message bytes a submission may announce.
    var maximumSubmissionSize: Int { get }
}

/// The Unix socket `tern queue`, `tern sendmail` and `tern reload` talk to.
/// Mode 0666: who may do what is decided per request on the peer's
/// credentials (see `ControlRequest`).
final class ControlServer: Sendable {
    let path: String
    private let channel: any Channel

    private init(path: String, channel: any Channel) {
        self.path = path
        self.channel = channel
    }

    static func bind(path: String, group: any EventLoopGroup, handler: any ControlHandling,
                     logger: Logger) async throws -> ControlServer {
        // A socket file left by a server that died; the state lock says no other runs.
        unlink(path)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlConnectionHandler(handler: handler, logger: logger))
                }
            }
            .childChannelOption(.autoRead, value: true)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .get()
        chmod(path, 0o666)
        return ControlServer(path: path, channel: channel)
    }

    func close() async {
        try? await channel.close()
        unlink(path)
    }
}

/// One control connection: reads the request line (and a submission's
/// bytes), asks the handler, writes the answer and closes.
private final class ControlConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handler: any ControlHandling
    private let logger: Logger
    private var buffer = ByteBuffer()
    private var request: ControlRequest?
    private var answered = false

    init(handler: any ControlHandling, logger: Logger) {
        self.handler = handler
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        if request == nil {
            guard let newline = buffer.readableBytesView.firstIndex(of: 0x0A) else {
                if buffer.readableBytes > ControlCoding.maximumRequestLine {
                    respond(context: context, ControlResponse(error: "request line too long"))
                }
                return
            }
            let length = newline - buffer.readerIndex
            let line = buffer.readBytes(length: length) ?? []
            buffer.moveReaderIndex(forwardBy: 1)
            do {
                request = try ControlCoding.decoder().decode(ControlRequest.self, from: Data(line))
            } catch {
                respond(context: context, ControlResponse(error: "malformed request: \(error)"))
                return
            }
        }
        guard let request else { return }
        var body: [UInt8] = []
        if request.command == .submit {
            let size = request.submission?.size ?? 0
            guard size >= 0, size <= handler.maximumSubmissionSize else {
                respond(context: context, ControlResponse(error: "message too large: \(size) bytes, the limit is \(handler.maximumSubmissionSize)"))
                return
            }
            guard buffer.readableBytes >= size else { return }
            body = buffer.readBytes(length: size) ?? []
        }
        let peer = try? context.pipeline.syncOperations.withUnsafeTransportIfAvailable(of: NIOBSDSocket.Handle.self) {
            PeerCredentials.of(socket: $0)
        }
        guard let peer = peer ?? nil else {
            respond(context: context, ControlResponse(error: "cannot tell who is asking (SO_PEERCRED)"))
            return
        }
        answered = true
        let handler = self.handler
        let channel = context.channel
        Task {
            let response = await handler.handle(request, body: body, peer: peer)
            let line = (try? ControlCoding.line(response)) ?? Array("{\"error\":\"cannot encode the answer\"}\n".utf8)
            channel.writeAndFlush(ByteBuffer(bytes: line)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffer = ByteBuffer()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("control connection: \(error)")
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, _ response: ControlResponse) {
        answered = true
        let line = (try? ControlCoding.line(response)) ?? []
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: line))).whenComplete { _ in channel.close(promise: nil) }
    }
}
