/// The stored form of an SMTP reply that decided a recipient's state: a
/// reply code (RFC 5321 §4.2), an enhanced status code (RFC 3463) and text.
///
/// Local delivery makes these up from its errors ("452 4.2.2 mailbox full");
/// remote delivery will store what the remote server said. Bounces (RFC 3464
/// `Status:` and `Diagnostic-Code:`) are later built from them.
public struct SpoolReply: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Three digits, 2yz to 5yz.
    public var code: Int
    /// `class.subject.detail`, e.g. `4.3.1`.
    public var enhancedStatus: String
    public var text: String
    /// The server that gave the reply, when it came from one (remote
    /// delivery sets it; local failures leave it nil). A bounce names it
    /// in `Remote-MTA:` (RFC 3464 §2.3.5). Absent from older records, and
    /// left out of the record while nil.
    public var remoteMTA: String?
    /// Where that server was reached and how: `127.0.0.75:25, TLSv1.3`
    /// (for logs and `tern queue show`). Left out of the record while nil.
    public var remoteAddress: String?

    public init(code: Int, enhancedStatus: String, text: String, remoteMTA: String? = nil,
                remoteAddress: String? = nil) {
        self.code = code
        self.enhancedStatus = enhancedStatus
        self.text = text
        self.remoteMTA = remoteMTA
        self.remoteAddress = remoteAddress
    }

    /// `description`, preceded by the server that said it when known:
    /// `mx.example.net[192.0.2.1:25, TLSv1.3] said: 550 5.1.1 …`.
    public var attributed: String {
        guard let remoteMTA else { return description }
        return "\(remoteMTA)\(remoteAddress.map { "[\($0)]" } ?? "") said: \(description)"
    }

    /// True for 5yz replies (RFC 5321 §4.2.1: permanent negative completion).
    public var isPermanent: Bool { code >= 500 }

    /// `452 4.3.1 text`, as it appears in logs and in the record.
    public var description: String { "\(code) \(enhancedStatus) \(text)" }
}
