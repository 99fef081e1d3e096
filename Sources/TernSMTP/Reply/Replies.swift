/// Every reply the server sends, named once (STYLE: mox names each code with
/// its RFC). Texts are short and say what to do.
public enum Replies {
    // MARK: Greeting and session (RFC 5321 §4.2, §4.3)

    /// 220 greeting (RFC 5321 §4.3.1).
    public static func greeting(_ hostname: String) -> SMTPReply {
        SMTPReply(220, nil, "\(hostname) ESMTP Tern")
    }
    /// 221 on QUIT (RFC 5321 §4.1.1.10).
    public static func bye(_ hostname: String) -> SMTPReply { SMTPReply(221, .init(2, 0, 0), "\(hostname) closing connection") }
    /// 250 for HELO.
    public static func helo(_ hostname: String, client: String) -> SMTPReply {
        SMTPReply(250, nil, "\(hostname) greets \(client)")
    }
    public static let ok = SMTPReply(250, .init(2, 0, 0), "OK")
    public static let senderOK = SMTPReply(250, .init(2, 1, 0), "sender OK")
    public static let recipientOK = SMTPReply(250, .init(2, 1, 5), "recipient OK")
    public static let reset = SMTPReply(250, .init(2, 0, 0), "reset")
    /// 252 for VRFY: never confirms or denies a user (RFC 5321 §3.5.3, §7.3).
    public static let cannotVerify = SMTPReply(252, .init(2, 5, 0), "cannot VRFY user; send mail and it will be tried")
    /// 502 for EXPN: lists are not disclosed (RFC 5321 §7.3).
    public static let expnDisabled = SMTPReply(502, .init(5, 5, 1), "EXPN not available")
    public static let help = SMTPReply(214, .init(2, 0, 0), ["Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
                                                             "See RFC 5321 for details"])
    /// 354 (RFC 5321 §4.3.2).
    public static let startData = SMTPReply(354, nil, "end data with <CR><LF>.<CR><LF>")
    public static func queued(_ id: String) -> SMTPReply { SMTPReply(250, .init(2, 0, 0), "queued as \(id)") }
    /// 250 for a BDAT chunk that is not the last one (RFC 3030 §2).
    public static func chunkReceived(_ size: Int) -> SMTPReply { SMTPReply(250, .init(2, 0, 0), "\(size) octets received") }

    // MARK: STARTTLS (RFC 3207) and AUTH (RFC 4954)

    public static let readyForTLS = SMTPReply(220, .init(2, 0, 0), "ready to start TLS")
    public static let tlsNotAvailable = SMTPReply(454, .init(4, 7, 0), "TLS not available")
    public static let tlsAlreadyActive = SMTPReply(503, .init(5, 5, 1), "TLS already active")
    public static let authSucceeded = SMTPReply(235, .init(2, 7, 0), "authentication succeeded")
    /// 535 5.7.8 (RFC 4954 §6).
    public static let authFailed = SMTPReply(535, .init(5, 7, 8), "authentication credentials invalid")
    /// 538 5.7.11 (RFC 4954 §6): encryption required for the mechanism.
    public static let encryptionRequiredForAuth = SMTPReply(538, .init(5, 7, 11), "encryption required: issue STARTTLS first")
    /// 530 5.7.0 (RFC 4954 §6): authentication required.
    public static let authRequired = SMTPReply(530, .init(5, 7, 0), "authentication required")
    public static let authNotAvailable = SMTPReply(503, .init(5, 5, 1), "AUTH not available on this port")
    public static let alreadyAuthenticated = SMTPReply(503, .init(5, 5, 1), "already authenticated")
    public static let authInTransaction = SMTPReply(503, .init(5, 5, 1), "AUTH not allowed during a mail transaction")
    public static let unknownMechanism = SMTPReply(504, .init(5, 5, 4), "unrecognized authentication mechanism")
    public static let authCancelled = SMTPReply(501, .init(5, 0, 0), "authentication cancelled")
    public static let authBadEncoding = SMTPReply(501, .init(5, 5, 2), "malformed authentication response")
    public static let authTemporaryFailure = SMTPReply(454, .init(4, 7, 0), "temporary authentication failure")
    /// 334 challenge (RFC 4954 §4); the text is base64.
    public static func authChallenge(_ base64: String) -> SMTPReply { SMTPReply(334, nil, base64) }

    // MARK: Sequence and syntax errors (RFC 5321 §4.3.2, RFC 3463)

