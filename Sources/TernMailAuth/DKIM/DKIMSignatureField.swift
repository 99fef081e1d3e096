/// The signing algorithms Tern knows by name (RFC 6376 §3.3, RFC 8463 §3).
public enum DKIMAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// RFC 8301 §3.1: verifiers must not accept it; recognised only to say so.
    case rsaSHA1 = "rsa-sha1"
    case rsaSHA256 = "rsa-sha256"
    case ed25519SHA256 = "ed25519-sha256"

    /// The `k=` key type that goes with the algorithm (RFC 6376 §3.6.1, RFC 8463 §4).
    public var keyType: String {
        switch self {
        case .rsaSHA1, .rsaSHA256: "rsa"
        case .ed25519SHA256: "ed25519"
        }
    }
}

/// Header and body canonicalization (RFC 6376 §3.4).
public enum DKIMCanonicalization: String, Sendable, Hashable {
    case simple
    case relaxed
}

/// A `tag-list` (RFC 6376 §3.2) as written: names in order, values with
/// surrounding white space removed and folding kept inside.
public struct DKIMTagList: Sendable, Hashable {
    public var tags: [(name: String, value: String)] {
        names.map { ($0, values[$0] ?? "") }
    }
    private var names: [String] = []
    private var values: [String: String] = [:]

    /// Tag names are case-sensitive (§3.2).
    public subscript(_ name: String) -> String? { values[name] }

    public static func == (a: DKIMTagList, b: DKIMTagList) -> Bool { a.names == b.names && a.values == b.values }
    public func hash(into hasher: inout Hasher) { hasher.combine(names); hasher.combine(values) }

    /// Why a tag list did not parse.
    public enum ParseError: Error, Sendable, Hashable {
        case malformedTag(String)
        case duplicateTag(String)
    }

