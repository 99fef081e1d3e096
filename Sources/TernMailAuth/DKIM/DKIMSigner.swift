import Crypto
import Foundation

/// What one DKIM-Signature says besides the key (RFC 6376 §3.5). The
/// defaults are Tern's: relaxed/relaxed, `t=` now, the recommended header
/// list with From oversigned.
public struct DKIMSignatureParameters: Sendable, Hashable {
    public var headerCanonicalization: DKIMCanonicalization = .relaxed
    public var bodyCanonicalization: DKIMCanonicalization = .relaxed
    /// `h=` exactly, in order; nil = `DKIMSigner.defaultSignedHeaders(for:)`.
    public var signedHeaders: [String]?
    /// What separates the names in `h=`: ":" or, as RFC 8463's example
    /// writes it, " : ".
    public var headerListSeparator: String = ":"
    /// `i=`; nil leaves it out (it then defaults to "@" + d=).
    public var identity: String?
    /// Writes `q=dns/txt` (the default, so normally left out).
    public var writesQueryMethod = false
    /// `t=`; nil = the time of signing.
    public var timestamp: Int?
    /// `x=` as seconds after `t=`; nil = no expiry.
    public var lifetime: Int?

    public init() {}
}

/// Signs outbound mail (RFC 6376 §5, RFC 8463, RFC 8301), in Swift with
/// swift-crypto: the tag text of each signature is written here, so the
/// exact field is known before it is signed (both RSA PKCS#1 v1.5 and
/// Ed25519 are deterministic). Signatures are checked against libopendkim
/// and dkimpy in the tests.
///
/// Entry point for the outbound path: `DKIMSigner(keys:)`, then
/// `signatureFields(for:domain:)` and prepend the bytes it returns.
public struct DKIMSigner: Sendable {
    public let keys: DKIMKeyStore
    public var parameters: DKIMSignatureParameters

    public init(keys: DKIMKeyStore, parameters: DKIMSignatureParameters = DKIMSignatureParameters()) {
        self.keys = keys
        self.parameters = parameters
    }

    /// The fields DKIM guides recommend signing (RFC 6376 §5.4.1), From first.
    public static let recommendedHeaders = [
        "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
        "mime-version", "content-type", "content-transfer-encoding",
    ]
    /// Fields named once more than they occur, so none can be added
    /// without breaking the signature (RFC 6376 §8.15).
    public static let oversignedHeaders = ["from"]

    public enum SigningError: Error, Sendable, Hashable, CustomStringConvertible {
        /// RFC 6376 §5.4: From must be signed, so a message without one can't be.
        case noFromField
        case noKeys(String)
        case cryptoFailed(String)

        public var description: String {
            switch self {
            case .noFromField: "the message has no From field (RFC 6376 §5.4)"
            case .noKeys(let domain): "no DKIM keys for \(domain)"
            case .cryptoFailed(let why): "signing failed: \(why)"
            }
        }
    }

    /// Each recommended field the message has, once; From once more.
    public static func defaultSignedHeaders(for message: DKIMMessage) -> [String] {
        var names: [String] = []
        for name in recommendedHeaders where message.fields.contains(where: { $0.hasName(name) }) {
            names.append(name)
        }
        for name in oversignedHeaders where names.contains(name) { names.append(name) }
        return names
    }

    /// The DKIM-Signature fields for `message` with the newest key of each
    /// algorithm for `domain` (RSA first), to prepend to the message.
    public func signatureFields(for message: [UInt8], domain: String, now: Date = Date()) throws -> [UInt8] {
        let signing = try keys.signingKeys(for: domain)
        if signing.isEmpty { throw SigningError.noKeys(domain) }
        var out: [UInt8] = []
        for key in signing {
            out += try Self.signatureField(for: message, key: key, parameters: parameters, now: now)
        }
        return out
    }

