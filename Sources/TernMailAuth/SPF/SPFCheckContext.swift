import Dispatch
import Foundation
import TernDNS

/// The state of one SPF check while libspf2 runs it on a pool thread, and
/// the answers its DNS layer gives (RFC 7208 §4.4–§4.6).
///
/// libspf2 asks its DNS layer synchronously; this context answers by
/// blocking the pool thread on an asynchronous `SPFLookup` (a semaphore
/// around a task), so no event loop ever waits. Beyond plain answers it
/// enforces what libspf2 does not:
/// - every SPF record passes `SPFRecordGuard` before libspf2 sees it,
///   include and redirect targets too; a refused record ends the check
///   with `permerror`;
/// - the limit of 10 DNS-querying terms across includes (libspf2 counts per
///   record) and of 2 void lookups (§4.6.4);
/// - at most 10 PTR names are looked at (§4.6.4: the rest are ignored;
///   libspf2 gives permerror);
/// - type-99 (SPF) queries get NODATA at once (§3.1: not used).
/// When a limit is hit the context records the `permerror` and answers
/// every later query with a temporary failure, which ends libspf2's
/// evaluation at once; the checker then reports the recorded verdict.
final class SPFCheckContext {
    /// One DNS answer in the shape libspf2's layer needs.
    enum Answer: Equatable {
        /// TXT: NUL-terminated strings; A/AAAA: 4 or 16 octets; MX/PTR:
        /// NUL-terminated names.
        case records([[UInt8]])
        case nxdomain
        case nodata
        case temporaryFailure
    }

    /// What record lookup found at a domain (§4.4, §4.5).
    enum RecordOutcome: Equatable {
        /// The one SPF record, rewritten for libspf2 (`SPFEngineRecord`).
        case record(String)
        /// No SPF record: the name does not exist, has no TXT, or no TXT
        /// that starts with "v=spf1".
        case none(String)
        case temperror(String)
        case permerror(String)
    }

    /// DNS record types libspf2 asks for (RFC 1035 §3.2.2, RFC 3596, RFC 4408).
    enum QueryType: UInt32 {
        case a = 1, ptr = 12, mx = 15, txt = 16, aaaa = 28, spf = 99
    }

    let lookup: any SPFLookup
    let client: DNSAddress
    let maximumDNSTerms: Int
    let maximumVoidLookups: Int
    /// §4.6.4: PTR names looked at per ptr term (and MX hosts per mx term,
    /// which libspf2 enforces itself).
    static let maximumNames = 10

    private(set) var recordLookups = 0
    private(set) var dnsTerms = 0
    private(set) var voidLookups = 0
    /// Names libspf2 will look up next for the addresses of an mx or ptr
    /// term: those lookups are part of that term, not terms of their own.
    private var pendingHosts: [String] = []
    /// True when `pendingHosts` came from a PTR answer: a failed address
    /// lookup then skips that name (§5.5) instead of ending the check.
    private var pendingFromPTR = false
    /// A permerror found outside libspf2 (guard, limits): the check's result.
    private(set) var verdict: (SPFVerdict, String)?
    /// The last temporary DNS failure, for the temperror reason.
    private(set) var lastTemporaryFailure: String?

    /// `<sender>` and HELO name of the check, and this host's name: for
    /// explanations.
    let sender: String
    let helo: String
    let receiver: String
    /// The domain libspf2 is evaluating right now (the `d` macro of an
    /// explanation); set by the checker while libspf2 runs.
    var currentDomain: () -> String? = { nil }

    init(lookup: any SPFLookup, client: DNSAddress, sender: String, helo: String, receiver: String,
         maximumDNSTerms: Int, maximumVoidLookups: Int) {
        self.lookup = lookup
        self.client = client
        self.sender = sender
        self.helo = helo
        self.receiver = receiver
        self.maximumDNSTerms = maximumDNSTerms
        self.maximumVoidLookups = maximumVoidLookups
    }

