import Foundation
import TernSMTP
@testable import TernSpool
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
        var template = Array((base + "/tern-spool-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum Sample {
    static func mailbox(_ text: String) -> Mailbox {
        do { return try Mailbox(parsing: text) } catch { fatalError("bad sample address \(text)") }
    }

    static func envelope(_ recipients: [String] = ["alice@example.com"], sender: String? = "sender@example.org")
        -> Envelope
    {
        Envelope(sender: sender.map { .mailbox(mailbox($0)) } ?? .null,
                 recipients: recipients.map { EnvelopeRecipient(mailbox: mailbox($0)) },
                 body: .eightBitMIME)
    }

    static let origin = MessageOrigin(role: "mx", clientAddress: "192.0.2.25", heloName: "mail.example.org",
                                      protocolName: "ESMTPS", receivedAt: Date(timeIntervalSince1970: 1_763_900_000))

    static let message = Array("""
        Received: from mail.example.org ([192.0.2.25])\r
        \tby mx.example.com with ESMTPS id test; Sun, 23 Nov 2025 13:24:00 +0000\r
        From: Sender <sender@example.org>\r
        To: Alice <alice@example.com>\r
        Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r
        \r
        Hello Alice,\r
        caf\u{E9} au lait.\r
        """.utf8)
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

/// A random source that always returns the same word.
struct FixedRandom: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}
