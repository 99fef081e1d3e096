import Foundation
import Logging
import Synchronization
import TernSMTP
import TernSpool
@testable import TernDelivery
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system's temporary directory, removed with
/// everything in it when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var base = NSTemporaryDirectory()
        while base.hasSuffix("/") { base.removeLast() }
        var template = Array((base + "/tern-delivery-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The repository's Maildir-fixtures folder.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Maildir-fixtures").path

    static let messageNames = ["multipart-alternative.eml", "8bit-body.eml", "utf8-headers-rfc2047.eml",
                               "utf8-raw-headers.eml"]

    static func message(_ name: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: "\(root)/messages/\(name)") else {
            throw POSIXError(.ENOENT)
        }
        return Array(data)
    }

    /// Copies the fixture Maildir to `directory` and returns its path.
    static func copyMaildir(into directory: String) throws -> String {
        let target = directory + "/Maildir"
        try FileManager.default.copyItem(atPath: "\(root)/maildir/Maildir", toPath: target)
        return target
    }
}

/// Everything about one file that delivery must leave alone.
struct FileFacts: Hashable {
    var bytes: [UInt8]
    var inode: UInt64
    var mode: mode_t
    var modified: Int
    var modifiedNanos: Int
}

/// Every regular file under `root`, by path relative to it.
func snapshot(_ root: String) -> [String: FileFacts] {
    var out: [String: FileFacts] = [:]
    guard let walker = FileManager.default.enumerator(atPath: root) else { return out }
    while let relative = walker.nextObject() as? String {
        let path = "\(root)/\(relative)"
        var st = stat()
        guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
        out[relative] = FileFacts(bytes: Array(FileManager.default.contents(atPath: path) ?? Data()),
                                  inode: UInt64(st.st_ino), mode: st.st_mode,
                                  modified: st.st_mtim.tv_sec, modifiedNanos: st.st_mtim.tv_nsec)
    }
    return out
}

func fileNames(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

func fileBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { Array($0) }
}

func mode(of path: String) -> mode_t {
    var st = stat()
    guard stat(path, &st) == 0 else { return 0 }
    return st.st_mode & 0o7777
}

enum Sample {
    static func mailbox(_ text: String) -> Mailbox {
        do { return try Mailbox(parsing: text) } catch { fatalError("bad sample address \(text)") }
    }

    static func envelope(_ recipients: [String], sender: String? = "sender@example.org") -> Envelope {
        Envelope(sender: sender.map { .mailbox(mailbox($0)) } ?? .null,
                 recipients: recipients.map { EnvelopeRecipient(mailbox: mailbox($0)) }, body: .eightBitMIME)
    }

    static let origin = MessageOrigin(role: "mx", clientAddress: "192.0.2.25", heloName: "mail.example.org",
                                      protocolName: "ESMTPS", receivedAt: Date(timeIntervalSince1970: 1_763_900_000))

    static let message = Array("From: Sender <sender@example.org>\r\nSubject: test\r\n\r\nHello\r\n".utf8)
}

/// The router at the edge of these tests: a table from recipient to answer,
/// which a test may change while the scheduler runs. Unknown addresses are
/// unknown recipients.
final class TableRouter: RecipientRouter {
    private let table: Mutex<[String: RouteResult]>

    init(_ table: [String: RouteResult] = [:]) {
        self.table = Mutex(table)
    }

    func set(_ address: String, _ result: RouteResult) {
        table.withLock { $0[address.lowercased()] = result }
    }

    func route(_ recipient: Mailbox) -> RouteResult {
        table.withLock { $0[recipient.text.lowercased()] } ?? .unknownRecipient
    }

    /// A local user whose users-file address is the recipient itself.
    static func local(_ address: String) -> RouteResult {
        .destinations([.local(user: address, deliveredTo: Sample.mailbox(address))])
    }
}

/// Collects log lines.
final class LogCapture: Sendable {
    let lines = Mutex<[String]>([])

    var handler: @Sendable (String) -> any LogHandler {
        { _ in Handler(capture: self) }
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            capture.lines.withLock { $0.append("\(event.level): \(event.message)") }
        }
    }
}
