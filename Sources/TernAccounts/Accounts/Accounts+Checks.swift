import TernSMTP

extension Accounts {
    /// Warnings from looking at the users and aliases together: things that
    /// load fine but will not work as the administrator probably expects.
    func consistencyWarnings() -> [AccountsWarning] {
        var warnings: [AccountsWarning] = []
        let usersPath = self.usersPath.isEmpty ? nil : self.usersPath
        let aliasesPath = self.aliasesPath.isEmpty ? nil : self.aliasesPath
        let domainList = domains.map(\.text).joined(separator: ", ")

        for user in users where !isLocal(user.address.domain) {
            warnings.append(AccountsWarning(path: usersPath, line: user.line, message:
                "user \(user.name) is not in a local domain (\(domainList)): it can log in but receives no mail"))
        }

        for entry in aliases {
            let applied: [AliasNode]
            switch entry.key {
            case .address(let mailbox):
                guard isLocal(mailbox.domain) else {
                    warnings.append(AccountsWarning(path: aliasesPath, line: entry.line, message:
                        "alias \(entry.key) is not in a local domain (\(domainList)); it is never used"))
                    continue
                }
                applied = [AliasNode(key: AddressKey(mailbox), entry: entry, domain: mailbox.domain)]
            case .catchAll(let domain):
                guard isLocal(domain) else {
                    warnings.append(AccountsWarning(path: aliasesPath, line: entry.line, message:
                        "catch-all \(entry.key) is not for a local domain (\(domainList)); it is never used"))
                    continue
                }
                applied = [AliasNode(key: .catchAll(domain), entry: entry, domain: domain)]
            case .localPart(let local):
                applied = domains.map { AliasNode(key: AddressKey(local: local, domain: $0), entry: entry, domain: $0) }
            }
            for node in applied {
                warnings += check(node, aliasesPath: aliasesPath)
            }
        }

        for domain in domains {
            let postmaster = Mailbox(localPart: "postmaster", domain: domain)
            if case .failure(let failure) = expand(postmaster) {
                warnings.append(AccountsWarning(path: nil, line: nil, message:
                    "postmaster@\(domain.text) is not deliverable (\(failure)); RFC 5321 §4.5.1 requires it: "
                    + "add a line such as 'postmaster: you@\(domain.text)' to the aliases"))
            }
        }
        return warnings
    }

    /// Targets of one alias (in one domain) that lead nowhere, and
    /// expansions that fail.
    private func check(_ node: AliasNode, aliasesPath: String?) -> [AccountsWarning] {
        var warnings: [AccountsWarning] = []
        let name = node.entry.key.description
        let inDomain = node.entry.key.isBare ? " in \(node.domain.text)" : ""
        for target in node.entry.targets {
            let address = target.mailbox(in: node.domain)
            if isLocal(address.domain), case .unknown = resolve(address, allowCatchAll: true) {
                warnings.append(AccountsWarning(path: aliasesPath, line: node.entry.line, message:
                    "alias \(name)\(inDomain): target \(address.text) is neither a user nor an alias; it is left out"))
            }
        }
        let deliveredTo = Mailbox(localPart: node.key.local.isEmpty ? "catch-all" : node.key.local, domain: node.domain)
        if case .failure(let failure) = Expander(accounts: self, allowCatchAll: true).walk(from: node, deliveredTo: deliveredTo),
           failure != .unknownRecipient || !node.entry.targets.isEmpty {
            warnings.append(AccountsWarning(path: aliasesPath, line: node.entry.line, message:
                "alias \(name)\(inDomain) cannot be delivered: \(failure)"))
        }
        return warnings
    }
}

extension AliasKey {
    var isBare: Bool {
        if case .localPart = self { return true }
        return false
    }
}
