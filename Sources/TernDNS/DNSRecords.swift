import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One MX record (RFC 1035 §3.3.9).
public struct MXRecord: Hashable, Sendable {
    /// Lower is preferred (RFC 5321 §5.1).
    public var preference: UInt16
    /// The mail exchanger's name, lowercased, without the trailing dot; ""
    /// for the null MX "." that says the domain takes no mail (RFC 7505).
    public var exchange: String

    public init(preference: UInt16, exchange: String) {
        self.preference = preference
        self.exchange = exchange
    }

    /// True for the null MX (RFC 7505 §3: preference 0, exchange ".").
    public var isNull: Bool { exchange.isEmpty }
}

/// One TLSA record (RFC 6698 §2.1), the fields as published.
public struct TLSARecord: Hashable, Sendable {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
    public var usage: UInt8
    /// 0 the full certificate, 1 the SubjectPublicKeyInfo.
    public var selector: UInt8
    /// 0 exact, 1 SHA-256, 2 SHA-512.
    public var matchingType: UInt8
    /// The certificate association data.
    public var data: [UInt8]

    public init(usage: UInt8, selector: UInt8, matchingType: UInt8, data: [UInt8]) {
        self.usage = usage
        self.selector = selector
        self.matchingType = matchingType
        self.data = data
    }
}

/// An IP address from an A or AAAA record, or one to look up with PTR.
public enum DNSAddress: Hashable, Sendable, CustomStringConvertible {
    /// Four octets, network order.
    case v4([UInt8])
    /// Sixteen octets, network order.
    case v6([UInt8])

    /// Parses a textual IPv4 (dotted quad) or IPv6 address; nil otherwise.
    public init?(_ text: String) {
        guard let parsed = try? SocketAddress(ipAddress: text, port: 0) else { return nil }
        switch parsed {
        case .v4(let a):
            let value = UInt32(bigEndian: a.address.sin_addr.s_addr)
            self = .v4([UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF),
                        UInt8(value & 0xFF)])
        case .v6(let a):
            var storage = a.address.sin6_addr
            let bytes = withUnsafeBytes(of: &storage) { Array($0) }
            self = .v6(bytes)
        default:
            return nil
        }
    }

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, no leading
    /// zeros, the longest run of two or more zero groups as "::", IPv4-mapped
    /// addresses as `::ffff:192.0.2.1`).
    public var description: String {
        switch self {
        case .v4(let octets):
            return octets.map(String.init).joined(separator: ".")
        case .v6(let octets):
            return Self.ipv6Text(octets)
        }
    }

    /// The address with a port, for a NIO connection.
    public func socketAddress(port: Int) throws -> SocketAddress {
        switch self {
        case .v4(let octets), .v6(let octets):
            return try SocketAddress(packedIPAddress: ByteBuffer(bytes: octets), port: port)
        }
    }

    /// The name a PTR lookup asks for: `4.3.2.1.in-addr.arpa` (RFC 1035
    /// §3.5) or the reversed nibbles under `ip6.arpa` (RFC 3596 §2.5).
    public var reverseName: String {
        switch self {
        case .v4(let octets):
            return octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
        case .v6(let octets):
            let digits = Array("0123456789abcdef")
            var labels: [String] = []
            for byte in octets.reversed() {
                labels.append(String(digits[Int(byte & 0x0F)]))
                labels.append(String(digits[Int(byte >> 4)]))
            }
            return labels.joined(separator: ".") + ".ip6.arpa"
        }
    }

    /// RFC 5952 §4 and §5.
    static func ipv6Text(_ octets: [UInt8]) -> String {
        guard octets.count == 16 else { return octets.map { String($0, radix: 16) }.joined(separator: ":") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(UInt16(octets[i]) << 8 | UInt16(octets[i + 1]))
        }
        // §5: an IPv4-mapped address keeps its IPv4 part in dotted form.
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return "::ffff:" + octets[12...].map(String.init).joined(separator: ".")
        }
        // §4.2: the longest run of at least two zero groups, the first on a tie.
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestLength >= 2 else { return hex.joined(separator: ":") }
        let head = hex[0..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
