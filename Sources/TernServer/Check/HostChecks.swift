import TernDNS
import TernMailAuth

// The host's own records: the hostname's A/AAAA, the reverse DNS of each
// address mail leaves from (forward-confirmed, as receivers check it), and
// the SPF record of the hostname, which receivers check for bounces.

extension CheckRun {
    func hostFindings(_ host: HostFacts) async -> [CheckFinding] {
        var findings = hostnameFindings(host)
        for address in host.sendingAddresses(order: configuration.delivery.addressOrder) {
            findings.append(await reverseFinding(address, host: host))
        }
        findings += await spfFindings(at: hostname, helo: true, host: host)
        return findings
    }

    /// The hostname resolves, and to this host.
    func hostnameFindings(_ host: HostFacts) -> [CheckFinding] {
        let name = host.hostname
        if let failure = host.forwardFailure {
            return [CheckFinding(.hostname, name, .error, "cannot look up the A/AAAA records of \(name): \(failure) (nameservers \(nameserversPhrase))")]
        }
        if host.forward.isEmpty {
            let record = host.addresses.isEmpty
                ? "\(name). IN A <this host's public IPv4 address>"
                : host.addresses.map { ZoneLine.address(name, $0) }.joined(separator: "\n")
            return [CheckFinding(.hostname, name, .error,
                                 "\(name) has no A or AAAA record: other servers cannot reach this host by its name",
                                 record: record)]
        }
        let shown = host.forward.map(\.description).joined(separator: ", ")
        guard host.addressSource != .hostname else {
            return [CheckFinding(.hostname, name, .ok,
                                 "\(name) has the address\(host.forward.count == 1 ? "" : "es") \(shown), taken as this host's (behind NAT? give the public address with --address)")]
        }
        var findings: [CheckFinding] = []
        let missing = host.addresses.filter { !host.forward.contains($0) }
        let extra = host.forward.filter { !host.addresses.contains($0) }
        if missing.isEmpty {
            findings.append(CheckFinding(.hostname, name, .ok, "\(name) has the address\(host.forward.count == 1 ? "" : "es") \(shown)"))
        } else {
            // An interface address may be one the world never sees; an
            // address given or configured is meant.
            let severity: CheckFinding.Severity = host.addressSource == .interfaces ? .warning : .error
            let list = missing.map(\.description).joined(separator: ", ")
            findings.append(CheckFinding(.hostname, name, severity,
                                         "\(name) does not point at \(list) (this host's, from \(host.addressSource.phrase))",
                                         record: missing.map { ZoneLine.address(name, $0) }.joined(separator: "\n")))
        }
        if !extra.isEmpty {
            let list = extra.map(\.description).joined(separator: ", ")
            findings.append(CheckFinding(.hostname, name, .warning,
                                         "\(name) also points at \(list), which is not this host's (from \(host.addressSource.phrase))",
                                         advice: "remove those records, or pass every public address of this host with --address"))
        }
        return findings
    }

    /// RFC 8601 §2.7.3 "iprev" and every large receiver: the address's PTR
    /// names the host, and the name resolves back to the address.
    func reverseFinding(_ address: DNSAddress, host: HostFacts) async -> CheckFinding {
        let subject = address.description
        let name = host.hostname
        let advice = "the reverse zone belongs to whoever gave you the address: set the reverse DNS (PTR) of \(address) to \(name) in your provider's control panel"
        let names: [String]
        let result = await resolver.ptr(address)
        switch result {
        case .found(let answer): names = answer.records
        case .nxdomain, .nodata: names = []
        default:
            return CheckFinding(.ptr, subject, .error, "cannot look up the reverse DNS of \(address): \(Self.phrase(result))")
        }
        if names.isEmpty {
            return CheckFinding(.ptr, subject, .error,
                                "\(address) has no reverse DNS (PTR): many receivers refuse mail from such addresses",
                                record: ZoneLine.ptr(address, name), advice: advice)
        }
        guard names.contains(name) else {
            return CheckFinding(.ptr, subject, .error,
                                "the reverse DNS of \(address) is \(names.joined(separator: ", ")), not \(name)",
                                record: ZoneLine.ptr(address, name), advice: advice)
        }
        guard host.forward.contains(address) else {
            // With no A/AAAA at all, the hostname finding already says what to publish.
            return CheckFinding(.ptr, subject, .error,
                                "the reverse DNS of \(address) is \(name), but \(name) does not resolve to \(address) (not forward-confirmed)",
                                record: host.forward.isEmpty ? nil : ZoneLine.address(name, address))
        }
        return CheckFinding(.ptr, subject, .ok, "\(address) ↔ \(name) (forward-confirmed)")
    }
}