    var clientIsIPv4: Bool {
        if case .v4 = client { true } else { false }
    }

    // MARK: Record lookup (§4.4, §4.5) — the layer's get_spf

    /// The record at `domain`. The first call is the check's own domain;
    /// later ones are include/redirect targets and count as terms.
    func record(at domain: String) -> RecordOutcome {
        recordLookups += 1
        let isTarget = recordLookups > 1
        if let (_, why) = verdict { return .permerror(why) }
        if isTarget, let why = countTerm() { return .permerror(why) }
        guard let name = Self.queryName(domain) else { return .none("\"\(domain)\" is not a valid domain name") }
        let result = wait { await $0.txt(name) }
        switch result {
        case .nxdomain, .nodata:
            if isTarget, let why = countVoid() { return .permerror(why) }
            return .none(result == .nxdomain ? "\(name) does not exist" : "\(name) has no TXT records")
        case .servfail, .timeout, .failure:
            let why = "TXT lookup for \(name): \(Self.describe(result))"
            lastTemporaryFailure = why
            return .temperror(why)
        case .found(let answer):
            let records = answer.records.filter(SPFRecordGuard.isSPFRecord)
            guard !records.isEmpty else { return .none("no SPF record at \(name)") }
            guard records.count == 1 else {
                return fail("\(records.count) SPF records at \(name) (RFC 7208 §4.5)")
            }
            switch SPFRecordGuard.check(records[0]) {
            case .permerror(let why):
                return fail("SPF record at \(name): \(why)")
            case .valid(let record):
                return .record(SPFEngineRecord.render(record, clientIsIPv4: clientIsIPv4))
            }
        }
    }

    /// Records a permerror that ends the check.
    func fail(_ why: String) -> RecordOutcome {
        if verdict == nil { verdict = (.permerror, why) }
        return .permerror(verdict?.1 ?? why)
    }

    // MARK: Other lookups — the layer's lookup

    func answer(name rawName: String, type rawType: UInt32) -> Answer {
        guard let type = QueryType(rawValue: rawType) else { return .nodata }
        if type == .spf { return .nodata }
        if verdict != nil { return .temporaryFailure }
        var normalized = rawName.lowercased()
        if normalized.hasSuffix(".") { normalized.removeLast() }
        let isHost = (type == .a || type == .aaaa) && pendingHosts.first == normalized
        if isHost { pendingHosts.removeFirst() } else if type != .txt { pendingHosts = [] }
        guard let name = Self.queryName(rawName) else { return .nxdomain }
        switch type {
        case .txt:
            return explanation(name)
        case .a, .aaaa:
            if !isHost, countTerm() != nil { return .temporaryFailure }
            let answer = addresses(name, type: type, countsVoid: !isHost)
            // §5.5: "If a DNS error occurs while doing an A RR lookup, then
            // that domain name is skipped and the search continues."
            if isHost, pendingFromPTR, answer == .temporaryFailure { return .nodata }
            return answer
        case .mx:
            if countTerm() != nil { return .temporaryFailure }
            let zeroBase = SPFEngineRecord.zeroCIDRBase(name)
            let result = wait { await $0.mx(zeroBase ?? name) }
            let names = result.records.map { mx -> String in
                guard let _ = zeroBase, !mx.exchange.isEmpty else { return mx.exchange }
                return mx.exchange + "." + SPFEngineRecord.zeroCIDRSuffix
            }
            pendingHosts = Array(names.prefix(Self.maximumNames))
            pendingFromPTR = false
            return finish(result, records: names.map(Self.cString), countsVoid: true)
        case .ptr:
            if countTerm() != nil { return .temporaryFailure }
            guard let address = Self.address(reverseName: name) else { return .nxdomain }
            let result = wait { await $0.ptr(address) }
            let names = Array(result.records.prefix(Self.maximumNames))
            pendingHosts = names.map { $0.lowercased() }
            pendingFromPTR = true
            return finish(result, records: names.map(Self.cString), countsVoid: true)
        case .spf:
            return .nodata
        }
    }

