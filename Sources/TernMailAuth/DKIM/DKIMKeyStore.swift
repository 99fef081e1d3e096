import Foundation
import _CryptoExtras
import Crypto

/// DKIM private keys on disk: `<directory>/<domain>/<selector>.key`
/// (DESIGN.md `[dkim] keys`). Several selectors per domain allow rotation:
/// for each algorithm the newest file (modification time) signs.
public struct DKIMKeyStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
        case invalidName(String)
        case key(file: String, DKIMSigningKey.LoadError)
        case exists(String)
        case io(String)

        public var description: String {
            switch self {
            case .invalidName(let n): "not a domain or selector name: \(n)"
            case .key(let file, let error): "\(file): \(error)"
            case .exists(let file): "\(file) already exists; choose another selector"
            case .io(let why): why
            }
        }
    }

    /// The folder of a domain's keys.
    public func folder(for domain: String) throws(StoreError) -> String {
        let d = domain.lowercased()
        guard DKIMDomainName.isValid(d) else { throw .invalidName(domain) }
        return (directory as NSString).appendingPathComponent(d)
    }

    /// The newest key of each algorithm for `domain`, RSA first; [] when the
    /// domain has no folder or no keys.
    public func signingKeys(for domain: String) throws(StoreError) -> [DKIMSigningKey] {
        let folder = try folder(for: domain)
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: folder) else { return [] }
        var newest: [DKIMAlgorithm: (date: Date, selector: String, key: DKIMSigningKey)] = [:]
        for name in names where name.hasSuffix(".key") {
            let selector = String(name.dropLast(4))
            guard DKIMDomainName.isValidSelector(selector) else { continue }
            let path = (folder as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw .io("cannot read \(path)")
            }
            let key: DKIMSigningKey
            do { key = try DKIMSigningKey.parse(text, domain: domain, selector: selector) } catch {
                throw .key(file: path, error)
            }
            let date = (try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
            if let current = newest[key.algorithm],
               current.date > date || (current.date == date && current.selector > selector) { continue }
            newest[key.algorithm] = (date, selector, key)
        }
        return [DKIMAlgorithm.rsaSHA256, .ed25519SHA256].compactMap { newest[$0]?.key }
    }

    /// What `tern dkim keygen` made: the key file and the record to publish.
    public struct GeneratedKey: Sendable {
        public var key: DKIMSigningKey
        public var path: String
        /// `<selector>._domainkey.<domain>`
        public var recordName: String
        /// The TXT rdata as strings of at most 255 octets (RFC 1035 §3.3.14).
        public var recordStrings: [String]

        /// The record to publish for `key`, which is (or will be) at `path`.
        public init(key: DKIMSigningKey, path: String) {
            self.key = key
            self.path = path
            self.recordName = DKIMKeyRecord.name(selector: key.selector, domain: key.domain)
            self.recordStrings = DKIMKeyStore.split(key.keyRecord)
        }

        /// A zone-file line: `name. IN TXT ( "…" "…" )`.
        public var zoneLine: String {
            recordName + ". IN TXT ( " + recordStrings.map { "\"\($0)\"" }.joined(separator: "\n\t") + " )"
        }
    }

    /// Makes a key (RSA-2048 or Ed25519), writes it with mode 0600 (its
    /// folders 0700) and returns the record to publish. Never overwrites.
    public func generate(domain: String, selector: String, algorithm: DKIMAlgorithm) throws -> GeneratedKey {
        guard DKIMDomainName.isValidSelector(selector) else { throw StoreError.invalidName(selector) }
        let folder = try folder(for: domain)
        let material: DKIMSigningKey.Material
        switch algorithm {
        case .rsaSHA256, .rsaSHA1: material = .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        case .ed25519SHA256: material = .ed25519(Curve25519.Signing.PrivateKey())
        }
        let key = DKIMSigningKey(domain: domain, selector: selector, material: material)
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                   attributes: [.posixPermissions: 0o700])
        } catch { throw StoreError.io("cannot create \(folder): \(error)") }
        let path = (folder as NSString).appendingPathComponent(selector + ".key")
        // O_EXCL: an existing key is never replaced; 0600 from the start.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd < 0 {
            if errno == EEXIST { throw StoreError.exists(path) }
            throw StoreError.io("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(key.pemRepresentation.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            unlink(path)
            throw StoreError.io("cannot write \(path)")
        }
        return GeneratedKey(key: key, path: path)
    }

    /// Splits TXT rdata into character-strings of at most `limit` octets.
    public static func split(_ text: String, limit: Int = 255) -> [String] {
        var parts: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            let piece = rest.prefix(limit)   // ASCII: characters are octets
            parts.append(String(piece))
            rest = rest.dropFirst(piece.count)
        }
        return parts
    }
}
