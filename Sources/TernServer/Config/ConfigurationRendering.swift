// The effective configuration written back as TOML, for `tern config check`:
// every setting, defaults included, paths absolute. Reading the output back
// gives the same configuration (the tests check this).

extension Configuration {
    /// The effective configuration as TOML with secret-looking values
    /// masked (see `ConfigurationSchema.isSecret`; a path to a password
    /// file is shown, a password would not be).
    public var redactedDescription: String {
        var out = TOMLWriter()
        out.set("hostname", .string(hostname.text))
        out.set("domains", .strings(domains.map(\.text)))
        out.set("state_dir", .string(stateDirectory))
        out.set("user", .string(user ?? ""))
        for listener in listeners {
            out.arrayTable(ConfigurationSchema.listener)
            out.set("address", .string(listener.address.description))
            out.set("role", .string(listener.role.rawValue))
            out.set("proxy_protocol", .boolean(listener.proxyProtocol))
        }
        out.table("tls")
        out.set("certificate", .string(tls?.certificate ?? ""))
        out.set("private_key", .string(tls?.privateKey ?? ""))
        out.table("accounts")
        out.set("users", .string(accounts.users))
        out.set("aliases", .string(accounts.aliases ?? ""))
        out.set("subaddress_separator", .string(accounts.subaddressSeparator))
        out.table("mailbox")
        out.set("maildir", .string(mailbox.maildir))
        out.table("dns")
        out.set("nameservers", .strings(dns.nameservers.map(\.description)))
        out.set("reverse_lookup", .boolean(dns.reverseLookup))
        renderDelivery(into: &out)
        out.table("checks")
        out.set("spf", .string(checks.spf.rawValue))
        out.set("dkim", .string(checks.dkim.rawValue))
        out.set("dmarc", .string(checks.dmarc.rawValue))
        out.table("dkim")
        out.set("keys", .string(dkim.keys))
        renderLimits(into: &out)
        out.table("timeouts")
        out.set("command", .duration(timeouts.command))
        out.set("data_block", .duration(timeouts.dataBlock))
        out.set("data_total", .duration(timeouts.dataTotal))
        out.table("metrics")
        out.set("address", .string(metrics.address?.description ?? ""))
        out.table("log")
        out.set("level", .string(log.level.rawValue))
        out.set("file", .string(log.file ?? ""))
        out.table("check")
        out.set("probe_domains", .strings(check.probeDomains.map(\.text)))
        out.set("probe_timeout", .duration(check.probeTimeout))
        out.table("sendmail")
        out.set("trusted_users", .strings(sendmail.trustedUsers))
        return out.text
    }

    private func renderDelivery(into out: inout TOMLWriter) {
        out.table("delivery")
        out.set("source_address", .string(delivery.sourceAddress ?? ""))
        out.set("mx_port", .integer(delivery.mxPort))
        out.set("address_order", .string(delivery.addressOrder))
        let relay = delivery.relay
        let relayHost = relay.map { $0.host.contains(":") ? "[\($0.host)]" : $0.host }
        out.set("relay", .string(relay.map { "\(relayHost ?? $0.host):\($0.port)" } ?? ""))
        out.set("relay_username", .string(relay?.username ?? ""))
        out.set("relay_password_file", .string(relay?.passwordFile ?? ""))
        out.set("relay_ca_file", .string(relay?.caFile ?? ""))
        out.set("retry_min", .duration(delivery.retryMin))
        out.set("retry_max", .duration(delivery.retryMax))
        out.set("queue_lifetime", .duration(delivery.queueLifetime))
        out.set("delay_warning", .duration(delivery.delayWarning ?? .zero))
        out.set("capture", .string(delivery.capture ?? ""))
        out.table(ConfigurationSchema.routes)
        for domain in routes.keys.sorted() {
            out.set("\"\(domain)\"", .string(routes[domain] ?? "direct"))
        }
    }

    private func renderLimits(into out: inout TOMLWriter) {
        out.table("limits")
        out.set("message_size", .string(ConfigByteSize.format(Int64(limits.messageSize))))
        out.set("recipients", .integer(limits.recipients))
        out.set("connections", .integer(limits.connections))
        out.set("connections_per_ip", .integer(limits.connectionsPerIP))
        out.set("errors", .integer(limits.errors))
        out.set("auth_failures", .integer(limits.authFailures))
        out.set("auth_failure_window", .duration(limits.authFailureWindow))
        out.set("received_headers", .integer(limits.receivedHeaders))
    }
}

/// Builds TOML text line by line, masking secret keys.
struct TOMLWriter {
    enum Value {
        case string(String)
        case strings([String])
        case integer(Int)
        case boolean(Bool)
        case duration(Duration)
    }

    private(set) var text = ""
    private var section: String?

    mutating func table(_ name: String) {
        text += "\n[\(name)]\n"
        section = name
    }

    mutating func arrayTable(_ name: String) {
        text += "\n[[\(name)]]\n"
        section = name
    }

    mutating func set(_ key: String, _ value: Value) {
        let full = ConfigurationDecoder.fullKey(section, key)
        let rendered = ConfigurationSchema.isSecret(full) ? Self.quote("********") : Self.render(value)
        text += "\(key) = \(rendered)\n"
    }

    static func render(_ value: Value) -> String {
        switch value {
        case .string(let s): quote(s)
        case .strings(let list): "[" + list.map(quote).joined(separator: ", ") + "]"
        case .integer(let i): "\(i)"
        case .boolean(let b): b ? "true" : "false"
        case .duration(let d): quote(ConfigDuration.format(d))
        }
    }

    /// A TOML basic string with `"`, `\` and control characters escaped.
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16, uppercase: true)
                    out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