    /// A/AAAA, with the zero-CIDR names of `SPFEngineRecord` answered by the
    /// client's own address when the real name has addresses.
    private func addresses(_ name: String, type: QueryType, countsVoid: Bool) -> Answer {
        let zeroBase = SPFEngineRecord.zeroCIDRBase(name)
        let target = zeroBase ?? name
        let result = type == .a ? wait { await $0.a(target) } : wait { await $0.aaaa(target) }
        var records = result.records.compactMap { address -> [UInt8]? in
            switch (address, type) {
            case (.v4(let octets), .a), (.v6(let octets), .aaaa): octets
            default: nil
            }
        }
        if zeroBase != nil, !records.isEmpty {
            switch (client, type) {
            case (.v4(let octets), .a), (.v6(let octets), .aaaa): records = [octets]
            default: break
            }
        }
        return finish(result, records: records, countsVoid: countsVoid)
    }

    /// An explanation (§6.2): exactly one TXT string that parses as
    /// `explain-string`; anything else is as if there were none.
    private func explanation(_ name: String) -> Answer {
        let result = wait { await $0.txt(name) }
        guard case .found(let answer) = result, answer.records.count == 1, let text = answer.records.first,
              Self.isExplainString(text) else { return .nodata }
        return .records([Self.cString(text)])
    }

    /// The explanation published at `rawDomain` (§6.2), expanded in Swift:
    /// nil when the name is bad, the lookup fails, there is not exactly one
    /// TXT record, or it is not an `explain-string`.
    func explanationText(at rawDomain: String) -> String? {
        guard let name = Self.queryName(Self.truncated(rawDomain)) else { return nil }
        let result = wait { await $0.txt(name) }
        guard case .found(let answer) = result, answer.records.count == 1, let text = answer.records.first,
              text.utf8.count <= SPFRecordGuard.maximumLength else { return nil }
        let expander = SPFMacroExpander(
            sender: sender, domain: currentDomain() ?? name, client: client, helo: helo, receiver: receiver,
            timestamp: Int(Date().timeIntervalSince1970), validatedName: { [unowned self] in self.validatedName() })
        guard let expanded = expander.expandExplanation(text) else { return nil }
        let clean = String(decoding: expanded.utf8.filter { $0 >= 0x20 && $0 != 0x7F }.prefix(Self.maximumExplanation),
                           as: UTF8.self)
        return clean.isEmpty ? nil : clean
    }

    /// Longest explanation kept, in octets.
    static let maximumExplanation = 512

    /// The `p` macro (§7.3 with §5.5): a name from the client's PTR records
    /// whose addresses include the client, preferring the current domain or
    /// a subdomain of it; "unknown" when there is none or DNS fails.
    func validatedName() -> String {
        let client = self.client
        let names = wait { await $0.ptr(client) }.records.prefix(Self.maximumNames)
        var validated: [String] = []
        for raw in names {
            guard let name = Self.queryName(raw) else { continue }
            let addresses: DNSResult<DNSAddress>
            if case .v4 = client { addresses = wait { await $0.a(name) } } else { addresses = wait { await $0.aaaa(name) } }
            if addresses.records.contains(client) { validated.append(name) }
        }
        let domain = currentDomain().flatMap(Self.queryName) ?? ""
        return validated.first { $0 == domain || $0.hasSuffix("." + domain) } ?? validated.first ?? "unknown"
    }

    /// `explain-string = *( macro-string / SP )` (§6.2), bounded.
    static func isExplainString(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= SPFRecordGuard.maximumLength else { return false }
        return bytes.split(separator: 0x20).allSatisfy {
            SPFRecordGuard.macroString(Array($0), context: .unknownModifier) != nil
        }
    }

