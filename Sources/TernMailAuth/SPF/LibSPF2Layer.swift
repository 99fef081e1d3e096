import CSPF2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// libspf2's side: one SPF_server_t whose DNS layer is ours. The layer's
// callbacks are top-level C functions; they find the check they serve
// through a thread-specific pointer, since each check runs start to end on
// one pool thread and libspf2 calls back on that thread.

/// The context of the check running on this thread.
enum SPFCurrentCheck {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// Runs `body` with `context` as this thread's current check.
    static func with<T>(_ context: SPFCheckContext, _ body: () -> T) -> T {
        let unmanaged = Unmanaged.passRetained(context)
        pthread_setspecific(key, unmanaged.toOpaque())
        defer {
            pthread_setspecific(key, nil)
            unmanaged.release()
        }
        return body()
    }

    static var context: SPFCheckContext? {
        guard let raw = pthread_getspecific(key) else { return nil }
        return Unmanaged<SPFCheckContext>.fromOpaque(raw).takeUnretainedValue()
    }
}

/// The `lookup` of our DNS layer. Never returns NULL (libspf2 aborts the
/// process on NULL): without a current check it answers TRY_AGAIN.
private func ternSPFLookup(_ layer: UnsafeMutablePointer<SPF_dns_server_t>?, _ domain: UnsafePointer<CChar>?,
                           _ type: ns_type, _ shouldCache: Int32) -> UnsafeMutablePointer<SPF_dns_rr_t>? {
    let name = domain.map { String(cString: $0) } ?? ""
    let answer = SPFCurrentCheck.context?.answer(name: name, type: type.rawValue) ?? .temporaryFailure
    return makeRR(layer, domain, type, answer)
}

/// The `get_spf` of our DNS layer: finds, guards and compiles the record at
/// the request's current domain (include and redirect targets).
private func ternSPFGetRecord(_ server: UnsafeMutablePointer<SPF_server_t>?,
                              _ request: UnsafeMutablePointer<SPF_request_t>?,
                              _ response: UnsafeMutablePointer<SPF_response_t>?,
                              _ recordp: UnsafeMutablePointer<UnsafeMutablePointer<SPF_record_t>?>?) -> SPF_errcode_t {
    recordp?.pointee = nil
    guard let server, let request, let response, let recordp, let domain = request.pointee.cur_dom,
          let context = SPFCurrentCheck.context else { return SPF_E_DNS_ERROR }
    return LibSPF2Server.compile(context.record(at: String(cString: domain)), server: server, response: response,
                                 context: context, into: recordp)
}

/// The `get_exp` of our DNS layer: the explanation at `domain` (the
/// expanded `exp=` target), looked up and macro-expanded in Swift, written
/// into libspf2's buffer.
private func ternSPFGetExplanation(_ server: UnsafeMutablePointer<SPF_server_t>?, _ domain: UnsafePointer<CChar>?,
                                   _ bufp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                   _ buflenp: UnsafeMutablePointer<Int>?) -> SPF_errcode_t {
    guard let domain, let bufp, let buflenp, let context = SPFCurrentCheck.context,
          let text = context.explanationText(at: String(cString: domain)) else { return SPF_E_NOT_SPF }
    let bytes = Array(text.utf8) + [0]
    if buflenp.pointee < bytes.count {
        guard let grown = realloc(bufp.pointee, bytes.count) else { return SPF_E_NO_MEMORY }
        bufp.pointee = grown.assumingMemoryBound(to: CChar.self)
        buflenp.pointee = bytes.count
    }
    guard let buffer = bufp.pointee else { return SPF_E_NO_MEMORY }
    bytes.withUnsafeBytes { source in
        if let base = source.baseAddress { memcpy(buffer, base, source.count) }
    }
    return SPF_E_SUCCESS
}

private func ternSPFQuietLog(_ file: UnsafePointer<CChar>?, _ line: Int32, _ message: UnsafePointer<CChar>?) {}

