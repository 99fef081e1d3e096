#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with what was being done and to which path.
package struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    package var operation: String
    package var path: String
    package var errno: Int32

    package init(_ operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    package var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }
}

/// Why a spool operation failed, and what that means to an SMTP client.
///
/// STYLE "errors know their SMTP meaning": every case has a reply code and an
/// enhanced status code (RFC 3463) that the session can send as is, and says
/// whether trying again later may succeed. Unknown errors are temporary.
public enum SpoolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A system call failed: no space, no permission, an I/O error…
    case system(operation: String, path: String, errno: Int32)
    /// The envelope cannot be queued (no recipients): the caller's bug.
    case invalidEnvelope(String)
    /// The record could not be encoded or decoded.
    case corruptRecord(path: String, reason: String)
    /// No committed entry has this ID (never accepted, or completed).
    case notFound(QueueID)

    package init(_ error: SystemCallError) {
        self = .system(operation: error.operation, path: error.path, errno: error.errno)
    }

    /// True when the same request may succeed later (RFC 5321 §4.2.1 4yz).
    public var isTemporary: Bool {
        switch self {
        case .system: return true
        case .invalidEnvelope, .corruptRecord, .notFound: return false
        }
    }

    /// True for ENOSPC and EDQUOT: the disk under the spool is full.
    public var isStorageFull: Bool {
        if case .system(_, _, let e) = self { return e == ENOSPC || e == EDQUOT }
        return false
    }

    /// The reply code an SMTP server sends for this error: 452 when storage
    /// is full (RFC 5321 §4.2.3 "insufficient system storage"), 451 for other
    /// temporary errors, 554 for permanent ones.
    public var replyCode: Int {
        if isStorageFull { return 452 }
        return isTemporary ? 451 : 554
    }

    /// RFC 3463: 4.3.1 "mail system full", 4.3.0 "other or undefined mail
    /// system status", 5.3.0 for the permanent cases.
    public var enhancedStatus: String {
        if isStorageFull { return "4.3.1" }
        return isTemporary ? "4.3.0" : "5.3.0"
    }

    public var description: String {
        switch self {
        case .system(let operation, let path, let e):
            return "\(operation) \(path): \(String(cString: strerror(e)))"
        case .invalidEnvelope(let reason):
            return "invalid envelope: \(reason)"
        case .corruptRecord(let path, let reason):
            return "corrupt record \(path): \(reason)"
        case .notFound(let id):
            return "no queued message \(id)"
        }
    }
}
