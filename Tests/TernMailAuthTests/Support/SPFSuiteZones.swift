import Foundation

/// Zone files for nsd from one scenario's `zonedata:` of the SPF test suite
/// (conformance/spf/rfc7208-tests.yml), served the way the suite's drivers
/// serve it:
/// - everything lives under a root zone ".", so names the data does not
///   mention are NXDOMAIN;
/// - SPF-type records are also served as TXT unless the name has TXT of its
///   own (`TXT: NONE` means "no TXT at all");
/// - `TIMEOUT` makes a name that has no other data unanswerable: it becomes
///   a zone of its own whose file does not load, so nsd answers SERVFAIL
///   for it (a stub resolver cannot be sent to a silent server for one name;
///   SERVFAIL and a timeout are the same temporary failure to SPF). Names
///   with data under such a name get zones of their own so they still
///   answer. A `TIMEOUT` name with data serves its data;
/// - character-strings longer than 255 octets are split; other octets
///   outside printable ASCII are written as `\DDD`.
enum SPFSuiteZones {
    struct Name {
        var txt: [[String]] = []
        var spf: [[String]] = []
        var noTXT = false
        var timeout = false
        var other: [String] = []  // rdata lines: "A 1.2.3.4", "MX 0 x."
    }

    static func zones(_ zonedata: [String: Any]) -> [String: String] {
        var names: [String: Name] = [:]
        for (rawName, value) in zonedata {
            let owner = normalized(rawName)
            var entry = names[owner] ?? Name()
            for item in value as? [Any] ?? [] {
                if let word = item as? String, word == "TIMEOUT" { entry.timeout = true; continue }
                guard let rr = item as? [String: Any] else { continue }
                for (type, rdata) in rr {
                    switch type {
                    case "TXT", "SPF":
                        let strings: [String]
                        if let s = rdata as? String { strings = [s] } else { strings = (rdata as? [Any] ?? []).map { "\($0)" } }
                        if type == "TXT", strings == ["NONE"] { entry.noTXT = true; continue }
                        guard !strings.isEmpty else { continue }
                        if type == "TXT" { entry.txt.append(strings) } else { entry.spf.append(strings) }
                    case "A", "AAAA":
                        entry.other.append("\(type) \(rdata)")
                    case "PTR", "CNAME":
                        entry.other.append("\(type) \(domainName("\(rdata)"))")
                    case "MX":
                        guard let pair = rdata as? [Any], pair.count == 2 else { continue }
                        entry.other.append("MX \(pair[0]) \(domainName("\(pair[1])"))")
                    default:
                        continue
                    }
                }
            }
            names[owner] = entry
        }

        func records(_ entry: Name) -> [String] {
            let texts = !entry.txt.isEmpty ? entry.txt : (entry.noTXT ? [] : entry.spf)
            return texts.map { "TXT " + characterStrings($0) } + entry.other
        }
        let unanswered = Set(names.filter { $0.value.timeout && records($0.value).isEmpty }.keys)
        var origins: Set<String> = ["."]
        origins.formUnion(unanswered)
        for name in names.keys where !records(names[name] ?? Name()).isEmpty {
            if unanswered.contains(where: { name.hasSuffix("." + $0) }) { origins.insert(name) }
        }

        var zones: [String: String] = [:]
        for origin in origins {
            zones[origin] = unanswered.contains(origin)
                ? "; \(origin) is left unanswerable: this file has no SOA, so nsd answers SERVFAIL\n"
                : "$TTL 300\n\(domainName(origin)) IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n"
                    + "\(domainName(origin)) IN NS ns.test.\n"
        }
        for (name, entry) in names.sorted(by: { $0.key < $1.key }) {
            let lines = records(entry)
            guard !lines.isEmpty else { continue }
            let zone = origins.filter { $0 == "." || name == $0 || name.hasSuffix("." + $0) }
                .max(by: { $0.count < $1.count }) ?? "."
            guard !unanswered.contains(zone) else { continue }
            for line in lines { zones[zone, default: ""] += "\(domainName(name)) 300 IN \(line)\n" }
        }
        return zones
    }

    static func normalized(_ name: String) -> String {
        var n = name.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        return n.isEmpty ? "." : n
    }

    /// An absolute name for a zone file, odd octets as `\DDD`.
    static func domainName(_ name: String) -> String {
        let n = normalized(name)
        if n == "." { return "." }
        return n.split(separator: ".", omittingEmptySubsequences: false).map { label in
            label.utf8.map { c -> String in
                let ok = (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A)
                    || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
                return ok ? String(UnicodeScalar(c)) : String(format: "\\%03d", Int(c))
            }.joined()
        }.joined(separator: ".") + "."
    }

    /// Quoted character-strings of at most 255 octets each (RFC 1035 §3.3.14).
    static func characterStrings(_ strings: [String]) -> String {
        var out: [String] = []
        for s in strings {
            let bytes = Array(s.utf8)
            var start = 0
            repeat {
                let chunk = bytes[start..<min(bytes.count, start + 255)]
                out.append("\"" + chunk.map { c -> String in
                    c < 0x20 || c > 0x7E || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\")
                        ? String(format: "\\%03d", Int(c)) : String(UnicodeScalar(c))
                }.joined() + "\"")
                start += 255
            } while start < bytes.count
        }
        return out.joined(separator: " ")
    }
}
