import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
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
    /// Each listener's context, read by every new connection: `update`
    /// swaps them (reload) while open sessions keep the one they started with.
    private let contexts: [CurrentContext]
    /// Where each listener really listens (port 0 becomes a real port).
    public let boundAddresses: [SocketAddress]
    private let logger: Logger
    /// How long sessions may take to finish on shutdown. Default 30 s.
    public let drainTimeout: Duration

    private init(channels: [any Channel], contexts: [CurrentContext], logger: Logger, drainTimeout: Duration) {
        self.channels = channels
        self.contexts = contexts
        let registries = contexts.map(\.value.registry)
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
        let contexts = listeners.map { CurrentContext($0.context) }
        for (listener, context) in zip(listeners, contexts) {
            do {
                bound.append(try await bindOne(listener, context: context, group: group))
            } catch {
                for channel in bound { try? await channel.close() }
                let inUse = (error as? IOError)?.errnoCode == EADDRINUSE
                throw BindError(address: "\(listener.host):\(listener.port)", underlying: error, addressInUse: inUse)
            }
        }
        return InboundServer(channels: bound, contexts: contexts, logger: logger, drainTimeout: drainTimeout)
    }

    static func bindOne(_ listener: Listener, context: CurrentContext, group: any EventLoopGroup) async throws -> any Channel {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // TCP level: `.socketOption(.tcp_nodelay)` would be SOL_SOCKET option 1, SO_DEBUG,
            // which needs CAP_NET_ADMIN and so fails every connection once Tern has left root.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let shared = context.value
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

    /// The contexts new connections get, in listener order.
    public var currentContexts: [ListenerContext] { contexts.map(\.value) }

    /// Gives new connections these contexts (one per listener, in order);
    /// sessions in progress keep theirs. Each listener keeps its session
    /// registry, so a shutdown still drains every session.
    public func update(_ replacements: [ListenerContext]) {
        precondition(replacements.count == contexts.count, "one context per listener")
        for (box, replacement) in zip(contexts, replacements) {
            var next = replacement
            next.registry = box.value.registry
            box.value = next
        }
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

/// A listener's current context, swapped by `InboundServer.update`.
final class CurrentContext: Sendable {
    private let current: Mutex<ListenerContext>

    init(_ context: ListenerContext) {
        current = Mutex(context)
    }

    var value: ListenerContext {
        get { current.withLock { $0 } }
        set { current.withLock { $0 = newValue } }
    }
}
