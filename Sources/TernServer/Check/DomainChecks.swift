import Foundation
import TernDNS
import TernMailAuth

// The records of one local domain: MX (RFC 5321 §5.1), SPF, DKIM keys
// (RFC 6376 §3.6) against the keys on disk, DMARC (RFC 7489 §6.1), and
// MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460 §3) when published.

extension CheckRun {
    func domainFindings(_ domain: String, host: HostFacts) async -> [CheckFinding] {
        var findings = await mxFindings(domain, host: host)
        findings += await spfFindings(at: domain, helo: false, host: host)
        findings += await dkimFindings(domain)
        findings += await dmarcFindings(domain)
        findings += await mtaSTSFindings(domain)
        findings += await tlsRPTFindings(domain)
        return findings
    }

    /// The TXT records at `name`, or a finding saying why they could not be
    /// looked up. NXDOMAIN and NODATA are no records.
    private func txt(_ name: String, area: CheckFinding.Area) async -> TXTLookup {
        let result = await resolver.txt(name)
        switch result {
        case .found(let answer): return .success(answer.records)
        case .nxdomain, .nodata: return .success([])
        default:
            return .failure(CheckFinding(area, name, .error, "cannot look up the TXT records of \(name): \(Self.phrase(result))"))
        }
    }

    private enum TXTLookup {
        case success([String])
        case failure(CheckFinding)
    }

    // MARK: MX

    func mxFindings(_ domain: String, host: HostFacts) async -> [CheckFinding] {
        let publish = ZoneLine.mx(domain, host.hostname)
        let result = await resolver.mx(domain)
        let records: [MXRecord]
        switch result {
        case .found(let answer): records = answer.records
        case .nxdomain:
            return [CheckFinding(.mx, domain, .error, "\(domain) does not exist in DNS (NXDOMAIN)", record: publish)]
        case .nodata:
            return [CheckFinding(.mx, domain, .error,
                                 "\(domain) has no MX record: senders fall back to its A record (RFC 5321 §5.1), if it has one",
                                 record: publish)]
        default:
            return [CheckFinding(.mx, domain, .error, "cannot look up the MX records of \(domain): \(Self.phrase(result))")]
        }
        if records.contains(where: \.isNull) {
            return [CheckFinding(.mx, domain, .error, "\(domain) publishes a null MX: it takes no mail (RFC 7505)",
                                 record: publish, advice: "remove the MX record \".\" and publish the one above")]
        }
        let sorted = records.sorted { $0.preference < $1.preference }
        let shown = sorted.map { "\($0.preference) \($0.exchange)" }.joined(separator: ", ")
        if let mine = sorted.first(where: { $0.exchange == host.hostname }) {
            var findings = [CheckFinding(.mx, domain, .ok, "MX \(mine.preference) \(mine.exchange)")]
            let preferred = sorted.filter { $0.preference < mine.preference }
            if !preferred.isEmpty {
                findings.append(CheckFinding(.mx, domain, .info,
                                             "other MX hosts come first: \(preferred.map(\.exchange).joined(separator: ", "))"))
            }
            return findings
        }
        // An MX under another name that has this host's address is this host.
        for record in sorted {
            async let a = resolver.a(record.exchange)
            async let aaaa = resolver.aaaa(record.exchange)
            let addresses = await a.records + aaaa.records
            if let shared = addresses.first(where: host.addresses.contains) {
                return [CheckFinding(.mx, domain, .ok,
                                     "MX \(record.preference) \(record.exchange), which has this host's address \(shared)")]
            }
        }
        return [CheckFinding(.mx, domain, .error, "the MX of \(domain) is \(shown), not this host (\(host.hostname))",
                             record: publish)]
    }

    // MARK: DKIM

