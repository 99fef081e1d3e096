import NIOCore

extension ServerSession {
    mutating func handle(line: [UInt8], into actions: inout [SessionAction]) {
        let command: SMTPCommand
        switch CommandParser.parse(line) {
        case .success(let c): command = c
        case .failure(let r):
            reply(r, into: &actions)
            return
        }
        if line.count + 2 > CommandParser.maximumCommandLine {
            switch command {
            case .mail, .rcpt:
                if line.count + 2 > ServerSession.mailRcptLineLimit {
                    reply(Replies.lineTooLong, into: &actions)
                    return
                }
            case .auth:
                break
            default:
                reply(Replies.lineTooLong, into: &actions)
                return
            }
        }

        switch command {
        case .httpRequest:
            closeWith(Replies.wrongProtocol, into: &actions)
        case .ehlo(let name):
            greeting = Greeting(name: name, extended: true)
            state = .ready
            actions.append(.send(ehloReply(client: name)))
        case .helo(let name):
            greeting = Greeting(name: name, extended: false)
            state = .ready
            actions.append(.send(Replies.helo(configuration.hostname, client: name)))
        case .noop:
            actions.append(.send(Replies.ok))
        case .rset:
            if greeting != nil { state = .ready }
            actions.append(.send(Replies.reset))
        case .quit:
            actions.append(.send(Replies.bye(configuration.hostname)))
            actions.append(.close)
            state = .closed
        case .vrfy:
            actions.append(.send(Replies.cannotVerify))
        case .expn:
            reply(Replies.expnDisabled, into: &actions)
        case .help:
            actions.append(.send(Replies.help))
        case .startTLS:
            startTLS(into: &actions)
        case .auth(let mechanism, let initial):
            startAuth(mechanism: mechanism, initialResponse: initial, into: &actions)
        case .mail(let path, let params):
            mail(path, params, into: &actions)
        case .rcpt(let path, let params):
            rcpt(path, params, into: &actions)
        case .data:
            data(into: &actions)
        case .bdat(let size, let last):
            bdat(size: size, last: last, into: &actions)
        }
    }

    /// The EHLO reply lists the extensions this session can use now.
    func ehloReply(client: String) -> SMTPReply {
        var lines = ["\(configuration.hostname) greets \(client)"]
        lines.append("PIPELINING")                                   // RFC 2920
        lines.append("SIZE \(configuration.maximumMessageSize)")     // RFC 1870
        lines.append("8BITMIME")                                     // RFC 6152
        lines.append("SMTPUTF8")                                     // RFC 6531
        lines.append("ENHANCEDSTATUSCODES")                          // RFC 2034
        lines.append("CHUNKING")                                     // RFC 3030
        lines.append("DSN")                                          // RFC 3461
        if configuration.tlsAvailable && tls == nil {
            lines.append("STARTTLS")                                 // RFC 3207
        }
        if configuration.offersAuth && tls != nil && authenticatedUser == nil {
            lines.append("AUTH PLAIN LOGIN")                         // RFC 4954
        }
        lines.append("HELP")
        return SMTPReply(250, nil, lines)
    }

    mutating func startTLS(into actions: inout [SessionAction]) {
        if tls != nil {
            reply(Replies.tlsAlreadyActive, into: &actions)
            return
        }
        guard configuration.tlsAvailable else {
            reply(Replies.tlsNotAvailable, into: &actions)
            return
        }
        guard greeting != nil else {
            reply(Replies.needHelo, into: &actions)
            return
        }
        actions.append(.send(Replies.readyForTLS))
        actions.append(.startTLS)
        // RFC 3207 §4.2, CVE-2011-0411: nothing sent before the handshake may
        // be read as coming from inside TLS.
        input.clear()
        state = .awaitingTLS
    }

    // MARK: MAIL

