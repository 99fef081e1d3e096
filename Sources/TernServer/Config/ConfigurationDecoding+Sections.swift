import Logging
import TernSMTP

// Decoding the sections after [tls]. Each starts from the defaults in
// Configuration.swift and replaces what the file sets; a bad setting is
// reported and leaves the default in place.

extension ConfigurationDecoder {
    /// The section's table after checking its keys, or `nil` when absent.
    private mutating func knownSection(_ name: String, in root: TOMLTable) -> TOMLTable? {
        guard let table = section(name, in: root) else { return nil }
        checkKeys(table, section: name, known: ConfigurationSchema.keys(of: name))
        return table
    }

    /// A duration that must be longer than zero.
    private mutating func positiveDuration(_ table: TOMLTable, _ section: String, _ key: String) -> Duration? {
        guard let setting = duration(table, section, key) else { return nil }
        guard setting.value > .zero else {
            report(setting, "must be longer than 0")
            return nil
        }
        return setting.value
    }

    private mutating func count(_ table: TOMLTable, _ section: String, _ key: String) -> Int? {
        integer(table, section, key, in: 1...Int.max)?.value
    }

    mutating func decodeAccounts(_ root: TOMLTable) -> Configuration.Accounts {
        var accounts = Configuration.Accounts()
        guard let table = knownSection("accounts", in: root) else { return accounts }
        if let users = path(table, "accounts", "users", emptyMeansOff: false)?.value { accounts.users = users }
        if let aliases = path(table, "accounts", "aliases", emptyMeansOff: true) { accounts.aliases = aliases.value }
        if let separator = string(table, "accounts", "subaddress_separator") {
            let allowed = separator.value.unicodeScalars.allSatisfy { s in
                s.isASCII && s.value > 0x20 && s.value < 0x7F && !s.properties.isAlphabetic
                    && !("0"..."9").contains(s) && !"@\"\\<>(),;:[]".unicodeScalars.contains(s)
            }
            if allowed {
                accounts.subaddressSeparator = separator.value
            } else {
                report(separator, "must be \"\" or punctuation such as \"+\" or \"-\" (each character separates), got \(Self.quoted(separator.value))")
            }
        }
        return accounts
    }

    mutating func decodeMailbox(_ root: TOMLTable) -> Configuration.MailboxStorage {
        var mailbox = Configuration.MailboxStorage()
        guard let table = knownSection("mailbox", in: root),
              let setting = path(table, "mailbox", "maildir", emptyMeansOff: false),
              let maildir = setting.value else { return mailbox }
        if let problem = Self.templateProblem(maildir) {
            report(setting, problem)
        } else {
            mailbox.maildir = maildir
        }
        return mailbox
    }

    /// What is wrong with a Maildir template, if anything: only `{domain}`
    /// and `{user}` may appear, and `{user}` must.
    static func templateProblem(_ template: String) -> String? {
        var rest = Substring(template)
        var placeholders: Set<String> = []
        while let open = rest.firstIndex(where: { $0 == "{" || $0 == "}" }) {
            guard rest[open] == "{", let close = rest[open...].firstIndex(of: "}") else {
                return "has an unmatched brace: \(quoted(template))"
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard name == "domain" || name == "user" else {
                return "may use only {domain} and {user}, got {\(name)}"
            }
            placeholders.insert(name)
            rest = rest[rest.index(after: close)...]
        }
        return placeholders.contains("user") ? nil : "must contain {user}, or every user would share one Maildir"
    }

    mutating func decodeDNS(_ root: TOMLTable) -> Configuration.DNS {
        var dns = Configuration.DNS()
        guard let table = knownSection("dns", in: root) else { return dns }
        if let lookup = boolean(table, "dns", "reverse_lookup") { dns.reverseLookup = lookup.value }
        guard let settings = stringArray(table, "dns", "nameservers") else { return dns }
        for setting in settings {
            switch Configuration.Endpoint.parse(setting.value, defaultPort: 53, allowsPortZero: false) {
            case .success(let endpoint): dns.nameservers.append(endpoint)
            case .failure(let problem): report(setting, "entry \(problem.phrase), got \(Self.quoted(setting.value))")
            }
        }
        return dns
    }

    mutating func decodeDelivery(_ root: TOMLTable) -> Configuration.Delivery {
        var delivery = Configuration.Delivery()
        guard let table = knownSection("delivery", in: root) else { return delivery }
        let section = "delivery"
        if let source = string(table, section, "source_address"), !source.value.isEmpty {
            if let address = IPLiteral.canonical(source.value) {
                delivery.sourceAddress = address
            } else {
                report(source, "must be \"\" or an IP address, got \(Self.quoted(source.value))")
            }
        }
        if let port = integer(table, section, "mx_port", in: 1...65_535) { delivery.mxPort = port.value }
        if let order = string(table, section, "address_order") {
            let allowed = ["ipv4-first", "ipv6-first", "ipv4-only", "ipv6-only"]
            if allowed.contains(order.value) {
                delivery.addressOrder = order.value
            } else {
                report(order, "must be one of \(allowed.map { "\"\($0)\"" }.joined(separator: ", ")), got \(Self.quoted(order.value))")
            }
        }
        delivery.relay = decodeRelay(table)
        if let ca = path(table, section, "relay_ca_file", emptyMeansOff: true), let file = ca.value {
            if delivery.relay == nil {
                report(ca, "is set but 'delivery.relay' is empty")
            } else {
                delivery.relay?.caFile = file
            }
        }
        if let minimum = positiveDuration(table, section, "retry_min") { delivery.retryMin = minimum }
        if let maximum = duration(table, section, "retry_max") {
            if maximum.value < delivery.retryMin {
                report(maximum, "must not be shorter than 'delivery.retry_min' (\(ConfigDuration.format(delivery.retryMin)))")
            } else {
                delivery.retryMax = maximum.value
            }
        }
        if let lifetime = positiveDuration(table, section, "queue_lifetime") { delivery.queueLifetime = lifetime }
        if let warning = duration(table, section, "delay_warning") {
            if warning.value == .zero {
                delivery.delayWarning = nil
            } else if warning.value >= delivery.queueLifetime {
                report(warning, "must be shorter than 'delivery.queue_lifetime' (\(ConfigDuration.format(delivery.queueLifetime))), or \"0\" for no warning")
            } else {
                delivery.delayWarning = warning.value
            }
        }
        if let capture = path(table, section, "capture", emptyMeansOff: true) { delivery.capture = capture.value }
        return delivery
    }

