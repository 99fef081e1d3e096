import Crypto
import Foundation
import _CryptoExtras

/// A private key that signs for one selector of one domain.
public struct DKIMSigningKey: Sendable {
    public enum Material: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    public var domain: String
    public var selector: String
    public var material: Material

    public init(domain: String, selector: String, material: Material) {
        self.domain = domain.lowercased()
        self.selector = selector
        self.material = material
    }

    public var algorithm: DKIMAlgorithm {
        switch material {
        case .rsa: .rsaSHA256
        case .ed25519: .ed25519SHA256
        }
    }

    public enum LoadError: Error, Sendable, Hashable, CustomStringConvertible {
        case unreadable(String)
        case rsaTooShort(Int)

        public var description: String {
            switch self {
            case .unreadable(let why): "not a usable DKIM private key: \(why)"
            case .rsaTooShort(let bits): "RSA key of \(bits) bits is too short (RFC 8301 §3.2 wants 1024 or more)"
            }
        }
    }

    /// The DER prefix of an Ed25519 private key in PKCS#8 (RFC 8410 §7),
    /// followed by the 32-byte seed.
    static let ed25519PKCS8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65,
                                              0x70, 0x04, 0x22, 0x04, 0x20]

    /// Reads a key file: PEM PKCS#8 (RSA or Ed25519), PEM PKCS#1 (RSA), or
    /// the base64 of a raw 32-byte Ed25519 seed (as dkimpy writes them).
    public static func parse(_ text: String, domain: String, selector: String) throws(LoadError) -> DKIMSigningKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("-----BEGIN") {
            let body = trimmed.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
            if trimmed.hasPrefix("-----BEGIN PRIVATE KEY-----"), let der = Data(base64Encoded: String(body)),
               der.count == 48, Array(der.prefix(16)) == ed25519PKCS8Prefix {
                do {
                    return DKIMSigningKey(domain: domain, selector: selector,
                                          material: .ed25519(try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))))
                } catch { throw .unreadable("Ed25519: \(error)") }
            }
            let key: _RSA.Signing.PrivateKey
            do { key = try _RSA.Signing.PrivateKey(unsafePEMRepresentation: trimmed) } catch {
                throw .unreadable("PEM: \(error)")
            }
            if key.keySizeInBits < DKIMVerifier.minimumRSAKeyBits { throw .rsaTooShort(key.keySizeInBits) }
            return DKIMSigningKey(domain: domain, selector: selector, material: .rsa(key))
        }
        if let seed = Data(base64Encoded: trimmed), seed.count == 32,
           let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) {
            return DKIMSigningKey(domain: domain, selector: selector, material: .ed25519(key))
        }
        throw .unreadable("neither PEM nor a base64 Ed25519 seed")
    }

    /// The private key as the key file stores it: PKCS#8 PEM for both kinds.
    public var pemRepresentation: String {
        switch material {
        case .rsa(let key):
            return key.pkcs8PEMRepresentation
        case .ed25519(let key):
            let der = Data(Self.ed25519PKCS8Prefix) + key.rawRepresentation
            let lines = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN PRIVATE KEY-----\n" + lines + "\n-----END PRIVATE KEY-----\n"
        }
    }

    /// `p=`: SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1 as practised),
    /// the raw 32-byte key for Ed25519 (RFC 8463 §4).
    public var publicKeyBase64: String {
        switch material {
        case .rsa(let key): key.publicKey.derRepresentation.base64EncodedString()
        case .ed25519(let key): key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The key record to publish at `<selector>._domainkey.<domain>`.
    public var keyRecord: String {
        "v=DKIM1; k=\(algorithm.keyType); p=\(publicKeyBase64)"
    }

    /// Signs the hash input of RFC 6376 §3.7: RSASSA-PKCS1-v1_5 over
    /// SHA-256 (RFC 3447), or Ed25519 over the SHA-256 of the input
    /// (RFC 8463 §3).
    func sign(_ data: [UInt8]) throws -> [UInt8] {
        let digest = SHA256.hash(data: data)
        switch material {
        case .rsa(let key):
            return [UInt8](try key.signature(for: digest, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key):
            return [UInt8](try key.signature(for: Data(digest)))
        }
    }
}