    private func finish<T>(_ result: DNSResult<T>, records: [[UInt8]], countsVoid: Bool) -> Answer {
        switch result {
        case .found where !records.isEmpty:
            return .records(records)
        case .found, .nodata, .nxdomain:
            if countsVoid, countVoid() != nil { return .temporaryFailure }
            if case .nxdomain = result { return .nxdomain }
            return .nodata
        case .servfail, .timeout, .failure:
            lastTemporaryFailure = Self.describe(result)
            return .temporaryFailure
        }
    }

    // MARK: Limits (§4.6.4)

    /// Counts one DNS-querying term; the reason when that passes the limit.
    private func countTerm() -> String? {
        dnsTerms += 1
        guard dnsTerms > maximumDNSTerms else { return nil }
        let why = "more than \(maximumDNSTerms) DNS-querying terms (RFC 7208 §4.6.4)"
        if verdict == nil { verdict = (.permerror, why) }
        return why
    }

    /// Counts one void lookup; the reason when that passes the limit.
    private func countVoid() -> String? {
        voidLookups += 1
        guard voidLookups > maximumVoidLookups else { return nil }
        let why = "more than \(maximumVoidLookups) void DNS lookups (RFC 7208 §4.6.4)"
        if verdict == nil { verdict = (.permerror, why) }
        return why
    }

    // MARK: Blocking on the asynchronous resolver

    private final class Box<T>: @unchecked Sendable {
        var value: T?
    }

    /// Runs `body` with the lookup and blocks this (pool) thread until it
    /// returns. Never call on an event loop or a Swift concurrency thread.
    func wait<T: Sendable>(_ body: @escaping @Sendable (any SPFLookup) async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        let lookup = self.lookup
        Task.detached {
            box.value = await body(lookup)
            done.signal()
        }
        done.wait()
        guard let value = box.value else { preconditionFailure("lookup finished without a value") }
        return value
    }

    // MARK: Names

    /// The name to query, lowercased without a trailing dot; nil when it
    /// cannot be a domain name (§4.3: empty labels, labels over 63 octets,
    /// names over 253 octets, domain literals).
    static func queryName(_ raw: String) -> String? {
        var name = raw.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253, !name.hasPrefix("[") else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 }) else { return nil }
        return name
    }

    /// §7.3: an expanded name longer than 253 octets loses labels on the
    /// left until it fits.
    static func truncated(_ name: String) -> String {
        var n = Substring(name)
        if n.hasSuffix(".") { n.removeLast() }
        while n.utf8.count > 253, let dot = n.firstIndex(of: ".") { n = n[n.index(after: dot)...] }
        return String(n)
    }

    /// The address of an `in-addr.arpa` / `ip6.arpa` name (RFC 1035 §3.5,
    /// RFC 3596 §2.5).
    static func address(reverseName name: String) -> DNSAddress? {
        let labels = name.split(separator: ".").map(String.init)
        if labels.count == 6, labels[4] == "in-addr", labels[5] == "arpa" {
            let octets = labels[0..<4].reversed().compactMap { UInt8($0) }
            return octets.count == 4 ? .v4(octets) : nil
        }
        if labels.count == 34, labels[32] == "ip6", labels[33] == "arpa" {
            let nibbles = labels[0..<32].reversed().compactMap { $0.count == 1 ? UInt8($0, radix: 16) : nil }
            guard nibbles.count == 32 else { return nil }
            return .v6(stride(from: 0, to: 32, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] })
        }
        return nil
    }

    static func cString(_ s: String) -> [UInt8] {
        Array(s.utf8.filter { $0 != 0 }) + [0]
    }

    static func describe<T>(_ result: DNSResult<T>) -> String {
        switch result {
        case .found: "found"
        case .nxdomain: "NXDOMAIN"
        case .nodata: "no data"
        case .servfail: "SERVFAIL"
        case .timeout: "timeout"
        case .failure(let why): why
        }
    }
}
