import Foundation
import TernMailAuth
import TernSMTP
import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// A message from a local program (`tern sendmail`, cron, PHP's `mail()`):
/// what it asked for, who it is, and the envelope and message Tern queues
/// for it. Used for messages handed over the control socket and for files
/// dropped into the pickup directory while the server was down.
///
/// The program's identity comes from the kernel (the socket peer's uid, or
/// the pickup file's owner), never from what it wrote: a user who is not
/// trusted gets `name@hostname` as envelope sender whatever `-f` said.
public struct LocalSubmission: Sendable {
    /// What `tern sendmail` sends ahead of the message bytes.
    public struct Request: Codable, Sendable, Hashable {
        /// `-f`: the envelope sender ("" or "<>" = null). nil: the user's own address.
        public var sender: String?
        /// `-F`: the full name for a From field Tern adds.
        public var fullName: String?
        /// Recipients named on the command line.
        public var recipients: [String]
        /// `-t`: also take recipients from To, Cc and Bcc (Bcc is then removed).
        public var extractRecipients: Bool
        /// The number of message bytes that follow.
        public var size: Int

        public init(sender: String? = nil, fullName: String? = nil, recipients: [String] = [],
                    extractRecipients: Bool = false, size: Int = 0) {
            self.sender = sender
            self.fullName = fullName
            self.recipients = recipients
            self.extractRecipients = extractRecipients
            self.size = size
        }
    }

    /// Who handed the message over.
    public struct Identity: Sendable, Hashable {
        public var uid: uid_t
        public var name: String

        /// The user name of `uid` (or its number when it has none).
        public init(uid: uid_t) {
            self.uid = uid
            self.name = LocalSubmission.userName(uid) ?? "\(uid)"
        }
    }

    /// Why a submission is refused; the text is shown to the local user.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public var hostname: String
    /// Appended to recipients given without a domain (`root` → `root@example.com`).
    public var defaultDomain: String
    /// Users (besides root and the server's own user) who may set `-f`.
    public var trustedUsers: Set<String>
    public var maximumSize: Int
    public var maximumRecipients: Int

    public init(hostname: String, defaultDomain: String, trustedUsers: Set<String> = [],
                maximumSize: Int = 50 * 1024 * 1024, maximumRecipients: Int = 100) {
        self.hostname = hostname
        self.defaultDomain = defaultDomain
        self.trustedUsers = trustedUsers
        self.maximumSize = maximumSize
        self.maximumRecipients = maximumRecipients
    }

    public func isTrusted(_ identity: Identity) -> Bool {
        identity.uid == 0 || identity.uid == geteuid() || trustedUsers.contains(identity.name)
    }

    /// What goes into the spool.
    public struct Prepared: Sendable {
        public var envelope: Envelope
        public var origin: MessageOrigin
        /// Received field first, then the message with CRLF line endings
        /// and the From, Date and Message-ID fields it lacked.
        public var message: [UInt8]
    }

