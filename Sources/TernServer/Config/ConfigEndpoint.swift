#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Configuration {
    /// An IP address and a port, as listeners, the metrics endpoint and
    /// nameservers are written: `"0.0.0.0:25"`, `"[::]:25"`, `"127.0.0.1"` (where
    /// a default port applies).
    ///
    /// Addresses are IP literals only — never names — so that binding never
    /// depends on DNS. The address is kept in its canonical form (`"::"` for
    /// `"0::0"`), so two spellings of one endpoint compare equal.
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        /// The address without brackets, canonical: `"0.0.0.0"`, `"::1"`.
        public var address: String
        /// 0…65535; 0 asks the kernel for an ephemeral port (tests).
        public var port: Int
        public var isIPv6: Bool

        public init(address: String, port: Int, isIPv6: Bool) {
            self.address = address
            self.port = port
            self.isIPv6 = isIPv6
        }

        /// `"192.0.2.1:25"` or `"[2001:db8::1]:25"`.
        public var description: String { isIPv6 ? "[\(address)]:\(port)" : "\(address):\(port)" }

        /// Parses an endpoint.
        /// - Parameters:
        ///   - defaultPort: the port when none is written; `nil` makes the port required.
        ///   - allowsPortZero: whether port 0 (ephemeral) is accepted.
        /// - Returns: the endpoint, or a sentence saying what is wrong.
        static func parse(_ text: String, defaultPort: Int?, allowsPortZero: Bool) -> Result<Endpoint, EndpointError> {
            let host: Substring
            let portText: Substring?
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return .failure(.syntax) }
                host = text[text.index(after: text.startIndex)..<close]
                let after = text[text.index(after: close)...]
                if after.isEmpty {
                    portText = nil
                } else if after.hasPrefix(":") {
                    portText = after.dropFirst()
                } else {
                    return .failure(.syntax)
                }
                guard let canonical = IPLiteral.canonicalIPv6(String(host)) else { return .failure(.notAnIPAddress) }
                return port(portText, defaultPort: defaultPort, allowsPortZero: allowsPortZero)
                    .map { Endpoint(address: canonical, port: $0, isIPv6: true) }
            }
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 {
                // A bare IPv6 address: only where the port may be left out.
                guard defaultPort != nil, let canonical = IPLiteral.canonicalIPv6(text) else {
                    return .failure(.ipv6NeedsBrackets)
                }
                return port(nil, defaultPort: defaultPort, allowsPortZero: allowsPortZero)
                    .map { Endpoint(address: canonical, port: $0, isIPv6: true) }
            }
            if colons == 1, let colon = text.firstIndex(of: ":") {
                host = text[..<colon]
                portText = text[text.index(after: colon)...]
            } else {
                host = text[...]
                portText = nil
            }
            guard let canonical = IPLiteral.canonicalIPv4(String(host)) else { return .failure(.notAnIPAddress) }
            return port(portText, defaultPort: defaultPort, allowsPortZero: allowsPortZero)
                .map { Endpoint(address: canonical, port: $0, isIPv6: false) }
        }

        private static func port(_ text: Substring?, defaultPort: Int?, allowsPortZero: Bool) -> Result<Int, EndpointError> {
            guard let text else {
                guard let defaultPort else { return .failure(.missingPort) }
                return .success(defaultPort)
            }
            guard let port = IPLiteral.port(text), port > 0 || allowsPortZero else {
                return .failure(.badPort(allowsZero: allowsPortZero))
            }
            return .success(port)
        }

        /// What is wrong with an endpoint, as a phrase for an error message.
        enum EndpointError: Error, Equatable {
            case syntax
            case notAnIPAddress
            case ipv6NeedsBrackets
            case missingPort
            case badPort(allowsZero: Bool)

            var phrase: String {
                switch self {
                case .syntax: "is not an address: write \"192.0.2.1:25\" or \"[2001:db8::1]:25\""
                case .notAnIPAddress: "must be an IP address, not a name"
                case .ipv6NeedsBrackets: "needs brackets around an IPv6 address with a port: \"[2001:db8::1]:25\""
                case .missingPort: "needs a port: \"192.0.2.1:25\" or \"[::]:25\""
                case .badPort(let zero): "has a bad port: it must be \(zero ? 0 : 1)–65535"
                }
            }
        }
    }
}

/// IP literal helpers over inet_pton(3) and inet_ntop(3).
enum IPLiteral {
    /// The canonical form of a dotted-quad IPv4 address, or `nil`.
    static func canonicalIPv4(_ text: String) -> String? {
        var addr = in_addr()
        guard !text.isEmpty, text.withCString({ inet_pton(AF_INET, $0, &addr) }) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The canonical (RFC 5952) form of an IPv6 address, or `nil`.
    static func canonicalIPv6(_ text: String) -> String? {
        var addr = in6_addr()
        guard !text.isEmpty, text.withCString({ inet_pton(AF_INET6, $0, &addr) }) == 1 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The canonical form of an IPv4 or IPv6 literal (brackets allowed
    /// around IPv6), or `nil`.
    static func canonical(_ text: String) -> String? {
        if text.hasPrefix("["), text.hasSuffix("]"), text.count > 2 {
            return canonicalIPv6(String(text.dropFirst().dropLast()))
        }
        return canonicalIPv4(text) ?? canonicalIPv6(text)
    }

    /// A decimal port 0…65535 (up to five digits), or `nil`.
    static func port(_ text: Substring) -> Int? {
        guard (1...5).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let value = Int(text), value <= 65_535 else { return nil }
        return value
    }
}
