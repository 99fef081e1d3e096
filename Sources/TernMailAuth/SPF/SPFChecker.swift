import CSPF2
import TernDNS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SPF checks (RFC 7208) of the HELO and MAIL FROM identities, evaluated
/// by libspf2 behind `SPFRecordGuard` and a DNS layer that answers from
/// `SPFLookup` (in the server `TernDNS.DNSResolver`).
///
/// Each check runs on a thread of the checker's own pool, since libspf2
/// blocks; callers only `await`. Clients are checked as given except that
/// an IPv4-mapped IPv6 address is checked as IPv4 (§5). Unlike libspf2's
/// `SPF_request_query_mailfrom`, loopback clients get no free `pass`.
public final class SPFChecker: Sendable {
    public struct Configuration: Sendable {
        /// This host's name: the `r` macro and the Received-SPF receiver.
        /// Default "localhost"; the server passes its `hostname`.
        public var receiver: String
        /// Threads that run libspf2. Default 2.
        public var threads: Int
        /// Terms that cause DNS queries, across includes and redirects
        /// (§4.6.4: 10). Default 10.
        public var maximumDNSTerms: Int
        /// Lookups that find no name or no records (§4.6.4: 2 recommended).
        /// Default 2.
        public var maximumVoidLookups: Int

        public init(receiver: String = "localhost", threads: Int = 2, maximumDNSTerms: Int = 10,
                    maximumVoidLookups: Int = 2) {
            self.receiver = receiver
            self.threads = threads
            self.maximumDNSTerms = maximumDNSTerms
            self.maximumVoidLookups = maximumVoidLookups
        }
    }

    public let configuration: Configuration
    private let lookup: any SPFLookup
    private let engine: LibSPF2Server?
    private let pool: BlockingThreadPool

    public init(lookup: any SPFLookup, configuration: Configuration = Configuration()) {
        self.lookup = lookup
        self.configuration = configuration
        self.engine = LibSPF2Server(receiver: configuration.receiver)
        self.pool = BlockingThreadPool(count: configuration.threads, name: "tern-spf")
    }

    deinit { pool.shutdown() }

    /// The MAIL FROM identity (§2.4): `mailFrom` is the reverse-path
    /// without angle brackets; "" (the null sender) checks
    /// `postmaster@<helo>` (§2.4).
    public func check(ip: DNSAddress, helo: String, mailFrom: String) async -> SPFResult {
        let sender: String, domain: String, identity: SPFIdentity
        if mailFrom.isEmpty {
            (sender, domain, identity) = ("postmaster@" + helo, helo, .mailFrom)
        } else if let at = mailFrom.lastIndex(of: "@") {
            let local = mailFrom[..<at]
            domain = String(mailFrom[mailFrom.index(after: at)...])
            sender = (local.isEmpty ? "postmaster" : String(local)) + "@" + domain
            identity = .mailFrom
        } else {
            (sender, domain, identity) = ("postmaster@" + mailFrom, mailFrom, .mailFrom)
        }
        return await run(identity: identity, sender: sender, domain: domain, helo: helo, ip: ip)
    }

    /// The HELO identity (§2.3): the record at the HELO name, with sender
    /// `postmaster@<helo>`.
    public func checkHELO(ip: DNSAddress, helo: String) async -> SPFResult {
        await run(identity: .helo, sender: "postmaster@" + helo, domain: helo, helo: helo, ip: ip)
    }

    /// The Received-SPF field for `result` (§9.1), ending with CRLF.
    public func receivedSPF(_ result: SPFResult) -> String {
        ReceivedSPF.render(result, receiver: configuration.receiver)
    }

    // MARK: Running a check

    private func run(identity: SPFIdentity, sender: String, domain: String, helo: String,
                     ip: DNSAddress) async -> SPFResult {
        let client = Self.unmapped(ip)
        var result = SPFResult(verdict: .none, identity: identity, sender: sender, domain: domain,
                               clientIP: client, helo: helo)
        guard let engine else {
            result.verdict = .temperror
            result.reason = "libspf2 could not be initialised"
            return result
        }
        let lookup = self.lookup, configuration = self.configuration
        let (verdict, reason, explanation) = await pool.run {
            let context = SPFCheckContext(lookup: lookup, client: client, sender: sender, helo: helo,
                                          receiver: configuration.receiver,
                                          maximumDNSTerms: configuration.maximumDNSTerms,
                                          maximumVoidLookups: configuration.maximumVoidLookups)
            return SPFCurrentCheck.with(context) {
                Self.evaluate(engine: engine, context: context, sender: sender, domain: domain, helo: helo)
            }
        }
        result.verdict = verdict
        result.reason = reason
        result.explanation = verdict == .fail ? explanation : nil
        return result
    }

