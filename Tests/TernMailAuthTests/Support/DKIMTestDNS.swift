import Foundation
import NIOPosix
import TernDNS
import TernMailAuth
import TernTestSupport

/// Key records served by a real nsd on loopback and read back through
/// TernDNS, as the server does. One instance per conformance set (the sets
/// publish different keys under the same names).
final class DKIMTestDNS: @unchecked Sendable {
    let nsd: NSDServer
    let resolver: DNSResolver

    /// `records`: owner name → TXT rdata (unquoted). Each owner's parent
    /// below `_domainkey` becomes a zone of its own.
    init(records: [(name: String, rdata: String)]) throws {
        var zones: [String: [String]] = [:]
        for (name, rdata) in records {
            let owner = name.lowercased().hasSuffix(".") ? String(name.lowercased().dropLast()) : name.lowercased()
            // Owners that are not host names (a test's attacker string) can't be served.
            guard owner.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "(") && $0 != UInt8(ascii: ")") }),
                  let range = owner.range(of: "._domainkey.") else { continue }
            let origin = String(owner[range.upperBound...])
            let strings = DKIMKeyStore.split(rdata).map { piece in
                "\"" + piece.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }
            zones[origin, default: []].append("\(owner). IN TXT \(strings.joined(separator: " "))")
        }
        var texts: [String: String] = [:]
        for (origin, lines) in zones {
            texts[origin + "."] = """
            $ORIGIN \(origin).
            $TTL 300
            @ IN SOA ns.\(origin). hostmaster.\(origin). 1 3600 600 86400 60
            @ IN NS ns.\(origin).
            ns IN A 127.0.0.1
            \(lines.joined(separator: "\n"))

            """
        }
        nsd = try NSDServer(zones: texts)
        let configuration = DNSResolverConfiguration(
            nameservers: [try DNSResolverConfiguration.parseNameserver(nsd.nameserver)], timeout: .seconds(2), attempts: 2)
        resolver = DNSResolver(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    }

    /// Reads a conformance `zone.txt` (owner, space, rdata; `#` comments).
    static func zoneFile(_ text: String) -> [(name: String, rdata: String)] {
        text.split(whereSeparator: \.isNewline).compactMap { line in
            let l = line.trimmingCharacters(in: .whitespaces)
            guard !l.isEmpty, !l.hasPrefix("#"), let space = l.firstIndex(of: " ") else { return nil }
            return (String(l[..<space]), String(l[l.index(after: space)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    var lookup: DKIMVerifier.TXTLookup {
        let resolver = self.resolver
        return { await resolver.txt($0) }
    }

    func verifier(rename: [String: String] = [:], now: @escaping @Sendable () -> Date = { Date() }) -> DKIMVerifier {
        let resolver = self.resolver
        return DKIMVerifier(lookup: { name in await resolver.txt(rename[name] ?? name) }, now: now)
    }

    func stop() async {
        await resolver.shutdown()
        nsd.stop()
    }
}

enum DKIMTestData {
    /// LF line ends become CRLF; CRLF stays (RFC 6376 works on CRLF lines).
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 20)
        for (i, b) in bytes.enumerated() {
            if b == 0x0A, i == 0 || bytes[i - 1] != 0x0D { out.append(0x0D) }
            out.append(b)
        }
        return out
    }

    /// The verdicts, for messages.
    static func verdicts(_ results: [DKIMSignatureResult]) -> [String] { results.map(\.verdict.rawValue) }

    /// True when `got` is what `expected` asks for. "none" (a malformed
    /// signature the vector calls unsigned) asks only for "not a pass";
    /// for rsa-sha1, RFC 8301 makes any signature invalid without saying
    /// whether a broken one is fail or permerror, so either will do.
    static func matches(_ expected: String, _ got: DKIMSignatureResult) -> Bool {
        if expected == got.verdict.rawValue { return true }
        switch expected {
        case "none", "not pass": return got.verdict != .pass
        case "fail", "permerror":
            return got.algorithm == "rsa-sha1" && (got.verdict == .fail || got.verdict == .permerror)
        default: return false
        }
    }
}

/// dkimpy (Debian python3-dkim) run with the system Python: the
/// independent verifier for Tern's signatures.
enum DKIMPy {
    struct Failed: Error, CustomStringConvertible { var description: String }

    /// Verifies every signature of `message` with `records` as its DNS;
    /// returns one Bool per signature.
    static func verify(_ message: [UInt8], records: [String: String]) throws -> [Bool] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-dkimpy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let messageURL = dir.appendingPathComponent("message.eml")
        try Data(message).write(to: messageURL)
        let zoneURL = dir.appendingPathComponent("zone.json")
        try JSONSerialization.data(withJSONObject: records).write(to: zoneURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", """
            import sys, json, dkim
            zone = json.load(open(sys.argv[2]))
            def dnsfunc(name, timeout=5):
                n = name.decode() if isinstance(name, bytes) else name
                r = zone.get(n.rstrip('.').lower())
                return r.encode() if r is not None else None
            msg = open(sys.argv[1], 'rb').read()
            d = dkim.DKIM(msg)
            sigs = [f for f in d.headers if f[0].lower() == b'dkim-signature']
            out = []
            for i in range(len(sigs)):
                try:
                    out.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
                except Exception as e:
                    sys.stderr.write(repr(e) + '\\n')
                    out.append(False)
            print(json.dumps(out))
            """, messageURL.path, zoneURL.path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, let list = try JSONSerialization.jsonObject(with: data) as? [Bool] else {
            throw Failed(description: "dkimpy failed (is python3-dkim installed?): \(errors)")
        }
        return list
    }
}
