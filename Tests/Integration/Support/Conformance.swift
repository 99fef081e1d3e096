import Foundation
import TernTestSupport

/// Reads the shared conformance data (`../shared/conformance/`), byte-exact.
enum Conformance {
    /// See `ConformanceDirectory`.
    static var directory: URL { ConformanceDirectory.url }

    static func text(_ relative: String) throws -> String {
        let data = try Data(contentsOf: directory.appendingPathComponent(relative))
        return String(decoding: data, as: UTF8.self)
    }

    /// Decodes a YAML double-quoted scalar's escapes (\r \n \t \0 \xHH \uHHHH \" \\) to latin-1 bytes.
    static func unescape(_ s: Substring) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        func hex(_ n: Int) -> UInt32? {
            guard let end = s.index(i, offsetBy: n + 1, limitedBy: s.endIndex) else { return nil }
            let v = UInt32(s[s.index(after: i)..<end], radix: 16)
            i = s.index(before: end)
            return v
        }
        while i < s.endIndex {
            let c = s[i]
            if c == "\\" {
                i = s.index(after: i)
                guard i < s.endIndex else { break }
                switch s[i] {
                case "r": out.append(13)
                case "n": out.append(10)
                case "t": out.append(9)
                case "0": out.append(0)
                case "\"": out.append(34)
                case "\\": out.append(92)
                case "x": if let v = hex(2) { out.append(UInt8(truncatingIfNeeded: v)) }
                case "u": if let v = hex(4) { out.append(UInt8(truncatingIfNeeded: v)) }
                default: out.append(contentsOf: Array(String(s[i]).utf8))
                }
            } else {
                out.append(contentsOf: Array(String(c).utf8))
            }
            i = s.index(after: i)
        }
        return out
    }

    struct EODProbe: CustomStringConvertible {
        var id: String
        var eod: [UInt8]
        var atStart: Bool
        var description: String { id }
    }

    /// The `inbound_eod` list of smuggling-probes.yaml.
    static func smugglingProbes() throws -> [EODProbe] {
        var probes: [EODProbe] = []
        var inList = false
        for line in try text("smtp/smuggling-probes.yaml").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("inbound_eod:") { inList = true; continue }
            if inList && !line.isEmpty && !line.hasPrefix(" ") && !line.hasPrefix("#") { break }
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("- id: ") {
                probes.append(EODProbe(id: String(t.dropFirst(6)), eod: [], atStart: false))
            } else if t.hasPrefix("eod: \""), t.hasSuffix("\""), !probes.isEmpty {
                probes[probes.count - 1].eod = unescape(t.dropFirst(6).dropLast())
            } else if t.hasPrefix("placement: first bytes"), !probes.isEmpty {
                probes[probes.count - 1].atStart = true
            }
        }
        return probes
    }

    /// Every `id:` of the server-side sections of protocol-probes.yaml.
    static func protocolProbeIDs(sections: Set<String>) throws -> [String] {
        var ids: [String] = []
        var current = ""
        for line in try text("smtp/protocol-probes.yaml").split(separator: "\n") {
            if !line.hasPrefix(" ") && !line.hasPrefix("#") && line.hasSuffix(":") {
                current = String(line.dropLast())
                continue
            }
            guard sections.contains(current) else { continue }
            if let r = line.range(of: "id: ") {
                let rest = line[r.upperBound...]
                ids.append(String(rest.prefix { $0 != "," && $0 != "}" }).trimmingCharacters(in: .whitespaces))
            }
        }
        return ids
    }
}