    /// check_host() (§4) on the current pool thread.
    private static func evaluate(engine: LibSPF2Server, context: SPFCheckContext, sender: String, domain: String,
                                 helo: String) -> (SPFVerdict, String?, String?) {
        // §4.3: a malformed or single-label domain has no record.
        guard let name = SPFCheckContext.queryName(domain), name.contains(".") else {
            return (.none, "\"\(domain)\" is not a fully qualified domain name", nil)
        }
        let text: String
        switch context.record(at: name) {
        case .record(let t): text = t
        case .none(let why): return (.none, why, nil)
        case .temperror(let why): return (.temperror, why, nil)
        case .permerror(let why): return (.permerror, why, nil)
        }

        guard let request = SPF_request_new(engine.server) else { return (.temperror, "out of memory", nil) }
        defer { SPF_request_free(request) }
        switch context.client {
        case .v4(let octets):
            var address = in_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: octets) }
            _ = SPF_request_set_ipv4(request, address)
        case .v6(let octets):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: octets) }
            _ = SPF_request_set_ipv6(request, address)
        }
        if !helo.isEmpty { _ = SPF_request_set_helo_dom(request, helo) }
        _ = SPF_request_set_env_from(request, sender)
        guard let response = SPF_response_new(request) else { return (.temperror, "out of memory", nil) }
        defer { SPF_response_free(response) }
        guard let currentDomain = strdup(name) else { return (.temperror, "out of memory", nil) }
        defer { free(currentDomain) }
        request.pointee.cur_dom = UnsafePointer(currentDomain)
        context.currentDomain = { request.pointee.cur_dom.map { String(cString: $0) } }
        defer { context.currentDomain = { nil } }

        var record: UnsafeMutablePointer<SPF_record_t>?
        let compiled = LibSPF2Server.compile(.record(text), server: engine.server, response: response,
                                             context: context, into: &record)
        guard compiled == SPF_E_SUCCESS, let record else {
            return (.permerror, context.verdict?.1 ?? "libspf2 could not compile the record", nil)
        }
        response.pointee.spf_record_exp = record
        let err = SPF_record_interpret(record, request, response, 0)
        SPF_record_free(record)
        response.pointee.spf_record_exp = nil
        request.pointee.cur_dom = nil

        if let (verdict, why) = context.verdict { return (verdict, why, nil) }
        let errorText = String(cString: SPF_strerror(err))
        let explanation = SPF_response_get_explanation(response).map { String(cString: $0) }.flatMap {
            $0.isEmpty ? nil : $0
        }
        switch SPF_response_result(response) {
        case SPF_RESULT_PASS: return (.pass, nil, nil)
        case SPF_RESULT_FAIL: return (.fail, nil, explanation)
        case SPF_RESULT_SOFTFAIL: return (.softfail, nil, nil)
        case SPF_RESULT_NEUTRAL: return (.neutral, nil, nil)
        case SPF_RESULT_NONE: return (.none, nil, nil)
        case SPF_RESULT_TEMPERROR: return (.temperror, context.lastTemporaryFailure ?? errorText, nil)
        case SPF_RESULT_PERMERROR: return (.permerror, errorText, nil)
        default:
            // SPF_RESULT_INVALID: a DNS error is temporary, anything else a
            // problem with the records (§2.6.6, §2.6.7).
            if err == SPF_E_DNS_ERROR { return (.temperror, context.lastTemporaryFailure ?? errorText, nil) }
            return (.permerror, errorText, nil)
        }
    }

    /// `::ffff:a.b.c.d` is checked as `a.b.c.d` (RFC 7208 §5, RFC 4291 §2.5.5.2).
    static func unmapped(_ address: DNSAddress) -> DNSAddress {
        if case .v6(let o) = address, o.count == 16, o[0..<10].allSatisfy({ $0 == 0 }), o[10] == 0xFF, o[11] == 0xFF {
            return .v4(Array(o[12...]))
        }
        return address
    }
}
