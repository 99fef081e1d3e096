import TernSMTP

/// One alias entry applied to one address: a node of the alias graph.
/// `key` tells nodes apart: the full-address key, a bare key in the domain
/// it was applied to, or the catch-all `@domain`.
struct AliasNode: Sendable {
    let key: AddressKey
    let entry: AliasEntry
    /// Bare-local-part targets resolve in this domain.
    let domain: Domain
}

/// What one address in a local domain resolves to, before expansion.
enum Resolution: Sendable {
    case user(UserEntry)
    case alias(AliasNode)
    case unknown
}

extension AliasTarget {
    /// The target as an address; a bare local part takes `domain`.
    func mailbox(in domain: Domain) -> Mailbox {
        switch self {
        case .address(let m): return m
        case .localPart(let l): return Mailbox(localPart: l, domain: domain)
        }
    }
}

/// Recursive alias expansion over one `Accounts` snapshot.
///
/// The aliases form a graph; expansion discovers it breadth-first from the
/// recipient, so the result does not depend on the order of the targets:
///
/// - Every user and remote address reached is a destination, once.
/// - An alias may name its own address among its targets (`alice@x: alice@x,
///   bob@x`): when that address is also a user, the user keeps a copy. More
///   generally, an alias whose own address is a user delivers to that user
///   whenever the aliases lead back to it; that is a cycle closed by a
///   mailbox, not a loop.
/// - Other cycles are cut. If nothing at all is reached and a cycle was cut,
///   the result is `.aliasLoop`; if nothing is reached otherwise, it is
///   `.unknownRecipient`. Local targets that are neither users nor aliases
///   are left out (the loader warns about them).
/// - An alias that is more than `Accounts.maximumAliasDepth` aliases away
///   from the recipient makes the whole expansion fail with `.tooDeep`.
struct Expander {
    let accounts: Accounts
    /// False when checking sender addresses: catch-alls never count there.
    let allowCatchAll: Bool

    func expand(_ recipient: Mailbox) -> Expansion {
        guard accounts.isLocal(recipient.domain) else { return .success([.remote(recipient)]) }
        switch accounts.resolve(recipient, allowCatchAll: allowCatchAll) {
        case .user(let user): return .success([.local(user: user.name, deliveredTo: recipient)])
        case .unknown: return .failure(.unknownRecipient)
        case .alias(let node): return walk(from: node, deliveredTo: recipient)
        }
    }

    private enum Edge {
        case destination(Destination)
        case node(AddressKey)
    }

    func walk(from start: AliasNode, deliveredTo: Mailbox) -> Expansion {
        // 1. Discover the graph breadth-first, with each node's shortest depth.
        var nodes: [AddressKey: AliasNode] = [start.key: start]
        var order: [AddressKey] = [start.key]
        var depth: [AddressKey: Int] = [start.key: 1]
        var edges: [AddressKey: [Edge]] = [:]
        var next = 0
        while next < order.count {
            let key = order[next]
            next += 1
            guard let node = nodes[key], let level = depth[key] else { continue }
            guard level <= Accounts.maximumAliasDepth else { return .failure(.tooDeep) }
            var out: [Edge] = []
            for target in node.entry.targets {
                let address = target.mailbox(in: node.domain)
                guard accounts.isLocal(address.domain) else {
                    out.append(.destination(.remote(address)))
                    continue
                }
                switch accounts.resolve(address, allowCatchAll: allowCatchAll) {
                case .user(let user):
                    out.append(.destination(.local(user: user.name, deliveredTo: deliveredTo)))
                case .unknown:
                    continue
                case .alias(let child):
                    out.append(.node(child.key))
                    if nodes[child.key] == nil {
                        nodes[child.key] = child
                        depth[child.key] = level + 1
                        order.append(child.key)
                    }
                }
            }
            edges[key] = out
        }

        // 2. Emit in discovery order; an alias that is also a user and lies
        //    on a cycle delivers to that user first.
        var result: [Destination] = []
        var seen = Set<Destination>()
        func emit(_ destination: Destination) {
            if seen.insert(destination).inserted { result.append(destination) }
        }
        for key in order {
            if let user = accounts.usersByKey[key], cycle(through: key, edges: edges) != nil {
                emit(.local(user: user.name, deliveredTo: deliveredTo))
            }
            for case .destination(let destination) in edges[key] ?? [] {
                emit(destination)
            }
        }
        if !result.isEmpty { return .success(result) }
        for key in order {
            if let path = cycle(through: key, edges: edges) {
                return .failure(.aliasLoop(path.map(\.description)))
            }
        }
        return .failure(.unknownRecipient)
    }

    /// The shortest cycle from `start` back to itself, `[start, …, start]`,
    /// or nil when `start` is on none.
    private func cycle(through start: AddressKey, edges: [AddressKey: [Edge]]) -> [AddressKey]? {
        var parent: [AddressKey: AddressKey] = [:]
        var queue: [AddressKey] = [start]
        var next = 0
        while next < queue.count {
            let key = queue[next]
            next += 1
            for case .node(let child) in edges[key] ?? [] {
                if child == start {
                    var path = [start]
                    var cursor = key
                    while cursor != start, let up = parent[cursor] {
                        path.append(cursor)
                        cursor = up
                    }
                    path.append(start)
                    return Array(path.reversed())
                }
                if parent[child] == nil {
                    parent[child] = key
                    queue.append(child)
                }
            }
        }
        return nil
    }
}