    /// Parses `tag-spec *( ";" tag-spec ) [ ";" ]`. A duplicated tag name
    /// makes the whole list invalid (§3.2).
    public static func parse(_ text: String) throws(ParseError) -> DKIMTagList {
        var list = DKIMTagList()
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            let spec = trimFWS(String(part))
            if spec.isEmpty {
                // Only the optional trailing ";" may leave an empty spec.
                if index == parts.count - 1 { continue }
                throw .malformedTag(String(part))
            }
            guard let eq = spec.firstIndex(of: "=") else { throw .malformedTag(spec) }
            let name = trimFWS(String(spec[..<eq]))
            let value = trimFWS(String(spec[spec.index(after: eq)...]))
            guard isTagName(name) else { throw .malformedTag(spec) }
            guard list.values[name] == nil else { throw .duplicateTag(name) }
            list.names.append(name)
            list.values[name] = value
        }
        return list
    }

    /// `tag-name = ALPHA *ALNUMPUNC` (§3.2).
    static func isTagName(_ s: String) -> Bool {
        guard let first = s.utf8.first, isAlpha(first) else { return false }
        return s.utf8.allSatisfy { isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
    }

    static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }

    static func trimFWS(_ s: String) -> String {
        let ws: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A]
        let bytes = Array(s.utf8)
        var start = 0, end = bytes.count
        while start < end, ws.contains(bytes[start]) { start += 1 }
        while end > start, ws.contains(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// A value with every FWS byte removed (base64 tags: `b=`, `bh=`, `p=`).
    static func removingWhitespace(_ s: String) -> String {
        String(decoding: s.utf8.filter { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
    }
}

/// The tags of one DKIM-Signature field that the verifier reads itself
/// before libopendkim sees the message (RFC 6376 §3.5).
public struct DKIMSignatureField: Sendable, Hashable {
    public var tags: DKIMTagList
    /// `a=` as written, lowercased.
    public var algorithmName: String
    public var algorithm: DKIMAlgorithm? { DKIMAlgorithm(rawValue: algorithmName) }
    /// `d=`, lowercased.
    public var domain: String
    /// `s=`, lowercased.
    public var selector: String
    public var identity: String?
    /// `h=`, names lowercased, in order.
    public var signedHeaders: [String]
    public var bodyLength: Int?
    public var timestamp: Int?
    public var expiration: Int?
    /// `b=` without white space.
    public var signature: String
    public var headerCanonicalization: DKIMCanonicalization?
    public var bodyCanonicalization: DKIMCanonicalization?

    /// Why a field cannot be a valid signature (RFC 6376 §6.1.1: PERMFAIL).
    public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        case tagList(DKIMTagList.ParseError)
        case missingTag(String)
        case badVersion(String)
        case badValue(String, String)
        case fromNotSigned

        public var description: String {
            switch self {
            case .tagList(.malformedTag(let t)): "malformed tag \"\(t.prefix(40))\""
            case .tagList(.duplicateTag(let t)): "duplicate tag \(t)="
            case .missingTag(let t): "missing tag \(t)="
            case .badVersion(let v): "unsupported version v=\(v.prefix(10))"
            case .badValue(let t, let v): "invalid \(t)=\(v.prefix(40))"
            case .fromNotSigned: "h= does not include From (RFC 6376 §5.4)"
            }
        }
    }

    /// Reads the unfolded or folded value of a DKIM-Signature field.
    /// Returns what could be read even when invalid, with the problem.
    public static func parse(_ value: String) -> (field: DKIMSignatureField?, problem: Problem?) {
        let tags: DKIMTagList
        do { tags = try DKIMTagList.parse(value) } catch { return (nil, .tagList(error)) }
        var field = DKIMSignatureField(
            tags: tags, algorithmName: (tags["a"] ?? "").lowercased(), domain: (tags["d"] ?? "").lowercased(),
            selector: (tags["s"] ?? "").lowercased(), identity: tags["i"],
            signedHeaders: [], bodyLength: nil, timestamp: nil, expiration: nil,
            signature: DKIMTagList.removingWhitespace(tags["b"] ?? ""))
        field.signedHeaders = (tags["h"] ?? "").split(separator: ":").map {
            DKIMTagList.trimFWS(String($0)).lowercased()
        }
        if let c = tags["c"] {
            let parts = c.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            field.headerCanonicalization = DKIMCanonicalization(rawValue: parts[0])
            field.bodyCanonicalization = parts.count > 1 ? DKIMCanonicalization(rawValue: parts[1]) : .simple
            if parts.count > 2 { field.bodyCanonicalization = nil }
        } else {
            field.headerCanonicalization = .simple
            field.bodyCanonicalization = .simple
        }
        func number(_ name: String) -> (Int?, Problem?) {
            guard let text = tags[name] else { return (nil, nil) }
            // At most 76 bits are meaningful (§3.5); 18 digits fit an Int.
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                return (nil, .badValue(name, text))
            }
            return (Int(text.prefix(18)) ?? Int.max, nil)
        }
        var problem: Problem?
        var p: Problem?
        (field.bodyLength, p) = number("l"); problem = problem ?? p
        (field.timestamp, p) = number("t"); problem = problem ?? p
        (field.expiration, p) = number("x"); problem = problem ?? p

        for required in ["v", "a", "b", "bh", "d", "h", "s"] where tags[required] == nil {
            return (field, .missingTag(required))
        }
        if tags["v"] != "1" { return (field, .badVersion(tags["v"] ?? "")) }
        if field.headerCanonicalization == nil || field.bodyCanonicalization == nil {
            return (field, .badValue("c", tags["c"] ?? ""))
        }
        if !DKIMDomainName.isValid(field.domain) { return (field, .badValue("d", field.domain)) }
        if !DKIMDomainName.isValidSelector(field.selector) { return (field, .badValue("s", field.selector)) }
        if !field.signedHeaders.contains("from") { return (field, .fromNotSigned) }
        return (field, problem)
    }
}

/// Domain-name syntax checks for `d=` and `s=` (RFC 6376 §3.5, §3.1):
/// LDH labels (A-labels for IDNs), so no peer value reaches DNS unchecked.
enum DKIMDomainName {
    static func isValid(_ name: String) -> Bool {
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard name.utf8.count <= 253, labels.count >= 2 else { return false }
        return labels.allSatisfy { isLabel($0) }
    }

    static func isValidSelector(_ selector: String) -> Bool {
        let labels = selector.split(separator: ".", omittingEmptySubsequences: false)
        guard selector.utf8.count <= 200, !labels.isEmpty else { return false }
        return labels.allSatisfy { isLabel($0) }
    }

    static func isLabel(_ label: Substring) -> Bool {
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, bytes.first != UInt8(ascii: "-"), bytes.last != UInt8(ascii: "-") else {
            return false
        }
        return bytes.allSatisfy {
            DKIMTagList.isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
    }
}
