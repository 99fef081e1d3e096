import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Unique Maildir file names in the form Dovecot writes them:
///
///     <secs>.M<usec>P<pid>Q<n>.<host>,S=<size>
///
/// `secs` and `usec` are the delivery time, `pid` this process, `n` a
/// per-process delivery counter, `host` the configured hostname with `/`
/// written as `\057` and `:` as `\072` (they separate directories and
/// flags), and `S=` the size of the file in bytes, which lets IMAP servers
/// skip a `stat` (Dovecot's `maildir_filename_get_size`). The name in
/// `tmp/` is the same without `,S=`. See the Maildir specification
/// (cr.yp.to/proto/maildir.html) and Dovecot's maildir-filename.c.
public struct MaildirName: Hashable, Sendable {
    public var seconds: Int
    public var microseconds: Int
    public var pid: Int32
    public var counter: Int
    public var host: String

    public init(seconds: Int, microseconds: Int, pid: Int32, counter: Int, host: String) {
        self.seconds = seconds
        self.microseconds = microseconds
        self.pid = pid
        self.counter = counter
        self.host = host
    }

    /// A new name for this process and this moment.
    public static func next(host: String, now: Date = Date()) -> MaildirName {
        let t = now.timeIntervalSince1970
        let seconds = Int(t.rounded(.down))
        let micro = min(999_999, max(0, Int(((t - Double(seconds)) * 1_000_000).rounded(.down))))
        let n = counter.withLock { value -> Int in
            value += 1
            return value
        }
        return MaildirName(seconds: seconds, microseconds: micro, pid: getpid(), counter: n, host: host)
    }

    private static let counter = Mutex(0)

    /// The name in `tmp/`, before the size is known.
    public var base: String {
        "\(seconds).M\(microseconds)P\(pid)Q\(counter).\(MaildirName.escape(host: host))"
    }

    /// The name in `new/`.
    public func final(size: Int) -> String { "\(base),S=\(size)" }

    /// Dovecot's escaping of the hostname part.
    public static func escape(host: String) -> String {
        var out = ""
        for ch in host.unicodeScalars {
            switch ch {
            case "/": out += "\\057"
            case ":": out += "\\072"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
