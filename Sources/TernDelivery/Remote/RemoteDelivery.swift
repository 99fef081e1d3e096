import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TernDNS
import TernSMTP
import TernSpool

/// The remote transport: delivers to each recipient domain's MX hosts on
/// port 25 (or `mx_port`), or through the relay host.
///
/// For one message it groups the recipients by domain and delivers each
/// group as one transaction, groups in parallel. A domain's hosts come from
/// `MailExchangers` (MX by preference, the domain itself when it has no
/// MX, a bounce for a null MX, a retry when DNS fails for now); each host's
/// addresses are tried in the configured order until one takes the
/// transaction. STARTTLS is used whenever offered, without checking the
/// certificate (RFC 3207's opportunistic TLS; a failed handshake is retried
/// once in plain text); a relay host requires TLS with a verified
/// certificate and AUTH. Replies decide each recipient: 2xx delivered,
/// 4xx retry, 5xx bounce; a failure of the connection or of the session is
/// temporary, except a relay's 5xx refusal of AUTH, which bounces with a
/// text that says so.
public final class RemoteDelivery: RemoteTransport {
    public let configuration: RemoteDeliveryConfiguration
    private let resolver: any RemoteResolver
    private let spool: Spool
    private let group: any EventLoopGroup
    private let logger: Logger
    private let opportunisticTLS: NIOSSLContext
    private let relayTLS: NIOSSLContext?
    private let cache: ConnectionCache
    private let limiter: DestinationLimiter

    /// - Throws: when the relay's trusted-certificates file cannot be read.
    public init(configuration: RemoteDeliveryConfiguration, resolver: any RemoteResolver, spool: Spool,
                group: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        self.resolver = resolver
        self.spool = spool
        self.group = group
        self.logger = logger
        var opportunistic = TLSConfiguration.makeClientConfiguration()
        opportunistic.certificateVerification = .none
        opportunistic.minimumTLSVersion = .tlsv12
        self.opportunisticTLS = try NIOSSLContext(configuration: opportunistic)
        if let relay = configuration.relay {
            var verified = TLSConfiguration.makeClientConfiguration()
            verified.certificateVerification = .fullVerification
            verified.minimumTLSVersion = .tlsv12
            if let file = relay.trustedCertificates {
                verified.trustRoots = .file(file)
            }
            self.relayTLS = try NIOSSLContext(configuration: verified)
        } else {
            self.relayTLS = nil
        }
        self.cache = ConnectionCache(keep: configuration.connectionReuseTime)
        self.limiter = DestinationLimiter(limit: configuration.destinationConcurrency)
    }

    /// Ends the idle connections kept for reuse.
    public func shutdown() async {
        await cache.closeAll()
    }

    public func deliver(_ entry: SpoolEntry, to recipients: [Mailbox]) async -> [DeliveryOutcome] {
        // The envelope recipient behind each mailbox (for NOTIFY and ORCPT).
        var unused = Array(entry.envelope.recipients.indices)
        let envelopeRecipients: [EnvelopeRecipient] = recipients.map { mailbox in
            if let at = unused.firstIndex(where: { entry.envelope.recipients[$0].mailbox == mailbox }) {
                return entry.envelope.recipients[unused.remove(at: at)]
            }
            return EnvelopeRecipient(mailbox: mailbox)
        }
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        for (i, mailbox) in recipients.enumerated() {
            let domain = mailbox.domain.ascii.lowercased()
            if groups[domain] == nil { order.append(domain) }
            groups[domain, default: []].append(i)
        }
        var outcomes = [DeliveryOutcome](repeating: .temporaryFailure(SpoolReply(code: 451, enhancedStatus: "4.3.0",
                                                                                text: "not attempted")),
                                         count: recipients.count)
        await withTaskGroup(of: ([Int], [DeliveryOutcome]).self) { tasks in
            for domain in order {
                let indices = groups[domain] ?? []
                let members = indices.map { envelopeRecipients[$0] }
                tasks.addTask {
                    (indices, await self.deliver(entry, domain: domain, recipients: members))
                }
            }
            for await (indices, results) in tasks {
                for (i, outcome) in zip(indices, results) { outcomes[i] = outcome }
            }
        }
        return outcomes
    }

