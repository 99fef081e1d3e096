import NIOCore

/// Parses one command line (without CRLF) into an `SMTPCommand`, or the reply
/// that refuses it. Verbs are case-insensitive (RFC 5321 §2.4).
public enum CommandParser {
    /// RFC 5321 §4.5.3.1.4: 512 octets including CRLF.
    public static let maximumCommandLine = 512
    /// RFC 4954 §4: AUTH lines may be up to 12288 octets.
    public static let maximumAuthLine = 12288

    public static func parse(_ line: [UInt8]) -> Result<SMTPCommand, SMTPReply> {
        if line.contains(0) { return .failure(Replies.nulInCommand) }
        let spaceIndex = line.firstIndex(of: UInt8(ascii: " "))
        let verbBytes = line[..<(spaceIndex ?? line.endIndex)]
        guard verbBytes.count <= 16, verbBytes.allSatisfy({ $0 < 0x80 }) else {
            return .failure(Replies.unknownCommand)
        }
        let verb = String(decoding: verbBytes, as: UTF8.self).uppercased()
        let rest: ArraySlice<UInt8> = spaceIndex.map { line[($0 + 1)...] } ?? []
        let argument = String(decoding: rest, as: UTF8.self).trimmingSpaces

        switch verb {
        case "EHLO", "HELO":
            guard !argument.isEmpty, rest.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                return .failure(Replies.heloNeedsDomain)
            }
            // Some clients append text after the domain; the domain is the first word.
            let name = String(argument.split(separator: " ").first ?? "")
            return .success(verb == "EHLO" ? .ehlo(name) : .helo(name))
        case "MAIL":
            return parseMail(rest)
        case "RCPT":
            return parseRcpt(rest)
        case "DATA":
            return argument.isEmpty ? .success(.data) : .failure(Replies.noParametersAllowed)
        case "BDAT":
            return parseBdat(argument)
        case "RSET":
            return argument.isEmpty ? .success(.rset) : .failure(Replies.noParametersAllowed)
        case "NOOP":
            return .success(.noop)
        case "QUIT":
            return .success(.quit)
        case "VRFY":
            return argument.isEmpty ? .failure(Replies.syntaxError) : .success(.vrfy(argument))
        case "EXPN":
            return argument.isEmpty ? .failure(Replies.syntaxError) : .success(.expn(argument))
        case "HELP":
            return .success(.help(argument.isEmpty ? nil : argument))
        case "STARTTLS":
            return argument.isEmpty ? .success(.startTLS) : .failure(Replies.noParametersAllowed)
        case "AUTH":
            let parts = argument.split(separator: " ", omittingEmptySubsequences: true)
            guard (1...2).contains(parts.count) else { return .failure(Replies.syntaxError) }
            return .success(.auth(mechanism: parts[0].uppercased(), initialResponse: parts.count == 2 ? String(parts[1]) : nil))
        case "GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE":
            return .success(.httpRequest)
        default:
            // "Host:", "User-Agent:" and other header-looking lines are HTTP too.
            if verb.hasSuffix(":") { return .success(.httpRequest) }
            return .failure(Replies.unknownCommand)
        }
    }

    // MARK: MAIL FROM

    static func parseMail(_ rest: ArraySlice<UInt8>) -> Result<SMTPCommand, SMTPReply> {
        guard let pathStart = keywordEnd(rest, "FROM:") else { return .failure(Replies.syntaxError) }
        var scanner = PathScanner(bytes: Array(rest[pathStart...]), allowUTF8: true)
        // A space after the colon is common and harmless.
        while scanner.peek == UInt8(ascii: " ") { scanner.index += 1 }
        guard scanner.peek == UInt8(ascii: "<") else { return .failure(Replies.badSenderSyntax) }
        let mailbox: Mailbox?
        do {
            mailbox = try scanner.path(allowNull: true)
        } catch {
            return .failure(senderReply(for: error))
        }
        let params: [(String, String?)]
        switch parseParameters(scanner.bytes[scanner.index...]) {
        case .success(let p): params = p
        case .failure(let reply): return .failure(reply)
        }
        var mp = MailParameters()
        for (key, value) in params {
            switch key {
            case "SIZE":
                // RFC 1870 §3: size-value = 1*20DIGIT
                guard let v = value, !v.isEmpty, v.count <= 20, v.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                    return .failure(Replies.badParameterValue("SIZE"))
                }
                mp.size = Int(v) ?? Int.max
            case "BODY":
                guard let v = value, let body = BodyType(rawValue: v.uppercased()) else {
                    return .failure(Replies.badParameterValue("BODY"))
                }
                mp.body = body
            case "SMTPUTF8":
                guard value == nil else { return .failure(Replies.badParameterValue("SMTPUTF8")) }
                mp.smtpUTF8 = true
            case "RET":
                guard let v = value, let ret = DSNReturn(rawValue: v.uppercased()) else {
                    return .failure(Replies.badParameterValue("RET"))
                }
                mp.ret = ret
            case "ENVID":
                // RFC 3461 §4.4: at most 100 characters of xtext.
                guard let v = value, v.utf8.count <= 100, let decoded = XText.decode(v) else {
                    return .failure(Replies.badParameterValue("ENVID"))
                }
                mp.envelopeID = decoded
            case "AUTH":
                guard let v = value, let decoded = XText.decode(v) else {
                    return .failure(Replies.badParameterValue("AUTH"))
                }
                mp.auth = decoded == "<>" ? nil : decoded
            default:
                return .failure(Replies.unknownParameter(key))
            }
        }
        if let mailbox, mailbox.needsSMTPUTF8, !mp.smtpUTF8 {
            return .failure(Replies.utf8NeedsSMTPUTF8)
        }
        return .success(.mail(mailbox.map(ReversePath.mailbox) ?? .null, mp))
    }

    static func senderReply(for error: Mailbox.ParseError) -> SMTPReply {
        switch error {
        case .tooLong: return Replies.senderTooLong
        case .nonASCII: return Replies.utf8NeedsSMTPUTF8
        case .invalidUTF8: return Replies.invalidUTF8
        case .badDomain(.badIDN): return Replies.badSenderDomain
        case .badDomain(.tooLong): return Replies.senderTooLong
        case .syntax, .badDomain: return Replies.badSenderSyntax
        }
    }

    // MARK: RCPT TO

    static func parseRcpt(_ rest: ArraySlice<UInt8>) -> Result<SMTPCommand, SMTPReply> {
        guard let pathStart = keywordEnd(rest, "TO:") else { return .failure(Replies.syntaxError) }
        var scanner = PathScanner(bytes: Array(rest[pathStart...]), allowUTF8: true)
        while scanner.peek == UInt8(ascii: " ") { scanner.index += 1 }
        guard scanner.peek == UInt8(ascii: "<") else { return .failure(Replies.badRecipientSyntax) }
        let path: ForwardPath
        // RFC 5321 §4.5.1: "<Postmaster>" without a domain, any case.
        let tail = scanner.bytes[scanner.index...]
        let postmaster = Array("<postmaster>".utf8)
        if tail.count >= postmaster.count,
           zip(tail.prefix(postmaster.count), postmaster).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) {
            scanner.index += postmaster.count
            path = .postmaster
        } else {
            do {
                guard let m = try scanner.path(allowNull: false) else { return .failure(Replies.badRecipientSyntax) }
                path = .mailbox(m)
            } catch {
                return .failure(recipientReply(for: error))
            }
        }
        let params: [(String, String?)]
        switch parseParameters(scanner.bytes[scanner.index...]) {
        case .success(let p): params = p
        case .failure(let reply): return .failure(reply)
        }
        var rp = RcptParameters()
        for (key, value) in params {
            switch key {
            case "NOTIFY":
                guard let v = value, let n = DSNNotify(parameter: v) else { return .failure(Replies.badParameterValue("NOTIFY")) }
                rp.notify = n
            case "ORCPT":
                guard let v = value, v.utf8.count <= 500, let o = OriginalRecipient(parameter: v) else {
                    return .failure(Replies.badParameterValue("ORCPT"))
                }
                rp.originalRecipient = o
            default:
                return .failure(Replies.unknownParameter(key))
            }
        }
        return .success(.rcpt(path, rp))
    }

    static func recipientReply(for error: Mailbox.ParseError) -> SMTPReply {
        switch error {
        case .tooLong, .badDomain(.tooLong): return Replies.recipientTooLong
        case .nonASCII: return Replies.utf8NeedsSMTPUTF8
        case .invalidUTF8: return Replies.invalidUTF8
        case .syntax, .badDomain: return Replies.badRecipientSyntax
        }
    }

    // MARK: BDAT

    static func parseBdat(_ argument: String) -> Result<SMTPCommand, SMTPReply> {
        let parts = argument.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count), parts[0].count <= 15,
              parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let size = Int(parts[0]) else {
            return .failure(Replies.syntaxError)
        }
        if parts.count == 2 {
            guard parts[1].uppercased() == "LAST" else { return .failure(Replies.syntaxError) }
            return .success(.bdat(size: size, last: true))
        }
        return .success(.bdat(size: size, last: false))
    }

    // MARK: Helpers

    /// After `MAIL`/`RCPT` + SP: the index just past the keyword (case-insensitive).
    static func keywordEnd(_ rest: ArraySlice<UInt8>, _ keyword: String) -> Int? {
        let k = Array(keyword.utf8)
        guard rest.count >= k.count,
              zip(rest.prefix(k.count), k).allSatisfy({ $0 | 0x20 == $1 | 0x20 }) else { return nil }
        return rest.startIndex + k.count
    }

    /// `esmtp-param *(SP esmtp-param)`; keyword uppercased (RFC 5321 §4.1.2).
    static func parseParameters(_ bytes: ArraySlice<UInt8>) -> Result<[(String, String?)], SMTPReply> {
        guard !bytes.isEmpty else { return .success([]) }
        guard bytes.first == UInt8(ascii: " ") else { return .failure(Replies.syntaxError) }
        var out: [(String, String?)] = []
        for word in bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true) {
            guard out.count < 16 else { return .failure(Replies.syntaxError) }
            let eq = word.firstIndex(of: UInt8(ascii: "="))
            let keyBytes = word[..<(eq ?? word.endIndex)]
            // esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
            guard let first = keyBytes.first, Domain.isLetDig(first),
                  keyBytes.allSatisfy({ Domain.isLetDig($0) || $0 == UInt8(ascii: "-") }) else {
                return .failure(Replies.syntaxError)
            }
            let key = String(decoding: keyBytes, as: UTF8.self).uppercased()
            var value: String?
            if let eq {
                let valueBytes = word[(eq + 1)...]
                // esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed by RFC 6531 §3.3
                guard !valueBytes.isEmpty, valueBytes.allSatisfy({ ($0 >= 33 && $0 != 61 && $0 != 127) }),
                      let s = String(validating: valueBytes, as: UTF8.self) else {
                    return .failure(Replies.badParameterValue(key))
                }
                value = s
            }
            // A parameter given twice with the same value is harmless (Python's
            // smtplib adds SMTPUTF8 itself when the caller already did);
            // two different values cannot both hold.
            if let earlier = out.first(where: { $0.0 == key }) {
                if earlier.1 == value { continue }
                return .failure(Replies.duplicateParameter(key))
            }
            out.append((key, value))
        }
        return .success(out)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
