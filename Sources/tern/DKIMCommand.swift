import ArgumentParser
import Foundation
import TernMailAuth
import TernServer

/// `tern dkim keygen DOMAIN`: makes a DKIM key under `<keys>/<domain>/<selector>.key`
/// (mode 0600) and prints the TXT record to publish, in strings of at most
/// 255 octets. The newest key of each algorithm signs, so rotating is:
/// keygen with a new selector, publish, wait for the TTL, remove the old file.
struct DKIMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim",
        abstract: "Manage DKIM signing keys.",
        subcommands: [Keygen.self]
    )

    /// Used when `--keys` is not given: the trial instance's folder.
    static let defaultKeysDirectory = "./var/dkim"

    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case rsa, ed25519
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key for a domain and print the DNS record to publish.")

        @Argument(help: "The signing domain (d=), e.g. example.com.") var domain: String

        @Option(help: "The selector (s=); default: the algorithm and today's date, e.g. rsa20250131.")
        var selector: String?

        @Option(help: "rsa (2048 bits) or ed25519.") var algorithm: Algorithm = .rsa

        @Option(help: ArgumentHelp("The keys folder (default: [dkim] keys of --config, else \(DKIMCommand.defaultKeysDirectory)).",
                                   valueName: "DIR"))
        var keys: String?

        @Option(help: ArgumentHelp("Take the keys folder from this configuration file.", valueName: "FILE"))
        var config: String?

        func run() throws {
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyyMMdd"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let name = selector ?? (algorithm == .rsa ? "rsa" : "ed") + formatter.string(from: Date())
            var directory = keys ?? DKIMCommand.defaultKeysDirectory
            if keys == nil, let config {
                do { directory = try Configuration.load(file: config).dkim.keys } catch {
                    throw ValidationError("\(error)")
                }
            }
            let store = DKIMKeyStore(directory: directory)
            let generated: DKIMKeyStore.GeneratedKey
            do {
                generated = try store.generate(domain: domain, selector: name,
                                               algorithm: algorithm == .rsa ? .rsaSHA256 : .ed25519SHA256)
            } catch {
                throw ValidationError("\(error)")
            }
            print("; key written to \(generated.path)")
            print("; publish this record, then the key signs (the newest \(algorithm.rawValue) key of \(domain) does):")
            print(generated.zoneLine)
        }
    }
}
