import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The command line's side of the control socket: one blocking request.
public struct ControlClient: Sendable {
    public let path: String

    public init(stateDirectory: String) {
        self.path = stateDirectory + "/control.sock"
    }

    public enum Failure: Error, CustomStringConvertible {
        /// Nothing listens: the server is not running.
        case notRunning
        case failed(String)

        public var description: String {
            switch self {
            case .notRunning: return "the server is not running"
            case .failed(let text): return text
            }
        }
    }

    /// Sends `request` (and `body`, for a submission) and returns the answer.
    /// A refusal by the server comes back as a response with `error` set.
    public func send(_ request: ControlRequest, body: [UInt8] = []) throws(Failure) -> ControlResponse {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .failed("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            if errno == ENOENT || errno == ECONNREFUSED { throw .notRunning }
            throw .failed("cannot connect to \(path): \(String(cString: strerror(errno)))")
        }
        let bytes: [UInt8]
        do {
            bytes = try ControlCoding.line(request) + body
        } catch {
            throw .failed("cannot encode the request: \(error)")
        }
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .failed("cannot write to \(path): \(String(cString: strerror(errno)))") }
            sent += n
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .failed("cannot read from \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            answer += chunk[..<n]
        }
        guard !answer.isEmpty else { throw .failed("the server closed the connection without an answer") }
        do {
            return try ControlCoding.decoder().decode(ControlResponse.self, from: Data(answer))
        } catch {
            throw .failed("malformed answer from the server: \(error)")
        }
    }
}
