import Foundation
import NIOCore
import TernDNS

// Can this host send? Connections to the MX hosts of a few large providers
// ([check] probe_domains) on [delivery] mx_port: if none gets through and
// they time out, the provider drops outbound port 25, as many VPS and home
// providers do, and the way out is a relay host. When a relay is set, it is
// tried too.

/// How one connection attempt of the outbound test went.
enum PortProbeOutcome: Sendable, Equatable {
    /// Connected; the greeting, or "" when none came in time.
    case connected(String)
    /// Nothing answered: the packets were dropped.
    case timedOut
    /// Refused or unreachable at once.
    case failed(String)
    /// No address to try (DNS).
    case noTarget(String)
}

/// One probe domain and what happened when its MX was tried.
struct PortProbeResult: Sendable {
    var domain: String
    /// `exchange [address]:port`, when there was one to try.
    var target: String?
    var outcome: PortProbeOutcome
}

extension CheckRun {
    /// The lines to add to the configuration to send through a relay host.
    static let relayAdvice = """
        send through a relay host (your provider's smarthost or a mail relay service) on port 587 or 465 — in the configuration:
          [delivery]
          relay = "smtp.relay.example:587"
          relay_username = "you@example.com"
          relay_password_file = "/etc/tern/relay-password"   # holds only the password; mode 0600
        """