    mutating func decodeChecks(_ root: TOMLTable) -> Configuration.Checks {
        var checks = Configuration.Checks()
        guard let table = knownSection("checks", in: root) else { return checks }
        if let spf = string(table, "checks", "spf") {
            if let policy = Configuration.Checks.SPFPolicy(rawValue: spf.value) {
                checks.spf = policy
            } else {
                report(spf, "must be one of off, annotate, reject; got \(Self.quoted(spf.value))")
            }
        }
        if let dkim = string(table, "checks", "dkim") {
            if let policy = Configuration.Checks.DKIMPolicy(rawValue: dkim.value) {
                checks.dkim = policy
            } else {
                report(dkim, "must be one of off, verify; got \(Self.quoted(dkim.value))")
            }
        }
        if let dmarc = string(table, "checks", "dmarc") {
            if let policy = Configuration.Checks.DMARCPolicy(rawValue: dmarc.value) {
                checks.dmarc = policy
            } else {
                report(dmarc, "must be one of off, annotate, enforce; got \(Self.quoted(dmarc.value))")
            }
        }
        return checks
    }

    /// `[routes]`: `"domain" = "relay" | "direct"`. A route to the relay
    /// needs `delivery.relay`.
    mutating func decodeRoutes(_ root: TOMLTable, relay: Configuration.Relay?) -> [String: String] {
        guard let table = section(ConfigurationSchema.routes, in: root) else { return [:] }
        var routes: [String: String] = [:]
        for entry in table.entries {
            let key = ConfigurationDecoder.fullKey(ConfigurationSchema.routes, TOMLKey.display([entry.key]))
            let line = entry.keyLocation.line
            guard let domain = try? Domain(parsing: entry.key), domain.kind == .name else {
                report(key, line: line, "'\(key)': \(Self.quoted(entry.key)) is not a domain name")
                continue
            }
            guard let value = entry.value.string else {
                report(key, line: line, "'\(key)' must be \"relay\" or \"direct\", got \(entry.value.typeName)")
                continue
            }
            guard value == "relay" || value == "direct" else {
                report(key, line: line, "'\(key)' must be \"relay\" or \"direct\", got \(Self.quoted(value))")
                continue
            }
            if value == "relay" && relay == nil {
                report(key, line: line, "'\(key)' routes to the relay but 'delivery.relay' is empty")
                continue
            }
            routes[domain.ascii.lowercased()] = value
        }
        return routes
    }

