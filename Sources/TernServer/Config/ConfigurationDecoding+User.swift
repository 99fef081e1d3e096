// Decoding `user`: the account `tern serve` switches to after start.

extension ConfigurationDecoder {
    /// `user`: nil when absent or `""`. A name only (no uid): what
    /// getpwnam(3) finds at start, where a missing user is reported.
    mutating func decodeUser(_ root: TOMLTable) -> String? {
        guard let setting = string(root, nil, "user"), !setting.value.isEmpty else { return nil }
        let name = setting.value
        if name.contains(where: { $0 == ":" || $0 == "/" || $0.isWhitespace || $0.asciiValue == nil })
            || name.hasPrefix("-") {
            report(setting, "'\(name)' is not a user name")
            return nil
        }
        if name == "root" {
            report(setting, "names root: set an unprivileged user such as \"tern\", or \"\" to stay as started")
            return nil
        }
        return name
    }
}
