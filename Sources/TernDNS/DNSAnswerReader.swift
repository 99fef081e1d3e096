/// What one reply says about one question, with CNAMEs in the answer
/// section followed (RFC 1034 §3.6.2, §4.3.2). Pure: no I/O.
enum DNSAnswerReader {
    /// The longest CNAME chain followed, over all queries of one lookup.
    static let maximumCNAMEHops = 8
    /// Negative answers are kept at most this long, whatever the SOA says
    /// (RFC 2308 §5 suggests one to three hours).
    static let maximumNegativeTTL: UInt32 = 3600

    enum Step: Hashable, Sendable {
        /// The records of the type asked for, owned by `owner`; `ttl` is the
        /// smallest of theirs and of the CNAMEs followed in this reply.
        case records([DNSRecordData], owner: String, ttl: UInt32)
        /// The name (or the end of its chain, when the zone that holds it
        /// answered about it) does not exist; `negativeTTL` from the SOA in
        /// the authority section, nil without one.
        case nxdomain(negativeTTL: UInt32?)
        /// The name exists without records of the type.
        case nodata(negativeTTL: UInt32?)
        /// The chain in this reply ends at `target`, about which the reply
        /// says nothing more: ask for `target` next.
        case alias(target: String, ttl: UInt32)
        /// A CNAME loop or a chain too long.
        case failure(String)
    }

    /// Reads `reply` (rcode NOERROR or NXDOMAIN) for `name` and `type`.
    /// `hops` is how many CNAMEs earlier queries of this lookup followed;
    /// `visited` the names they passed through.
    static func read(_ reply: DNSReply, name: String, type: DNSRecordType, hops: Int = 0,
                     visited: Set<String> = []) -> Step {
        var current = name
        var seen = visited.union([name])
        var hops = hops
        var chainTTL = UInt32.max
        while true {
            let matching = reply.answer.filter {
                $0.name == current && $0.type == type.rawValue && $0.dnsClass == DNSWire.classIN
            }
            if !matching.isEmpty {
                let ttl = min(chainTTL, matching.map(\.ttl).min() ?? 0)
                return .records(matching.map(\.data), owner: current, ttl: ttl)
            }
            guard type != .cname,
                  let alias = reply.answer.first(where: {
                      $0.name == current && $0.type == DNSRecordType.cname.rawValue && $0.dnsClass == DNSWire.classIN
                  }),
                  case .name(let target) = alias.data
            else { break }
            hops += 1
            guard hops <= maximumCNAMEHops else {
                return .failure("CNAME chain of \(name) longer than \(maximumCNAMEHops)")
            }
            guard !seen.contains(target) else { return .failure("CNAME loop at \(target)") }
            seen.insert(target)
            chainTTL = min(chainTTL, alias.ttl)
            current = target
        }
        let negativeTTL = negativeTTL(reply, chainTTL: chainTTL)
        if current == name {
            return reply.rcode == 3 ? .nxdomain(negativeTTL: negativeTTL) : .nodata(negativeTTL: negativeTTL)
        }
        // The chain ended at another name. If the reply carries the SOA of a
        // zone holding that name, the server answered for it (RFC 6604 §3:
        // the rcode is about the last name of the chain); otherwise ask.
        let zoneAnswered = reply.authority.contains {
            if case .soa = $0.data { return isSubdomain(current, of: $0.name) }
            return false
        }
        if zoneAnswered {
            return reply.rcode == 3 ? .nxdomain(negativeTTL: negativeTTL) : .nodata(negativeTTL: negativeTTL)
        }
        return .alias(target: current, ttl: chainTTL)
    }

    /// RFC 2308 §5: the smaller of the SOA record's TTL and its MINIMUM
    /// field, capped; also no longer than the CNAMEs that led there.
    static func negativeTTL(_ reply: DNSReply, chainTTL: UInt32 = .max) -> UInt32? {
        for record in reply.authority {
            if case .soa(let minimum) = record.data {
                return min(record.ttl, minimum, maximumNegativeTTL, chainTTL)
            }
        }
        return nil
    }

    /// True when `name` is `zone` or below it (presentation forms, both
    /// lowercased without trailing dots; "" is the root).
    static func isSubdomain(_ name: String, of zone: String) -> Bool {
        zone.isEmpty || name == zone || name.hasSuffix("." + zone)
    }
}