    /// Builds the envelope and the message to queue under `id`.
    public func prepare(_ request: Request, identity: Identity, message raw: [UInt8], id: QueueID,
                        now: Date = Date()) throws(Refusal) -> Prepared {
        guard raw.count <= maximumSize else {
            throw Refusal(description: "message too large: \(raw.count) bytes, the limit is \(maximumSize)")
        }
        let userAddress = "\(identity.name)@\(hostname)"
        let sender: ReversePath
        if let asked = request.sender, isTrusted(identity) {
            let bare = asked.trimmingCharacters(in: CharacterSet(charactersIn: "<> "))
            if bare.isEmpty {
                sender = .null
            } else {
                sender = .mailbox(try mailbox(bare, what: "sender"))
            }
        } else {
            sender = .mailbox(try mailbox(userAddress, what: "sender"))
        }

        var message = Self.crlf(raw)
        var fields = HeaderFields.parse(message)
        var names = request.recipients
        if request.extractRecipients {
            for field in fields where field.hasName("To") || field.hasName("Cc") || field.hasName("Bcc") {
                names += Self.addresses(in: String(decoding: HeaderFields.unfoldedValue(of: field, in: message), as: UTF8.self))
            }
            // Bcc recipients stay hidden from everyone (RFC 5322 §3.6.3).
            for field in fields.reversed() where field.hasName("Bcc") {
                message.removeSubrange(field.range)
            }
            fields = HeaderFields.parse(message)
        }
        var recipients: [EnvelopeRecipient] = []
        var seen = Set<Mailbox>()
        for name in names {
            let box = try mailbox(name.contains("@") ? name : "\(name)@\(defaultDomain)", what: "recipient")
            if seen.insert(box).inserted { recipients.append(EnvelopeRecipient(mailbox: box)) }
        }
        guard !recipients.isEmpty else { throw Refusal(description: "no recipients (name them, or use -t)") }
        guard recipients.count <= maximumRecipients else {
            throw Refusal(description: "too many recipients: \(recipients.count), the limit is \(maximumRecipients)")
        }

        // RFC 5322 §3.6: From and Date are required; Message-ID should be there.
        var added = ""
        if !fields.contains(where: { $0.hasName("From") }) {
            let from = sender.mailbox?.text ?? userAddress
            if let full = request.fullName, !full.isEmpty {
                added += "From: \(Self.phrase(full)) <\(from)>\r\n"
            } else {
                added += "From: \(from)\r\n"
            }
        }
        if !fields.contains(where: { $0.hasName("Date") }) {
            added += "Date: \(ReceivedField.rfc5322Date(now))\r\n"
        }
        if !fields.contains(where: { $0.hasName("Message-ID") }) {
            added += "Message-ID: <\(id.text)@\(hostname)>\r\n"
        }
        if fields.isEmpty && !message.starts(with: Array("\r\n".utf8)) {
            // No header section at all: what was written is the body.
            added += "\r\n"
        }
        let received = "Received: by \(hostname) (Tern, from userid \(identity.uid))\r\n\tid \(id.text); "
            + "\(ReceivedField.rfc5322Date(now))\r\n"
        let bytes = Array(received.utf8) + Array(added.utf8) + message
        let utf8 = recipients.contains { $0.mailbox.needsSMTPUTF8 } || (sender.mailbox?.needsSMTPUTF8 ?? false)
        let envelope = Envelope(sender: sender, recipients: recipients,
                                body: bytes.contains { $0 >= 0x80 } ? .eightBitMIME : .sevenBit, smtpUTF8: utf8)
        let origin = MessageOrigin(role: "local", clientAddress: "", heloName: identity.name,
                                   authenticatedUser: identity.name, protocolName: "local", receivedAt: now)
        return Prepared(envelope: envelope, origin: origin, message: bytes)
    }

    private func mailbox(_ text: String, what: String) throws(Refusal) -> Mailbox {
        do {
            return try Mailbox(parsing: text)
        } catch {
            throw Refusal(description: "bad \(what) address \"\(text)\"")
        }
    }

    /// Bare LF (and bare CR) line ends become CRLF, as local programs write
    /// them; the message ends with a line end.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 32 + 2)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0D {
                out += [0x0D, 0x0A]
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
            } else if b == 0x0A {
                out += [0x0D, 0x0A]
            } else {
                out.append(b)
            }
            i += 1
        }
        if !out.isEmpty && out.last != 0x0A { out += [0x0D, 0x0A] }
        return out
    }

    /// The addr-specs of an address list (RFC 5322 §3.4): `a@b`,
    /// `Name <a@b>`, `"Quoted, name" <a@b>`, groups `team: a@b, c@d;`,
    /// comments in parentheses.
    static func addresses(in list: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quoted = false, angle = false, depth = 0, escaped = false
        var inside = ""  // between < and >
        var hadAngle = false
        func finish() {
            let candidate = hadAngle ? inside : current
            let trimmed = candidate.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { result.append(trimmed) }
            current = ""; inside = ""; hadAngle = false
        }
        for c in list {
            if escaped { escaped = false; if angle { inside.append(c) } else if quoted { current.append(c) }; continue }
            if c == "\\" && (quoted || depth > 0) { escaped = true; continue }
            if depth > 0 {
                if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
                continue
            }
            if quoted {
                if c == "\"" { quoted = false }
                current.append(c)
                continue
            }
            if angle {
                if c == ">" { angle = false } else { inside.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true; current.append(c)
            case "(": depth = 1
            case "<": angle = true; hadAngle = true; inside = ""
            case ",", ";": finish()
            case ":": current = ""  // a group's display name
            default: current.append(c)
            }
        }
        finish()
        return result.filter { $0.contains("@") || !$0.contains(" ") }
    }

    /// A display name as an RFC 5322 phrase: quoted when it has specials.
    static func phrase(_ name: String) -> String {
        let specials = Set("()<>[]:;@\\,.\"")
        guard name.contains(where: { specials.contains($0) }) else { return name }
        return "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func userName(_ uid: uid_t) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &result) == 0, result != nil, let name = pwd.pw_name else {
            return nil
        }
        return String(cString: name)
    }
}
