import Foundation

/// A DKIM key record (RFC 6376 §3.6.1) as far as the verifier needs to read
/// it before libopendkim does: which key type, and the public key.
public struct DKIMKeyRecord: Sendable, Hashable {
    public var tags: DKIMTagList
    /// `k=`, default "rsa".
    public var keyType: String { (tags["k"] ?? "rsa").lowercased() }
    /// `p=` decoded; nil when absent or not base64, empty when revoked.
    public var publicKey: [UInt8]? {
        guard let p = tags["p"] else { return nil }
        let text = DKIMTagList.removingWhitespace(p)
        if text.isEmpty { return [] }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }

    public static func parse(_ text: String) -> DKIMKeyRecord? {
        guard let tags = try? DKIMTagList.parse(text) else { return nil }
        return DKIMKeyRecord(tags: tags)
    }

    /// The DNS name of a key: `<selector>._domainkey.<domain>` (§3.6.2.1).
    public static func name(selector: String, domain: String) -> String {
        (selector + "._domainkey." + domain).lowercased()
    }

    /// The record text to hand to libopendkim. RFC 6376 §3.6.1 describes
    /// `p=` of an RSA key as an RSAPublicKey, while practice (and
    /// libopendkim) uses SubjectPublicKeyInfo; a record that publishes the
    /// bare RSAPublicKey is rewritten with the key wrapped, so both verify.
    public static func normalizedForVerifier(_ text: String) -> String {
        guard let record = parse(text), record.keyType == "rsa", let key = record.publicKey,
              DER.isBareRSAPublicKey(key) else { return text }
        let wrapped = DER.subjectPublicKeyInfo(rsaPublicKey: key)
        var parts: [String] = []
        for (name, value) in record.tags.tags {
            parts.append(name + "=" + (name == "p" ? Data(wrapped).base64EncodedString() : value))
        }
        return parts.joined(separator: "; ")
    }
}

/// Just enough DER (X.690) to tell and wrap RSA public keys.
enum DER {
    /// rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
    static let rsaAlgorithmIdentifier: [UInt8] = [0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D,
                                                  0x01, 0x01, 0x01, 0x05, 0x00]

    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var v = n
        while v > 0 { bytes.insert(UInt8(v & 0xFF), at: 0); v >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }

    /// The offset of the first content byte of the TLV at `offset`.
    static func contentStart(_ der: [UInt8], at offset: Int) -> Int? {
        guard offset + 1 < der.count else { return nil }
        let first = der[offset + 1]
        if first < 0x80 { return offset + 2 }
        let count = Int(first & 0x7F)
        guard count > 0, count <= 4, offset + 2 + count <= der.count else { return nil }
        return offset + 2 + count
    }

    /// SEQUENCE { INTEGER, INTEGER } rather than SEQUENCE { SEQUENCE, BIT STRING }.
    static func isBareRSAPublicKey(_ der: [UInt8]) -> Bool {
        guard der.first == 0x30, let inner = contentStart(der, at: 0), inner < der.count else { return false }
        return der[inner] == 0x02
    }

    static func subjectPublicKeyInfo(rsaPublicKey: [UInt8]) -> [UInt8] {
        tlv(0x30, rsaAlgorithmIdentifier + tlv(0x03, [0x00] + rsaPublicKey))
    }
}
