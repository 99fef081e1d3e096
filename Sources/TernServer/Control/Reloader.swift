import Foundation
import Synchronization
import TernMailAuth

/// Lets the control socket ask for a reload of a server that did not exist
/// yet when the socket was bound.
final class Reloader: Sendable {
    private let target = Mutex<(@Sendable () async -> [String])?>(nil)

    func set(_ reload: @escaping @Sendable () async -> [String]) {
        target.withLock { $0 = reload }
    }

    func reload() async -> [String] {
        guard let reload = target.withLock({ $0 }) else { return ["the server is still starting"] }
        return await reload()
    }
}

extension MailAuthenticator {
    /// DKIM-Signature fields for a message a local program handed over:
    /// signed with the keys (under `keys`) of its From domain, none when it
    /// has none.
    static func localSignature(keys: String) -> @Sendable ([UInt8]) -> [UInt8] {
        let signer = DKIMSigner(keys: DKIMKeyStore(directory: keys))
        return { message in
            let end = message.firstRange(of: Array("\r\n\r\n".utf8)).map { $0.upperBound } ?? message.count
            guard case .domains(let domains) = AuthorDomains(headerSection: Array(message[..<end])),
                  let domain = domains.first else { return [] }
            return (try? signer.signatureFields(for: message, domain: domain)) ?? []
        }
    }
}
