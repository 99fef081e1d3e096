import TernSMTP

// Decoding `[check]`: what `tern check` probes. Starts from the defaults in
// Configuration.swift and replaces what the file sets; a bad setting is
// reported and leaves the default in place.

extension ConfigurationDecoder {
    mutating func decodeCheck(_ root: TOMLTable) -> Configuration.CheckSettings {
        var check = Configuration.CheckSettings()
        let name = "check"
        guard let table = section(name, in: root) else { return check }
        checkKeys(table, section: name, known: ConfigurationSchema.keys(of: name))
        if let settings = stringArray(table, name, "probe_domains") {
            let before = errors.count
            let domains = settings.compactMap { domainName($0) }
            if errors.count == before { check.probeDomains = domains }
        }
        if let timeout = duration(table, name, "probe_timeout") {
            if timeout.value > .zero {
                check.probeTimeout = timeout.value
            } else {
                report(timeout, "must be longer than 0")
            }
        }
        return check
    }
}
