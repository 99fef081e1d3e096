import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals
import TernAccounts
import TernDNS
import TernDelivery
import TernInbound
import TernMailAuth
import TernSMTP
import TernSpool

/// One running Tern: listeners, spool, scheduler and accounts, built from a
/// `Configuration`. `start` does everything that can fail (state directory,
/// accounts files, certificate, binding every port) before anything runs,
/// so nothing starts half-way; `run` then serves until shutdown.
public final class Server: Sendable {
    /// Settings that are not in the configuration file: for tests and the trial mode.
    public struct Options: Sendable {
        /// On a port in use, try the next ones (trial mode). Default false.
        public var portFallback = false
        /// Seconds of extra delay per AUTH failure. Default 1.
        public var authFailureDelayStep: TimeInterval = 1
        /// How long sessions may take to finish on shutdown. Default 30 s.
        public var drainTimeout: Duration = .seconds(30)
        /// Event-loop threads. Default: one per core.
        public var eventLoopThreads = System.coreCount
        /// Threads that write accepted messages to the spool. Default 32.
        public var storeThreads = 32
        /// `[log] file`, opened again on reload (after logrotate). Default nil.
        public var logFile: LogFile?
        /// The file the configuration was read from, read again on reload. Default nil.
        public var configurationFile: String?
        /// Signals that reload (see `reload()`). Default SIGHUP.
        public var reloadSignals: [UnixSignal] = [.sighup]
        /// Told of every message accepted on a listener (`tern serve --print`). Default nil.
        public var announce: (@Sendable (AcceptedMessage) -> Void)?
        /// How often the users and aliases files are looked at for changes. Default 2 s.
        public var accountsCheckInterval: Duration = .seconds(2)
        /// How often the pickup directory is looked at. Default 5 s.
        public var pickupInterval: Duration = .seconds(5)
        /// Signals that stop the server gracefully. Default SIGTERM and SIGINT.
        public var shutdownSignals: [UnixSignal] = [.sigterm, .sigint]
        /// Where the server counts (connections, messages, deliveries, DNS,
        /// SPF/DKIM/DMARC) and what `[metrics] address` serves. Default: a
        /// registry of this server's own, so servers in one process (tests)
        /// never mix their counts; `tern serve` also bootstraps the
        /// process's `MetricsSystem` with it (`bootstrapMetricsSystem()`).
        public var metricsRegistry = PrometheusCollectorRegistry()
        public init() {}
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    public let configuration: Configuration
    public let accounts: AccountsStore
    public let spool: Spool
    public let scheduler: DeliveryScheduler
    public let inbound: InboundServer
    public let tls: TLSContextProvider?
    private let group: MultiThreadedEventLoopGroup
    private let storePool: NIOThreadPool
    private let authPool: NIOThreadPool
    private let serviceGroup: ServiceGroup
    let logger: Logger
    /// What delivers remote mail (the MX/relay engine or the capture Maildir).
    public let remote: any RemoteTransport
    /// The server's one resolver.
    public let resolver: DNSResolver
    /// The Prometheus endpoint; nil when `[metrics] address` is off.
    public let metricsEndpoint: MetricsEndpoint?
    /// `<state_dir>/control.sock`, for `tern queue`, `tern sendmail`, `tern reload`.
    let control: ControlServer
    /// Held while the server runs: one process per state directory.
    private let stateLock: StateLock
    let options: Options
    /// What a reload makes new listener contexts from.
    let parts: ContextParts
    /// The configuration the listeners and accounts use now (a reload
    /// applies what it can of a changed file).
    let applied: Mutex<Configuration>

    /// The address each configured listener is bound to, in configuration order.
    public var boundAddresses: [SocketAddress] { inbound.boundAddresses }

    /// The port of the first listener with this role.
    public func port(of role: Configuration.Listener.Role) -> Int? {
        guard let i = configuration.listeners.firstIndex(where: { $0.role == role }), i < boundAddresses.count else {
            return nil
        }
        return boundAddresses[i].port
    }

    private init(configuration: Configuration, accounts: AccountsStore, spool: Spool, scheduler: DeliveryScheduler,
                 inbound: InboundServer, tls: TLSContextProvider?, group: MultiThreadedEventLoopGroup,
                 storePool: NIOThreadPool, authPool: NIOThreadPool, serviceGroup: ServiceGroup, logger: Logger,
                 remote: any RemoteTransport, resolver: DNSResolver, control: ControlServer, stateLock: StateLock,
                 metricsEndpoint: MetricsEndpoint?, options: Options, parts: ContextParts) {
        self.parts = parts
        self.applied = Mutex(configuration)
        self.options = options
        self.metricsEndpoint = metricsEndpoint
        self.control = control
        self.stateLock = stateLock
        self.remote = remote
        self.resolver = resolver
        self.configuration = configuration
        self.accounts = accounts
        self.spool = spool
        self.scheduler = scheduler
        self.inbound = inbound
        self.tls = tls
        self.group = group
        self.storePool = storePool
        self.authPool = authPool
        self.serviceGroup = serviceGroup
        self.logger = logger
    }