    // MARK: - One domain

    private struct Target: Sendable {
        var host: String
        var address: SocketAddress
    }

    /// Delivers one domain's recipients of a message; one outcome each.
    private func deliver(_ entry: SpoolEntry, domain: String, recipients: [EnvelopeRecipient]) async -> [DeliveryOutcome] {
        let route = configuration.route(for: domain)
        let key = route == .relay ? "relay" : "mx:\(domain)"
        return await limiter.withSlot(key) {
            await self.deliverHoldingSlot(entry, domain: domain, route: route, key: key, recipients: recipients)
        }
    }

    private func deliverHoldingSlot(_ entry: SpoolEntry, domain: String, route: RemoteRoute, key: String,
                                    recipients: [EnvelopeRecipient]) async -> [DeliveryOutcome] {
        let transaction = ClientTransaction(envelope: entry.envelope, recipients: recipients, messageSize: entry.messageSize)
        let spool = self.spool
        let id = entry.id
        let open: @Sendable () throws -> SpoolMessageReader = { try spool.openMessage(id) }

        // A connection kept from an earlier message to the same destination.
        if let connection = cache.take(key) {
            let (result, failure) = await connection.send(transaction, message: open)
            if let result {
                await cache.put(key, connection)
                return outcomes(result, connection: connection)
            }
            connection.close()
            logger.debug("\(id): reused connection to \(connection.peer) failed (\(failure?.description ?? "?")); connecting again")
        }

        let hosts: [String]
        let port: Int
        var session = ClientSessionConfiguration(heloName: configuration.hostname)
        var tls = SMTPClientConnection.ClientTLS(context: opportunisticTLS, serverHostname: nil)
        switch route {
        case .relay:
            guard let relay = configuration.relay, let relayTLS else {
                return fail(recipients, temporary: true, status: "4.3.5",
                            "a route names the relay for \(domain) but no relay is configured")
            }
            hosts = [relay.host]
            port = relay.port
            session.tls = .required
            session.implicitTLS = relay.implicitTLS
            session.credentials = relay.credentials
            tls = .init(context: relayTLS, serverHostname: HostAddresses.literal(relay.host) == nil ? relay.host : nil)
        case .direct:
            if HostAddresses.literal(domain) != nil {
                hosts = [domain]
            } else {
                var rng = SystemRandomNumberGenerator()
                switch await MailExchangers.lookup(domain, resolver: resolver, limit: configuration.maximumHosts, using: &rng) {
                case .hosts(let list):
                    hosts = list
                case .nullMX:
                    // RFC 7505 §4.2: no attempt, and a bounce at once.
                    return fail(recipients, temporary: false, status: "5.1.10",
                                "domain \(domain) does not accept mail (null MX)", code: 556)
                case .noSuchDomain:
                    return fail(recipients, temporary: false, status: "5.1.2",
                                "domain \(domain) does not exist (DNS NXDOMAIN)", code: 550)
                case .temporaryFailure(let text):
                    return fail(recipients, temporary: true, status: "4.4.3", text)
                }
            }
            port = configuration.mxPort
        }

        var lastFailure: ClientFailure?
        var lookupTrouble: String?
        var anyAddress = false
        for host in hosts {
            let addresses: [DNSAddress]
            switch await HostAddresses.lookup(host, order: configuration.addressOrder, resolver: resolver) {
            case .addresses(let list): addresses = list
            case .none:
                logger.info("\(id): \(host) (for \(domain)) has no address; skipped")
                continue
            case .temporaryFailure(let text):
                lookupTrouble = text
                continue
            }
            anyAddress = true
            for dnsAddress in addresses {
                guard let address = try? dnsAddress.socketAddress(port: port) else { continue }
                var attemptSession = session
                var attemptTLS = tls
                if route == .direct {
                    attemptSession.tls = await configuration.tlsPolicy.policy(forDomain: domain, host: host)
                    // A policy that requires TLS requires a certificate that checks out too;
                    // that verification comes with MTA-STS/DANE. Until then, opportunistic.
                }
                var triedPlain = false
                while true {
                    let opened = await SMTPClientConnection.open(
                        host: host, address: address, source: sourceAddress(for: address), group: group,
                        configuration: attemptSession, tls: attemptTLS, timeouts: configuration.timeouts)
                    switch opened {
                    case .failure(let failure):
                        lastFailure = failure
                        if route == .relay && failure.stage == .auth && failure.isPermanent {
                            logger.error("\(id): relay \(host) refused authentication as \(session.credentials?.username ?? "?"): \(failure)")
                            return fail(recipients, temporary: false, status: "5.7.8",
                                        "relay \(host) refused authentication: \(failure.reply.map { "\($0)" } ?? failure.text)",
                                        code: 554)
                        }
                        if route == .direct && failure.stage == .tls && !triedPlain && attemptSession.tls == .opportunistic {
                            // Opportunistic TLS that fails is retried without (as Postfix does).
                            logger.notice("\(id): TLS with \(host)[\(address.ipAddress ?? "?")] failed (\(failure.text)); trying without TLS")
                            attemptSession.tls = .disabled
                            attemptTLS.context = nil
                            triedPlain = true
                            continue
                        }
                        logger.notice("\(id): \(failure)")
                    case .success(let connection):
                        let (result, failure) = await connection.send(transaction, message: open)
                        if let result {
                            await cache.put(key, connection)
                            return outcomes(result, connection: connection)
                        }
                        connection.close()
                        lastFailure = failure
                        logger.notice("\(id): session with \(connection.peer) failed: \(failure?.description ?? "?")")
                    }
                    break
                }
            }
        }
        if let lastFailure {
            return fail(recipients, temporary: true, status: "4.4.1", "delivery to \(domain) failed: \(lastFailure)")
        }
        if let lookupTrouble {
            return fail(recipients, temporary: true, status: "4.4.3", lookupTrouble)
        }
        if !anyAddress {
            return fail(recipients, temporary: false, status: "5.4.4",
                        "no mail host for \(domain) has an address (\(hosts.joined(separator: ", ")))", code: 550)
        }
        return fail(recipients, temporary: true, status: "4.4.1", "no usable address for \(domain)")
    }