    /// `relay`, `relay_username` and `relay_password_file` together. The
    /// relay's value is never repeated in a message: it might hold a secret.
    private mutating func decodeRelay(_ table: TOMLTable) -> Configuration.Relay? {
        let section = "delivery"
        let relay = string(table, section, "relay")
        let username = string(table, section, "relay_username")
        let passwordFile = path(table, section, "relay_password_file", emptyMeansOff: true)
        let user = username.flatMap { $0.value.isEmpty ? nil : $0 }
        let password = passwordFile.flatMap { $0.value == nil ? nil : $0 }
        if let user, password == nil {
            report(user, "needs 'delivery.relay_password_file' too")
        }
        if let password, user == nil {
            report(password, "needs 'delivery.relay_username' too")
        }
        guard let relay, !relay.value.isEmpty else {
            for setting in [user?.key, password?.key].compactMap({ $0 }) {
                let line = setting == user?.key ? user?.line : password?.line
                report(setting, line: line, "'\(setting)' is set but 'delivery.relay' is empty")
            }
            return nil
        }
        guard let (host, port) = Self.hostAndPort(relay.value) else {
            report(relay, "must be \"host:port\" with a domain name or IP address and a port 1–65535, e.g. \"smtp.example.net:587\"")
            return nil
        }
        return Configuration.Relay(host: host, port: port, username: user?.value, passwordFile: password?.value ?? nil)
    }

    /// `"smtp.example.net:587"`, `"192.0.2.1:465"`, `"[2001:db8::1]:587"`.
    static func hostAndPort(_ text: String) -> (String, Int)? {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":"), let port = IPLiteral.port(after.dropFirst()), port > 0,
                  let host = IPLiteral.canonicalIPv6(String(text[text.index(after: text.startIndex)..<close]))
            else { return nil }
            return (host, port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = IPLiteral.port(text[text.index(after: colon)...]),
              port > 0 else { return nil }
        let host = String(text[..<colon])
        if let ip = IPLiteral.canonicalIPv4(host) { return (ip, port) }
        guard let domain = try? Domain(parsing: host), domain.kind == .name else { return nil }
        return (domain.ascii, port)
    }

    mutating func decodeDKIM(_ root: TOMLTable) -> Configuration.DKIM {
        var dkim = Configuration.DKIM()
        guard let table = knownSection("dkim", in: root) else { return dkim }
        if let keys = path(table, "dkim", "keys", emptyMeansOff: false)?.value { dkim.keys = keys }
        return dkim
    }

    mutating func decodeLimits(_ root: TOMLTable) -> Configuration.Limits {
        var limits = Configuration.Limits()
        let section = "limits"
        guard let table = knownSection(section, in: root) else { return limits }
        if let size = size(table, section, "message_size") {
            if size.value > 0 { limits.messageSize = size.value } else { report(size, "must be at least 1 byte") }
        }
        if let n = count(table, section, "recipients") { limits.recipients = n }
        if let n = count(table, section, "connections") { limits.connections = n }
        if let n = count(table, section, "connections_per_ip") { limits.connectionsPerIP = n }
        if let n = count(table, section, "errors") { limits.errors = n }
        if let n = count(table, section, "auth_failures") { limits.authFailures = n }
        if let d = positiveDuration(table, section, "auth_failure_window") { limits.authFailureWindow = d }
        if let n = count(table, section, "received_headers") { limits.receivedHeaders = n }
        return limits
    }

    mutating func decodeTimeouts(_ root: TOMLTable) -> Configuration.Timeouts {
        var timeouts = Configuration.Timeouts()
        let section = "timeouts"
        guard let table = knownSection(section, in: root) else { return timeouts }
        if let d = positiveDuration(table, section, "command") { timeouts.command = d }
        if let d = positiveDuration(table, section, "data_block") { timeouts.dataBlock = d }
        if let d = positiveDuration(table, section, "data_total") { timeouts.dataTotal = d }
        return timeouts
    }

    mutating func decodeMetrics(_ root: TOMLTable) -> Configuration.Metrics {
        var metrics = Configuration.Metrics()
        guard let table = knownSection("metrics", in: root),
              let address = string(table, "metrics", "address"), !address.value.isEmpty else { return metrics }
        switch Configuration.Endpoint.parse(address.value, defaultPort: nil, allowsPortZero: true) {
        case .success(let endpoint): metrics.address = endpoint
        case .failure(let problem): report(address, "\(problem.phrase), got \(Self.quoted(address.value))")
        }
        return metrics
    }

    mutating func decodeLog(_ root: TOMLTable) -> Configuration.Log {
        var log = Configuration.Log()
        guard let table = knownSection("log", in: root) else { return log }
        if let level = string(table, "log", "level") {
            if let parsed = Logger.Level(rawValue: level.value.lowercased()) {
                log.level = parsed
            } else {
                let choices = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                report(level, "must be one of \(choices); got \(Self.quoted(level.value))")
            }
        }
        if let file = path(table, "log", "file", emptyMeansOff: true) { log.file = file.value }
        return log
    }
}