    /// Each key that signs (the newest of each algorithm in `[dkim] keys`)
    /// has its record published, with the same public key.
    func dkimFindings(_ domain: String) async -> [CheckFinding] {
        let store = DKIMKeyStore(directory: configuration.dkim.keys)
        let keys: [DKIMSigningKey]
        let folder: String
        do {
            keys = try store.signingKeys(for: domain)
            folder = try store.folder(for: domain)
        } catch {
            return [CheckFinding(.dkim, domain, .error, "cannot read the DKIM keys of \(domain): \(error)")]
        }
        guard !keys.isEmpty else {
            return [CheckFinding(.dkim, domain, .warning,
                                 "no DKIM key for \(domain) in \(configuration.dkim.keys): its mail is not signed, and large receivers want a signature",
                                 advice: "tern dkim keygen \(domain) --keys \(configuration.dkim.keys), publish the record it prints, and run tern reload")]
        }
        var findings: [CheckFinding] = []
        for key in keys {
            let path = (folder as NSString).appendingPathComponent(key.selector + ".key")
            let published = DKIMKeyStore.GeneratedKey(key: key, path: path)
            let name = published.recordName
            func problem(_ message: String) -> CheckFinding {
                CheckFinding(.dkim, name, .error, message, record: published.zoneLine)
            }
            let texts: [String]
            switch await txt(name, area: .dkim) {
            case .failure(let finding): findings.append(finding); continue
            case .success(let t): texts = t
            }
            guard let text = texts.first else {
                findings.append(problem("no DKIM record for the key \(path): receivers cannot verify its signatures"))
                continue
            }
            guard texts.count == 1 else {
                findings.append(problem("\(texts.count) TXT records at \(name): keep only the key record"))
                continue
            }
            guard let record = DKIMKeyRecord.parse(DKIMKeyRecord.normalizedForVerifier(text)) else {
                findings.append(problem("the DKIM record at \(name) does not parse"))
                continue
            }
            if let version = record.tags["v"], version != "DKIM1" {
                findings.append(problem("the DKIM record at \(name) has v=\(version), not v=DKIM1"))
                continue
            }
            guard record.keyType == key.algorithm.keyType else {
                findings.append(problem("the DKIM record at \(name) is for k=\(record.keyType), the key on disk is \(key.algorithm.keyType)"))
                continue
            }
            guard let publishedKey = record.publicKey, !publishedKey.isEmpty else {
                findings.append(problem("the DKIM record at \(name) is revoked or has no usable key (p=)"))
                continue
            }
            guard Data(publishedKey) == Data(base64Encoded: key.publicKeyBase64) else {
                findings.append(problem("the DKIM record at \(name) holds another key than \(path)"))
                continue
            }
            var finding = CheckFinding(.dkim, name, .ok, "matches \(path) (\(key.algorithm.keyType))")
            if let flags = record.tags["t"], flags.split(separator: ":").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "y" }) {
                finding.severity = .warning
                finding.message += ", but t=y: receivers treat the signatures as a test (RFC 6376 §3.6.1)"
            }
            findings.append(finding)
        }
        return findings
    }

    // MARK: DMARC

    func dmarcFindings(_ domain: String) async -> [CheckFinding] {
        let name = "_dmarc." + domain
        let publish = ZoneLine.txt(name, "v=DMARC1; p=none; rua=mailto:postmaster@\(domain)")
        let texts: [String]
        switch await txt(name, area: .dmarc) {
        case .failure(let finding): return [finding]
        case .success(let t): texts = t
        }
        let records = texts.filter(DMARCRecord.isDMARCRecord)
        guard let text = records.first else {
            return [CheckFinding(.dmarc, name, .error,
                                 "\(domain) has no DMARC record: large receivers want one, and it tells them what to do with forgeries",
                                 record: publish,
                                 advice: "start with p=none, read the reports, then raise it to p=quarantine or p=reject")]
        }
        guard records.count == 1 else {
            return [CheckFinding(.dmarc, name, .error,
                                 "\(records.count) DMARC records at \(name): receivers then apply none (RFC 7489 §6.6.3); keep one",
                                 record: publish)]
        }
        let record: DMARCRecord
        do {
            record = try DMARCRecord(parsing: text)
        } catch {
            let why = if case .noUsablePolicy(let reason) = error { reason } else { "not a DMARC record" }
            return [CheckFinding(.dmarc, name, .error, "the DMARC record of \(domain) is unusable: \(why)", record: publish)]
        }
        var findings: [CheckFinding] = []
        if record.policyWasReplaced || !record.ignoredTerms.isEmpty {
            let ignored = record.ignoredTerms.map { "\"\($0)\"" }.joined(separator: ", ")
            findings.append(CheckFinding(.dmarc, name, .warning,
                                         "receivers ignore parts of the DMARC record of \(domain): \(ignored.isEmpty ? "its policy" : ignored)"))
        }
        let policy = "p=\(record.policy.rawValue)"
        if record.policy == .none {
            findings.append(CheckFinding(.dmarc, name, .ok,
                                         "\(policy): receivers report but do not act; raise it to p=quarantine or p=reject when the reports look right"))
        } else {
            findings.append(CheckFinding(.dmarc, name, .ok, "\(policy)"))
        }
        return findings
    }

    // MARK: MTA-STS and TLS-RPT

    /// Published is optional; published wrong is an error, since senders
    /// that honour MTA-STS then cannot use it.
    func mtaSTSFindings(_ domain: String) async -> [CheckFinding] {
        let name = "_mta-sts." + domain
        let texts: [String]
        switch await txt(name, area: .mtaSTS) {
        case .failure(let finding): return [finding]
        case .success(let t): texts = t
        }
        let records = texts.filter(MTASTSRecord.isCandidate)
        guard let text = records.first else {
            return [CheckFinding(.mtaSTS, name, .info, "MTA-STS is not published (optional)")]
        }
        let publish = ZoneLine.txt(name, "v=STSv1; id=\(Self.policyID(options.now))")
        guard records.count == 1 else {
            return [CheckFinding(.mtaSTS, name, .error,
                                 "\(records.count) MTA-STS records at \(name): senders then assume no policy (RFC 8461 §3.1); keep one",
                                 record: publish)]
        }
        switch MTASTSRecord.parse(text) {
        case .failure(let problem):
            return [CheckFinding(.mtaSTS, name, .error, "the MTA-STS record of \(domain) is invalid: \(problem)",
                                 record: publish)]
        case .success(let record):
            // §3.2: the policy is served at https://mta-sts.<domain>/.well-known/mta-sts.txt.
            let policyHost = "mta-sts." + domain
            async let a = resolver.a(policyHost)
            async let aaaa = resolver.aaaa(policyHost)
            guard !(await a.records + aaaa.records).isEmpty else {
                return [CheckFinding(.mtaSTS, name, .error,
                                     "MTA-STS is published (id=\(record.id)), but \(policyHost), which must serve the policy over HTTPS, has no address",
                                     record: "\(policyHost). IN A <the address of your web server>")]
            }
            return [CheckFinding(.mtaSTS, name, .ok,
                                 "id=\(record.id); the policy itself (https://\(policyHost)/.well-known/mta-sts.txt) is not fetched")]
        }
    }

    func tlsRPTFindings(_ domain: String) async -> [CheckFinding] {
        let name = "_smtp._tls." + domain
        let texts: [String]
        switch await txt(name, area: .tlsRPT) {
        case .failure(let finding): return [finding]
        case .success(let t): texts = t
        }
        let publish = ZoneLine.txt(name, "v=TLSRPTv1; rua=mailto:postmaster@\(domain)")
        let records = texts.filter(TLSRPTRecord.isCandidate)
        guard let text = records.first else {
            return [CheckFinding(.tlsRPT, name, .info, "TLS reporting is not published (optional)")]
        }
        guard records.count == 1 else {
            return [CheckFinding(.tlsRPT, name, .error,
                                 "\(records.count) TLS-RPT records at \(name): senders then send no reports (RFC 8460 §3); keep one",
                                 record: publish)]
        }
        switch TLSRPTRecord.parse(text) {
        case .failure(let problem):
            return [CheckFinding(.tlsRPT, name, .error, "the TLS-RPT record of \(domain) is invalid: \(problem)", record: publish)]
        case .success(let record):
            return [CheckFinding(.tlsRPT, name, .ok, "reports go to \(record.reportURIs.joined(separator: ", "))")]
        }
    }

    /// A fresh MTA-STS policy id: the date and time, e.g. `20250131T120000`.
    static func policyID(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return formatter.string(from: date)
    }
}
