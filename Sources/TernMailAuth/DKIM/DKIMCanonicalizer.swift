/// A message split into its header fields and body, as DKIM sees it.
public struct DKIMMessage: Sendable {
    public var bytes: [UInt8]
    public var fields: [HeaderField]
    /// Offset of the first body byte (after the empty line); `bytes.count`
    /// when there is no body.
    public var bodyStart: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.fields = HeaderFields.parse(bytes)
        // The header section ends at the first empty line (RFC 5322 §2.1).
        var start = bytes.count
        var i = 0
        if bytes.starts(with: [0x0D, 0x0A]) {
            start = 2
        } else if bytes.first == 0x0A {
            start = 1
        } else {
            while i + 1 < bytes.count {
                if bytes[i] == 0x0A {
                    if bytes[i + 1] == 0x0A { start = i + 2; break }
                    if bytes[i + 1] == 0x0D, i + 2 < bytes.count, bytes[i + 2] == 0x0A { start = i + 3; break }
                }
                i += 1
            }
        }
        self.bodyStart = start
    }

    public var body: ArraySlice<UInt8> { bytes[bodyStart...] }

    /// The field's bytes without the line ending that closes it.
    public func fieldBytes(_ field: HeaderField) -> ArraySlice<UInt8> {
        var end = field.range.upperBound
        if end > field.range.lowerBound, bytes[end - 1] == 0x0A { end -= 1 }
        if end > field.range.lowerBound, bytes[end - 1] == 0x0D { end -= 1 }
        return bytes[field.range.lowerBound..<end]
    }
}

/// Canonicalization (RFC 6376 §3.4) and the hash input built from it (§3.7).
public enum DKIMCanonicalizer {
    static func isWSP(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    /// One header field (given without its final CRLF), canonicalized,
    /// ending with CRLF. §3.4.1 simple, §3.4.2 relaxed.
    public static func header<C: Collection>(_ field: C, _ mode: DKIMCanonicalization) -> [UInt8] where C.Element == UInt8 {
        switch mode {
        case .simple:
            return Array(field) + [0x0D, 0x0A]
        case .relaxed:
            let bytes = Array(field)
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return bytes + [0x0D, 0x0A] }
            var name = Array(bytes[..<colon])
            while let last = name.last, isWSP(last) { name.removeLast() }
            var out = name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            out.append(UInt8(ascii: ":"))
            // Unfold, then collapse runs of WSP into one SP, then trim.
            var value: [UInt8] = []
            var pendingSpace = false
            for c in bytes[(colon + 1)...] where c != 0x0D && c != 0x0A {
                if isWSP(c) {
                    pendingSpace = true
                } else {
                    if pendingSpace, !value.isEmpty { value.append(0x20) }
                    pendingSpace = false
                    value.append(c)
                }
            }
            out += value
            out += [0x0D, 0x0A]
            return out
        }
    }

    /// The canonical body (§3.4.3 simple, §3.4.4 relaxed). Lines end with CRLF.
    public static func body<C: Collection>(_ body: C, _ mode: DKIMCanonicalization) -> [UInt8] where C.Element == UInt8 {
        var lines: [[UInt8]] = []
        var line: [UInt8] = []
        for c in body {
            if c == 0x0A {
                if line.last == 0x0D { line.removeLast() }
                lines.append(line)
                line = []
            } else {
                line.append(c)
            }
        }
        if !line.isEmpty { lines.append(line) }
        if mode == .relaxed {
            lines = lines.map { l in
                var out: [UInt8] = []
                var pendingSpace = false
                for c in l {
                    if isWSP(c) { pendingSpace = true; continue }
                    if pendingSpace { out.append(0x20) }
                    pendingSpace = false
                    out.append(c)
                }
                return out
            }
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        if lines.isEmpty { return mode == .simple ? [0x0D, 0x0A] : [] }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + lines.count)
        for l in lines { out += l; out += [0x0D, 0x0A] }
        return out
    }

    /// The header fields `h=` names, picked bottom-up (§5.4.2): each name
    /// takes the last instance not yet used; a name with none left adds nothing.
    public static func signedFields(_ names: [String], in message: DKIMMessage, excluding: HeaderField? = nil) -> [HeaderField] {
        var used = Set<Int>()
        var picked: [HeaderField] = []
        for name in names {
            if let index = message.fields.indices.reversed().first(where: {
                !used.contains($0) && message.fields[$0].hasName(name) && message.fields[$0] != excluding
            }) {
                used.insert(index)
                picked.append(message.fields[index])
            }
        }
        return picked
    }

    /// The DKIM-Signature field with the value of `b=` removed (§3.7),
    /// given without its final CRLF.
    public static func withoutSignatureValue<C: Collection>(_ field: C) -> [UInt8] where C.Element == UInt8 {
        let bytes = Array(field)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return bytes }
        var out = Array(bytes[...colon])
        // Walk the tag list: copy each tag, but empty the value of b=.
        var i = colon + 1
        while i < bytes.count {
            var end = i
            while end < bytes.count, bytes[end] != UInt8(ascii: ";") { end += 1 }
            let spec = bytes[i..<end]
            if let eq = spec.firstIndex(of: UInt8(ascii: "=")),
               DKIMTagList.trimFWS(String(decoding: bytes[i..<eq], as: UTF8.self)) == "b" {
                out += bytes[i...eq]
            } else {
                out += spec
            }
            if end < bytes.count { out.append(UInt8(ascii: ";")) }
            i = end + 1
        }
        return out
    }
}