    /// One DKIM-Signature field, folded, ending with CRLF.
    public static func signatureField(for message: [UInt8], key: DKIMSigningKey,
                                      parameters: DKIMSignatureParameters = DKIMSignatureParameters(),
                                      now: Date = Date()) throws -> [UInt8] {
        let parsed = DKIMMessage(message)
        guard parsed.fields.contains(where: { $0.hasName("From") }) else { throw SigningError.noFromField }
        let names = parameters.signedHeaders ?? defaultSignedHeaders(for: parsed)
        guard names.contains(where: { $0.lowercased() == "from" }) else { throw SigningError.noFromField }

        let body = DKIMCanonicalizer.body(parsed.body, parameters.bodyCanonicalization)
        let bodyHash = Data(SHA256.hash(data: body)).base64EncodedString()
        let timestamp = parameters.timestamp ?? Int(now.timeIntervalSince1970)

        // Tags in the order of RFC 6376's examples; each a token for folding.
        var tokens: [String] = [
            "v=1;", "a=\(key.algorithm.rawValue);",
            "c=\(parameters.headerCanonicalization.rawValue)/\(parameters.bodyCanonicalization.rawValue);",
            "d=\(key.domain);",
        ]
        if let identity = parameters.identity { tokens.append("i=\(identity);") }
        if parameters.writesQueryMethod { tokens.append("q=dns/txt;") }
        tokens.append("s=\(key.selector);")
        tokens.append("t=\(timestamp);")
        if let lifetime = parameters.lifetime { tokens.append("x=\(timestamp + lifetime);") }
        // h= may be folded after any ":" (FWS is allowed around it, §3.5).
        var headerList = Array(names.enumerated().map { index, name in
            (index == 0 ? "h=" : "") + name + (index == names.count - 1 ? ";" : parameters.headerListSeparator)
        })
        var glued = Set<Int>()
        for i in headerList.indices.dropFirst() {
            if !parameters.headerListSeparator.hasSuffix(" ") { glued.insert(tokens.count + i) }
        }
        headerList = headerList.map { $0.trimmingCharacters(in: .whitespaces) }
        tokens += headerList
        tokens.append("bh=\(bodyHash);")
        tokens.append("b=")

        var field = fold(tokens, glued: glued)
        // The hash input (§3.7): the signed fields, then this field with an
        // empty b= and no final CRLF.
        var data: [UInt8] = []
        for f in DKIMCanonicalizer.signedFields(names, in: parsed) {
            data += DKIMCanonicalizer.header(parsed.fieldBytes(f), parameters.headerCanonicalization)
        }
        data += DKIMCanonicalizer.header(Array(field.utf8), parameters.headerCanonicalization).dropLast(2)

        let signature: [UInt8]
        do { signature = try key.sign(data) } catch { throw SigningError.cryptoFailed("\(error)") }
        let b = Data(signature).base64EncodedString()
        // Fold b= in pieces; the verifier drops its white space (§3.5).
        let bytes = Array(field.utf8)
        var column = bytes.count - ((bytes.lastIndex(of: 0x0A)).map { $0 + 1 } ?? 0)
        var rest = Substring(b)
        while !rest.isEmpty {
            var room = 76 - column
            if room < 16 {
                field += "\r\n "
                column = 1
                room = 75
            }
            let piece = rest.prefix(room)
            field += piece
            column += piece.utf8.count
            rest = rest.dropFirst(piece.count)
        }
        return Array((field + "\r\n").utf8)
    }

    /// "DKIM-Signature: " and the tokens, separated by one space or, past
    /// 76 columns, a fold (CRLF SP).
    /// Tokens whose index is in `glued` follow the previous one without a
    /// space unless folded.
    static func fold(_ tokens: [String], glued: Set<Int> = []) -> String {
        var out = "DKIM-Signature:"
        var column = out.utf8.count
        for (index, token) in tokens.enumerated() {
            let space = glued.contains(index) ? 0 : 1
            if column + space + token.utf8.count > 76, column > 1 {
                out += "\r\n " + token
                column = 1 + token.utf8.count
            } else {
                out += (space == 1 ? " " : "") + token
                column += space + token.utf8.count
            }
        }
        return out
    }
}
