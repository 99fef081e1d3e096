/// Finds the Authentication-Results fields that claim to come from us, so
/// they can be removed before delivery (RFC 8601 §5: a sender must not be
/// able to forge this server's verdicts).
///
/// A field claims our authserv-id when, after comments and folding white
/// space, its first `value` (token or quoted-string) equals ours ignoring
/// ASCII case and one trailing dot. Fields that do not parse are left alone:
/// they name no authserv-id, so no reader can take them for ours.
public enum AuthenticationResultsFilter {
    /// Byte ranges (whole fields, line endings included) of the
    /// Authentication-Results fields in `headerSection` that claim `authservID`.
    public static func forgedFields(in headerSection: [UInt8], authservID: String) -> [Range<Int>] {
        let ours = normalized(Array(authservID.utf8))
        return HeaderFields.parse(headerSection)
            .filter { $0.hasName(AuthenticationResults.fieldName) }
            .filter { field in
                guard let id = Self.authservID(of: HeaderFields.unfoldedValue(of: field, in: headerSection)) else { return false }
                return normalized(id) == ours
            }
            .map(\.range)
    }

    /// The header section without those fields.
    public static func removingForgedFields(from headerSection: [UInt8], authservID: String) -> [UInt8] {
        let ranges = forgedFields(in: headerSection, authservID: authservID)
        guard !ranges.isEmpty else { return headerSection }
        var out: [UInt8] = []
        out.reserveCapacity(headerSection.count)
        var position = 0
        for r in ranges {
            out += headerSection[position..<r.lowerBound]
            position = r.upperBound
        }
        out += headerSection[position...]
        return out
    }

    /// The authserv-id of an unfolded field value: `[CFWS] value` where
    /// value is a token or a quoted-string (RFC 8601 §2.2, RFC 5322 §3.2.2).
    static func authservID(of value: [UInt8]) -> [UInt8]? {
        var i = 0
        guard skipCFWS(value, &i), i < value.count else { return nil }
        if value[i] == UInt8(ascii: "\"") {
            var out: [UInt8] = []
            i += 1
            while i < value.count {
                let c = value[i]
                if c == UInt8(ascii: "\\") {
                    guard i + 1 < value.count else { return nil }
                    out.append(value[i + 1])
                    i += 2
                } else if c == UInt8(ascii: "\"") {
                    return out
                } else {
                    out.append(c)
                    i += 1
                }
            }
            return nil
        }
        // A token, extended to UTF-8 (an authserv-id may be a U-label name).
        var out: [UInt8] = []
        while i < value.count, value[i] > 0x20, value[i] != 0x7F, !tokenStops.contains(value[i]) {
            out.append(value[i])
            i += 1
        }
        return out.isEmpty ? nil : out
    }

    private static let tokenStops = Set("()<>@,;:\\\"/[]?=".utf8)

    /// Skips white space and (nested) comments. False for an unterminated comment.
    static func skipCFWS(_ v: [UInt8], _ i: inout Int) -> Bool {
        while i < v.count {
            let c = v[i]
            if c == 0x20 || c == 0x09 {
                i += 1
            } else if c == UInt8(ascii: "(") {
                var depth = 0
                while i < v.count {
                    let d = v[i]
                    if d == UInt8(ascii: "\\") { i += 2; continue }
                    if d == UInt8(ascii: "(") { depth += 1 }
                    if d == UInt8(ascii: ")") { depth -= 1 }
                    i += 1
                    if depth == 0 { break }
                }
                if depth != 0 { return false }
            } else {
                return true
            }
        }
        return true
    }

    /// Lowercase ASCII, one trailing dot removed.
    private static func normalized(_ id: [UInt8]) -> [UInt8] {
        var lower = id.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        if lower.last == UInt8(ascii: "."), lower.count > 1 { lower.removeLast() }
        return lower
    }
}
