import Foundation
import NIOSSL
import Synchronization

/// Holds the server TLS context and swaps it on reload (certificate renewal),
/// so new connections get the new certificate and open ones keep theirs.
/// TLS 1.2 is the minimum (RFC 8996 retires 1.0 and 1.1).
public final class TLSContextProvider: Sendable {
    private let current: Mutex<NIOSSLContext>
    public let certificatePath: String
    public let privateKeyPath: String

    public struct LoadError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Reads both files now; throws a `LoadError` naming the file that failed.
    public init(certificatePath: String, privateKeyPath: String) throws {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        self.current = Mutex(try TLSContextProvider.load(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    public var context: NIOSSLContext { current.withLock { $0 } }

    /// Re-reads the files; on failure the old context stays and the error is thrown.
    public func reload() throws {
        let fresh = try TLSContextProvider.load(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        current.withLock { $0 = fresh }
    }

    static func load(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        guard FileManager.default.isReadableFile(atPath: certificatePath) else {
            throw LoadError(path: certificatePath, reason: "certificate file is missing or unreadable")
        }
        guard FileManager.default.isReadableFile(atPath: privateKeyPath) else {
            throw LoadError(path: privateKeyPath, reason: "private key file is missing or unreadable")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw LoadError(path: certificatePath, reason: "not a PEM certificate chain (\(error))")
        }
        guard !chain.isEmpty else { throw LoadError(path: certificatePath, reason: "no certificate in the file") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw LoadError(path: privateKeyPath, reason: "not a PEM private key (\(error))")
        }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                              privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: config)
        } catch {
            throw LoadError(path: certificatePath, reason: "certificate and key do not fit together (\(error))")
        }
    }
}