    public static let badSequence = SMTPReply(503, .init(5, 5, 1), "bad sequence of commands")
    public static let needHelo = SMTPReply(503, .init(5, 5, 1), "send EHLO or HELO first")
    public static let needMail = SMTPReply(503, .init(5, 5, 1), "send MAIL first")
    public static let nestedMail = SMTPReply(503, .init(5, 5, 1), "nested MAIL command")
    public static let needRcpt = SMTPReply(503, .init(5, 5, 1), "send RCPT first")
    public static let noValidRecipients = SMTPReply(554, .init(5, 5, 1), "no valid recipients")
    public static let unknownCommand = SMTPReply(500, .init(5, 5, 1), "command not recognized")
    public static let notImplemented = SMTPReply(502, .init(5, 5, 1), "command not implemented")
    public static let lineTooLong = SMTPReply(500, .init(5, 5, 6), "line too long")
    public static let syntaxError = SMTPReply(501, .init(5, 5, 4), "syntax error in parameters or arguments")
    public static let heloNeedsDomain = SMTPReply(501, .init(5, 5, 4), "EHLO and HELO need a domain or address literal")
    public static let noParametersAllowed = SMTPReply(501, .init(5, 5, 4), "no parameters allowed")
    public static let badSenderSyntax = SMTPReply(501, .init(5, 1, 7), "bad sender address syntax")
    public static let senderTooLong = SMTPReply(501, .init(5, 1, 7), "sender address too long")
    public static let badSenderDomain = SMTPReply(501, .init(5, 1, 8), "bad sender domain (IDNA conversion failed)")
    public static let badRecipientSyntax = SMTPReply(501, .init(5, 1, 3), "bad recipient address syntax")
    public static let recipientTooLong = SMTPReply(501, .init(5, 1, 3), "recipient address too long")
    /// 553 5.6.7 (RFC 6531 §3.5): non-ASCII address without SMTPUTF8.
    public static let utf8NeedsSMTPUTF8 = SMTPReply(553, .init(5, 6, 7), "non-ASCII address requires SMTPUTF8")
    public static let invalidUTF8 = SMTPReply(553, .init(5, 6, 7), "address is not valid UTF-8")
    /// 555 5.5.4 (RFC 5321 §4.1.1.11).
    public static func unknownParameter(_ name: String) -> SMTPReply {
        SMTPReply(555, .init(5, 5, 4), "unsupported parameter \(name)")
    }
    public static func badParameterValue(_ name: String) -> SMTPReply {
        SMTPReply(501, .init(5, 5, 4), "bad value for \(name)")
    }
    public static func duplicateParameter(_ name: String) -> SMTPReply {
        SMTPReply(501, .init(5, 5, 4), "\(name) given twice with different values")
    }
    public static let tooManyErrors = SMTPReply(421, .init(4, 7, 0), "too many errors, closing connection")
    /// 521 5.5.2 and close (chasquid's answer): a line ended in bare CR or LF (RFC 5321 §2.3.8).
    public static let bareLineEnding = SMTPReply(521, .init(5, 5, 2), "invalid line ending: only CRLF ends a line (RFC 5321 2.3.8)")
    /// A BDAT chunk with a bare CR or LF: refused, the session goes on.
    public static let bareLineEndingInChunk = SMTPReply(554, .init(5, 6, 0), "bare CR or LF in message: only CRLF ends a line")
    /// Cross-protocol defence: an HTTP request on the SMTP port.
    public static let wrongProtocol = SMTPReply(502, .init(5, 7, 0), "this is an SMTP server, closing connection")
    public static let nulInCommand = SMTPReply(500, .init(5, 5, 2), "NUL character in command")

    // MARK: Policy (RFC 5321 §3.6.2, RFC 3463 §3.8)

    public static let relayDenied = SMTPReply(554, .init(5, 7, 1), "relay denied")
    public static let unknownUser = SMTPReply(550, .init(5, 1, 1), "no such user here")
    public static let senderNotOwned = SMTPReply(553, .init(5, 7, 1), "sender address not owned by the authenticated user")
    public static let tooManyRecipients = SMTPReply(452, .init(4, 5, 3), "too many recipients")
    public static let domainLiteralRefused = SMTPReply(550, .init(5, 7, 1), "address literals are not local here")
    public static func temporaryFailure(_ text: String) -> SMTPReply { SMTPReply(451, .init(4, 3, 0), text) }

    // MARK: Message content (RFC 1870, RFC 5321 §6.3, RFC 6152)

    /// 552 5.3.4 (RFC 1870 §6).
    public static let messageTooBig = SMTPReply(552, .init(5, 3, 4), "message size exceeds fixed maximum message size")
    public static let lineTooLongInData = SMTPReply(500, .init(5, 5, 6), "text line longer than 1000 octets (RFC 5321 4.5.3.1.6)")
    /// 554 5.4.6: routing loop (RFC 5321 §6.3).
    public static let loopDetected = SMTPReply(554, .init(5, 4, 6), "too many Received header fields: mail loop")
    public static let binaryNotSupported = SMTPReply(504, .init(5, 5, 4), "BODY=BINARYMIME not supported")
    public static let bdatWithData = SMTPReply(503, .init(5, 5, 1), "DATA not allowed after BDAT in the same transaction")
    public static let storageFailed = SMTPReply(451, .init(4, 3, 0), "could not store the message; try again later")
    public static let storageFull = SMTPReply(452, .init(4, 3, 1), "insufficient system storage")

    // MARK: Limits and timeouts (RFC 5321 §4.5.3.2)

    public static let timeout = SMTPReply(421, .init(4, 4, 2), "timeout, closing connection")
    public static let tooManyConnections = SMTPReply(421, .init(4, 7, 0), "too many connections, try again later")
    public static let tooManyConnectionsFromIP = SMTPReply(421, .init(4, 7, 0), "too many connections from your address, try again later")
    public static let tooManyAuthFailures = SMTPReply(421, .init(4, 7, 0), "too many authentication failures, try again later")
    public static let shuttingDown = SMTPReply(421, .init(4, 3, 2), "service shutting down, try again later")
}
