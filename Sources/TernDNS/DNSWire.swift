import CLDNS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The question of a query or reply (RFC 1035 §4.1.2).
struct DNSQuestion: Hashable, Sendable {
    /// Presentation form, lowercased, no trailing dot ("" for the root).
    var name: String
    var type: UInt16
    var dnsClass: UInt16
}

/// The data of one resource record, as far as TernDNS reads it.
enum DNSRecordData: Hashable, Sendable {
    /// A (4 octets) or AAAA (16 octets).
    case address([UInt8])
    /// CNAME, PTR or NS: the target name, lowercased, no trailing dot.
    case name(String)
    case mx(MXRecord)
    /// The character-strings of one TXT record (RFC 1035 §3.3.14).
    case txt([[UInt8]])
    case tlsa(TLSARecord)
    /// SOA: only the fields negative caching needs (RFC 2308 §5).
    case soa(minimum: UInt32)
    /// A type TernDNS does not read (DNSSEC records, OPT, …).
    case other
}

/// One resource record of a reply.
struct DNSResourceRecord: Hashable, Sendable {
    var name: String
    var type: UInt16
    var dnsClass: UInt16
    var ttl: UInt32
    var data: DNSRecordData
}

/// A reply, parsed by libldns and copied into values.
struct DNSReply: Hashable, Sendable {
    var id: UInt16
    var isResponse: Bool
    var truncated: Bool
    /// AD (RFC 4035 §3.2.3).
    var authenticated: Bool
    var rcode: UInt8
    var questions: [DNSQuestion]
    var answer: [DNSResourceRecord]
    var authority: [DNSResourceRecord]
}

/// Why bytes from the network were not a reply.
struct DNSWireError: Error, Hashable, CustomStringConvertible {
    var description: String
}

/// The only place that calls libldns. Each call makes and frees its own
/// ldns objects: nothing ldns allocates outlives a call or is shared
/// between threads.
enum DNSWire {
    static let classIN: UInt16 = 1
    static let ednsUDPSize: UInt16 = 1232
    static let optType: UInt16 = 41

    /// The canonical text of a name given by a caller: parsed by ldns
    /// (escapes such as `\.` and `\065` understood, labels of at most 63
    /// and names of at most 255 octets), then written back lowercased
    /// without the trailing dot. nil when ldns does not take it or the name
    /// is empty.
    static func canonicalName(_ text: String) -> String? {
        guard !text.isEmpty, text != "." else { return nil }
        guard let rdf = ldns_dname_new_frm_str(text) else { return nil }
        defer { ldns_rdf_deep_free(rdf) }
        return nameText(rdf)
    }

    /// A query for `name` (canonical text) of `type`: ID `id`, RD set,
    /// an EDNS0 OPT record offering 1232 octets over UDP (RFC 6891; the
    /// DNS flag day 2020 size), DO clear.
    static func query(id: UInt16, name: String, type: UInt16) -> [UInt8]? {
        guard let rdf = ldns_dname_new_frm_str(name.isEmpty ? "." : name) else { return nil }
        // The packet takes ownership of rdf. If making it fails the rdf
        // leaks rather than risk freeing it twice; that needs malloc to fail.
        guard let packet = ldns_pkt_query_new(rdf, ldns_rr_type(rawValue: UInt32(type)), LDNS_RR_CLASS_IN,
                                              UInt16(LDNS_RD))
        else { return nil }
        defer { ldns_pkt_free(packet) }
        ldns_pkt_set_id(packet, id)
        ldns_pkt_set_edns_udp_size(packet, ednsUDPSize)
        ldns_pkt_set_edns_do(packet, false)
        var wire: UnsafeMutablePointer<UInt8>? = nil
        var size = 0
        guard ldns_pkt2wire(&wire, packet, &size) == LDNS_STATUS_OK, let wire else { return nil }
        defer { free(wire) }
        return Array(UnsafeBufferPointer(start: wire, count: size))
    }

    /// Parses a reply with `ldns_wire2pkt` and copies what TernDNS reads.
    static func parse(_ bytes: [UInt8]) throws(DNSWireError) -> DNSReply {
        var packet: UnsafeMutablePointer<ldns_pkt>? = nil
        let status = bytes.withUnsafeBufferPointer { buffer in
            ldns_wire2pkt(&packet, buffer.baseAddress, buffer.count)
        }
        guard status == LDNS_STATUS_OK, let packet else {
            if let packet { ldns_pkt_free(packet) }
            let reason = ldns_get_errorstr_by_id(status).map { String(cString: $0) } ?? "status \(status.rawValue)"
            throw DNSWireError(description: "malformed reply (\(reason))")
        }
        defer { ldns_pkt_free(packet) }
        var reply = DNSReply(id: ldns_pkt_id(packet), isResponse: ldns_pkt_qr(packet),
                             truncated: ldns_pkt_tc(packet), authenticated: ldns_pkt_ad(packet),
                             rcode: UInt8(truncatingIfNeeded: ldns_pkt_get_rcode(packet).rawValue),
                             questions: [], answer: [], authority: [])
        if let list = ldns_pkt_question(packet) {
            for i in 0..<ldns_rr_list_rr_count(list) {
                guard let rr = ldns_rr_list_rr(list, i), let owner = ldns_rr_owner(rr), let name = nameText(owner)
                else { throw DNSWireError(description: "malformed reply (question)") }
                reply.questions.append(DNSQuestion(name: name, type: UInt16(ldns_rr_get_type(rr).rawValue),
                                                   dnsClass: UInt16(ldns_rr_get_class(rr).rawValue)))
            }
        }
        reply.answer = try records(ldns_pkt_answer(packet))
        reply.authority = try records(ldns_pkt_authority(packet))
        return reply
    }

