import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import TernSpool

/// `[metrics] address`: the Prometheus endpoint. `GET /metrics` (and
/// `HEAD`) answers the server's registry in the text exposition format
/// (version 0.0.4); any other path is 404, any other method on it 405.
///
/// SECURITY: it serves counts only — no addresses, users or message
/// contents — and trusts nothing it reads beyond the request line; bind it
/// to loopback or a private address (there is no authentication). Each
/// connection is closed after `idleTimeout` without a request.
///
/// Bound in `Server.start` with the SMTP listeners (a failure stops the
/// start); runs as a service that stops accepting on graceful shutdown.
public final class MetricsEndpoint: Service, Sendable {
    /// Where it listens (port 0 in the configuration becomes a real port).
    public let address: SocketAddress
    private let channel: any Channel
    private let logger: Logger

    /// How long a connection may sit without a request. 5 minutes: longer
    /// than any scrape interval, so a Prometheus server keeps its connection.
    static let idleTimeout: TimeAmount = .minutes(5)

    private init(channel: any Channel, address: SocketAddress, logger: Logger) {
        self.channel = channel
        self.address = address
        self.logger = logger
    }

    public struct BindError: Error, CustomStringConvertible {
        public var address: String
        public var underlying: any Error
        public var description: String {
            let inUse = (underlying as? IOError)?.errnoCode == EADDRINUSE
            return "[metrics] cannot listen on \(address): \(inUse ? "address already in use" : "\(underlying)")"
        }
    }

    /// Binds `host:port`; a scrape refreshes the queue gauges from `spool`
    /// on `pool` (a directory read), then renders `registry`.
    static func bind(host: String, port: Int, registry: PrometheusCollectorRegistry, spool: Spool,
                     group: any EventLoopGroup, pool: NIOThreadPool, logger: Logger) async throws -> MetricsEndpoint {
        let scrape = MetricsScrape(registry: registry, spool: spool, logger: logger)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try ops.configureHTTPServerPipeline(withErrorHandling: true)
                    try ops.addHandler(MetricsHTTPHandler(scrape: scrape, pool: pool))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            throw BindError(address: shown, underlying: error)
        }
        guard let address = channel.localAddress else {
            try? await channel.close()
            throw BindError(address: "\(host):\(port)", underlying: ChannelError.unknownLocalAddress)
        }
        return MetricsEndpoint(channel: channel, address: address, logger: logger)
    }

    public func run() async throws {
        logger.info("metrics endpoint listening", metadata: ["address": "\(address)"])
        try? await gracefulShutdown()
        await close()
    }

    /// Stops accepting; scrapes in progress finish on their own.
    func close() async {
        try? await channel.close()
    }
}

/// One scrape: the queue gauges brought up to date, then the registry
/// rendered. Blocking (a directory read): runs on a thread pool.
struct MetricsScrape: Sendable {
    let registry: PrometheusCollectorRegistry
    let spool: Spool
    let logger: Logger
    /// `tern_queue_messages`: entries in the spool, held and deferred ones included.
    private let queueMessages: CoreMetrics.Gauge
    /// `tern_queue_oldest_message_age_seconds`: how long the oldest has
    /// waited; 0 when the queue is empty.
    private let oldestAge: CoreMetrics.Gauge

    init(registry: PrometheusCollectorRegistry, spool: Spool, logger: Logger) {
        self.registry = registry
        self.spool = spool
        self.logger = logger
        let factory = PrometheusMetricsFactory(registry: registry)
        queueMessages = CoreMetrics.Gauge(label: "tern_queue_messages", dimensions: [], factory: factory)
        oldestAge = CoreMetrics.Gauge(label: "tern_queue_oldest_message_age_seconds", dimensions: [], factory: factory)
    }

    func render() -> [UInt8] {
        do {
            let census = try spool.census()
            queueMessages.record(census.messages)
            oldestAge.record(census.oldestAge())
        } catch {
            // The counters are still worth serving; the gauges keep their last values.
            logger.warning("metrics: cannot read the queue: \(error)")
        }
        return registry.emitToBuffer()
    }
}

/// Answers each request on one connection (`HTTPServerPipelineHandler`
/// before it keeps pipelined requests in order).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let scrape: MetricsScrape
    private let pool: NIOThreadPool
    private var request: HTTPRequestHead?

    /// The exposition format's content type (Prometheus text format 0.0.4).
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    init(scrape: MetricsScrape, pool: NIOThreadPool) {
        self.scrape = scrape
        self.pool = pool
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // A body is not expected and is ignored.
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case IdleStateHandler.IdleStateEvent.read = event {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard path == "/metrics" else {
            send(.notFound, body: Array("Not found. Metrics are at /metrics.\n".utf8), to: head, context: context)
            return
        }
        guard head.method == .GET || head.method == .HEAD else {
            send(.methodNotAllowed, body: Array("Use GET.\n".utf8), extra: [("Allow", "GET, HEAD")], to: head,
                 context: context)
            return
        }
        let scrape = self.scrape
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pool.runIfActive(eventLoop: context.eventLoop) { scrape.render() }.whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .success(let body):
                handler.send(.ok, body: body, contentType: Self.contentType, to: head, context: context)
            case .failure:
                // The thread pool is stopping: the server is shutting down.
                handler.send(.serviceUnavailable, body: Array("Shutting down.\n".utf8), to: head, context: context)
            }
        }
    }

    private func send(_ status: HTTPResponseStatus, body: [UInt8], contentType: String = "text/plain; charset=utf-8",
                      extra: [(String, String)] = [], to request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.count)")] + extra)
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let response = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                          promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
