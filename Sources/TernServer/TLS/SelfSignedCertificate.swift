import Crypto
import Foundation
import SwiftASN1
import X509

/// A self-signed certificate for the trial instance and for tests: ECDSA
/// P-256, valid for the given names and addresses (subjectAltName, which
/// clients check — RFC 6125), for a year.
public enum SelfSignedCertificate {
    public struct PEM: Sendable {
        public var certificate: String
        public var privateKey: String
    }

    public static func make(commonName: String, dnsNames: [String], ipAddresses: [String],
                            validFor days: Int = 365, now: Date = Date()) throws -> PEM {
        let key = P256.Signing.PrivateKey()
        let certKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            CommonName(commonName)
            OrganizationName("Tern self-signed")
        }
        var sans: [GeneralName] = dnsNames.map { .dnsName($0) }
        for ip in ipAddresses {
            if let bytes = ipBytes(ip) { sans.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes)))) }
        }
        let extensions = try Certificate.Extensions {
            // Self-signed: it is its own issuer, and clients that are told
            // to trust it (tests, trial users) need it to be a CA to do so.
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(sans)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: certKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: certKey)
        return PEM(certificate: try certificate.serializeAsPEM().pemString,
                   privateKey: try certKey.serializeAsPEM().pemString)
    }

    /// Writes a new certificate and key unless both files exist. The key is mode 0600.
    /// - Returns: true when new files were written.
    @discardableResult
    public static func ensure(certificatePath: String, privateKeyPath: String, commonName: String,
                              dnsNames: [String], ipAddresses: [String]) throws -> Bool {
        let fm = FileManager.default
        if fm.fileExists(atPath: certificatePath) && fm.fileExists(atPath: privateKeyPath) { return false }
        let pem = try make(commonName: commonName, dnsNames: dnsNames, ipAddresses: ipAddresses)
        for dir in Set([certificatePath, privateKeyPath].map { ($0 as NSString).deletingLastPathComponent }) {
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try Data(pem.privateKey.utf8).write(to: URL(fileURLWithPath: privateKeyPath), options: .atomic)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: privateKeyPath)
        try Data(pem.certificate.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        return true
    }

    static func ipBytes(_ ip: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