/// An SPF_dns_rr_t for `answer`; never nil.
private func makeRR(_ layer: UnsafeMutablePointer<SPF_dns_server_t>?, _ domain: UnsafePointer<CChar>?,
                    _ type: ns_type, _ answer: SPFCheckContext.Answer) -> UnsafeMutablePointer<SPF_dns_rr_t> {
    var herrno: Int32
    switch answer {
    case .records: herrno = NETDB_SUCCESS
    case .nxdomain: herrno = HOST_NOT_FOUND
    case .nodata: herrno = NO_DATA
    case .temporaryFailure: herrno = TRY_AGAIN
    }
    guard let rr = SPF_dns_rr_new_init(layer, domain, type, 0, herrno)
            ?? SPF_dns_rr_new_init(layer, nil, type, 0, TRY_AGAIN) else {
        fatalError("libspf2: out of memory for a DNS answer")
    }
    if case .records(let records) = answer {
        for record in records {
            let appended = record.withUnsafeBytes { tern_spf_rr_append(rr, $0.baseAddress, $0.count) }
            if appended != 0 {
                rr.pointee.num_rr = 0
                rr.pointee.herrno = TRY_AGAIN
                break
            }
        }
    }
    return rr
}

/// One libspf2 server with our DNS layer, shared by every check (libspf2
/// only reads it during a check; each check has its own request and
/// response). Its debug output and warnings are silenced; its error handler
/// (assertion failures) still aborts.
final class LibSPF2Server: @unchecked Sendable {
    let server: UnsafeMutablePointer<SPF_server_t>
    private let layer: UnsafeMutablePointer<SPF_dns_server_t>
    private let layerName: UnsafeMutablePointer<CChar>

    private static let quietLogs: Void = {
        tern_spf_set_warning_handler(ternSPFQuietLog)
        tern_spf_set_info_handler(ternSPFQuietLog)
        tern_spf_set_debug_handler(ternSPFQuietLog)
    }()

    /// `receiver` is this host's name (the `r` macro, §7.3).
    init?(receiver: String) {
        _ = Self.quietLogs
        guard let name = strdup("tern") else { return nil }
        layerName = name
        layer = UnsafeMutablePointer<SPF_dns_server_t>.allocate(capacity: 1)
        layer.initialize(to: SPF_dns_server_t())
        // destroy == NULL: SPF_server_free leaves the layer to us.
        layer.pointee.lookup = ternSPFLookup
        layer.pointee.get_spf = ternSPFGetRecord
        layer.pointee.get_exp = ternSPFGetExplanation
        layer.pointee.name = UnsafePointer(name)
        guard let server = SPF_server_new_dns(layer, 0) else {
            layer.deallocate()
            free(name)
            return nil
        }
        self.server = server
        _ = SPF_server_set_rec_dom(server, receiver)
        // No default explanation: only what the domain publishes (§6.2).
        var response: UnsafeMutablePointer<SPF_response_t>?
        _ = SPF_server_set_explanation(server, "", &response)
        if let response { SPF_response_free(response) }
    }

    deinit {
        SPF_server_free(server)
        layer.deinitialize(count: 1)
        layer.deallocate()
        free(layerName)
    }

    /// Compiles what `record(at:)` found into `recordp`, or sets the
    /// response up as libspf2's own record lookup would for a failure.
    static func compile(_ outcome: SPFCheckContext.RecordOutcome, server: UnsafeMutablePointer<SPF_server_t>,
                        response: UnsafeMutablePointer<SPF_response_t>, context: SPFCheckContext,
                        into recordp: UnsafeMutablePointer<UnsafeMutablePointer<SPF_record_t>?>) -> SPF_errcode_t {
        switch outcome {
        case .record(let text):
            let err = SPF_record_compile(server, response, recordp, text)
            if err != SPF_E_SUCCESS || recordp.pointee == nil {
                if let record = recordp.pointee { SPF_record_free(record) }
                recordp.pointee = nil
                _ = context.fail("libspf2 could not compile \"\(text)\": " + String(cString: SPF_strerror(err)))
                return err == SPF_E_SUCCESS ? SPF_E_INTERNAL_ERROR : err
            }
            return SPF_E_SUCCESS
        case .none:
            response.pointee.result = SPF_RESULT_NONE
            response.pointee.reason = SPF_REASON_FAILURE
            return SPF_E_NOT_SPF
        case .temperror:
            return SPF_E_DNS_ERROR
        case .permerror:
            response.pointee.result = SPF_RESULT_PERMERROR
            response.pointee.reason = SPF_REASON_FAILURE
            return SPF_E_SYNTAX
        }
    }
}
