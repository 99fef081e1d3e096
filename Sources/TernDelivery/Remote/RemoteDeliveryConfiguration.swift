import NIOCore
import TernSMTP

/// How remote mail leaves this host. Defaults are the ones a single VPS
/// needs and match etc/tern.toml's `[delivery]`.
public struct RemoteDeliveryConfiguration: Sendable {
    /// The EHLO name (`hostname`).
    public var hostname: String
    /// Port of MX hosts (`mx_port`). Default: 25.
    public var mxPort: Int
    /// Outgoing connections come from this address (`source_address`);
    /// nil = the kernel's choice.
    public var sourceAddress: String?
    /// Which address family to try first (`address_order`).
    public var addressOrder: AddressOrder
    /// Send through this host instead of to the MX (`relay`).
    public var relay: RelayHost?
    /// Per-domain choices (`[routes]`): ASCII domain, lower case → route.
    /// Domains not listed use the relay when one is set, else the MX.
    public var routes: [String: RemoteRoute]
    /// RFC 5321 §4.5.3.2 timeouts and the connect/TLS timeout.
    public var timeouts: ClientTimeouts
    /// At most this many connections to one destination (domain or relay)
    /// at once. Default: 20, as Postfix's `default_destination_concurrency_limit`.
    public var destinationConcurrency: Int
    /// MX hosts tried per attempt (Postfix's `smtp_mx_address_limit` is 5 addresses).
    public var maximumHosts: Int
    /// How long an idle connection is kept for the next message to the
    /// same destination. Default: 5 s (0 turns reuse off).
    public var connectionReuseTime: Duration
    /// How strictly each destination must do TLS (MTA-STS/DANE later).
    public var tlsPolicy: any DestinationTLSPolicy = OpportunisticTLSPolicy()

    public init(hostname: String, mxPort: Int = 25, sourceAddress: String? = nil, addressOrder: AddressOrder = .ipv4First,
                relay: RelayHost? = nil, routes: [String: RemoteRoute] = [:], timeouts: ClientTimeouts = ClientTimeouts(),
                destinationConcurrency: Int = 20, maximumHosts: Int = 5, connectionReuseTime: Duration = .seconds(5)) {
        self.hostname = hostname
        self.mxPort = mxPort
        self.sourceAddress = sourceAddress
        self.addressOrder = addressOrder
        self.relay = relay
        self.routes = routes
        self.timeouts = timeouts
        self.destinationConcurrency = max(1, destinationConcurrency)
        self.maximumHosts = max(1, maximumHosts)
        self.connectionReuseTime = connectionReuseTime
    }

    /// The route for a recipient domain (ASCII, any case).
    public func route(for domain: String) -> RemoteRoute {
        if let explicit = routes[domain.lowercased()] { return explicit }
        return relay == nil ? .direct : .relay
    }
}

/// Where mail for a domain goes.
public enum RemoteRoute: String, Hashable, Sendable {
    /// To the domain's MX hosts on `mx_port`.
    case direct
    /// Through the relay host.
    case relay
}

/// Which address family to try first when an MX host has both.
public enum AddressOrder: String, Hashable, Sendable, CaseIterable {
    case ipv4First = "ipv4-first"
    case ipv6First = "ipv6-first"
    case ipv4Only = "ipv4-only"
    case ipv6Only = "ipv6-only"
}

/// A smarthost: all (or routed) remote mail goes there, with AUTH.
public struct RelayHost: Sendable, Hashable {
    /// A domain name or an IP address.
    public var host: String
    public var port: Int
    /// Port 465: TLS from the first byte; else STARTTLS, required.
    public var implicitTLS: Bool
    public var credentials: ClientCredentials?
    /// PEM file of the certificate authorities to trust for the relay;
    /// nil = the system's trust store.
    public var trustedCertificates: String?

    public init(host: String, port: Int, implicitTLS: Bool? = nil, credentials: ClientCredentials? = nil,
                trustedCertificates: String? = nil) {
        self.host = host
        self.port = port
        self.implicitTLS = implicitTLS ?? (port == 465)
        self.credentials = credentials
        self.trustedCertificates = trustedCertificates
    }
}

/// Decides how strictly a domain's MX hosts must do TLS: the hook where
/// MTA-STS (RFC 8461) and DANE (RFC 7672) policies plug in. The default
/// is RFC 3207's opportunistic STARTTLS for every domain.
public protocol DestinationTLSPolicy: Sendable {
    /// The policy for delivering to `domain` through `host`.
    func policy(forDomain domain: String, host: String) async -> ClientTLSPolicy
}

/// STARTTLS when offered, certificate not checked: what MX delivery does
/// without a published policy.
public struct OpportunisticTLSPolicy: DestinationTLSPolicy {
    public init() {}
    public func policy(forDomain domain: String, host: String) async -> ClientTLSPolicy { .opportunistic }
}
