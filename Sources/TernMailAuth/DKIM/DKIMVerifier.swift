import COpenDKIM
import Foundation
import NIOPosix
import TernDNS

/// Verifies every DKIM-Signature of a message (RFC 6376 §6, RFC 8463,
/// RFC 8301) with libopendkim.
///
/// The key records are fetched first, asynchronously, through the injected
/// lookup (in the server `TernDNS.DNSResolver.txt`); libopendkim then runs
/// on a thread pool and reads them from a per-message table — it never
/// queries DNS itself. Rules libopendkim does not enforce are applied here:
/// rsa-sha1 and RSA keys under 1024 bits never pass (RFC 8301 §3.1, §3.2),
/// expired `x=` never passes (RFC 6376 §3.5), a signature must cover From
/// (§5.4), and a pass whose `l=` leaves body unsigned is flagged
/// `partialBody` so that DMARC does not count it.
///
/// Entry point for the inbound path: `verify(_:)` after DATA, then
/// `results.authenticationResults` into Authentication-Results and
/// `results.authenticatedDomains` into `DMARCEvaluator`.
public struct DKIMVerifier: Sendable {
    public typealias TXTLookup = @Sendable (String) async -> DNSResult<String>

    /// At most this many signatures per message are checked; the rest are
    /// reported `permerror` without a DNS query (RFC 6376 §6.1 allows limits).
    public static let maximumSignatures = 10
    /// RFC 8301 §3.2.
    public static let minimumRSAKeyBits = 1024

    private let lookup: TXTLookup
    private let threadPool: NIOThreadPool
    private let now: @Sendable () -> Date

    /// `lookup` answers TXT queries; `threadPool` runs libopendkim (the
    /// server gives TernMailAuth's own pool); `now` is the clock for `x=`.
    public init(lookup: @escaping TXTLookup, threadPool: NIOThreadPool = .singleton,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.lookup = lookup
        self.threadPool = threadPool
        self.now = now
    }

    /// A verifier whose keys come from `resolver`.
    public init(resolver: DNSResolver, threadPool: NIOThreadPool = .singleton) {
        self.init(lookup: { await resolver.txt($0) }, threadPool: threadPool)
    }

    /// True when the linked libopendkim can verify Ed25519 (RFC 8463).
    public static var supportsEd25519: Bool { OpenDKIMLibrary.shared.supportsEd25519 }

    /// One result per DKIM-Signature field, in header order; [] when the
    /// message is not signed. `message` is the message as spooled (CRLF).
    public func verify(_ message: [UInt8]) async -> [DKIMSignatureResult] {
        let parsed = DKIMMessage(message)
        let signatureFields = parsed.fields.filter { $0.hasName("DKIM-Signature") }
        if signatureFields.isEmpty { return [] }

        // A message needs one From field with an address (RFC 5322 §3.6.2,
        // RFC 6376 §5.4); without it no signature can stand for an author.
        var messageProblem: String?
        switch AuthorDomains(headerSection: message) {
        case .noFromField: messageProblem = "message has no From field"
        case .unusable(let text): messageProblem = "From field has no usable address: \(text.prefix(40))"
        case .domains, .multipleFromFields: break
        }

        // 1. Read each field ourselves: what to fetch, and what to refuse.
        struct Pending {
            var field: DKIMSignatureField?
            var verdict: DKIMSignatureResult
            var decided: Bool
        }
        var pending: [Pending] = []
        for (index, header) in signatureFields.enumerated() {
            let value = String(decoding: HeaderFields.unfoldedValue(of: header, in: message), as: UTF8.self)
            let (field, problem) = DKIMSignatureField.parse(value)
            var result = DKIMSignatureResult(
                verdict: .permerror, domain: field?.domain ?? "", selector: field?.selector ?? "",
                algorithm: field?.algorithmName ?? "", identity: field?.identity,
                signaturePrefix: String((field?.signature ?? "").prefix(8)))
            if index >= Self.maximumSignatures {
                result.reason = "not checked: more than \(Self.maximumSignatures) signatures"
                pending.append(Pending(field: field, verdict: result, decided: true))
            } else if let problem {
                result.reason = problem.description
                pending.append(Pending(field: field, verdict: result, decided: true))
            } else if let messageProblem {
                result.reason = messageProblem
                pending.append(Pending(field: field, verdict: result, decided: true))
            } else if let field, field.algorithm == nil {
                result.reason = "unknown algorithm a=\(field.algorithmName.prefix(20))"
                pending.append(Pending(field: field, verdict: result, decided: true))
            } else if let field, let x = field.expiration, Double(x) < now().timeIntervalSince1970 {
                result.reason = "signature expired (x=)"
                pending.append(Pending(field: field, verdict: result, decided: true))
            } else {
                pending.append(Pending(field: field, verdict: result, decided: false))
            }
        }

        // 2. Fetch the keys, each name once, concurrently.
        var names = Set<String>()
        for p in pending where !p.decided {
            if let f = p.field { names.insert(DKIMKeyRecord.name(selector: f.selector, domain: f.domain)) }
        }
        let lookup = self.lookup
        let keys = await withTaskGroup(of: (String, DKIMKeyLookupOutcome).self) { group in
            for name in names {
                group.addTask { (name, Self.outcome(await lookup(name))) }
            }
            var table: [String: DKIMKeyLookupOutcome] = [:]
            for await (name, outcome) in group { table[name] = outcome }
            return table
        }
        for i in pending.indices where !pending[i].decided {
            guard let f = pending[i].field else { continue }
            let name = DKIMKeyRecord.name(selector: f.selector, domain: f.domain)
            switch keys[name] {
            case .notFound, .none:
                pending[i].verdict.reason = "no key record at \(name)"
                pending[i].decided = true
            case .temporaryFailure(let why):
                pending[i].verdict.verdict = .temperror
                pending[i].verdict.reason = "key lookup failed: \(why)"
                pending[i].decided = true
            case .record(let text):
                if let problem = Self.keyProblem(text, for: f) {
                    pending[i].verdict.reason = problem
                    pending[i].decided = true
                }
            }
        }
        if pending.allSatisfy(\.decided) { return pending.map(\.verdict) }

        // 3. libopendkim, on the thread pool.
        let table = DKIMKeyTable(keys)
        let outcome: (reports: [OpenDKIMSignatureReport], error: String?)
        do {
            outcome = try await threadPool.runIfActive { OpenDKIMLibrary.shared.verify(parsed, keys: table) }
        } catch {
            for i in pending.indices where !pending[i].decided {
                pending[i].verdict.verdict = .temperror
                pending[i].verdict.reason = "verifier unavailable"
            }
            return pending.map(\.verdict)
        }

        // 4. Match libopendkim's reports to the fields and apply our rules.
        var unused = outcome.reports
        for i in pending.indices where !pending[i].decided {
            guard let f = pending[i].field else { continue }
            guard let at = unused.firstIndex(where: { $0.signature == f.signature && $0.domain.lowercased() == f.domain }) else {
                pending[i].verdict.reason = outcome.error.map { "message refused: \($0)" } ?? "not processed by libopendkim"
                continue
            }
            let report = unused.remove(at: at)
            pending[i].verdict = Self.judge(field: f, report: report, base: pending[i].verdict, message: parsed)
        }
        return pending.map(\.verdict)
    }

