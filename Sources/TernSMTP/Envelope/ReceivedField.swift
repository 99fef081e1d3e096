import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The trace field a server prepends to every message it accepts (RFC 5321 §4.4).
public enum ReceivedField {
    /// Renders the whole field with CRLF line endings, folded (RFC 5322 §3.6.7):
    ///
    ///     Received: from client.example (unknown [192.0.2.1])
    ///             (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256)
    ///             by mx.example.com (Tern) with ESMTPS id 0J5Z8Q2N4W
    ///             for <bob@example.com>; Mon, 23 Nov 2026 13:20:01 +0000
    public static func render(heloName: String, reverseName: String?, clientAddress: String, tls: TLSInfo?,
                              hostname: String, protocolName: String, id: String, recipients: [Mailbox],
                              date: Date) -> String {
        var s = "Received: from \(sanitize(heloName)) (\(reverseName.map(sanitize) ?? "unknown") [\(clientAddress)])\r\n"
        if let tls {
            s += "\t(using \(sanitize(tls.version)) with cipher \(sanitize(tls.cipher)))\r\n"
        }
        s += "\tby \(hostname) (Tern) with \(protocolName) id \(id)"
        // "for" only when there is a single recipient: more would disclose Bcc
        // recipients to each other (RFC 5321 §7.2).
        if recipients.count == 1, let r = recipients.first {
            s += "\r\n\tfor <\(r.text)>"
        }
        s += "; \(rfc5322Date(date))\r\n"
        return s
    }

    /// The EHLO argument is the peer's: keep it printable and free of comment syntax.
    static func sanitize(_ s: String) -> String {
        let cleaned = s.unicodeScalars.map { c -> Character in
            if c.value < 0x21 || c.value == 0x7F || c == "(" || c == ")" || c == "\\" { return "_" }
            return Character(c)
        }
        let out = String(cleaned.prefix(255))
        return out.isEmpty ? "unknown" : out
    }

    /// `Mon, 23 Nov 2026 13:20:01 +0000` (RFC 5322 §3.3), in UTC.
    public static func rfc5322Date(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tm.tm_wday) % 7]), \(tm.tm_mday) \(months[Int(tm.tm_mon) % 12]) \(tm.tm_year + 1900) "
            + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) +0000"
    }
}
