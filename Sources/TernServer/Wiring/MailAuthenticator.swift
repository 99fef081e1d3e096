import Foundation
import TernDNS
import TernDelivery
import TernInbound
import TernMailAuth
import TernSMTP

/// The checks after DATA, on TernMailAuth: SPF for the client and MAIL
/// FROM (HELO for a null sender), DMARC on the From domain with SPF's
/// result (DKIM joins when it is wired), one Authentication-Results field
/// with this host as authserv-id (any incoming one claiming it is removed,
/// RFC 8601 §5), and Received-SPF. Authenticated submissions are not
/// checked: they get `auth=pass smtp.auth=USER` and, when `[dkim] keys`
/// holds keys for the From domain, DKIM signatures (RSA and Ed25519).
struct MailAuthenticator: InboundAuthenticator {
    let hostname: String
    let spf: SPFChecker?
    let dmarc: DMARCEvaluator?
    let dkim: DKIMVerifier?
    let signer: DKIMSigner?
    let checks: Configuration.Checks
    /// Counts each SPF, DKIM and DMARC result (`MailAuthMetrics`).
    var metrics = MailAuthMetrics()

    func check(_ facts: ReceivedMessageFacts) async -> AuthenticationDecision {
        let forged = AuthenticationResultsFilter.forgedFields(in: facts.headerSection, authservID: hostname)
        var results: [AuthenticationResults.Result] = []
        var trace = ""
        var folder: String?
        if let user = facts.authenticatedUser {
            results.append(AuthenticationResults.Result(method: "auth", result: "pass", properties: [.smtpAuth(user)]))
            trace += sign(facts)
        } else {
            // Counted however the checks end, refusals included.
            defer { results.forEach(metrics.record) }
            var dkimDomains: [AuthenticatedDomain] = []
            if let dkim {
                let verified = await dkim.verify(Array(facts.message.readableBytesView))
                results += verified.authenticationResults
                dkimDomains = verified.authenticatedDomains
            }
            var spfDomain: AuthenticatedDomain?
            if let spf, let client = DNSAddress(facts.clientAddress) {
                let sender = facts.sender.mailbox.map { "\($0.localPart)@\($0.domain.ascii)" } ?? ""
                let result = await spf.check(ip: client, helo: facts.heloName, mailFrom: sender)
                trace += spf.receivedSPF(result)
                results.append(result.authenticationResult)
                spfDomain = result.authenticatedDomain
                if checks.spf == .reject {
                    switch result.verdict {
                    case .fail:
                        // RFC 7372 §3.2: 5.7.23 SPF validation failed.
                        return .refuse(SMTPReply(550, EnhancedStatus(5, 7, 23),
                                                 "SPF check failed for \(result.domain): \(result.explanation ?? "not permitted")"))
                    case .temperror:
                        return .refuse(SMTPReply(451, EnhancedStatus(4, 7, 24),
                                                 "SPF check for \(result.domain) failed temporarily; try again later"))
                    default:
                        break
                    }
                }
            }
            if let dmarc {
                let verdict = await dmarc.evaluate(authors: AuthorDomains(headerSection: facts.headerSection),
                                                   spf: spfDomain, dkim: dkimDomains)
                var properties: [AuthenticationResults.Property] = []
                if let from = verdict.headerFrom { properties.append(.headerFrom(from)) }
                let policy = verdict.evaluations.first?.requestedPolicy.map { "p=\($0.rawValue)" }
                results.append(AuthenticationResults.Result(method: "dmarc", result: verdict.result.rawValue,
                                                            reason: verdict.reason, comment: policy,
                                                            properties: properties))
                if checks.dmarc == .enforce {
                    switch verdict.disposition {
                    case .reject:
                        return .refuse(SMTPReply(550, EnhancedStatus(5, 7, 1),
                                                 "rejected by the DMARC policy of \(verdict.headerFrom ?? "the From domain")"))
                    case .quarantine:
                        folder = "Junk"
                    case .none:
                        break
                    }
                }
            }
        }
        guard !results.isEmpty else {
            return .accept(prepend: trace, remove: forged, folder: folder)
        }
        let header = AuthenticationResults(authservID: hostname, results: results).rendered()
        return .accept(prepend: header + trace, remove: forged, folder: folder)
    }

    /// DKIM-Signature fields for a submission whose From domain has keys;
    /// "" when it has none (or the message cannot be signed: no From).
    private func sign(_ facts: ReceivedMessageFacts) -> String {
        guard let signer, case .domains(let domains) = AuthorDomains(headerSection: facts.headerSection),
              let domain = domains.first else { return "" }
        do {
            let fields = try signer.signatureFields(for: Array(facts.message.readableBytesView), domain: domain)
            return String(decoding: fields, as: UTF8.self)
        } catch {
            return ""
        }
    }
}

extension Server {
    /// SPF and DMARC as `[checks]` asks, on the server's resolver.
    static func makeAuthenticator(_ c: Configuration, resolver: DNSResolver,
                                  metrics: MailAuthMetrics = MailAuthMetrics()) throws -> MailAuthenticator {
        let spf = c.checks.spf == .off ? nil
            : SPFChecker(lookup: resolver, configuration: SPFChecker.Configuration(receiver: c.hostname.ascii))
        var dmarc: DMARCEvaluator?
        if c.checks.dmarc != .off {
            let suffixes: PublicSuffixList
            do {
                suffixes = try PublicSuffixList.system()
            } catch {
                throw StartError(description: "[checks] dmarc needs the public suffix list "
                    + "(\(PublicSuffixList.defaultPath), Debian package publicsuffix): \(error); "
                    + "install it or set dmarc = \"off\"")
            }
            var options = DMARCEvaluator.Options()
            // A message without a single From field is not refused for that
            // alone (RFC 7489 §6.6.1 leaves it to the receiver).
            options.malformedFromDisposition = .none
            dmarc = DMARCEvaluator(discovery: DMARCPolicyDiscovery(suffixes: suffixes, resolver: resolver), options: options)
        }
        let dkim = c.checks.dkim == .off ? nil : DKIMVerifier(resolver: resolver)
        let signer = DKIMSigner(keys: DKIMKeyStore(directory: c.dkim.keys))
        return MailAuthenticator(hostname: c.hostname.ascii, spf: spf, dmarc: dmarc, dkim: dkim, signer: signer,
                                 checks: c.checks, metrics: metrics)
    }
}

extension Server {
    /// Signs bounces and delay notices (From: MAILER-DAEMON@hostname) with
    /// the keys of the hostname, or of the closest local domain it belongs
    /// to (relaxed DMARC alignment then holds); unsigned when there are none.
    static func noticeSigner(_ c: Configuration) -> NoticeSigner {
        let signer = DKIMSigner(keys: DKIMKeyStore(directory: c.dkim.keys))
        let hostname = c.hostname.ascii.lowercased()
        let candidates = [hostname] + c.domains.map { $0.ascii.lowercased() }
            .filter { hostname.hasSuffix("." + $0) }
            .sorted { $0.count > $1.count }
        return NoticeSigner { message in
            for domain in candidates {
                if let fields = try? signer.signatureFields(for: message, domain: domain) { return fields }
            }
            return []
        }
    }
}
