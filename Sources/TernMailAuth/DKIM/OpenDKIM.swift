import COpenDKIM

/// The outcome of fetching one key record ahead of verification.
enum DKIMKeyLookupOutcome: Sendable, Hashable {
    /// The record text, as libopendkim should read it.
    case record(String)
    /// NXDOMAIN or no TXT record: the key does not exist.
    case notFound
    /// The lookup failed for now (SERVFAIL, timeout, …).
    case temporaryFailure(String)
}

/// The keys of one message, by DNS name, served to libopendkim from its key
/// lookup callback. Immutable once built; libopendkim reads it from the
/// thread pool thread that verifies the message.
final class DKIMKeyTable: Sendable {
    let keys: [String: DKIMKeyLookupOutcome]
    init(_ keys: [String: DKIMKeyLookupOutcome]) { self.keys = keys }
}

/// What libopendkim said about one signature.
struct OpenDKIMSignatureReport: Sendable {
    var domain: String
    var selector: String
    /// `b=` without white space, to match the report with its field.
    var signature: String
    var passed: Bool
    var bodyHashMismatch: Bool
    var error: Int32
    var errorText: String
    var keyBits: Int?
}

/// The shared libopendkim library handle. libopendkim allows one handle to
/// serve many verifications at once, each with its own DKIM handle.
final class OpenDKIMLibrary: @unchecked Sendable {
    static let shared = OpenDKIMLibrary()

    private let handle: OpaquePointer?

    private init() {
        let lib = dkim_init(nil, nil)
        if let lib {
            // Keep a handle for every signature, even unparseable ones, so
            // each field gets a verdict.
            var flags = UInt32(DKIM_LIBFLAGS_BADSIGHANDLES)
            _ = dkim_options(lib, Int32(DKIM_OP_SETOPT), DKIM_OPTS_FLAGS, &flags, MemoryLayout<UInt32>.size)
            // Keys only ever come from the per-message table: no DNS here.
            _ = dkim_set_key_lookup(lib, ternDKIMKeyLookup)
        }
        handle = lib
    }

    var supportsEd25519: Bool {
        guard let handle else { return false }
        return dkim_libfeature(handle, UInt32(DKIM_FEATURE_ED25519))
    }

    /// Verifies every signature of `message` with the keys in `table`.
    /// Blocking (hashing, RSA): call from a thread pool, never an event loop.
    /// Returns nil with the library's complaint when the message as a whole
    /// was refused (e.g. no From field).
    func verify(_ message: DKIMMessage, keys table: DKIMKeyTable) -> (reports: [OpenDKIMSignatureReport], error: String?) {
        guard let handle else { return ([], "libopendkim did not initialise") }
        var status: DKIM_STAT = DKIM_STAT_OK
        let id = "tern"
        guard let dkim = id.withCString({ dkim_verify(handle, UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), nil, &status) }) else {
            return ([], "dkim_verify: \(Self.statusText(status))")
        }
        defer { _ = dkim_free(dkim) }
        let context = Unmanaged.passRetained(table)
        defer { context.release() }
        _ = dkim_set_user_context(dkim, context.toOpaque())

        for field in message.fields {
            // libopendkim wants the field without its final CRLF, in a
            // writable NUL-terminated buffer.
            var bytes = Array(message.fieldBytes(field))
            let count = bytes.count
            bytes.append(0)
            status = bytes.withUnsafeMutableBufferPointer { dkim_header(dkim, $0.baseAddress, count) }
            if status != DKIM_STAT_OK { return ([], "header: \(Self.error(dkim, status))") }
        }
        status = dkim_eoh(dkim)
        if status == DKIM_STAT_NOSIG { return ([], nil) }
        var wholeMessageError: String?
        if status != DKIM_STAT_OK {
            wholeMessageError = Self.error(dkim, status)
        } else {
            var body = Array(message.body)
            let count = body.count
            body.append(0)
            if count > 0 {
                status = body.withUnsafeMutableBufferPointer { dkim_body(dkim, $0.baseAddress, count) }
            }
            if status == DKIM_STAT_OK || status == DKIM_STAT_NOSIG {
                status = dkim_eom(dkim, nil)
            }
        }

        var list: UnsafeMutablePointer<OpaquePointer?>?
        var count: Int32 = 0
        guard dkim_getsiglist(dkim, &list, &count) == DKIM_STAT_OK, let list else {
            return ([], wholeMessageError)
        }
        var reports: [OpenDKIMSignatureReport] = []
        for index in 0..<Int(max(0, count)) {
            guard let sig = list[index] else { continue }
            var bits: UInt32 = 0
            let haveBits = dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits > 0
            let error = dkim_sig_geterror(sig)
            let bTag = "b".withCString {
                dkim_sig_gettagvalue(sig, false, UnsafeMutablePointer(mutating: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self)))
            }
            reports.append(OpenDKIMSignatureReport(
                domain: Self.string(dkim_sig_getdomain(sig)),
                selector: Self.string(dkim_sig_getselector(sig)),
                signature: DKIMTagList.removingWhitespace(Self.string(bTag)),
                passed: tern_dkim_sig_check(sig),
                bodyHashMismatch: dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH,
                error: error,
                errorText: dkim_sig_geterrorstr(error).map { String(cString: $0) } ?? "error \(error)",
                keyBits: haveBits ? Int(bits) : nil))
        }
        return (reports, wholeMessageError)
    }

    static func string(_ p: UnsafeMutablePointer<UInt8>?) -> String {
        guard let p else { return "" }
        return String(cString: p)
    }

    static func statusText(_ status: DKIM_STAT) -> String {
        dkim_getresultstr(status).map { String(cString: $0) } ?? "status \(status)"
    }

    static func error(_ dkim: OpaquePointer, _ status: DKIM_STAT) -> String {
        if let text = dkim_geterror(dkim), text.pointee != 0 { return String(cString: text) }
        return statusText(status)
    }
}

/// libopendkim's key lookup hook (`dkim_set_key_lookup`): copies the
/// prefetched record for the signature's selector and domain into `buf`.
/// It answers with DKIM_CBSTAT values: CONTINUE, or NOTFOUND for any key
/// not prefetched (the verifier has already judged those signatures;
/// anything else would make libopendkim give up on the whole message).
func ternDKIMKeyLookup(_ dkim: OpaquePointer?, _ sig: OpaquePointer?, _ buf: UnsafeMutablePointer<UInt8>?,
                       _ buflen: Int) -> DKIM_CBSTAT {
    guard let dkim, let sig, let buf, buflen > 1, let context = dkim_get_user_context(dkim) else {
        return DKIM_CBSTAT_NOTFOUND
    }
    let table = Unmanaged<DKIMKeyTable>.fromOpaque(context).takeUnretainedValue()
    let name = DKIMKeyRecord.name(selector: OpenDKIMLibrary.string(dkim_sig_getselector(sig)),
                                  domain: OpenDKIMLibrary.string(dkim_sig_getdomain(sig)))
    switch table.keys[name] {
    case .record(let text):
        let bytes = Array(text.utf8.prefix(buflen - 1))
        for (i, b) in bytes.enumerated() { buf[i] = b }
        buf[bytes.count] = 0
        return DKIM_CBSTAT_CONTINUE
    case .notFound, .temporaryFailure, .none:
        return DKIM_CBSTAT_NOTFOUND
    }
}
