import Foundation
import TernSMTP
import TernSpool

/// Renders a delivery status notification (RFC 3464) as the bytes of a
/// message ready for the spool. Pure: the same report and original give
/// the same bytes (the date, Message-ID and boundary are in the report).
///
/// The message is a multipart/report (RFC 6522) with report-type
/// delivery-status and three parts:
///
/// 1. text/plain: what happened, for a person;
/// 2. message/delivery-status: the per-message and per-recipient fields,
///    for programs (RFC 3464 §2.2, §2.3);
/// 3. the original: message/rfc822 (the whole message), text/rfc822-headers
///    (its header section), or no third part.
///
/// For an original that came with SMTPUTF8 the RFC 6533 types stand in:
/// message/global-delivery-status, message/global, message/global-headers.
/// It is sent from `MAILER-DAEMON@hostname` with `Auto-Submitted:
/// auto-replied` (RFC 3834 §5), lines end in CRLF and none is longer than
/// 998 octets. A part with 8-bit octets says `Content-Transfer-Encoding:
/// 8bit`, and so does the whole message then; its envelope must say
/// BODY=8BITMIME (`requiresEightBit`).
public enum DSNMessage {
    public static func build(_ report: DeliveryReport, original: ReturnedOriginal) -> [UInt8] {
        let text = Array(humanReadable(report, original: original).utf8)
        let status = Array(deliveryStatus(report).utf8)
        let statusType = report.international ? "message/global-delivery-status" : "message/delivery-status"
        var parts: [(headers: String, body: [UInt8])] = [
            (contentType("text/plain; charset=\(report.international ? "utf-8" : "us-ascii")", body: text)
                + "Content-Description: Notification\r\n", text),
            (contentType(statusType, body: status) + "Content-Description: Delivery report\r\n", status),
        ]
        switch original.content {
        case .message(let bytes):
            let type = report.international ? "message/global" : "message/rfc822"
            parts.append((contentType(type, body: bytes) + "Content-Description: \(originalDescription(report))\r\n", bytes))
        case .headers(let bytes):
            let type = report.international ? "message/global-headers" : "text/rfc822-headers"
            parts.append((contentType(type, body: bytes)
                          + "Content-Description: \(originalDescription(report)) headers\r\n", bytes))
        case .none:
            break
        }

        let boundary = uniqueBoundary(report.boundary, avoiding: parts.map(\.body))
        let eightBit = parts.contains { DSNFields.hasEightBit($0.body) }
        var out = Array(topHeaders(report, boundary: boundary, eightBit: eightBit).utf8)
        out += Array("\r\nThis is a delivery status notification in MIME format (RFC 3464).\r\n".utf8)
        for part in parts {
            out += Array("\r\n--\(boundary)\r\n".utf8)
            out += Array(part.headers.utf8)
            out += Array("\r\n".utf8)
            out += part.body
        }
        out += Array("\r\n--\(boundary)--\r\n".utf8)
        return out
    }

    /// The notice has 8-bit octets: its envelope needs BODY=8BITMIME (RFC 6152).
    public static func requiresEightBit(_ message: [UInt8]) -> Bool {
        DSNFields.hasEightBit(message)
    }

    // MARK: Headers