    static func outcome(_ result: DNSResult<String>) -> DKIMKeyLookupOutcome {
        switch result {
        case .found(let answer):
            // Several records at one name: the first that reads as a key record.
            if let text = answer.records.first(where: { DKIMKeyRecord.parse($0) != nil }) ?? answer.records.first {
                return .record(DKIMKeyRecord.normalizedForVerifier(text))
            }
            return .notFound
        case .nxdomain, .nodata: return .notFound
        case .servfail: return .temporaryFailure("SERVFAIL")
        case .timeout: return .temporaryFailure("timeout")
        case .failure(let text): return .temporaryFailure(text)
        }
    }

    /// Key record checks made before libopendkim (RFC 6376 §3.6.1,
    /// RFC 8463 §4): a reason to refuse, or nil.
    static func keyProblem(_ text: String, for field: DKIMSignatureField) -> String? {
        guard let record = DKIMKeyRecord.parse(text) else { return "key record does not parse" }
        if let v = record.tags["v"], v != "DKIM1" { return "key record v=\(v.prefix(10))" }
        guard let key = record.publicKey else { return "key record has no usable p=" }
        if key.isEmpty { return "key revoked (empty p=)" }
        if let algorithm = field.algorithm, record.keyType != algorithm.keyType {
            return "key type k=\(record.keyType.prefix(20)) does not fit a=\(algorithm.rawValue)"
        }
        if let services = record.tags["s"] {
            let list = services.split(separator: ":").map { DKIMTagList.trimFWS(String($0)) }
            if !list.contains("*") && !list.contains("email") { return "key not for email (s=\(services.prefix(20)))" }
        }
        return nil
    }

    /// libopendkim's verdict, then RFC 8301 and `l=` on top.
    static func judge(field: DKIMSignatureField, report: OpenDKIMSignatureReport, base: DKIMSignatureResult,
                      message: DKIMMessage) -> DKIMSignatureResult {
        var result = base
        result.keyBits = report.keyBits
        if report.passed {
            result.verdict = .pass
            result.reason = nil
        } else if report.bodyHashMismatch {
            result.verdict = .fail
            result.reason = "body hash did not verify"
        } else if report.error == DKIM_SIGERROR_BADSIG {
            result.verdict = .fail
            result.reason = "signature did not verify"
        } else if report.error == DKIM_SIGERROR_KEYFAIL {
            result.verdict = .temperror
            result.reason = report.errorText
        } else {
            result.verdict = .permerror
            result.reason = report.errorText
        }
        // RFC 8301 §3.1: rsa-sha1 is never valid; a broken one stays a fail.
        if field.algorithm == .rsaSHA1, result.verdict != .fail {
            result.verdict = .permerror
            result.reason = "rsa-sha1 is not accepted (RFC 8301 §3.1)"
        }
        // RFC 8301 §3.2.
        if field.algorithm?.keyType == "rsa", let bits = report.keyBits, bits < minimumRSAKeyBits, result.verdict == .pass {
            result.verdict = .permerror
            result.reason = "RSA key of \(bits) bits is too short (RFC 8301 §3.2)"
        }
        if result.verdict == .pass, let length = field.bodyLength, let mode = field.bodyCanonicalization {
            let canonical = DKIMCanonicalizer.body(message.body, mode).count
            if length < canonical {
                result.partialBody = true
                result.reason = "l=\(length) leaves \(canonical - length) body octets unsigned"
            }
        }
        return result
    }
}
