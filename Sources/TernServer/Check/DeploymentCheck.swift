import Foundation
import Logging
import NIOCore
import NIOPosix
import TernDNS
import TernMailAuth
import TernSMTP
import X509

/// `tern check`: looks at a deployment the way the rest of the world sees
/// it and says what to fix.
///
/// Through DNS (the configuration's `[dns]` nameservers, as the server
/// resolves): the hostname's A/AAAA records, the reverse DNS of this
/// host's addresses (forward-confirmed), and for each local domain its MX,
/// SPF (run for each of this host's addresses), DKIM key records against
/// the keys on disk, DMARC, and MTA-STS and TLS-RPT when published. Then
/// the certificate in `[tls]` and the one each listener serves, and
/// whether outbound port 25 is open (connections to the MX hosts of
/// `[check] probe_domains`).
///
/// SECURITY: reads the configuration, the certificate file and the DKIM
/// keys (public halves are compared; nothing is written); never reads the
/// relay password file. Connects to this host's listeners and, unless
/// offline, to the MX hosts of the probe domains and to the relay host,
/// greets them and quits without sending mail.
public struct DeploymentCheck: Sendable {
    public struct Options: Sendable {
        /// The domains to check; empty = the configuration's local domains.
        public var domains: [Domain] = []
        /// This host's public addresses (IPv4 or IPv6 text), for a host
        /// behind NAT. Empty = the listeners' explicit addresses and
        /// `[delivery] source_address`, else the machine's public interface
        /// addresses, else the hostname's A/AAAA records. Entries that are
        /// not addresses are ignored (see `isAddress`).
        public var addresses: [String] = []
        /// Skip the outbound tests (they connect to other providers' servers).
        public var offline = false
        /// Connect to the listeners and look at the certificate they serve.
        public var probeListeners = true
        /// The time limit for connecting to this host's own listeners. Default 5 s.
        public var listenerTimeout: Duration = .seconds(5)
        /// Less certificate validity left than this is an error. Default 14 days.
        public var minimumCertificateValidity: Duration = .seconds(14 * 86_400)
        /// PEM certificates trusted besides the system's authorities.
        public var extraTrustRoots: [String] = []
        /// The moment certificates are judged at. Default: now.
        public var now = Date()

        public init() {}
    }

    public let configuration: Configuration
    public let options: Options

    /// Whether `text` is an IPv4 or IPv6 address, as `Options.addresses` takes.
    public static func isAddress(_ text: String) -> Bool { DNSAddress(text) != nil }

    public init(configuration: Configuration, options: Options = Options()) {
        self.configuration = configuration
        self.options = options
    }

    /// Runs every check and returns the findings, host first, then each
    /// domain, TLS, and outbound mail.
    public func run() async -> [CheckFinding] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "tern-check")
        logger.logLevel = .error
        let findings: [CheckFinding]
        do {
            let resolver = try Server.makeResolver(configuration, group: group, logger: logger)
            let run = CheckRun(configuration: configuration, options: options, resolver: resolver, group: group)
            findings = await run.all()
            await resolver.shutdown()
        } catch {
            findings = [CheckFinding(.hostname, "[dns]", .error, "cannot make a resolver: \(error)")]
        }
        try? await group.shutdownGracefully()
        return findings
    }
}

/// Where this host's addresses came from; it decides how sure the checks
/// can be about them.
enum AddressSource: Sendable, Equatable {
    case given
    case configuration
    case interfaces
    case hostname

    var phrase: String {
        switch self {
        case .given: "given with --address"
        case .configuration: "the listeners' and [delivery] source_address"
        case .interfaces: "this machine's network interfaces"
        case .hostname: "the hostname's A/AAAA records"
        }
    }
}

/// What the host checks found out first and the domain checks reuse.
struct HostFacts: Sendable {
    /// The hostname, A-labels, lowercased.
    var hostname: String
    /// This host's addresses.
    var addresses: [DNSAddress]
    var addressSource: AddressSource
    /// The hostname's A and AAAA records.
    var forward: [DNSAddress]
    /// Why the hostname could not be looked up, when it could not.
    var forwardFailure: String?

    /// The addresses mail leaves from, as `[delivery] address_order` allows.
    func sendingAddresses(order: String) -> [DNSAddress] {
        addresses.filter { address in
            switch (order, address) {
            case ("ipv4-only", .v6), ("ipv6-only", .v4): false
            default: true
            }
        }
    }
}

/// One run of the checks, with its resolver and event loops.
struct CheckRun: Sendable {
    let configuration: Configuration
    let options: Options
    let resolver: DNSResolver
    let group: any EventLoopGroup
    let spf: SPFChecker

    typealias Options = DeploymentCheck.Options

    init(configuration: Configuration, options: Options, resolver: DNSResolver, group: any EventLoopGroup) {
        self.configuration = configuration
        self.options = options
        self.resolver = resolver
        self.group = group
        self.spf = SPFChecker(lookup: resolver, configuration: SPFChecker.Configuration(
            receiver: configuration.hostname.ascii, threads: 1))
    }