    public static func start(_ configuration: Configuration, options: Options = Options(),
                             logger: Logger) async throws -> Server {
        let c = configuration
        // `user`: the account to become once the listeners are bound (see `ServiceAccount`).
        let account: ServiceAccount?
        do {
            account = try ServiceAccount.switchTarget(for: c.user)
        } catch {
            throw StartError(description: "\(error)")
        }
        // 1. State directory and spool. Others may pass through it (0751) to
        // the control socket and the pickup directory, nothing else.
        let spool: Spool
        let stateLock: StateLock
        do {
            try FileManager.default.createDirectory(atPath: c.stateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o751])
            stateLock = try StateLock(stateDirectory: c.stateDirectory)
            spool = try Spool(directory: c.stateDirectory + "/spool")
            try account?.handOver(stateDirectory: c.stateDirectory)
        } catch {
            throw StartError(description: "state_dir \(c.stateDirectory): \(error)")
        }
        // 2. Accounts.
        let accounts: AccountsStore
        do {
            accounts = try AccountsStore(AccountsStore.Configuration(
                domains: c.domains, usersPath: c.accounts.users, aliasesPath: c.accounts.aliases ?? "",
                subaddressSeparators: c.accounts.subaddressSeparator))
        } catch {
            throw StartError(description: "\(error)")
        }
        for warning in accounts.accounts.warnings { logger.warning("\(warning)") }
        // 3. TLS.
        var tls: TLSContextProvider?
        if let t = c.tls {
            do {
                tls = try TLSContextProvider(certificatePath: t.certificate, privateKeyPath: t.privateKey)
            } catch {
                throw StartError(description: "[tls] \(error)")
            }
        }
        if tls == nil, let l = c.listeners.first(where: { $0.role != .mx }) {
            throw StartError(description: "listener \(l.address) (\(l.role.rawValue)) needs [tls] certificate and private_key")
        }
        let template: MailboxPathTemplate
        do {
            template = try MailboxPathTemplate(c.mailbox.maildir)
        } catch {
            throw StartError(description: "[mailbox] maildir: \(error)")
        }
        // 4. Threads, scheduler, listeners.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.eventLoopThreads))
        let storePool = NIOThreadPool(numberOfThreads: options.storeThreads)
        storePool.start()
        let authPool = NIOThreadPool(numberOfThreads: max(1, System.coreCount))
        authPool.start()
        let metrics = PrometheusMetricsFactory(registry: options.metricsRegistry)
        var delivery = DeliveryConfiguration(maildirTemplate: template, hostname: c.hostname.ascii)
        delivery.queueLifetime = c.delivery.queueLifetime
        delivery.retrySchedule.initialDelay = c.delivery.retryMin
        delivery.retrySchedule.maximumDelay = c.delivery.retryMax
        delivery.delayWarning = c.delivery.delayWarning
        delivery.noticeSigner = noticeSigner(c)
        let remote: any RemoteTransport
        let resolver: DNSResolver
        do {
            resolver = try makeResolver(c, group: group, logger: logger, metrics: metrics)
            remote = try makeRemoteTransport(c, resolver: resolver, spool: spool, group: group, pool: storePool,
                                             logger: logger)
        } catch {
            try? await storePool.shutdownGracefully()
            try? await authPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        let scheduler = DeliveryScheduler(spool: spool, router: AccountsRouter(store: accounts),
                                          configuration: delivery, remote: remote, logger: logger,
                                          onEvent: DeliveryMetrics(factory: metrics).record)
        let queue = SpoolQueue(spool: spool, scheduler: scheduler, announce: options.announce)
        let parts = ContextParts(accounts: accounts, queue: queue, tls: tls, storePool: storePool, authPool: authPool,
                                 resolver: resolver, metrics: metrics, logger: logger,
                                 connections: ConnectionLimiter(maximumTotal: c.limits.connections,
                                                                maximumPerAddress: c.limits.connectionsPerIP),
                                 authFailures: AuthFailureTracker(limit: c.limits.authFailures,
                                                                  window: TimeInterval(c.limits.authFailureWindow.components.seconds),
                                                                  delayStep: options.authFailureDelayStep))
        let contexts: [ListenerContext]
        do {
            contexts = try listenerContexts(c, parts: parts)
        } catch {
            try? await storePool.shutdownGracefully()
            try? await authPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw error
        }
        let listeners = zip(c.listeners, contexts).map { l, context in
            InboundServer.Listener(host: l.address.address, port: l.address.port, context: context)
        }
        let inbound: InboundServer
        do {
            inbound = try await bind(listeners, fallback: options.portFallback, group: group, logger: logger,
                                     drainTimeout: options.drainTimeout)
        } catch {
            try? await storePool.shutdownGracefully()
            try? await authPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw StartError(description: "\(error)")
        }
        // Everything that needs root is done: become `user` before anything else
        // runs (the control socket, the metrics endpoint and the services are started
        // as it). A client accepted in the moment since the bind is still in its first
        // exchanges; a message it stored as root would be handed over at the next start.
        if let account {
            do {
                try account.become()
            } catch {
                await inbound.stop()
                try? await storePool.shutdownGracefully()
                try? await authPool.shutdownGracefully()
                try? await group.shutdownGracefully()
                throw StartError(description: "cannot run as user \(account.name): \(error)")
            }
            logger.notice("running as user \(account.name)", metadata: ["uid": "\(account.uid)", "gid": "\(account.gid)"])
        }
        // 5. The control socket and the pickup directory (local submissions).
        let submissions = LocalSubmissions(
            rules: LocalSubmission(hostname: c.hostname.ascii, defaultDomain: (c.domains.first ?? c.hostname).ascii,
                                   trustedUsers: Set(c.sendmail.trustedUsers), maximumSize: c.limits.messageSize,
                                   maximumRecipients: c.limits.recipients),
            spool: spool, scheduler: scheduler, sign: MailAuthenticator.localSignature(keys: c.dkim.keys), logger: logger)
        let pickup = PickupDirectory(stateDirectory: c.stateDirectory)
        let reloader = Reloader()
        let control: ControlServer
        do {
            try pickup.prepare()
            control = try await ControlServer.bind(
                path: c.stateDirectory + "/control.sock", group: group,
                handler: ControlService(spool: spool, scheduler: scheduler, pool: storePool, submissions: submissions,
                                        reload: { await reloader.reload() }, logger: logger),
                logger: logger)
        } catch {
            await inbound.stop()
            try? await storePool.shutdownGracefully()
            try? await authPool.shutdownGracefully()
            try? await group.shutdownGracefully()
            throw StartError(description: "control socket \(c.stateDirectory)/control.sock: \(error)")
        }
        let services: [any Service] = [scheduler, AccountsWatcher(store: accounts, logger: logger, interval: options.accountsCheckInterval), inbound,
                                       PickupService(directory: pickup, submissions: submissions,
                                                     interval: options.pickupInterval, logger: logger),
                                       ReloadOnSignal(signals: options.reloadSignals, reload: { _ = await reloader.reload() })]
        // 6. The Prometheus endpoint, when [metrics] address is set.
        var metricsEndpoint: MetricsEndpoint?
        if let address = c.metrics.address {
            do {
                metricsEndpoint = try await MetricsEndpoint.bind(host: address.address, port: address.port,
                                                                 registry: options.metricsRegistry, spool: spool,
                                                                 group: group, pool: storePool, logger: logger)
            } catch {
                await control.close()
                await inbound.stop()
                try? await storePool.shutdownGracefully()
                try? await authPool.shutdownGracefully()
                try? await group.shutdownGracefully()
                throw StartError(description: "\(error)")
            }
        }
        // The endpoint first, so it stops last: scrapes still answer while sessions drain.
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: ((metricsEndpoint.map { [$0] } ?? []) + services)
                .map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: options.shutdownSignals, logger: logger))
        let server = Server(configuration: c, accounts: accounts, spool: spool, scheduler: scheduler, inbound: inbound,
                      tls: tls, group: group, storePool: storePool, authPool: authPool, serviceGroup: serviceGroup,
                      logger: logger, remote: remote, resolver: resolver, control: control, stateLock: stateLock,
                      metricsEndpoint: metricsEndpoint, options: options, parts: parts)
        reloader.set { [weak server] in await server?.reload() ?? [] }
        return server
    }

    /// With `fallback`, a port in use moves that listener to the next free port (trial mode).
    private static func bind(_ listeners: [InboundServer.Listener], fallback: Bool, group: any EventLoopGroup,
                             logger: Logger, drainTimeout: Duration) async throws -> InboundServer {
        var listeners = listeners
        for attempt in 0..<50 {
            do {
                return try await InboundServer.bind(listeners, group: group, logger: logger, drainTimeout: drainTimeout)
            } catch let error as InboundServer.BindError where fallback && error.addressInUse && attempt < 49 {
                guard let i = listeners.firstIndex(where: { "\($0.host):\($0.port)" == error.address }) else { throw error }
                let taken = listeners[i].port
                // Past every port the listeners use, so two never collide.
                listeners[i].port = max(taken + 1, (listeners.map(\.port).max() ?? taken) + 1)
                logger.notice("port \(taken) is taken; trying \(listeners[i].port)")
            }
        }
        throw StartError(description: "no free port found")
    }

    /// Serves until a shutdown signal or `shutdown()`; then stops accepting,
    /// lets sessions and deliveries finish, and releases the threads.
    public func run() async throws {
        defer { logger.info("stopped") }
        do {
            try await serviceGroup.run()
        } catch {
            await release()
            throw error
        }
        await release()
    }

    public func shutdown() async {
        await serviceGroup.triggerGracefulShutdown()
    }

    private func release() async {
        await control.close()
        if let engine = remote as? RemoteDelivery { await engine.shutdown() }
        // Before the event loops stop: lookups still in flight (a client's
        // reverse name) end now instead of on a dead loop.
        await resolver.shutdown()
        try? await storePool.shutdownGracefully()
        try? await authPool.shutdownGracefully()
        try? await group.shutdownGracefully()
        stateLock.release()
    }
}
