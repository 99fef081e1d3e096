/// Delivery Status Notification parameters (RFC 3461), parsed at MAIL and
/// RCPT time and kept in the envelope for later bounces.

/// `RET=FULL|HDRS` (RFC 3461 §4.3).
public enum DSNReturn: String, Hashable, Sendable, Codable {
    case full = "FULL"
    case headers = "HDRS"
}

/// `NOTIFY=NEVER` or a list of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1).
public struct DSNNotify: Hashable, Sendable, Codable, CustomStringConvertible {
    public var success: Bool
    public var failure: Bool
    public var delay: Bool

    public static let never = DSNNotify(success: false, failure: false, delay: false)
    /// What applies when NOTIFY is absent (RFC 3461 §4.1: FAILURE, and DELAY at the MTA's choice).
    public static let `default` = DSNNotify(success: false, failure: true, delay: true)

    public init(success: Bool, failure: Bool, delay: Bool) {
        self.success = success
        self.failure = failure
        self.delay = delay
    }

    public var isNever: Bool { !success && !failure && !delay }

    /// Parses the NOTIFY value; NEVER must stand alone.
    public init?(parameter: String) {
        let items = parameter.uppercased().split(separator: ",", omittingEmptySubsequences: false)
        if items == ["NEVER"] { self = .never; return }
        var n = DSNNotify.never
        for item in items {
            switch item {
            case "SUCCESS": n.success = true
            case "FAILURE": n.failure = true
            case "DELAY": n.delay = true
            default: return nil
            }
        }
        self = n
    }

    public var description: String {
        if isNever { return "NEVER" }
        var parts: [String] = []
        if success { parts.append("SUCCESS") }
        if failure { parts.append("FAILURE") }
        if delay { parts.append("DELAY") }
        return parts.joined(separator: ",")
    }
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2), decoded.
public struct OriginalRecipient: Hashable, Sendable, Codable, CustomStringConvertible {
    public var addressType: String
    public var address: String

    public init(addressType: String, address: String) {
        self.addressType = addressType
        self.address = address
    }

    /// Parses `rfc822;a+2Bb@example.com`. The address type is an atom; the
    /// address is xtext (or utf-8-addr-xtext under SMTPUTF8, RFC 6533 §3).
    public init?(parameter: String) {
        guard let semi = parameter.firstIndex(of: ";") else { return nil }
        let type = String(parameter[..<semi])
        guard !type.isEmpty, type.utf8.allSatisfy({ Domain.isLetDig($0) || $0 == UInt8(ascii: "-") }),
              let addr = XText.decode(String(parameter[parameter.index(after: semi)...])), !addr.isEmpty
        else { return nil }
        self.addressType = type
        self.address = addr
    }

    public var description: String { "\(addressType);\(XText.encode(address))" }
}

/// xtext (RFC 3461 §4): printable ASCII except "+" and "=", with "+HH" escapes.
/// RFC 6533 §3 adds `\x{HHHH}` for UTF-8 addresses; both are decoded.
public enum XText {
    public static func decode(_ s: String) -> String? {
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "+") {
                guard i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else if c == UInt8(ascii: "\\"), i + 2 < b.count, b[i + 1] == UInt8(ascii: "x"), b[i + 2] == UInt8(ascii: "{") {
                guard let close = b[(i + 3)...].firstIndex(of: UInt8(ascii: "}")),
                      let v = UInt32(String(decoding: b[(i + 3)..<close], as: UTF8.self), radix: 16),
                      let scalar = Unicode.Scalar(v) else { return nil }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
                i = close + 1
            } else if (33...126).contains(c) && c != UInt8(ascii: "=") {
                out.append(c)
                i += 1
            } else if c >= 0x80 {
                out.append(c)  // utf-8-addr-unitext (RFC 6533)
                i += 1
            } else {
                return nil
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    public static func encode(_ s: String) -> String {
        var out = ""
        for c in s.utf8 {
            if (33...126).contains(c) && c != UInt8(ascii: "+") && c != UInt8(ascii: "=") {
                out.unicodeScalars.append(Unicode.Scalar(c))
            } else {
                let hex = String(c, radix: 16, uppercase: true)
                out += "+" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