    /// The configured source address, when it is of the same family as `target`.
    private func sourceAddress(for target: SocketAddress) -> SocketAddress? {
        guard let text = configuration.sourceAddress, let source = try? SocketAddress(ipAddress: text, port: 0) else {
            return nil
        }
        return source.protocol == target.protocol ? source : nil
    }

    /// Maps a transaction's replies to outcomes. A failure's reply keeps
    /// the server's own text and names the server (`remoteMTA`, for the
    /// bounce's Remote-MTA); the log line adds its address and TLS version.
    private func outcomes(_ result: ClientTransactionResult, connection: SMTPClientConnection) -> [DeliveryOutcome] {
        let tls = connection.tlsVersion ?? "no TLS"
        let peer = "\(connection.peer), \(tls)"
        let address = "\(connection.peer.address.ipAddress ?? "?"):\(connection.peer.address.port ?? 0), \(tls)"
        return result.replies.map { reply in
            let text = reply.lines.joined(separator: " ")
            if reply.isPositive {
                return .delivered(detail: "\(peer): \(reply.code)\(reply.enhanced.map { " \($0)" } ?? "") \(text)")
            }
            let status = reply.enhanced?.description ?? (reply.isPermanent ? "5.0.0" : "4.0.0")
            let said = result.local ? "not sent to \(peer): \(text)" : text
            let spoolReply = SpoolReply(code: reply.code, enhancedStatus: status, text: said,
                                        remoteMTA: result.local ? nil : connection.peer.host,
                                        remoteAddress: result.local ? nil : address)
            return reply.isPermanent ? .permanentFailure(spoolReply) : .temporaryFailure(spoolReply)
        }
    }

    private func fail(_ recipients: [EnvelopeRecipient], temporary: Bool, status: String, _ text: String,
                      code: Int? = nil) -> [DeliveryOutcome] {
        let reply = SpoolReply(code: code ?? (temporary ? 451 : 550), enhancedStatus: status, text: text)
        return recipients.map { _ in temporary ? .temporaryFailure(reply) : .permanentFailure(reply) }
    }
}
