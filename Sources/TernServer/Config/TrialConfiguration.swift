import TernSMTP

extension Configuration {
    /// The built-in configuration of `tern serve` without a configuration
    /// file: a working instance on unprivileged loopback ports with all its
    /// state under `<baseDirectory>/var`.
    ///
    /// - hostname `localhost`, domains `["localhost"]`
    /// - listeners 127.0.0.1:2525 `mx`, 127.0.0.1:2587 `submission`,
    ///   127.0.0.1:2465 `submissions`
    /// - TLS from `var/tls/cert.pem` and `var/tls/key.pem` (a self-signed
    ///   pair made on first start, elsewhere)
    /// - users `var/users`, aliases `var/aliases`, Maildirs
    ///   `var/mail/{domain}/{user}/Maildir`, state in `var`
    /// - everything else at its default.
    ///
    /// - Parameter baseDirectory: usually the current directory; made
    ///   absolute against it when relative.
    public static func trial(baseDirectory: String) -> Configuration {
        let base = ConfigPath.absolute(baseDirectory)
        let state = ConfigPath.resolve("var", against: base)
        func inState(_ path: String) -> String { ConfigPath.resolve(path, against: state) }
        func loopback(_ port: Int) -> Endpoint { Endpoint(address: "127.0.0.1", port: port, isIPv6: false) }

        let localhost: Domain
        do {
            localhost = try Domain(parsing: "localhost")
        } catch {
            // A constant, not input: the trial test proves it parses.
            preconditionFailure("\"localhost\" must parse as a domain: \(error)")
        }
        var configuration = Configuration(
            hostname: localhost,
            domains: [localhost],
            listeners: [
                Listener(address: loopback(2525), role: .mx),
                Listener(address: loopback(2587), role: .submission),
                Listener(address: loopback(2465), role: .submissions),
            ]
        )
        configuration.stateDirectory = state
        configuration.tls = TLS(certificate: inState("tls/cert.pem"), privateKey: inState("tls/key.pem"))
        configuration.accounts.users = inState("users")
        configuration.accounts.aliases = inState("aliases")
        configuration.mailbox.maildir = inState("mail/{domain}/{user}/Maildir")
        return configuration
    }
}
