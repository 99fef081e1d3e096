import TernSMTP

extension Accounts {
    /// Checks a login (SMTP AUTH, RFC 4954) and returns the account's
    /// canonical name (`UserEntry.name`) on success.
    ///
    /// `username` is the full address, matched case-insensitively. A bare
    /// local part is accepted if and only if exactly one local domain is
    /// configured. Accounts without a usable password never log in.
    ///
    /// CPU-heavy (one crypt(3) call, also for unknown users so that the
    /// answer time does not tell which users exist): never call it on an
    /// event loop.
    public func authenticate(username: String, password: String) -> String? {
        guard let entry = loginEntry(username), let hash = entry.password else {
            _ = Accounts.timingDecoy?.verify(password)
            return nil
        }
        return hash.verify(password) ? entry.name : nil
    }

    private func loginEntry(_ username: String) -> UserEntry? {
        if username.contains("@") {
            guard let mailbox = try? Mailbox(parsing: username) else { return nil }
            return usersByKey[AddressKey(mailbox)]
        }
        guard domains.count == 1, let domain = domains.first, !username.isEmpty else { return nil }
        return usersByKey[AddressKey(local: username, domain: domain)]
    }

    /// A hash of a random password, verified in place of a missing user's.
    private static let timingDecoy: PasswordHash? = {
        let password = String((0..<24).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement() ?? "x" })
        return try? PasswordHash.make(password: password)
    }()

    /// May the authenticated `user` (a name from `authenticate`) use
    /// `address` as MAIL FROM / From?
    ///
    /// Yes for the user's own address in any case, for its sub-addresses
    /// (`alice+lists@`), and for an alias address (or its sub-addresses)
    /// whose expansion reaches the user, catch-alls not counted. Never for an
    /// address that is another user's mailbox, even if that user's alias
    /// sends the user a copy, and never for a non-local address.
    public func mayUseSender(user: String, address: Mailbox) -> Bool {
        guard let me = self.user(named: user) else { return false }
        let mine = AddressKey(me.address)
        let key = AddressKey(address)
        if key == mine { return true }
        let baseKey = separators.base(ofFolded: key.local).map { key.with(local: $0) }
        if baseKey == mine { return true }
        guard isLocal(address.domain) else { return false }
        if usersByKey[key] != nil { return false }
        if let baseKey, usersByKey[baseKey] != nil { return false }
        guard case .success(let destinations) = Expander(accounts: self, allowCatchAll: false).expand(address)
        else { return false }
        return destinations.contains { destination in
            if case .local(let name, _) = destination { return name == me.name }
            return false
        }
    }
}
