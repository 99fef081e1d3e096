import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// Why a delivery failed, as the reply a mail server would give: a reply
/// code (RFC 5321 §4.2) and an enhanced status code (RFC 3463), which are
/// stored in the spool and later quoted in a bounce (RFC 3464).
///
/// STYLE "errors know their SMTP meaning": the reply says whether the
/// failure is permanent (5yz: fail the recipient and bounce) or temporary
/// (4yz: try again later). Unknown errors are temporary.
public struct DeliveryError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reply: SpoolReply

    public init(_ reply: SpoolReply) {
        self.reply = reply
    }

    public init(code: Int, status: String, text: String) {
        self.reply = SpoolReply(code: code, enhancedStatus: status, text: text)
    }

    public var isPermanent: Bool { reply.isPermanent }
    public var description: String { reply.description }

    // MARK: Named once (RFC 3463 §3)

    /// 550 5.1.1 "Bad destination mailbox address": the user does not exist.
    public static func userUnknown(_ recipient: String) -> DeliveryError {
        DeliveryError(code: 550, status: "5.1.1", text: "<\(recipient)>: user unknown")
    }

    /// 550 5.2.1 "Mailbox disabled, not accepting messages": the path is
    /// there but is not a Maildir we can deliver into.
    public static func notAMaildir(_ path: String, _ why: String) -> DeliveryError {
        DeliveryError(code: 550, status: "5.2.1", text: "mailbox \(path) is unusable: \(why)")
    }

    /// 452 4.2.2 "Mailbox full": over quota (EDQUOT).
    public static func mailboxFull(_ path: String) -> DeliveryError {
        DeliveryError(code: 452, status: "4.2.2", text: "mailbox \(path) is full")
    }

    /// 452 4.3.1 "Mail system full": no space left on the device (ENOSPC).
    public static func mailSystemFull(_ path: String) -> DeliveryError {
        DeliveryError(code: 452, status: "4.3.1", text: "mail system full writing \(path)")
    }

    /// 451 4.3.5 "System incorrectly configured": a setting prevents
    /// delivery; temporary so that the administrator can fix it (Postfix
    /// defers configuration errors the same way).
    public static func misconfigured(_ text: String) -> DeliveryError {
        DeliveryError(code: 451, status: "4.3.5", text: text)
    }

    /// 554 5.4.7 "Delivery time expired": the queue lifetime ran out.
    public static func expired(after lifetime: String, lastError: SpoolReply) -> DeliveryError {
        DeliveryError(code: 554, status: "5.4.7",
                      text: "delivery time expired after \(lifetime) in the queue; last error: \(lastError)")
    }

    /// What a failed system call means for a delivery into `path`.
    ///
    /// ENOSPC and EDQUOT are full storage; EACCES, EPERM and EROFS are a
    /// mailbox we may not write (4.2.0 "other or undefined mailbox status"),
    /// temporary because an administrator can fix ownership; ENOTDIR,
    /// ELOOP and ENAMETOOLONG mean the path can never be a Maildir;
    /// everything else (EIO…) is 4.3.0 "other or undefined mail system status".
    package static func fromSystem(_ error: SystemCallError, mailbox path: String) -> DeliveryError {
        let reason = "\(error)"
        switch error.errno {
        case ENOSPC: return .mailSystemFull(path)
        case EDQUOT: return .mailboxFull(path)
        case EACCES, EPERM, EROFS:
            return DeliveryError(code: 450, status: "4.2.0", text: "cannot write mailbox: \(reason)")
        case ENOTDIR, ELOOP, ENAMETOOLONG:
            return .notAMaildir(path, reason)
        default:
            return DeliveryError(code: 451, status: "4.3.0", text: "local delivery failed: \(reason)")
        }
    }
}
