// Decoding `[sendmail]`: who may choose their envelope sender.

extension ConfigurationDecoder {
    mutating func decodeSendmail(_ root: TOMLTable) -> Configuration.Sendmail {
        var sendmail = Configuration.Sendmail()
        let name = "sendmail"
        guard let table = section(name, in: root) else { return sendmail }
        checkKeys(table, section: name, known: ConfigurationSchema.keys(of: name))
        if let users = stringArray(table, name, "trusted_users") {
            for user in users where user.value.isEmpty || user.value.contains(where: { $0 == ":" || $0 == "/" || $0.isWhitespace }) {
                report(user, "'\(user.value)' is not a user name")
            }
            sendmail.trustedUsers = users.map(\.value)
        }
        return sendmail
    }
}
