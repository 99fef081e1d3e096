import Foundation

/// What `tern serve` without a configuration file needs on first start:
/// the state folder, a self-signed certificate for localhost and empty
/// users and aliases files.
public enum TrialSetup {
    public static func prepare(_ configuration: Configuration) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true,
                               attributes: [.posixPermissions: 0o750])
        if let tls = configuration.tls {
            try SelfSignedCertificate.ensure(certificatePath: tls.certificate, privateKeyPath: tls.privateKey,
                                             commonName: configuration.hostname.ascii,
                                             dnsNames: [configuration.hostname.ascii], ipAddresses: ["127.0.0.1", "::1"])
        }
        if !fm.fileExists(atPath: configuration.accounts.users) {
            let text = "# Users: address:{scheme}hash — add one with `tern user add you@localhost`.\n"
            guard fm.createFile(atPath: configuration.accounts.users, contents: Data(text.utf8),
                                attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: configuration.accounts.users])
            }
        }
        if let aliases = configuration.accounts.aliases, !fm.fileExists(atPath: aliases) {
            let text = "# Aliases, /etc/aliases syntax: postmaster: you@localhost\n"
            guard fm.createFile(atPath: aliases, contents: Data(text.utf8), attributes: [.posixPermissions: 0o640]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: aliases])
            }
        }
    }
}