    private static func records(_ list: UnsafeMutablePointer<ldns_rr_list>?) throws(DNSWireError)
        -> [DNSResourceRecord]
    {
        guard let list else { return [] }
        var result: [DNSResourceRecord] = []
        for i in 0..<ldns_rr_list_rr_count(list) {
            guard let rr = ldns_rr_list_rr(list, i), let owner = ldns_rr_owner(rr), let name = nameText(owner)
            else { throw DNSWireError(description: "malformed reply (record owner)") }
            let type = UInt16(ldns_rr_get_type(rr).rawValue)
            guard let data = recordData(rr, type: type) else {
                throw DNSWireError(description: "malformed reply (\(DNSRecordType(rawValue: type)?.description ?? "type \(type)") record of \(name))")
            }
            result.append(DNSResourceRecord(name: name, type: type, dnsClass: UInt16(ldns_rr_get_class(rr).rawValue),
                                            ttl: ldns_rr_ttl(rr), data: data))
        }
        return result
    }

    /// The fields of one record; nil when they are not what the type
    /// promises (ldns leaves some checks to its callers).
    private static func recordData(_ rr: UnsafeMutablePointer<ldns_rr>, type: UInt16) -> DNSRecordData? {
        let count = ldns_rr_rd_count(rr)
        func field(_ index: Int) -> [UInt8]? {
            guard index < count, let rdf = ldns_rr_rdf(rr, index) else { return nil }
            return bytes(rdf)
        }
        func name(_ index: Int) -> String? {
            guard index < count, let rdf = ldns_rr_rdf(rr, index) else { return nil }
            return nameText(rdf)
        }
        switch DNSRecordType(rawValue: type) {
        case .a:
            guard count == 1, let octets = field(0), octets.count == 4 else { return nil }
            return .address(octets)
        case .aaaa:
            guard count == 1, let octets = field(0), octets.count == 16 else { return nil }
            return .address(octets)
        case .cname, .ptr, .ns:
            guard count == 1, let target = name(0) else { return nil }
            return .name(target)
        case .mx:
            guard count == 2, let preference = field(0), preference.count == 2, let exchange = name(1) else {
                return nil
            }
            return .mx(MXRecord(preference: UInt16(preference[0]) << 8 | UInt16(preference[1]), exchange: exchange))
        case .txt:
            // Each rdf is one character-string: its length octet, then its bytes.
            var strings: [[UInt8]] = []
            for i in 0..<count {
                guard let string = field(i), let length = string.first, Int(length) == string.count - 1 else {
                    return nil
                }
                strings.append(Array(string.dropFirst()))
            }
            return .txt(strings)
        case .tlsa:
            guard count == 4, let usage = field(0), let selector = field(1), let matching = field(2),
                  let data = field(3), usage.count == 1, selector.count == 1, matching.count == 1
            else { return nil }
            return .tlsa(TLSARecord(usage: usage[0], selector: selector[0], matchingType: matching[0], data: data))
        case .soa:
            guard count == 7, let minimum = field(6), minimum.count == 4 else { return nil }
            return .soa(minimum: minimum.reduce(0) { $0 << 8 | UInt32($1) })
        case nil:
            return .other
        }
    }

    private static func bytes(_ rdf: UnsafeMutablePointer<ldns_rdf>) -> [UInt8] {
        let size = ldns_rdf_size(rdf)
        guard size > 0, let data = ldns_rdf_data(rdf) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// A domain name rdf (uncompressed wire labels) as presentation text:
    /// lowercased, labels joined by ".", no trailing dot, "" for the root.
    /// Bytes other than printable ASCII are written `\DDD`, and "." and
    /// "\" inside a label are escaped (RFC 1035 §5.1), so the text parses
    /// back to the same name.
    static func nameText(_ rdf: UnsafeMutablePointer<ldns_rdf>) -> String? {
        guard ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME else { return nil }
        return nameText(wire: bytes(rdf))
    }

    static func nameText(wire: [UInt8]) -> String? {
        var labels: [String] = []
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            index += 1
            if length == 0 { return index == wire.count ? labels.joined(separator: ".") : nil }
            guard length <= 63, index + length <= wire.count else { return nil }
            var label = ""
            for var byte in wire[index..<(index + length)] {
                if byte >= 0x41 && byte <= 0x5A { byte += 0x20 }
                switch byte {
                case 0x2E, 0x5C, 0x22, 0x28, 0x29, 0x3B, 0x40, 0x24:  // . \ " ( ) ; @ $
                    label += "\\" + String(UnicodeScalar(byte))
                case 0x21...0x7E:
                    label += String(UnicodeScalar(byte))
                default:
                    let digits = String(byte)
                    label += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
                }
            }
            labels.append(label)
            index += length
        }
        return nil
    }
}
