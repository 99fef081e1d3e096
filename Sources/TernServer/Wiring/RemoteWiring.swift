import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOPosix
import TernDNS
import TernDelivery
import TernSMTP
import TernSpool

extension Server {
    /// The one resolver of the server, on `[dns] nameservers` (or
    /// /etc/resolv.conf when that is empty).
    /// A host without a usable /etc/resolv.conf gets 127.0.0.1:53 (what
    /// the C library assumes too) and a warning.
    static func makeResolver(_ c: Configuration, group: any EventLoopGroup, logger: Logger,
                             metrics: any MetricsFactory = MetricsSystem.factory) throws -> DNSResolver {
        var resolverConfiguration: DNSResolverConfiguration
        if c.dns.nameservers.isEmpty {
            do {
                resolverConfiguration = try DNSResolverConfiguration.systemDefault()
            } catch {
                logger.warning("[dns] nameservers is empty and /etc/resolv.conf gives none (\(error)); asking 127.0.0.1:53")
                resolverConfiguration = DNSResolverConfiguration(nameservers: [try SocketAddress(ipAddress: "127.0.0.1", port: 53)])
            }
        } else {
            var addresses: [SocketAddress] = []
            for endpoint in c.dns.nameservers {
                do {
                    addresses.append(try SocketAddress(ipAddress: endpoint.address, port: endpoint.port))
                } catch {
                    throw StartError(description: "[dns] nameserver \(endpoint): \(error)")
                }
            }
            resolverConfiguration = DNSResolverConfiguration(nameservers: addresses)
        }
        return DNSResolver(configuration: resolverConfiguration, eventLoopGroup: group,
                           metrics: DNSMetrics(factory: metrics))
    }

    /// The remote transport `[delivery]` asks for: the capture Maildir, or
    /// the MX/relay engine on a resolver built from `[dns]`.
    static func makeRemoteTransport(_ c: Configuration, resolver: DNSResolver, spool: Spool, group: any EventLoopGroup,
                                    pool: NIOThreadPool, logger: Logger) throws -> any RemoteTransport {
        if let capture = c.delivery.capture {
            logger.notice("outbound mail is captured in \(capture), not sent ([delivery] capture)")
            return CaptureTransport(maildir: capture, spool: spool, hostname: c.hostname.ascii, threadPool: pool)
        }
        var remote = RemoteDeliveryConfiguration(hostname: c.hostname.ascii, mxPort: c.delivery.mxPort,
                                                 sourceAddress: c.delivery.sourceAddress,
                                                 addressOrder: AddressOrder(rawValue: c.delivery.addressOrder) ?? .ipv4First)
        if let relay = c.delivery.relay {
            var credentials: ClientCredentials?
            if let username = relay.username, let file = relay.passwordFile {
                let password: String
                do {
                    password = try String(contentsOfFile: file, encoding: .utf8)
                } catch {
                    throw StartError(description: "[delivery] relay_password_file \(file) cannot be read: \(error.localizedDescription)")
                }
                let trimmed = password.trimmingCharacters(in: .newlines)
                guard !trimmed.isEmpty else {
                    throw StartError(description: "[delivery] relay_password_file \(file) is empty")
                }
                credentials = ClientCredentials(username: username, password: trimmed)
            }
            remote.relay = RelayHost(host: relay.host, port: relay.port, implicitTLS: relay.usesImplicitTLS,
                                     credentials: credentials, trustedCertificates: relay.caFile)
        }
        for (domain, route) in c.routes {
            remote.routes[domain] = RemoteRoute(rawValue: route) ?? .direct
        }
        do {
            return try RemoteDelivery(configuration: remote, resolver: resolver, spool: spool, group: group,
                                      logger: logger)
        } catch {
            throw StartError(description: "[delivery] relay_ca_file: \(error)")
        }
    }
}
