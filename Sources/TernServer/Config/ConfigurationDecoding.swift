import TernSMTP

// Decoding the top of the file: identity, listeners and TLS, and the checks
// that span sections. The other sections are in
// ConfigurationDecoding+Sections.swift.

extension ConfigurationDecoder {
    /// Decodes a whole configuration. Answers `nil` exactly when problems
    /// were reported (see `errors`).
    /// - Parameter machineHostname: the default `hostname`.
    mutating func decode(_ root: TOMLTable, machineHostname: String?) -> Configuration? {
        checkKeys(root, section: nil, known: ConfigurationSchema.topLevelNames)
        let hostname = decodeHostname(root, machineHostname: machineHostname)
        let domains = decodeDomains(root)
        let stateDirectory = path(root, nil, "state_dir", emptyMeansOff: false)?.value
        let user = decodeUser(root)
        let listeners = decodeListeners(root)
        let tls = decodeTLS(root)
        checkListenersHaveTLS(listeners, tls: tls)

        // Every section is decoded, so that all problems are reported at once.
        let accounts = decodeAccounts(root)
        let mailbox = decodeMailbox(root)
        let dns = decodeDNS(root)
        let delivery = decodeDelivery(root)
        let routes = decodeRoutes(root, relay: delivery.relay)
        let checks = decodeChecks(root)
        let dkim = decodeDKIM(root)
        let limits = decodeLimits(root)
        let timeouts = decodeTimeouts(root)
        let metrics = decodeMetrics(root)
        let log = decodeLog(root)
        let check = decodeCheck(root)
        let sendmail = decodeSendmail(root)

        guard let hostname else { return nil }
        var configuration = Configuration(hostname: hostname, domains: domains, listeners: listeners.map(\.value))
        if let stateDirectory { configuration.stateDirectory = stateDirectory }
        configuration.user = user
        configuration.tls = tls.value
        configuration.accounts = accounts
        configuration.mailbox = mailbox
        configuration.dns = dns
        configuration.delivery = delivery
        configuration.routes = routes
        configuration.checks = checks
        configuration.dkim = dkim
        configuration.limits = limits
        configuration.timeouts = timeouts
        configuration.metrics = metrics
        configuration.log = log
        configuration.check = check
        configuration.sendmail = sendmail
        return errors.isEmpty ? configuration : nil
    }

    // MARK: Identity

    private mutating func decodeHostname(_ root: TOMLTable, machineHostname: String?) -> Domain? {
        if let setting = string(root, nil, "hostname") {
            return domainName(setting)
        }
        if root.entry("hostname") != nil { return nil }
        guard let machineHostname, let domain = try? Domain(parsing: machineHostname), domain.kind == .name else {
            let shown = machineHostname.map { "(\(Self.quoted($0))) " } ?? ""
            report("hostname", line: nil,
                   "'hostname' is not set and the machine's hostname \(shown)is not a valid domain: set 'hostname'")
            return nil
        }
        return domain
    }

    private mutating func decodeDomains(_ root: TOMLTable) -> [Domain] {
        guard let settings = stringArray(root, nil, "domains") else {
            if root.entry("domains") == nil {
                report("domains", line: nil, "'domains' is not set: list the local domains, e.g. domains = [\"example.com\"]")
            }
            return []
        }
        var domains: [Domain] = []
        var seen: [Domain: Int] = [:]
        for setting in settings {
            guard let domain = domainName(setting) else { continue }
            if let first = seen[domain] {
                report(setting, "lists \(Self.quoted(domain.text)) twice (also on line \(first))")
                continue
            }
            seen[domain] = setting.line
            domains.append(domain)
        }
        if settings.isEmpty, let entry = root.entry("domains") {
            report("domains", line: entry.keyLocation.line, "'domains' is empty: list at least one local domain")
        }
        return domains
    }

    /// A domain name (not an address literal), or `nil` after reporting.
    mutating func domainName(_ setting: Located<String>) -> Domain? {
        let domain: Domain
        do {
            domain = try Domain(parsing: setting.value)
        } catch {
            report(setting, "is not a valid domain: \(Self.quoted(setting.value)) (\(Self.phrase(error)))")
            return nil
        }
        guard domain.kind == .name else {
            report(setting, "must be a domain name, not an address literal: \(Self.quoted(setting.value))")
            return nil
        }
        return domain
    }

    static func phrase(_ error: Domain.ParseError) -> String {
        switch error {
        case .empty: "it is empty"
        case .syntax: "letters, digits and hyphens between dots only, no trailing dot"
        case .tooLong: "a label is over 63 octets or the name over 255"
        case .badIDN: "invalid internationalised name"
        case .nonASCII: "non-ASCII characters are not allowed here"
        }
    }

    // MARK: Listeners

