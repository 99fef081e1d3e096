import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A socket bound to 127.0.0.1, closed on deinit.
final class LoopbackSocket {
    let fd: Int32
    let port: Int

    enum Kind { case udp, tcp }

    init(_ kind: Kind, port: Int) throws {
        #if canImport(Glibc)
        let type = Int32(kind == .udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
        let type = kind == .udp ? SOCK_DGRAM : SOCK_STREAM
        #endif
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
    }

    deinit { close(fd) }
}

/// A UDP socket on 127.0.0.1 that never reads and never replies: a
/// nameserver that swallows every query, for timeout tests.
public final class SilentUDPServer: @unchecked Sendable {
    private let socket: LoopbackSocket

    public init() throws {
        socket = try LoopbackSocket(.udp, port: 0)
    }

    public var address: String { "127.0.0.1" }
    public var port: Int { socket.port }
    public var nameserver: String { "127.0.0.1:\(port)" }
}

/// A UDP port on 127.0.0.1 that nothing listens on (bound, then closed).
/// Another process may take it later; tests use it at once.
public func unusedLoopbackUDPPort() throws -> Int {
    try LoopbackSocket(.udp, port: 0).port
}

/// A one-shot DNS query over UDP, blocking, for readiness checks only.
enum DNSProbe {
    /// True when a reply with the query's ID arrives from address:port
    /// within `wait` seconds to an SOA query for `name`.
    static func answers(address: String, port: Int, name: String, wait: Double) -> Bool {
        guard let socket = try? LoopbackSocket(.udp, port: 0) else { return false }
        let id = UInt16.random(in: 1 ... .max)
        var query: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            query.append(UInt8(label.utf8.count))
            query.append(contentsOf: label.utf8)
        }
        query += [0, 0, 6, 0, 1]
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        target.sin_addr.s_addr = inet_addr(address)
        let sent = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket.fd, query, query.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == query.count else { return false }
        let deadline = Date().addingTimeInterval(wait)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return false }
            var poller = pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, left * 1000)))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { return false }
            let n = recv(socket.fd, &buffer, buffer.count, 0)
            if n >= 12 && buffer[0] == UInt8(id >> 8) && buffer[1] == UInt8(id & 0xFF) { return true }
            if n < 0 && errno != EINTR && errno != EAGAIN { return false }
        }
    }
}
