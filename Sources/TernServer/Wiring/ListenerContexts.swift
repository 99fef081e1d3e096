import Foundation
import Logging
import CoreMetrics
import NIOPosix
import TernAccounts
import TernDNS
import TernInbound
import TernSMTP

/// What every listener context is made of besides the configuration: the
/// parts that live as long as the server, so that a reload can make new
/// contexts from a new configuration (`Server.reload`).
struct ContextParts: Sendable {
    let accounts: AccountsStore
    let queue: SpoolQueue
    let tls: TLSContextProvider?
    let storePool: NIOThreadPool
    let authPool: NIOThreadPool
    let resolver: DNSResolver
    let metrics: any MetricsFactory
    let logger: Logger
    /// Kept across reloads: connections open now and recent AUTH failures
    /// still count ([limits] connections and auth_failures need a restart).
    let connections: ConnectionLimiter
    let authFailures: AuthFailureTracker
}

extension Server {
    /// One context per configured listener, in order: session limits,
    /// timeouts, the checks after DATA (port 25) or the submission
    /// annotation, reverse lookups.
    static func listenerContexts(_ c: Configuration, parts p: ContextParts) throws -> [ListenerContext] {
        let authenticator = try makeAuthenticator(c, resolver: p.resolver, metrics: MailAuthMetrics(factory: p.metrics))
        // Submissions are not checked, only annotated (auth=pass) and signed.
        let submissionAuthenticator = MailAuthenticator(hostname: c.hostname.ascii, spf: nil, dmarc: nil, dkim: nil,
                                                        signer: authenticator.signer, checks: c.checks)
        let timeouts = ListenerContext.Timeouts(command: .init(c.timeouts.command), dataBlock: .init(c.timeouts.dataBlock),
                                                dataTotal: .init(c.timeouts.dataTotal))
        let policy = AccountsPolicy(store: p.accounts)
        let postmasterDomain = c.domains.first ?? c.hostname
        return c.listeners.map { l in
            let role = SessionConfiguration.Role(rawValue: l.role.rawValue) ?? .mx
            let session = SessionConfiguration(hostname: c.hostname.ascii, role: role, tlsAvailable: p.tls != nil,
                                               maximumMessageSize: c.limits.messageSize,
                                               maximumRecipients: c.limits.recipients, maximumErrors: c.limits.errors,
                                               maximumReceivedFields: c.limits.receivedHeaders,
                                               postmasterDomain: postmasterDomain)
            var logger = p.logger
            logger[metadataKey: "listener"] = "\(l.address)"
            return ListenerContext(session: session, policy: policy, queue: p.queue, tls: p.tls,
                                   connections: p.connections, authFailures: p.authFailures, storePool: p.storePool,
                                   authPool: p.authPool, timeouts: timeouts, logger: logger, registry: SessionRegistry(),
                                   reverseNames: c.dns.reverseLookup ? ReverseNames(resolver: p.resolver) : nil,
                                   authenticator: role == .mx ? authenticator : submissionAuthenticator,
                                   metrics: InboundMetrics(role: role, factory: p.metrics))
        }
    }
}
