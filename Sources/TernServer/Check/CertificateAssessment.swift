import Foundation
import SwiftASN1
import X509

/// Judges a TLS certificate chain as other mail servers and mail clients
/// will: is it for the hostname (RFC 6125 §6.4: subjectAltName dNSName,
/// one leading wildcard label), is it valid now and for a while yet, and
/// does it chain up to an authority the system trusts (RFC 5280 path
/// validation by swift-certificates).
struct CertificateAssessment: Sendable {
    /// The name the certificate must be for.
    var hostname: String
    /// The time to judge expiry at (the trust check uses the current time).
    var now: Date
    /// Less validity left than this is a problem: Let's Encrypt's certbot
    /// renews 30 days ahead, so two weeks left means renewal is failing.
    var minimumValidity: TimeInterval
    /// Authorities trusted: the system's and any extra ones.
    var roots: CertificateStore
    /// Why an untrusted certificate is an error rather than a warning
    /// (MTA-STS published); `nil` = a warning.
    var trustRequiredBy: String?

    /// Findings about `chain` (leaf first, DER). `subject` names where the
    /// chain came from (a file, a listener).
    func assess(_ chain: [[UInt8]], subject: String) async -> [CheckFinding] {
        func finding(_ severity: CheckFinding.Severity, _ message: String, advice: String? = nil) -> CheckFinding {
            CheckFinding(.tls, subject, severity, message, advice: advice)
        }
        guard let first = chain.first else { return [finding(.error, "no certificate")] }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: first)
        } catch {
            return [finding(.error, "the certificate cannot be read: \(error)")]
        }
        var findings: [CheckFinding] = []
        let names = Self.dnsNames(leaf)
        if names.contains(where: { Self.matches(pattern: $0, hostname: hostname) }) {
            findings.append(finding(.ok, "valid for \(hostname)"))
        } else {
            let shown = names.isEmpty ? "no DNS names" : names.joined(separator: ", ")
            findings.append(finding(.error, "not valid for \(hostname): it names \(shown)",
                                    advice: "get a certificate for \(hostname), e.g. certbot certonly --standalone -d \(hostname)"))
        }
        let expiry = Self.format(leaf.notValidAfter)
        if leaf.notValidBefore > now {
            findings.append(finding(.error, "not valid before \(Self.format(leaf.notValidBefore))"))
        } else if leaf.notValidAfter <= now {
            findings.append(finding(.error, "expired on \(expiry)", advice: "renew it (certbot renew) and run tern reload"))
        } else if leaf.notValidAfter.timeIntervalSince(now) < minimumValidity {
            let days = Int((leaf.notValidAfter.timeIntervalSince(now) / 86_400).rounded())
            findings.append(finding(.error, "expires on \(expiry), in \(days) day\(days == 1 ? "" : "s"): renewal is not working",
                                    advice: "renew it (certbot renew) and run tern reload; check that the renewal timer runs"))
        } else {
            findings.append(finding(.ok, "valid until \(expiry)"))
        }
        guard leaf.notValidBefore <= now, leaf.notValidAfter > now else { return findings }
        let intermediates = CertificateStore(chain.dropFirst().compactMap { try? Certificate(derEncoded: $0) })
        var verifier = Verifier(rootCertificates: roots) { RFC5280Policy() }
        switch await verifier.validate(leaf: leaf, intermediates: intermediates) {
        case .validCertificate:
            findings.append(finding(.ok, "issued by an authority this system trusts (\(Self.issuerName(leaf)))"))
        case .couldNotValidate:
            let selfSigned = leaf.issuer == leaf.subject
            var message = (selfSigned ? "self-signed" : "issued by \(Self.issuerName(leaf)), which this system does not trust")
                + ": mail clients, and servers that require a trusted certificate (MTA-STS), refuse it"
            if let trustRequiredBy { message += "; \(trustRequiredBy), so such servers will not deliver" }
            findings.append(finding(trustRequiredBy == nil ? .warning : .error, message,
                                    advice: "use a certificate from a public authority, e.g. Let's Encrypt: certbot certonly --standalone -d \(hostname)"))
        }
        return findings
    }

    /// The subjectAltName DNS names, lowercased.
    static func dnsNames(_ certificate: Certificate) -> [String] {
        guard let sans = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return sans.compactMap { if case .dnsName(let name) = $0 { name.lowercased() } else { nil } }
    }

    /// RFC 6125 §6.4.3: a wildcard only as the whole left-most label,
    /// matching exactly one label.
    static func matches(pattern: String, hostname: String) -> Bool {
        let host = hostname.lowercased()
        let pattern = pattern.lowercased()
        if pattern == host { return true }
        guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
        let rest = pattern.dropFirst(2)
        return rest.contains(".") && host[host.index(after: dot)...] == rest
    }

    static func issuerName(_ certificate: Certificate) -> String {
        for rdn in certificate.issuer {
            for attribute in rdn where attribute.type == .RDNAttributeType.organizationName
                || attribute.type == .RDNAttributeType.commonName {
                return "\(attribute.value)"
            }
        }
        return "\(certificate.issuer)"
    }

    static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }

    /// The certificates of a PEM file, in order, as DER.
    static func readPEMChain(_ text: String) throws -> [[UInt8]] {
        let documents = try PEMDocument.parseMultiple(pemString: text)
        let certificates = documents.filter { $0.discriminator == "CERTIFICATE" }
        guard !certificates.isEmpty else { throw PolicyRecordError("no CERTIFICATE block in the file") }
        return certificates.map { $0.derBytes }
    }
}
