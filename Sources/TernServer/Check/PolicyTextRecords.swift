import Foundation

/// The MTA-STS TXT record at `_mta-sts.<domain>` (RFC 8461 §3.1):
/// `v=STSv1; id=20250101T000000;`.
struct MTASTSRecord: Sendable, Hashable {
    /// `id`: 1–32 letters and digits; senders fetch the policy again when it changes.
    var id: String

    /// RFC 8461 §3.1: records that do not begin with `v=STSv1;` are not MTA-STS records.
    static func isCandidate(_ text: String) -> Bool {
        text.hasPrefix("v=STSv1")
    }

    /// Parses by the ABNF of §3.1; the failure says what is wrong.
    static func parse(_ text: String) -> Result<MTASTSRecord, PolicyRecordError> {
        let fields: [(String, String)]
        switch PolicyRecordFields.split(text, version: "v=STSv1") {
        case .failure(let error): return .failure(error)
        case .success(let f): fields = f
        }
        var id: String?
        for (name, value) in fields {
            if name == "id" {
                guard id == nil else { return .failure(PolicyRecordError("id= is given twice")) }
                guard (1...32).contains(value.utf8.count), value.utf8.allSatisfy(PolicyRecordFields.isAlnum) else {
                    return .failure(PolicyRecordError("id= must be 1 to 32 letters and digits, got \"\(value)\""))
                }
                id = value
            } else if !PolicyRecordFields.isExtension(name: name, value: value) {
                return .failure(PolicyRecordError("invalid field \"\(name)=\(value)\""))
            }
        }
        guard let id else { return .failure(PolicyRecordError("no id= field")) }
        return .success(MTASTSRecord(id: id))
    }
}

/// The SMTP TLS reporting record at `_smtp._tls.<domain>` (RFC 8460 §3):
/// `v=TLSRPTv1; rua=mailto:tlsrpt@example.com`.
struct TLSRPTRecord: Sendable, Hashable {
    /// `rua`: where reports go, `mailto:` or `https:` URIs.
    var reportURIs: [String]

    /// §3: records not beginning with `v=TLSRPTv1` are discarded.
    static func isCandidate(_ text: String) -> Bool {
        text.hasPrefix("v=TLSRPTv1")
    }

    static func parse(_ text: String) -> Result<TLSRPTRecord, PolicyRecordError> {
        let fields: [(String, String)]
        switch PolicyRecordFields.split(text, version: "v=TLSRPTv1") {
        case .failure(let error): return .failure(error)
        case .success(let f): fields = f
        }
        var uris: [String]?
        for (name, value) in fields {
            if name == "rua" {
                guard uris == nil else { return .failure(PolicyRecordError("rua= is given twice")) }
                let list = value.split(separator: ",").map { String($0).trimmingCharacters(in: [" ", "\t"]) }
                for uri in list {
                    let lower = uri.lowercased()
                    guard (lower.hasPrefix("mailto:") || lower.hasPrefix("https://")), uri.count > 8,
                          !uri.contains(" ") else {
                        return .failure(PolicyRecordError("rua= must list mailto: or https: URIs, got \"\(uri)\""))
                    }
                }
                uris = list
            } else if !PolicyRecordFields.isExtension(name: name, value: value) {
                return .failure(PolicyRecordError("invalid field \"\(name)=\(value)\""))
            }
        }
        guard let uris, !uris.isEmpty else { return .failure(PolicyRecordError("no rua= field")) }
        return .success(TLSRPTRecord(reportURIs: uris))
    }
}

/// What is wrong with a policy record, in words.
struct PolicyRecordError: Error, Sendable, Hashable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The shared shape of both records: a version, then `name=value` fields
/// separated by `*WSP ";" *WSP`, with an optional final separator.
enum PolicyRecordFields {
    static func split(_ text: String, version: String) -> Result<[(String, String)], PolicyRecordError> {
        var parts = text.split(separator: ";", omittingEmptySubsequences: false)
            .map { String($0).trimmingCharacters(in: [" ", "\t"]) }
        guard parts.first == version else {
            return .failure(PolicyRecordError("must begin with \"\(version);\""))
        }
        parts.removeFirst()
        if parts.last == "" { parts.removeLast() }
        var fields: [(String, String)] = []
        for part in parts {
            guard let eq = part.firstIndex(of: "=") else {
                return .failure(PolicyRecordError(part.isEmpty ? "has an empty field (\";;\")" : "invalid field \"\(part)\""))
            }
            fields.append((String(part[..<eq]), String(part[part.index(after: eq)...])))
        }
        return .success(fields)
    }

    /// `ext-name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`,
    /// `ext-value = 1*(%x21-3A / %x3C / %x3E-7E)` (RFC 8461 §3.1, RFC 8460 §3).
    static func isExtension(name: String, value: String) -> Bool {
        let n = Array(name.utf8), v = Array(value.utf8)
        guard let first = n.first, isAlnum(first), n.count <= 32,
              n.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return false }
        return !v.isEmpty && v.allSatisfy { (0x21...0x7E).contains($0) && $0 != 0x3B && $0 != 0x3D }
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }
}