    var hostname: String { configuration.hostname.ascii.lowercased() }

    func all() async -> [CheckFinding] {
        let host = await hostFacts()
        var findings = scoped("host \(hostname)", await hostFindings(host))
        var mtaSTSDomains: [String] = []
        let domains = options.domains.isEmpty ? configuration.domains : options.domains
        for domain in domains {
            let name = domain.ascii.lowercased()
            findings += scoped("domain \(name)", await domainFindings(name, host: host))
            if await publishesMTASTS(name) { mtaSTSDomains.append(name) }
        }
        findings += scoped("TLS", await tlsFindings(host, mtaSTSDomains: mtaSTSDomains))
        findings += scoped("outbound mail", await outboundFindings())
        return findings
    }

    /// Whether `domain` publishes an MTA-STS record (valid or not): senders
    /// that find one insist on a trusted certificate. The lookup is cached.
    func publishesMTASTS(_ domain: String) async -> Bool {
        await resolver.txt("_mta-sts." + domain).records.contains(where: MTASTSRecord.isCandidate)
    }

    private func scoped(_ scope: String, _ findings: [CheckFinding]) -> [CheckFinding] {
        findings.map { finding in
            var f = finding
            f.scope = scope
            return f
        }
    }

    // MARK: This host's addresses

    func hostFacts() async -> HostFacts {
        async let a = resolver.a(hostname)
        async let aaaa = resolver.aaaa(hostname)
        let (v4, v6) = await (a, aaaa)
        var failure: String?
        for result in [v4, v6] where result.isTemporaryFailure {
            failure = failure ?? Self.phrase(result)
        }
        let forward = v4.records + v6.records
        var facts = HostFacts(hostname: hostname, addresses: [], addressSource: .hostname, forward: forward,
                              forwardFailure: forward.isEmpty ? failure : nil)
        let given = options.addresses.compactMap(DNSAddress.init)
        if !given.isEmpty {
            facts.addresses = given
            facts.addressSource = .given
        } else if !configuredAddresses.isEmpty {
            facts.addresses = configuredAddresses
            facts.addressSource = .configuration
        } else if case let interfaces = Self.publicInterfaceAddresses(), !interfaces.isEmpty {
            facts.addresses = interfaces
            facts.addressSource = .interfaces
        } else {
            facts.addresses = forward
        }
        return facts
    }

    /// The listeners' explicit addresses and `[delivery] source_address`.
    var configuredAddresses: [DNSAddress] {
        var texts = configuration.listeners.map(\.address.address).filter { $0 != "0.0.0.0" && $0 != "::" }
        if let source = configuration.delivery.sourceAddress { texts.append(source) }
        var seen: [DNSAddress] = []
        for address in texts.compactMap(DNSAddress.init) where !seen.contains(address) { seen.append(address) }
        return seen
    }

    /// Global unicast addresses of this machine's interfaces: not loopback,
    /// link-local, private (RFC 1918, RFC 4193) or shared (RFC 6598).
    static func publicInterfaceAddresses() -> [DNSAddress] {
        let devices = (try? System.enumerateDevices()) ?? []
        var found: [DNSAddress] = []
        for device in devices {
            guard let text = device.address?.ipAddress, let address = DNSAddress(text), isPublic(address),
                  !found.contains(address) else { continue }
            found.append(address)
        }
        return found
    }

    /// `isPublic` of an address in text; false for anything else.
    static func isPublic(_ text: String) -> Bool {
        DNSAddress(text).map(isPublic) ?? false
    }

    static func isPublic(_ address: DNSAddress) -> Bool {
        switch address {
        case .v4(let o):
            guard o.count == 4 else { return false }
            if o[0] == 0 || o[0] == 10 || o[0] == 127 || o[0] >= 224 { return false }
            if o[0] == 169 && o[1] == 254 { return false }
            if o[0] == 172 && (16...31).contains(o[1]) { return false }
            if o[0] == 192 && o[1] == 168 { return false }
            if o[0] == 100 && (64...127).contains(o[1]) { return false }
            return true
        case .v6(let o):
            // 2000::/3, global unicast.
            return o.count == 16 && o[0] & 0xE0 == 0x20
        }
    }

    /// A lookup that found nothing usable, in words.
    static func phrase<T>(_ result: DNSResult<T>) -> String {
        switch result {
        case .found: "found"
        case .nxdomain: "no such name (NXDOMAIN)"
        case .nodata: "no records of that type"
        case .servfail: "the nameserver failed (SERVFAIL)"
        case .timeout: "no nameserver answered (timeout)"
        case .failure(let why): why
        }
    }

    /// The `[dns]` nameservers, for messages.
    var nameserversPhrase: String {
        resolver.configuration.nameservers.map { "\($0.ipAddress ?? "?"):\($0.port ?? 53)" }.joined(separator: ", ")
    }
}