    mutating func mail(_ path: ReversePath, _ params: MailParameters, into actions: inout [SessionAction]) {
        switch state {
        case .greeting:
            reply(Replies.needHelo, into: &actions)
            return
        case .transaction:
            reply(Replies.nestedMail, into: &actions)
            return
        default:
            break
        }
        if configuration.requiresAuth && authenticatedUser == nil {
            reply(tls == nil ? Replies.encryptionRequiredForAuth : Replies.authRequired, into: &actions)
            return
        }
        if let size = params.size, size > configuration.maximumMessageSize {
            reply(Replies.messageTooBig, into: &actions)
            return
        }
        if params.body == .binaryMIME {
            reply(Replies.binaryNotSupported, into: &actions)
            return
        }
        let envelope = Envelope(sender: path, body: params.body ?? .sevenBit, smtpUTF8: params.smtpUTF8,
                                declaredSize: params.size, dsnReturn: params.ret, envelopeID: params.envelopeID)
        state = .waiting(.sender(envelope))
        actions.append(.checkSender(path, params))
    }

    // MARK: RCPT

    mutating func rcpt(_ path: ForwardPath, _ params: RcptParameters, into actions: inout [SessionAction]) {
        guard case .transaction(let tx) = state else {
            reply(greeting == nil ? Replies.needHelo : Replies.needMail, into: &actions)
            return
        }
        guard tx.chunkReader == nil else {
            reply(Replies.badSequence, into: &actions)
            return
        }
        guard tx.envelope.recipients.count < configuration.maximumRecipients else {
            reply(Replies.tooManyRecipients, into: &actions)
            return
        }
        let mailbox: Mailbox
        switch path {
        case .postmaster: mailbox = Mailbox(localPart: "postmaster", domain: configuration.postmasterDomain)
        case .mailbox(let m): mailbox = m
        }
        if mailbox.needsSMTPUTF8 && !tx.envelope.smtpUTF8 {
            reply(Replies.utf8NeedsSMTPUTF8, into: &actions)
            return
        }
        let recipient = EnvelopeRecipient(mailbox: mailbox, notify: params.notify, originalRecipient: params.originalRecipient)
        state = .waiting(.recipient(tx, recipient))
        actions.append(.checkRecipient(mailbox, params))
    }

    // MARK: DATA and BDAT

    mutating func data(into actions: inout [SessionAction]) {
        guard case .transaction(let tx) = state else {
            reply(greeting == nil ? Replies.needHelo : Replies.needMail, into: &actions)
            return
        }
        guard tx.chunkReader == nil else {
            reply(Replies.bdatWithData, into: &actions)
            return
        }
        guard !tx.envelope.recipients.isEmpty else {
            reply(Replies.noValidRecipients, into: &actions)
            return
        }
        actions.append(.send(Replies.startData))
        state = .data(tx, MessageReader(maximumSize: configuration.maximumMessageSize))
    }

    /// RFC 3030 §2: a refused chunk is still read in full before the reply.
    mutating func bdat(size: Int, last: Bool, into actions: inout [SessionAction]) {
        guard case .transaction(let tx) = state else {
            state = .discardingChunk(remaining: size, reply: greeting == nil ? Replies.needHelo : Replies.needMail)
            return
        }
        guard !tx.envelope.recipients.isEmpty else {
            state = .discardingChunk(remaining: size, reply: Replies.noValidRecipients)
            return
        }
        let reader = tx.chunkReader ?? MessageReader(maximumSize: configuration.maximumMessageSize)
        state = .chunk(tx, reader, remaining: size, last: last)
    }

    mutating func finishMessage(_ tx: Transaction, _ reader: MessageReader, into actions: inout [SessionAction]) {
        let verdict = reader.verdict
        state = .ready
        if verdict.tooBig {
            reply(Replies.messageTooBig, into: &actions)
        } else if verdict.lineTooLong {
            reply(Replies.lineTooLongInData, into: &actions)
        } else if verdict.receivedFields >= configuration.maximumReceivedFields {
            reply(Replies.loopDetected, into: &actions)
        } else {
            state = .waiting(.delivery)
            let request = DeliveryRequest(envelope: tx.envelope, message: reader.takeMessage(),
                                          heloName: greeting?.name ?? "", protocolName: protocolName(for: tx.envelope),
                                          tls: tls, authenticatedUser: authenticatedUser)
            actions.append(.deliver(request))
        }
    }

    /// RFC 3848 and RFC 6531 §3.7.3 "with" values.
    func protocolName(for envelope: Envelope) -> String {
        guard let greeting, greeting.extended else { return "SMTP" }
        let base = envelope.smtpUTF8 ? "UTF8SMTP" : "ESMTP"
        return base + (tls != nil ? "S" : "") + (authenticatedUser != nil ? "A" : "")
    }
}
