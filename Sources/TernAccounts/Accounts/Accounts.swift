import TernSMTP

/// One immutable, `Sendable` snapshot of who receives mail here and who may
/// log in: local domains, users, aliases and the sub-address separators.
///
/// Lookups are case-insensitive on both sides of the `@` (see `AddressKey`);
/// the spelling the client used is kept in `Destination.local(deliveredTo:)`.
/// For an address in a local domain, the first of these that exists decides
/// (like Postfix with virtual aliases before mailboxes):
///
/// 1. an alias for the full address (`sales@example.com:`),
/// 2. the user itself,
/// 3. without its sub-address detail (`alice+tag@` → alias `alice@`, then
///    user `alice@`; RFC 5233 convention, Postfix `recipient_delimiter`),
/// 4. a bare-local-part alias (`postmaster:`), for the address and then
///    without its detail,
/// 5. the domain's catch-all (`@example.com:`),
/// 6. otherwise the recipient is unknown.
///
/// Postmaster (RFC 5321 §4.5.1): `postmaster@` every local domain must be
/// deliverable. Tern does not invent a destination for it: the administrator
/// adds `postmaster: someone@example.com` (or a user) and the loader warns
/// for each local domain where postmaster does not resolve.
public struct Accounts: Sendable {
    /// How many levels of aliases an expansion may go through.
    public static let maximumAliasDepth = 20

    public let domains: [Domain]
    /// The sub-address separator characters ("" = off).
    public let subaddressSeparators: String
    /// Users in file order.
    public let users: [UserEntry]
    /// Aliases in file order.
    public let aliases: [AliasEntry]
    /// Everything worth telling the administrator, from the files and from
    /// checking them against each other (loops, missing postmaster, …).
    public private(set) var warnings: [AccountsWarning]

    let localDomains: Set<String>
    let separators: SubaddressSeparators
    let usersByKey: [AddressKey: UserEntry]
    let addressAliases: [AddressKey: AliasEntry]
    let localPartAliases: [String: AliasEntry]
    let catchAllAliases: [String: AliasEntry]
    let usersPath: String
    let aliasesPath: String

    /// - Parameters:
    ///   - domains: the local domains; mail for them is delivered here.
    ///   - subaddressSeparators: characters that start a sub-address detail;
    ///     default "+", "" turns sub-addressing off, "+-" allows both.
    public init(domains: [Domain], users: UserTable = .empty, aliases: AliasTable = .empty,
                subaddressSeparators: String = "+") {
        self.domains = domains
        self.subaddressSeparators = subaddressSeparators
        self.users = users.entries
        self.aliases = aliases.entries
        self.localDomains = Set(domains.map(\.ascii))
        self.separators = SubaddressSeparators(subaddressSeparators)
        self.usersPath = users.path
        self.aliasesPath = aliases.path
        var byKey: [AddressKey: UserEntry] = [:]
        for user in users.entries where byKey[AddressKey(user.address)] == nil {
            byKey[AddressKey(user.address)] = user
        }
        self.usersByKey = byKey
        var addressAliases: [AddressKey: AliasEntry] = [:]
        var localPartAliases: [String: AliasEntry] = [:]
        var catchAllAliases: [String: AliasEntry] = [:]
        for entry in aliases.entries {
            switch entry.key.id {
            case .address(let key): if addressAliases[key] == nil { addressAliases[key] = entry }
            case .localPart(let local): if localPartAliases[local] == nil { localPartAliases[local] = entry }
            case .catchAll(let domain): if catchAllAliases[domain] == nil { catchAllAliases[domain] = entry }
            }
        }
        self.addressAliases = addressAliases
        self.localPartAliases = localPartAliases
        self.catchAllAliases = catchAllAliases
        self.warnings = users.warnings + aliases.warnings
        self.warnings += consistencyWarnings()
    }

    /// True when mail for `domain` is delivered here (case-insensitive; a
    /// U-label and its A-label are the same domain).
    public func isLocal(_ domain: Domain) -> Bool {
        localDomains.contains(domain.ascii)
    }

    /// The user with this name, in any spelling (`ALICE@Example.com`).
    public func user(named name: String) -> UserEntry? {
        guard let mailbox = try? Mailbox(parsing: name) else { return nil }
        return usersByKey[AddressKey(mailbox)]
    }

    /// Expands `recipient` through the aliases to its final destinations
    /// (see `Expander` for loops and self-references). An address outside
    /// the local domains is returned as `.remote` unchanged — whether it may
    /// be relayed to is not this module's question.
    public func expand(_ recipient: Mailbox) -> Expansion {
        Expander(accounts: self, allowCatchAll: true).expand(recipient)
    }

    /// `<Postmaster>` without a domain (RFC 5321 §4.1.1.3) is postmaster of
    /// the first local domain.
    public func expand(_ path: ForwardPath) -> Expansion {
        switch path {
        case .mailbox(let mailbox): return expand(mailbox)
        case .postmaster:
            guard let first = domains.first else { return .failure(.unknownRecipient) }
            return expand(Mailbox(localPart: "postmaster", domain: first))
        }
    }

    /// For RCPT TO: true when `recipient` is in a local domain and expands
    /// to at least one destination. Addresses in other domains are false:
    /// relaying is decided elsewhere, never by this answer.
    public func recipientExists(_ recipient: Mailbox) -> Bool {
        guard isLocal(recipient.domain) else { return false }
        if case .success(let destinations) = expand(recipient) { return !destinations.isEmpty }
        return false
    }

    /// What `address` (in a local domain) resolves to, before expansion.
    func resolve(_ address: Mailbox, allowCatchAll: Bool) -> Resolution {
        let key = AddressKey(address)
        if let entry = addressAliases[key] {
            return .alias(AliasNode(key: key, entry: entry, domain: address.domain))
        }
        if let user = usersByKey[key] { return .user(user) }
        let base = separators.base(ofFolded: key.local)
        if let base {
            let baseKey = key.with(local: base)
            if let entry = addressAliases[baseKey] {
                return .alias(AliasNode(key: baseKey, entry: entry, domain: address.domain))
            }
            if let user = usersByKey[baseKey] { return .user(user) }
        }
        if let entry = localPartAliases[key.local] {
            return .alias(AliasNode(key: key, entry: entry, domain: address.domain))
        }
        if let base, let entry = localPartAliases[base] {
            return .alias(AliasNode(key: key.with(local: base), entry: entry, domain: address.domain))
        }
        if allowCatchAll, let entry = catchAllAliases[key.domain] {
            return .alias(AliasNode(key: .catchAll(address.domain), entry: entry, domain: address.domain))
        }
        return .unknown
    }
}
