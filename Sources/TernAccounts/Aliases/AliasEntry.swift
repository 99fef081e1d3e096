import TernSMTP

/// The left-hand side of an aliases line.
public enum AliasKey: Hashable, Sendable, CustomStringConvertible {
    /// `sales@example.com:` — that address only.
    case address(Mailbox)
    /// `postmaster:` — that local part in every local domain.
    case localPart(String)
    /// `@example.com:` — any local part of that domain nothing else matches.
    case catchAll(Domain)

    public var description: String {
        switch self {
        case .address(let m): return m.text
        case .localPart(let l): return AliasKey.quoted(localPart: l)
        case .catchAll(let d): return "@" + d.text
        }
    }

    /// A bare local part as it would be written (quoted when it must be),
    /// borrowing `Mailbox`'s rules with a placeholder domain.
    static func quoted(localPart: String) -> String {
        placeholder.map { Mailbox(localPart: localPart, domain: $0).wireLocalPart } ?? localPart
    }

    private static let placeholder: Domain? = try? Domain(parsing: "local.invalid")

    /// Identity for duplicate detection and lookup: case-insensitive.
    var id: AliasKeyID {
        switch self {
        case .address(let m): return .address(AddressKey(m))
        case .localPart(let l): return .localPart(AddressKey.fold(l))
        case .catchAll(let d): return .catchAll(d.ascii)
        }
    }
}

enum AliasKeyID: Hashable, Sendable {
    case address(AddressKey)
    case localPart(String)
    case catchAll(String)
}

/// One destination on the right-hand side of an aliases line.
public enum AliasTarget: Hashable, Sendable, CustomStringConvertible {
    /// A full address, local or remote.
    case address(Mailbox)
    /// A bare local part: that local part in the domain of the address being
    /// expanded (`postmaster: root` sends postmaster@a.example to root@a.example).
    case localPart(String)

    public var description: String {
        switch self {
        case .address(let m): return m.text
        case .localPart(let l): return AliasKey.quoted(localPart: l)
        }
    }
}

/// `key: target, target, …` from the aliases file.
public struct AliasEntry: Hashable, Sendable, CustomStringConvertible {
    public let key: AliasKey
    /// Supported targets in file order; may be empty when every target was
    /// an unsupported one (then the table has warnings).
    public let targets: [AliasTarget]
    /// The 1-based line the entry starts on.
    public let line: Int

    public init(key: AliasKey, targets: [AliasTarget], line: Int) {
        self.key = key
        self.targets = targets
        self.line = line
    }

    public var description: String {
        "\(key): \(targets.map(\.description).joined(separator: ", "))"
    }
}
