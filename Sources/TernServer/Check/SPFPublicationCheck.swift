import TernDNS
import TernMailAuth

// SPF as published (RFC 7208): one record, that parses, and that gives
// `pass` for every address this host sends from. The check is the real one
// (SPFChecker, libspf2 behind the record guard) so includes, redirects and
// macros count exactly as at a receiver.

extension CheckRun {
    /// The SPF findings of `domain`: a local domain (MAIL FROM identity,
    /// problems are errors), or the hostname (`helo`: the identity checked
    /// for bounces, RFC 7208 §2.3; problems are warnings).
    func spfFindings(at domain: String, helo: Bool, host: HostFacts) async -> [CheckFinding] {
        let severity: CheckFinding.Severity = helo ? .warning : .error
        let addresses = host.sendingAddresses(order: configuration.delivery.addressOrder)
        let suggested = suggestedSPF(for: domain, helo: helo, host: host, addresses: addresses)
        let publish = ZoneLine.txt(domain, suggested)
        func finding(_ severity: CheckFinding.Severity, _ message: String, record: String? = nil) -> CheckFinding {
            CheckFinding(.spf, domain, severity, message, record: record)
        }
        let texts: [String]
        let lookup = await resolver.txt(domain)
        switch lookup {
        case .found(let answer): texts = answer.records
        case .nxdomain, .nodata: texts = []
        default:
            return [finding(.error, "cannot look up the TXT records of \(domain): \(Self.phrase(lookup))")]
        }
        let records = texts.filter(SPFRecordGuard.isSPFRecord)
        let why = helo ? "; receivers check it for bounces, whose sender is empty (RFC 7208 §2.3)" : ""
        guard let text = records.first else {
            return [finding(severity, "\(domain) has no SPF record\(why)", record: publish)]
        }
        guard records.count == 1 else {
            return [finding(severity, "\(domain) has \(records.count) SPF records; receivers treat that as permerror (RFC 7208 §4.5): keep one",
                            record: publish)]
        }
        if case .permerror(let problem) = SPFRecordGuard.check(text) {
            return [finding(severity, "the SPF record of \(domain) does not parse: \(problem)", record: publish)]
        }
        guard !addresses.isEmpty else {
            return [finding(.warning, "\(domain) has an SPF record, but this host's addresses are unknown: give them with --address")]
        }
        var passing: [DNSAddress] = []
        var failing: [(DNSAddress, SPFResult)] = []
        for address in addresses {
            let result = helo
                ? await spf.checkHELO(ip: address, helo: domain)
                : await spf.check(ip: address, helo: hostname, mailFrom: "postmaster@" + domain)
            if result.verdict == .pass { passing.append(address) } else { failing.append((address, result)) }
        }
        var findings: [CheckFinding] = []
        if !passing.isEmpty {
            findings.append(finding(.ok, "the SPF record of \(domain) allows \(passing.map(\.description).joined(separator: ", ")): \"\(text)\""))
        }
        for (address, result) in failing where result.verdict == .temperror {
            findings.append(finding(.error, "the SPF check of \(domain) for \(address) failed temporarily: \(result.reason ?? "DNS error")"))
        }
        for (address, result) in failing where result.verdict == .permerror {
            findings.append(finding(severity, "the SPF record of \(domain) gives permerror for \(address): \(result.reason ?? "invalid")",
                                    record: publish))
        }
        let refused = failing.filter { $0.1.verdict != .temperror && $0.1.verdict != .permerror }
        if !refused.isEmpty {
            let list = refused.map { "\($0.0) (\($0.1.verdict.rawValue))" }.joined(separator: ", ")
            let amended = "v=spf1 " + refused.map { Self.spfTerm($0.0) }.joined(separator: " ")
                + text.dropFirst("v=spf1".count)
            findings.append(finding(severity, "the SPF record of \(domain) does not allow \(list)",
                                    record: ZoneLine.txt(domain, amended)))
        }
        return findings
    }

    /// A record for a domain that has none: `a:<hostname>` when the
    /// hostname resolves to every sending address, else the addresses.
    func suggestedSPF(for domain: String, helo: Bool, host: HostFacts, addresses: [DNSAddress]) -> String {
        let confirmed = !host.forward.isEmpty && addresses.allSatisfy(host.forward.contains)
        if confirmed || addresses.isEmpty {
            return helo ? "v=spf1 a -all" : "v=spf1 a:\(host.hostname) -all"
        }
        return "v=spf1 " + addresses.map(Self.spfTerm).joined(separator: " ") + " -all"
    }

    /// `ip4:192.0.2.1` or `ip6:2001:db8::1` (RFC 7208 §5.6).
    static func spfTerm(_ address: DNSAddress) -> String {
        switch address {
        case .v4: "ip4:\(address)"
        case .v6: "ip6:\(address)"
        }
    }
}
