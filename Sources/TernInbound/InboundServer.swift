import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import TernSMTP

/// The bound listening sockets of every listener, run as one service.
/// Binding happens before anything else starts, so a port in use stops the
/// program before it accepts a single connection.
public final class InboundServer: Service, Sendable {
    public struct Listener: Sendable {
        public var host: String
        public var port: Int
        public var context: ListenerContext

        public init(host: String, port: Int, context: ListenerContext) {
            self.host = host
            self.port = port
            self.context = context
        }
    }

    public struct BindError: Error, CustomStringConvertible {
        public var address: String
        public var underlying: any Error
        public var addressInUse: Bool
        public var description: String {
            addressInUse ? "cannot listen on \(address): address already in use" : "cannot listen on \(address): \(underlying)"
        }
    }

    private let channels: [any Channel]
    private let registries: [SessionRegistry]
    /// Where each listener really listens (port 0 becomes a real port).
    public let boundAddresses: [SocketAddress]
    private let logger: Logger
    /// How long sessions may take to finish on shutdown. Default 30 s.
    public let drainTimeout: Duration

    private init(channels: [any Channel], registries: [SessionRegistry], logger: Logger, drainTimeout: Duration) {
        self.channels = channels
        self.registries = registries
        self.boundAddresses = channels.compactMap(\.localAddress)
        self.logger = logger
        self.drainTimeout = drainTimeout
    }

    /// Binds every listener, or none: on the first failure the ones already
    /// bound are closed again and the error names the address.
    public static func bind(_ listeners: [Listener], group: any EventLoopGroup, logger: Logger,
                            drainTimeout: Duration = .seconds(30)) async throws -> InboundServer {
        var bound: [any Channel] = []
        for listener in listeners {
            do {
                bound.append(try await bindOne(listener, group: group))
            } catch {
                for channel in bound { try? await channel.close() }
                let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
                throw BindError(address: "\(listener.host):\(listener.port)", underlying: error, addressInUse: inUse)
            }
        }
        return InboundServer(channels: bound, registries: listeners.map(\.context.registry), logger: logger,
                             drainTimeout: drainTimeout)
    }

    static func bindOne(_ listener: Listener, group: any EventLoopGroup) async throws -> any Channel {
        let shared = listener.context
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    if shared.session.role == .submissions, let tls = shared.tls {
                        try ops.addHandler(ServerHelloSniffer())
                        try ops.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try ops.addHandler(SMTPServerHandler(shared: shared))
                }
            }
        return try await bootstrap.bind(host: listener.host, port: listener.port).get()
    }

    public func run() async throws {
        // Runs until the service group shuts down gracefully (or is cancelled).
        try? await gracefulShutdown()
        await stop()
    }

    /// Stops accepting, lets sessions finish their transaction, then closes.
    public func stop() async {
        for channel in channels { try? await channel.close() }
        for registry in registries { registry.drain() }
        let clock = ContinuousClock()
        let deadline = clock.now + drainTimeout
        while registries.contains(where: { $0.count > 0 }) && clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for registry in registries { registry.closeAll() }
        logger.info("listeners stopped")
    }
}