    func outboundFindings() async -> [CheckFinding] {
        guard !options.offline else {
            return [CheckFinding(.outbound, "port 25", .info, "not tested (--offline)")]
        }
        var findings: [CheckFinding] = []
        let relay = configuration.delivery.relay
        if let relay { findings += await relayFindings(relay) }
        let domains = configuration.check.probeDomains.map { $0.ascii.lowercased() }
        guard !domains.isEmpty else {
            findings.append(CheckFinding(.outbound, "port \(configuration.delivery.mxPort)", .info,
                                         "not tested: [check] probe_domains is empty"))
            return findings
        }
        let results = await withTaskGroup(of: (Int, PortProbeResult).self) { group in
            for (index, domain) in domains.enumerated() {
                group.addTask { (index, await probe(domain)) }
            }
            var collected: [(Int, PortProbeResult)] = []
            for await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        findings += judge(results, relaySet: relay != nil)
        return findings
    }

    /// One finding per probe, then the verdict.
    func judge(_ results: [PortProbeResult], relaySet: Bool) -> [CheckFinding] {
        let port = configuration.delivery.mxPort
        let timeout = Self.phrase(configuration.check.probeTimeout)
        var findings: [CheckFinding] = []
        var connected = 0, timedOut = 0, failed = 0
        for result in results {
            let subject = result.target.map { "\(result.domain) (\($0))" } ?? result.domain
            switch result.outcome {
            case .connected(let greeting):
                connected += 1
                findings.append(CheckFinding(.outbound, subject, .ok,
                                             "connected" + (greeting.isEmpty ? " (no greeting yet)" : ": \(greeting)")))
            case .timedOut:
                timedOut += 1
                findings.append(CheckFinding(.outbound, subject, .info, "no answer within \(timeout)"))
            case .failed(let why):
                failed += 1
                findings.append(CheckFinding(.outbound, subject, .info, why))
            case .noTarget(let why):
                findings.append(CheckFinding(.outbound, subject, .info, why))
            }
        }
        let names = results.map(\.domain).joined(separator: ", ")
        let verdict: CheckFinding
        if connected > 0 {
            verdict = CheckFinding(.outbound, "port \(port)", .ok, "outbound port \(port) is open")
        } else if timedOut + failed == 0 {
            verdict = CheckFinding(.outbound, "port \(port)", .warning,
                                   "could not test outbound port \(port): no MX host of \(names) has an address to try")
        } else {
            let how = timedOut > 0
                ? "every connection to the MX hosts of \(names) on port \(port) went unanswered for \(timeout)"
                : "every connection to the MX hosts of \(names) on port \(port) was refused"
            if relaySet {
                verdict = CheckFinding(.outbound, "port \(port)", .info,
                                       "\(how): port \(port) is blocked here, but mail goes through [delivery] relay")
            } else {
                verdict = CheckFinding(.outbound, "port \(port)", .error,
                                       "\(how): your provider blocks outbound port \(port), so this host cannot deliver mail to other servers itself",
                                       advice: "ask the provider to open port \(port) (some do on request), or \(Self.relayAdvice)")
            }
        }
        findings.append(verdict)
        return findings
    }

    /// `10s`, `1m30s`, or `500ms` below a second.
    static func phrase(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard seconds == 0 else { return ConfigDuration.format(duration) }
        return "\(attoseconds / 1_000_000_000_000_000)ms"
    }

    /// Tries the most preferred MX host of `domain`.
    func probe(_ domain: String) async -> PortProbeResult {
        let lookup = await resolver.mx(domain)
        guard let exchange = lookup.records.filter({ !$0.isNull }).min(by: { $0.preference < $1.preference })?.exchange else {
            let why = lookup.records.contains(where: \.isNull) ? "it publishes a null MX" : Self.phrase(lookup)
            return PortProbeResult(domain: domain, target: nil, outcome: .noTarget("no MX host to try: \(why)"))
        }
        guard let address = await addresses(of: exchange).first else {
            return PortProbeResult(domain: domain, target: exchange, outcome: .noTarget("\(exchange) has no usable address"))
        }
        let port = configuration.delivery.mxPort
        let target = "\(exchange) [\(address)]:\(port)"
        let outcome = await connect(address, port: port, implicitTLSName: nil)
        return PortProbeResult(domain: domain, target: target, outcome: outcome)
    }

    /// The addresses of `name` in `[delivery] address_order`.
    func addresses(of name: String) async -> [DNSAddress] {
        if let literal = DNSAddress(name) { return [literal] }
        async let a = resolver.a(name)
        async let aaaa = resolver.aaaa(name)
        let (v4, v6) = await (a.records, aaaa.records)
        switch configuration.delivery.addressOrder {
        case "ipv4-only": return v4
        case "ipv6-only": return v6
        case "ipv6-first": return v6 + v4
        default: return v4 + v6
        }
    }

    /// Connects (from `[delivery] source_address`), reads the greeting and quits.
    func connect(_ address: DNSAddress, port: Int, implicitTLSName: String?) async -> PortProbeOutcome {
        let timeout = configuration.check.probeTimeout
        let remote: SocketAddress
        var source: SocketAddress?
        do {
            remote = try address.socketAddress(port: port)
            if let text = configuration.delivery.sourceAddress { source = try SocketAddress(ipAddress: text, port: 0) }
        } catch {
            return .failed("not a usable address: \(error)")
        }
        let connection: ProbeConnection
        do {
            connection = try await ProbeConnection.connect(to: remote, from: source, timeout: timeout, group: group)
        } catch .timedOut {
            return .timedOut
        } catch {
            return .failed("\(error)")
        }
        var greeting = ""
        do {
            if let implicitTLSName { _ = try await connection.startTLS(serverName: implicitTLSName) }
            let reply = try await connection.readReply()
            greeting = "\(reply.code) \(reply.lines.first ?? "")"
        } catch {
            // Connected is what counts; a slow greeting is not a block.
        }
        await connection.quit()
        return .connected(greeting)
    }

    /// The relay host answers, and its password file is there (never read).
    func relayFindings(_ relay: Configuration.Relay) async -> [CheckFinding] {
        let subject = "relay \(relay.host):\(relay.port)"
        var findings: [CheckFinding] = []
        if let file = relay.passwordFile, !FileManager.default.isReadableFile(atPath: file) {
            findings.append(CheckFinding(.outbound, subject, .error, "relay_password_file \(file) cannot be read"))
        }
        guard let address = await addresses(of: relay.host).first else {
            findings.append(CheckFinding(.outbound, subject, .error, "\(relay.host) has no usable address"))
            return findings
        }
        let name = DNSAddress(relay.host) == nil ? relay.host : nil
        switch await connect(address, port: relay.port, implicitTLSName: relay.usesImplicitTLS ? (name ?? "relay") : nil) {
        case .connected(let greeting):
            findings.append(CheckFinding(.outbound, subject, .ok, "answers" + (greeting.isEmpty ? "" : ": \(greeting)")))
        case .timedOut:
            findings.append(CheckFinding(.outbound, subject, .error,
                                         "no answer within \(Self.phrase(configuration.check.probeTimeout)) from \(address):\(relay.port)"))
        case .failed(let why), .noTarget(let why):
            findings.append(CheckFinding(.outbound, subject, .error, "cannot reach \(address):\(relay.port): \(why)"))
        }
        return findings
    }
}