    private mutating func decodeListeners(_ root: TOMLTable) -> [Located<Configuration.Listener>] {
        let name = ConfigurationSchema.listener
        let noListener = "no listener: add a [[listener]] section with an address and a role"
        guard let entry = root.entry(name) else {
            report(name, line: nil, noListener)
            return []
        }
        guard let elements = entry.value.array else {
            let hint = entry.value.table != nil ? ": write [[listener]], not [listener]" : ", got \(entry.value.typeName)"
            report(name, line: entry.keyLocation.line, "'\(name)' must be an array of tables\(hint)")
            return []
        }
        if elements.isEmpty { report(name, line: entry.keyLocation.line, noListener) }
        var listeners: [Located<Configuration.Listener>] = []
        var seen: [Configuration.Endpoint: Int] = [:]
        for element in elements {
            guard let table = element.table else {
                report(name, line: element.location.line, "'\(name)' must hold tables, got \(TOMLTableBuilder.article(element.typeName))")
                continue
            }
            checkKeys(table, section: name, known: ConfigurationSchema.keys(of: name))
            let role = decodeRole(table, headerLine: element.location.line)
            let proxy = boolean(table, name, "proxy_protocol")
            guard let address = string(table, name, "address") else {
                if table.entry("address") == nil {
                    report("\(name).address", line: element.location.line, "'\(name).address' is required in every [[listener]]")
                }
                continue
            }
            let parsed = Configuration.Endpoint.parse(address.value, defaultPort: nil, allowsPortZero: true)
            guard case .success(let endpoint) = parsed else {
                if case .failure(let problem) = parsed { report(address, "\(problem.phrase), got \(Self.quoted(address.value))") }
                continue
            }
            // Port 0 asks for an ephemeral port each time: never a clash.
            if endpoint.port != 0, let first = seen[endpoint] {
                report(address, "\(Self.quoted(endpoint.description)) is used by two listeners (also on line \(first))")
                continue
            }
            seen[endpoint] = address.line
            guard let role else { continue }
            let listener = Configuration.Listener(address: endpoint, role: role.value, proxyProtocol: proxy?.value ?? false)
            listeners.append(Located(value: listener, key: role.key, line: role.line))
        }
        return listeners
    }

    /// The role, `mx` when not written; `nil` after reporting a bad one. The
    /// line is that of the role, or of the `[[listener]]` header by default.
    private mutating func decodeRole(_ table: TOMLTable, headerLine: Int) -> Located<Configuration.Listener.Role>? {
        let key = ConfigurationSchema.listener + ".role"
        guard let setting = string(table, ConfigurationSchema.listener, "role") else {
            if table.entry("role") != nil { return nil }
            return Located(value: .mx, key: key, line: headerLine)
        }
        guard let role = Configuration.Listener.Role(rawValue: setting.value) else {
            let choices = Configuration.Listener.Role.allCases.map(\.rawValue).joined(separator: ", ")
            report(setting, "must be one of \(choices); got \(Self.quoted(setting.value))")
            return nil
        }
        return Located(value: role, key: key, line: setting.line)
    }

    // MARK: TLS

    /// The TLS files; `failed` when a problem was reported, so that listeners
    /// are not also blamed for the missing TLS.
    private mutating func decodeTLS(_ root: TOMLTable) -> (value: Configuration.TLS?, failed: Bool) {
        guard let table = section("tls", in: root) else { return (nil, root.entry("tls") != nil) }
        let before = errors.count
        checkKeys(table, section: "tls", known: ConfigurationSchema.keys(of: "tls"))
        let certificate = path(table, "tls", "certificate", emptyMeansOff: true)
        let privateKey = path(table, "tls", "private_key", emptyMeansOff: true)
        switch (certificate?.value, privateKey?.value) {
        case let (c?, k?):
            return (Configuration.TLS(certificate: c, privateKey: k), false)
        case (_?, nil):
            if let certificate { report(certificate, "is set, so 'tls.private_key' must be set too") }
        case (nil, _?):
            if let privateKey { report(privateKey, "is set, so 'tls.certificate' must be set too") }
        case (nil, nil):
            break
        }
        return (nil, errors.count > before)
    }

    /// Submission needs TLS (RFC 8314 §3.3 for implicit TLS; RFC 6409 and
    /// RFC 4954 §4 want AUTH protected by STARTTLS).
    private mutating func checkListenersHaveTLS(_ listeners: [Located<Configuration.Listener>],
                                                tls: (value: Configuration.TLS?, failed: Bool)) {
        guard tls.value == nil, !tls.failed else { return }
        for listener in listeners where listener.value.role.requiresTLS {
            report(listener, "is \(Self.quoted(listener.value.role.rawValue)), which needs TLS: set 'tls.certificate' and 'tls.private_key'")
        }
    }
}