    static func topHeaders(_ report: DeliveryReport, boundary: String, eightBit: Bool) -> String {
        let subject = report.kind == .failure ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)"
        var h = ""
        h += "From: Mail Delivery System <MAILER-DAEMON@\(report.hostname)>\r\n"
        h += DSNFields.field("To", DSNFields.clean(report.sender.text, utf8: report.international))
        h += "Subject: \(subject)\r\n"
        h += "Date: \(ReceivedField.rfc5322Date(report.date))\r\n"
        h += "Message-ID: \(report.messageID)\r\n"
        h += "MIME-Version: 1.0\r\n"
        h += "Auto-Submitted: auto-replied\r\n"
        h += "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        h += "\tboundary=\"\(boundary)\"\r\n"
        if eightBit { h += "Content-Transfer-Encoding: 8bit\r\n" }
        return h
    }

    static func contentType(_ type: String, body: [UInt8]) -> String {
        "Content-Type: \(type)\r\n" + (DSNFields.hasEightBit(body) ? "Content-Transfer-Encoding: 8bit\r\n" : "")
    }

    static func originalDescription(_ report: DeliveryReport) -> String {
        report.kind == .failure ? "Undelivered message" : "Delayed message"
    }

    /// `wanted`, or it with `_1`, `_2`… added until no part holds a line
    /// starting with `--` and it (RFC 2046 §5.1.1).
    static func uniqueBoundary(_ wanted: String, avoiding bodies: [[UInt8]]) -> String {
        var candidate = wanted
        var n = 0
        while bodies.contains(where: { contains($0, Array("--\(candidate)".utf8)) }) {
            n += 1
            candidate = "\(wanted)_\(n)"
        }
        return candidate
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    // MARK: Part 2: message/delivery-status

    /// The per-message fields, then one block per recipient, blocks
    /// separated by an empty line (RFC 3464 §2.1).
    static func deliveryStatus(_ report: DeliveryReport) -> String {
        let utf8 = report.international
        var s = ""
        if let envid = report.envelopeID {
            // RFC 3464 §2.2.1: the ENVID as the sender gave it, in xtext.
            s += DSNFields.field("Original-Envelope-Id", XText.encode(envid))
        }
        s += DSNFields.field("Reporting-MTA", "dns; \(report.hostname)")
        if let id = report.queueID { s += DSNFields.field("X-Tern-Queue-ID", DSNFields.clean(id, utf8: false)) }
        s += DSNFields.field("Arrival-Date", ReceivedField.rfc5322Date(report.arrivalDate))
        for r in report.recipients {
            s += "\r\n"
            if let orcpt = r.originalRecipient {
                s += DSNFields.field("Original-Recipient",
                                     DSNFields.typedAddress(type: orcpt.addressType, orcpt.address, international: utf8))
            }
            s += DSNFields.field("Final-Recipient", DSNFields.typedAddress(type: "rfc822", r.mailbox.text, international: utf8))
            s += DSNFields.field("Action", r.action.rawValue)
            s += DSNFields.field("Status", r.reportedStatus)
            if let mta = r.remoteMTA, !mta.isEmpty {
                s += DSNFields.field("Remote-MTA", "dns; \(DSNFields.clean(mta, utf8: utf8))")
            }
            if let reply = r.diagnostic {
                s += DSNFields.field("Diagnostic-Code", "smtp; \(diagnostic(reply, utf8: utf8))")
            }
            if let at = r.lastAttempt { s += DSNFields.field("Last-Attempt-Date", ReceivedField.rfc5322Date(at)) }
            if let until = r.willRetryUntil { s += DSNFields.field("Will-Retry-Until", ReceivedField.rfc5322Date(until)) }
        }
        return s
    }

    /// `550 5.1.1 text`: the reply as a server would have sent it.
    static func diagnostic(_ reply: SpoolReply, utf8: Bool) -> String {
        var parts = [String(reply.code)]
        if !reply.enhancedStatus.isEmpty { parts.append(DSNFields.clean(reply.enhancedStatus, utf8: false)) }
        let text = DSNFields.clean(reply.text, utf8: utf8).trimmingCharacters(in: .whitespaces)
        if !text.isEmpty { parts.append(text) }
        return parts.joined(separator: " ")
    }

    // MARK: Part 1: text/plain

    static func humanReadable(_ report: DeliveryReport, original: ReturnedOriginal) -> String {
        let utf8 = report.international
        let many = report.recipients.count > 1
        var lines = ["This is the mail delivery system at \(report.hostname).", ""]
        switch report.kind {
        case .failure:
            lines.append("Your message could not be delivered to \(many ? "the recipients" : "the recipient") below.")
            lines.append("The failure is permanent: no further attempts will be made.")
        case .delay:
            lines.append("Your message has not yet been delivered to \(many ? "the recipients" : "the recipient") below.")
            if let until = report.recipients.compactMap(\.willRetryUntil).max() {
                lines.append("Delivery will be tried again until \(ReceivedField.rfc5322Date(until)).")
            } else {
                lines.append("Delivery will be tried again.")
            }
            lines.append("There is no need to send it again; you will be told if it finally fails.")
        }
        lines.append("")
        for r in report.recipients {
            lines.append("  <\(DSNFields.clean(r.mailbox.text, utf8: utf8))>")
            if let reply = r.diagnostic {
                lines.append("    " + diagnostic(reply, utf8: utf8))
            } else {
                lines.append("    status \(r.reportedStatus)")
            }
            if let mta = r.remoteMTA, !mta.isEmpty {
                lines.append("    (reply from \(DSNFields.clean(mta, utf8: utf8)))")
            }
        }
        lines.append("")
        var arrival = "The message arrived on \(ReceivedField.rfc5322Date(report.arrivalDate))"
        if let id = report.queueID { arrival += " (queue ID \(DSNFields.clean(id, utf8: false)))" }
        lines.append(arrival + ".")
        lines.append(originalNote(report, original))
        var text = ""
        for line in lines {
            // Prose is wrapped for reading; indented lines (addresses,
            // replies) are kept whole up to the line limit.
            let wrapped = line.hasPrefix(" ") ? [line] : wrap(line, width: DSNFields.preferredLine - 6)
            for piece in wrapped.flatMap({ DSNFields.chunks($0, maximum: DSNFields.maximumLine) }) {
                text += piece + "\r\n"
            }
        }
        return text
    }

    /// `line` broken at spaces into lines of about `width` characters.
    static func wrap(_ line: String, width: Int) -> [String] {
        var out: [String] = []
        var current = ""
        for word in line.split(separator: " ") {
            if !current.isEmpty && current.count + 1 + word.count > width {
                out.append(current)
                current = String(word)
            } else {
                current += current.isEmpty ? String(word) : " " + word
            }
        }
        out.append(current)
        return out
    }

    static func originalNote(_ report: DeliveryReport, _ original: ReturnedOriginal) -> String {
        switch (original.content, original.shortfall) {
        case (.message, _):
            return "The original message is attached."
        case (.headers, nil):
            return "The headers of the original message are attached."
        case (.headers, .tooLarge(let size, let limit)?):
            return "The original message (\(size) bytes) is larger than the \(limit) bytes returned in full, "
                + "so only its headers are attached."
        case (.headers, .headersTruncated?):
            return "The headers of the original message are attached, cut short: they are too long to return whole."
        case (.headers, .notText?):
            return "The original message cannot be returned as it is (binary content or overlong lines), "
                + "so only its headers are attached."
        case (.none, _):
            return "The original message is not attached."
        }
    }
}
