import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how patiently `DNSResolver` asks.
public struct DNSResolverConfiguration: Sendable {
    /// Asked in order; the next one when one does not answer. Ports may be
    /// anything (`[dns] nameservers = ["127.0.0.1:5353"]`).
    public var nameservers: [SocketAddress]
    /// How long to wait for one reply from one nameserver, over UDP or over
    /// TCP after a truncated reply. Default 2 s.
    public var timeout: Duration
    /// Rounds over the list of nameservers before giving up with
    /// `.timeout`. Default 2.
    public var attempts: Int
    /// Most answers kept in the cache; 0 turns the cache off. Default 10,000.
    public var cacheCapacity: Int

    public init(nameservers: [SocketAddress], timeout: Duration = .seconds(2), attempts: Int = 2,
                cacheCapacity: Int = 10_000) {
        self.nameservers = nameservers
        self.timeout = timeout
        self.attempts = attempts
        self.cacheCapacity = cacheCapacity
    }

    /// The `nameserver` lines of resolv.conf(5), each on port 53, in file
    /// order. Lines that do not hold a plain IP address (a scoped IPv6
    /// address such as `fe80::1%eth0`, a typo) are skipped, as the C library does; with none left the
    /// nameserver is 127.0.0.1, the C library's default too. Every other
    /// option in the file is ignored: TernDNS does its own retries and
    /// never searches domain lists.
    public static func systemDefault(resolvConf path: String = "/etc/resolv.conf") throws
        -> DNSResolverConfiguration
    {
        let text = try readSmallFile(path)
        var servers: [SocketAddress] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver", !fields[1].contains("%") else { continue }
            if let address = try? SocketAddress(ipAddress: String(fields[1]), port: 53) {
                servers.append(address)
            }
        }
        if servers.isEmpty {
            servers = [try SocketAddress(ipAddress: "127.0.0.1", port: 53)]
        }
        return DNSResolverConfiguration(nameservers: servers)
    }

    /// One nameserver as the configuration writes it: `127.0.0.1:5353`,
    /// `127.0.0.1` (port 53), `[::1]:5353` or `::1` (port 53).
    public static func parseNameserver(_ text: String) throws -> SocketAddress {
        let trimmed = text.trimmingSpaces
        var host = trimmed
        var portText: Substring? = nil
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw DNSConfigurationError.invalidNameserver(text) }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw DNSConfigurationError.invalidNameserver(text) }
                portText = rest.dropFirst()
            }
        } else if trimmed.filter({ $0 == ":" }).count == 1, let colon = trimmed.firstIndex(of: ":") {
            host = String(trimmed[..<colon])
            portText = trimmed[trimmed.index(after: colon)...]
        }
        var port = 53
        if let portText {
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(portText), (1...65535).contains(value)
            else { throw DNSConfigurationError.invalidNameserver(text) }
            port = value
        }
        guard !host.isEmpty, let address = try? SocketAddress(ipAddress: host, port: port) else {
            throw DNSConfigurationError.invalidNameserver(text)
        }
        return address
    }

    /// resolv.conf is small; anything past 64 KiB is not read.
    private static func readSmallFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DNSConfigurationError.unreadable(path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DNSConfigurationError.unreadable(path: path, errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A nameserver setting or resolv.conf that could not be used.
public enum DNSConfigurationError: Error, Hashable, CustomStringConvertible {
    /// Not `address`, `address:port`, `[v6]:port` or `v6`.
    case invalidNameserver(String)
    /// The resolv.conf file could not be read.
    case unreadable(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidNameserver(let text):
            "invalid nameserver \"\(text)\": expected an IP address with an optional port, e.g. 127.0.0.1:5353 or [::1]:5353"
        case .unreadable(let path, let code):
            "cannot read \(path): \(String(cString: strerror(code)))"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
