/// Every key Tern's configuration file may hold, section by section. The
/// decoder reports any other key as unknown and suggests the closest of
/// these; the sample file test checks that `etc/tern.toml` shows them all.
enum ConfigurationSchema {
    /// Keys at the top of the file, before any section.
    static let rootKeys = ["hostname", "domains", "state_dir", "user"]

    /// The array of tables holding listeners.
    static let listener = "listener"

    /// The section whose keys are domains (`"gmail.com" = "relay"`).
    static let routes = "routes"

    /// Sections (`[name]`) and their keys, in the order of `etc/tern.toml`.
    static let sections: [(name: String, keys: [String])] = [
        (listener, ["address", "role", "proxy_protocol"]),
        ("tls", ["certificate", "private_key"]),
        ("accounts", ["users", "aliases", "subaddress_separator"]),
        ("mailbox", ["maildir"]),
        ("dns", ["nameservers", "reverse_lookup"]),
        ("delivery", [
            "source_address", "mx_port", "address_order", "relay", "relay_username", "relay_password_file",
            "relay_ca_file", "retry_min", "retry_max", "queue_lifetime", "delay_warning", "capture",
        ]),
        ("checks", ["spf", "dkim", "dmarc"]),
        // Keys are recipient domains, values "relay" or "direct".
        (routes, []),
        ("dkim", ["keys"]),
        ("limits", [
            "message_size", "recipients", "connections", "connections_per_ip", "errors",
            "auth_failures", "auth_failure_window", "received_headers",
        ]),
        ("timeouts", ["command", "data_block", "data_total"]),
        ("metrics", ["address"]),
        ("log", ["level", "file"]),
        ("check", ["probe_domains", "probe_timeout"]),
        ("sendmail", ["trusted_users"]),
    ]

    /// The keys of one section; empty for an unknown section.
    static func keys(of section: String) -> [String] {
        sections.first { $0.name == section }?.keys ?? []
    }

    /// What may appear at the top level: root keys and section names.
    static var topLevelNames: [String] { rootKeys + sections.map(\.name) }

    /// Every full key: `hostname`, `listener.address`, `limits.recipients`, …
    static var allKeys: [String] {
        rootKeys + sections.flatMap { section in section.keys.map { section.name + "." + $0 } }
    }

    /// Whether a value under this key should never be shown (a password or
    /// token written inline). Keys naming a file that holds a secret are not
    /// secret themselves.
    static func isSecret(_ key: String) -> Bool {
        let lower = key.lowercased()
        guard !lower.hasSuffix("_file") else { return false }
        return ["password", "secret", "token", "passphrase"].contains { lower.contains($0) }
    }
}
