import ArgumentParser
import Foundation
import TernServer
import TernSMTP

/// `tern check [DOMAIN]`: what the world sees of this deployment, and the
/// records to publish where it is wrong. The checks are in TernServer's
/// `DeploymentCheck`; this parses arguments and prints.
struct CheckCommand: AsyncParsableCommand {
    static let defaultConfigurationFile = "/etc/tern/tern.toml"

    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check DNS, TLS and outbound port 25 as other mail servers see them.",
        discussion: """
            Looks at this deployment from the outside and says what to fix. For each \
            problem with DNS it prints the exact record to publish, as a zone-file line.

            DNS is asked through the nameservers of [dns] in the configuration, as the \
            server asks (/etc/resolv.conf when that list is empty). What is checked:

            hostname: its A/AAAA records point at this host.
            ptr: each address mail leaves from has reverse DNS naming the hostname, and the \
            hostname resolves back to it (forward-confirmed).
            mx: each local domain's MX points at the hostname, or at a name with this host's \
            address; a null MX is an error.
            spf: each local domain has one SPF record that parses and gives "pass" for every \
            address of this host (the real SPF evaluation, includes and all); the hostname \
            has one too, since receivers check it for bounces.
            dkim: for each key that signs (the newest of each algorithm under [dkim] keys), \
            the record at <selector>._domainkey.<domain> exists and holds the same public key.
            dmarc: _dmarc.<domain> holds one usable DMARC record.
            mta-sts, tls-rpt: _mta-sts.<domain> and _smtp._tls.<domain>, when published, are \
            valid; the MTA-STS policy host has an address.
            tls: the certificate in [tls] is valid for the hostname, trusted, and not within \
            14 days of expiry; each listener is connected to (STARTTLS on mx and submission, \
            TLS on submissions) and must serve it.
            outbound: the MX hosts of [check] probe_domains are connected to on [delivery] \
            mx_port. If none answers, the provider blocks port 25, and the relay settings to \
            use instead are shown. The relay host is tried when one is set. --offline skips \
            this part.

            This host's addresses are those given with --address; else the explicit \
            addresses of the listeners and [delivery] source_address; else the public \
            addresses of this machine's network interfaces; else the hostname's own A/AAAA \
            records. Behind NAT, give the public address with --address.

            OUTPUT
            One line per finding, under a heading for the host, each domain, TLS and \
            outbound mail: severity (ok, info, WARNING, ERROR), area, subject and what was \
            found. Under a problem, "publish:" gives the zone-file lines to add at the DNS \
            provider, and "to fix:" anything else to do. With --json, the same as one \
            object: hostname, passed, errors, warnings and findings (each with scope, area, \
            subject, severity, message, and record and advice where there are some).

            EXIT STATUS
              0   nothing is wrong (warnings may have been printed)
              1   at least one error was found
              64  bad arguments
              78  the configuration file has errors (printed as file:line: message)

            EXAMPLES
              tern check
              tern check example.org --config /etc/tern/tern.toml
              tern check --address 203.0.113.7 --offline
              tern check --json | jq '.findings[] | select(.severity == "error")'
            """
    )

    @Argument(help: ArgumentHelp("Check only this domain (default: every local domain in the configuration).",
                                 valueName: "DOMAIN"))
    var domain: String?

    @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "FILE"))
    var config: String = CheckCommand.defaultConfigurationFile

    @Option(name: .customLong("address"),
            help: ArgumentHelp("A public address of this host (repeat for IPv4 and IPv6); use it behind NAT.",
                               valueName: "IP"))
    var addresses: [String] = []

    @Flag(help: "Do not connect to other servers: skip the outbound port 25 and relay tests.")
    var offline = false

    @Flag(help: "Print the findings as one JSON object (passed, errors, warnings, findings).")
    var json = false

    @Flag(name: .shortAndLong, help: "Print only warnings and errors, and the summary.")
    var quiet = false

    func validate() throws {
        for address in addresses where !DeploymentCheck.isAddress(address) {
            throw ValidationError("--address \(address): not an IPv4 or IPv6 address")
        }
        if let domain {
            guard let parsed = try? Domain(parsing: domain), parsed.kind == .name else {
                throw ValidationError("\(domain): not a domain name")
            }
        }
    }

    func run() async throws {
        let configuration: Configuration
        do {
            configuration = try Configuration.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("tern: configuration errors:\n\(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
        var options = DeploymentCheck.Options()
        options.addresses = addresses
        options.offline = offline
        if let domain, let parsed = try? Domain(parsing: domain) { options.domains = [parsed] }
        let findings = await DeploymentCheck(configuration: configuration, options: options).run()
        let output = json
            ? CheckReport.json(findings, hostname: configuration.hostname.ascii)
            : CheckReport.text(findings, problemsOnly: quiet)
        FileHandle.standardOutput.write(Data(output.utf8))
        if !findings.passed { throw ExitCode(1) }
    }
}
