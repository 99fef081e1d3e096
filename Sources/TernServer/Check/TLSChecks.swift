import Foundation
import NIOCore
import TernSMTP
import X509

// The certificate in [tls] and what each listener serves: greeted like a
// client would (STARTTLS on mx and submission, TLS at once on submissions),
// the served chain judged by CertificateAssessment.

extension CheckRun {
    func tlsFindings(_ host: HostFacts, mtaSTSDomains: [String]) async -> [CheckFinding] {
        var roots = CertificateStore.systemTrustRoots
        for pem in options.extraTrustRoots {
            if let certificate = try? Certificate(pemEncoded: pem) { roots.append(certificate) }
        }
        var assessment = CertificateAssessment(hostname: host.hostname, now: options.now,
                                               minimumValidity: TimeInterval(options.minimumCertificateValidity.components.seconds),
                                               roots: roots)
        // MTA-STS senders refuse an untrusted certificate outright (RFC 8461 §4.2).
        if !mtaSTSDomains.isEmpty {
            assessment.trustRequiredBy = "MTA-STS is published for \(mtaSTSDomains.joined(separator: ", "))"
        }
        var findings: [CheckFinding] = []
        var fileLeaf: [UInt8]?
        if let tls = configuration.tls {
            do {
                let chain = try CertificateAssessment.readPEMChain(try String(contentsOfFile: tls.certificate, encoding: .utf8))
                fileLeaf = chain.first
                findings += await assessment.assess(chain, subject: tls.certificate)
            } catch {
                findings.append(CheckFinding(.tls, tls.certificate, .error, "cannot read the certificate: \(error.localizedDescription)"))
            }
        } else {
            findings.append(CheckFinding(.tls, "[tls]", .warning,
                                         "no certificate: mail to this host travels unencrypted, and senders that require TLS cannot deliver",
                                         advice: "set [tls] certificate and private_key (certbot's /etc/letsencrypt/live/\(host.hostname)/ paths work as they are)"))
        }
        if options.probeListeners {
            for listener in configuration.listeners where listener.address.port != 0 {
                findings += await listenerFindings(listener, fileLeaf: fileLeaf, assessment: assessment)
            }
        }
        return findings
    }

    /// Connects to one listener as a client would and looks at what it serves.
    func listenerFindings(_ listener: Configuration.Listener, fileLeaf: [UInt8]?,
                          assessment: CertificateAssessment) async -> [CheckFinding] {
        let subject = "\(listener.role.rawValue) listener \(listener.address)"
        // A wildcard listener is reached on loopback of its family.
        let target = listener.address.address == "0.0.0.0" ? "127.0.0.1"
            : listener.address.address == "::" ? "::1" : listener.address.address
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: target, port: listener.address.port)
        } catch {
            return [CheckFinding(.listener, subject, .error, "not a usable address: \(error)")]
        }
        let connection: ProbeConnection
        do {
            connection = try await ProbeConnection.connect(to: address, timeout: options.listenerTimeout, group: group)
        } catch {
            return [CheckFinding(.listener, subject, .warning, "nothing answers on \(target):\(listener.address.port) (\(error)): is tern serve running?")]
        }
        let chain: [[UInt8]]
        let greeting: SMTPReply
        do {
            if listener.role == .submissions {
                chain = try await connection.startTLS(serverName: hostname)
                greeting = try await connection.readReply()
            } else {
                greeting = try await connection.readReply()
                try await connection.send("EHLO \(hostname)")
                let ehlo = try await connection.readReply()
                guard ehlo.code == 250 else {
                    await connection.quit()
                    return [CheckFinding(.listener, subject, .error, "refuses EHLO: \(ehlo.code) \(ehlo.lines.joined(separator: " "))")]
                }
                guard configuration.tls != nil else {
                    await connection.quit()
                    return [CheckFinding(.listener, subject, .ok, "answers: \(greeting.code) \(greeting.lines.first ?? "")")]
                }
                guard ehlo.lines.dropFirst().contains(where: { $0.uppercased() == "STARTTLS" }) else {
                    await connection.quit()
                    return [CheckFinding(.listener, subject, .error, "does not offer STARTTLS although [tls] is set")]
                }
                try await connection.send("STARTTLS")
                let ready = try await connection.readReply()
                guard ready.code == 220 else {
                    await connection.quit()
                    return [CheckFinding(.listener, subject, .error, "STARTTLS answered \(ready.code) \(ready.lines.joined(separator: " "))")]
                }
                chain = try await connection.startTLS(serverName: hostname)
            }
            await connection.quit()
        } catch {
            connection.close()
            return [CheckFinding(.listener, subject, .error, "\(error)")]
        }
        guard greeting.code == 220 else {
            return [CheckFinding(.listener, subject, .error, "greets with \(greeting.code) \(greeting.lines.joined(separator: " "))")]
        }
        if let leaf = chain.first, leaf == fileLeaf {
            return [CheckFinding(.listener, subject, .ok, "answers over TLS with the certificate in [tls]")]
        }
        var findings = [CheckFinding(.listener, subject, .warning,
                                     "serves another certificate than the file in [tls]: run tern reload after renewing it")]
        findings += await assessment.assess(chain, subject: subject)
        return findings
    }
}
