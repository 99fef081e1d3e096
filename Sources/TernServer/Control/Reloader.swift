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
    /// signed with the keys of its From domain, none when it has none.
    var localSignature: @Sendable ([UInt8]) -> [UInt8] {
        let signer = self.signer
        return { message in
            guard let signer else { return [] }
            let end = message.firstRange(of: Array("\r\n\r\n".utf8)).map { $0.upperBound } ?? message.count
            guard case .domains(let domains) = AuthorDomains(headerSection: Array(message[..<end])),
                  let domain = domains.first else { return [] }
            return (try? signer.signatureFields(for: message, domain: domain)) ?? []
        }
    }
}
