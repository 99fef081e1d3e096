import NIOCore
@testable import TernSMTP

/// Runs a `ServerSession` the way the NIO handler does, answering its
/// questions with a small table-driven policy (a fake at the edge, STYLE 12).
struct SessionDriver {
    var session: ServerSession
    var localDomain = "local.test"
    var users: Set<String> = ["user", "postmaster"]
    var passwords: [String: String] = ["user@local.test": "secret"]
    var deliveries: [DeliveryRequest] = []
    var closed = false
    var tlsRequested = false
    var nextQueueID = 1

    init(role: SessionConfiguration.Role = .mx, tls: TLSInfo? = nil, tlsAvailable: Bool = true,
         maximumMessageSize: Int = 10_000, maximumRecipients: Int = 100, maximumErrors: Int = 20) {
        // `local.test` always parses; the test would fail loudly otherwise.
        let domain = (try? Domain(parsing: "local.test")) ?? (try? Domain(parsing: "invalid"))!
        let config = SessionConfiguration(hostname: "mx.local.test", role: role, tlsAvailable: tlsAvailable,
                                          maximumMessageSize: maximumMessageSize, maximumRecipients: maximumRecipients,
                                          maximumErrors: maximumErrors, postmasterDomain: domain)
        session = ServerSession(configuration: config, tls: tls)
    }

    /// Feeds raw bytes (no CRLF added) and returns the replies, in order.
    mutating func raw(_ bytes: [UInt8]) -> [SMTPReply] {
        perform(session.receive(ByteBuffer(bytes: bytes)))
    }

    mutating func raw(_ text: String) -> [SMTPReply] { raw(Array(text.utf8)) }

    /// Sends one command line with CRLF and returns its replies.
    mutating func send(_ line: String) -> [SMTPReply] { raw(line + "\r\n") }

    mutating func codes(_ line: String) -> [Int] { send(line).map(\.code) }

    mutating func start() -> [SMTPReply] { perform(session.start()) }

    mutating func completeTLS() -> [SMTPReply] {
        perform(session.tlsEstablished(TLSInfo(version: "TLSv1.3", cipher: "TLS_AES_128_GCM_SHA256")))
    }

    mutating func perform(_ actions: [SessionAction]) -> [SMTPReply] {
        var replies: [SMTPReply] = []
        var queue = actions
        while !queue.isEmpty {
            let action = queue.removeFirst()
            switch action {
            case .send(let r): replies.append(r)
            case .close: closed = true
            case .startTLS: tlsRequested = true
            case .authenticate(let req):
                let ok = req.authorizationID.isEmpty || req.authorizationID == req.username
                let user = ok && passwords[req.username] == req.password ? req.username : nil
                queue.append(contentsOf: session.resume(.authentication(user)))
            case .checkSender(let path, _):
                if let user = session.authenticatedUser, let m = path.mailbox, m.text != user {
                    queue.append(contentsOf: session.resume(.sender(Replies.senderNotOwned)))
                } else {
                    queue.append(contentsOf: session.resume(.sender(nil)))
                }
            case .checkRecipient(let m, _):
                let verdict: SMTPReply?
                if m.domain.ascii == localDomain {
                    verdict = users.contains(m.localPart.lowercased()) ? nil : Replies.unknownUser
                } else {
                    verdict = session.authenticatedUser != nil ? nil : Replies.relayDenied
                }
                queue.append(contentsOf: session.resume(.recipient(verdict)))
            case .deliver(let req):
                deliveries.append(req)
                let id = "Q\(nextQueueID)"
                nextQueueID += 1
                queue.append(contentsOf: session.resume(.delivery(Replies.queued(id))))
            }
        }
        return replies
    }

    /// EHLO + MAIL + RCPT for the common starting point.
    mutating func openTransaction() {
        _ = send("EHLO client.test")
        _ = send("MAIL FROM:<a@b.test>")
        _ = send("RCPT TO:<user@local.test>")
    }

    var deliveredTexts: [String] {
        deliveries.map { String(buffer: $0.message) }
    }
}
