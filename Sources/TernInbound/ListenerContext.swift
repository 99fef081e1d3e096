import Logging
import NIOCore
import NIOPosix
import TernSMTP

/// Everything one listener's sessions share.
public struct ListenerContext: Sendable {
    public var session: SessionConfiguration
    public var policy: any InboundPolicy
    public var queue: any InboundQueue
    public var tls: TLSContextProvider?
    public var connections: ConnectionLimiter
    public var authFailures: AuthFailureTracker
    /// Where messages are written and fsynced: many threads, so that
    /// concurrent sessions' fsyncs overlap and the kernel commits them together.
    public var storePool: NIOThreadPool
    /// Where passwords are hashed (CPU-bound): about one thread per core, so
    /// an AUTH flood cannot hold up the spool.
    public var authPool: NIOThreadPool
    public var timeouts: Timeouts
    public var logger: Logger
    public var registry: SessionRegistry
    /// Finds the client's verified host name for the Received field; nil =
    /// no lookups (the field then says `unknown`).
    public var reverseNames: (any ReverseNameLookup)?
    /// SPF, DMARC (and later DKIM) on each complete message; nil = none.
    public var authenticator: (any InboundAuthenticator)?
    /// This listener's counters (connections, TLS, AUTH failures, messages).
    public var metrics: InboundMetrics

    /// RFC 5321 §4.5.3.2 server timeouts. Defaults: 5 min per command, 3 min
    /// per data block, 10 min for a whole transfer.
    public struct Timeouts: Sendable {
        public var command: TimeAmount
        public var dataBlock: TimeAmount
        public var dataTotal: TimeAmount

        public init(command: TimeAmount = .minutes(5), dataBlock: TimeAmount = .minutes(3), dataTotal: TimeAmount = .minutes(10)) {
            self.command = command
            self.dataBlock = dataBlock
            self.dataTotal = dataTotal
        }
    }

    public init(session: SessionConfiguration, policy: any InboundPolicy, queue: any InboundQueue, tls: TLSContextProvider?,
                connections: ConnectionLimiter, authFailures: AuthFailureTracker, storePool: NIOThreadPool,
                authPool: NIOThreadPool,
                timeouts: Timeouts = Timeouts(), logger: Logger, registry: SessionRegistry,
                reverseNames: (any ReverseNameLookup)? = nil, authenticator: (any InboundAuthenticator)? = nil,
                metrics: InboundMetrics? = nil) {
        self.metrics = metrics ?? InboundMetrics(role: session.role)
        self.reverseNames = reverseNames
        self.authenticator = authenticator
        self.session = session
        self.policy = policy
        self.queue = queue
        self.tls = tls
        self.connections = connections
        self.authFailures = authFailures
        self.storePool = storePool
        self.authPool = authPool
        self.timeouts = timeouts
        self.logger = logger
        self.registry = registry
    }
}

/// The name a client's address is known by, when its PTR record names a
/// host whose own addresses include it (forward-confirmed reverse DNS, as
/// Postfix's `reverse_client_name` check); nil when there is none, when the
/// names disagree, or when DNS fails.
public protocol ReverseNameLookup: Sendable {
    func verifiedName(of address: String) async -> String?
}
