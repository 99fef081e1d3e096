import Foundation
import TernSMTP

/// Writes the queue file header (`SpoolFiles.Header`) as JSON by hand: the
/// same text `JSONEncoder` makes with `.prettyPrinted`, `.sortedKeys` and
/// `.withoutEscapingSlashes` (the tests hold them equal), at a fraction of
/// its cost — it runs for every accepted message. Reading stays with
/// `JSONDecoder`.
///
/// Keys are written in sorted order by hand; optional fields that are nil
/// are left out, as the synthesized `Encodable` conformances do.
enum HeaderWriter {
    static func write(_ header: SpoolFiles.Header) -> [UInt8] {
        var w = PrettyJSON()
        w.object { w in
            w.member("arrivedAt") { $0.string(RecordDate.format(header.arrivedAt)) }
            w.member("envelope") { envelope(header.envelope, &$0) }
            w.member("id") { $0.string(header.id.text) }
            w.member("messageSize") { $0.number(header.messageSize) }
            w.member("origin") { origin(header.origin, &$0) }
        }
        return w.bytes
    }

    private static func envelope(_ e: Envelope, _ w: inout PrettyJSON) {
        w.object { w in
            w.member("body") { $0.string(e.body.rawValue) }
            if let size = e.declaredSize { w.member("declaredSize") { $0.number(size) } }
            if let ret = e.dsnReturn { w.member("dsnReturn") { $0.string(ret.rawValue) } }
            if let envid = e.envelopeID { w.member("envelopeID") { $0.string(envid) } }
            w.member("recipients") { w in
                w.array(e.recipients) { recipient($0, &$1) }
            }
            w.member("sender") { $0.string(e.sender.description) }
            w.member("smtpUTF8") { $0.bool(e.smtpUTF8) }
        }
    }

    private static func recipient(_ r: EnvelopeRecipient, _ w: inout PrettyJSON) {
        w.object { w in
            w.member("mailbox") { $0.string(r.mailbox.text) }
            if let notify = r.notify {
                w.member("notify") { w in
                    w.object { w in
                        w.member("delay") { $0.bool(notify.delay) }
                        w.member("failure") { $0.bool(notify.failure) }
                        w.member("success") { $0.bool(notify.success) }
                    }
                }
            }
            if let orcpt = r.originalRecipient {
                w.member("originalRecipient") { w in
                    w.object { w in
                        w.member("address") { $0.string(orcpt.address) }
                        w.member("addressType") { $0.string(orcpt.addressType) }
                    }
                }
            }
        }
    }

    private static func origin(_ o: MessageOrigin, _ w: inout PrettyJSON) {
        w.object { w in
            if let user = o.authenticatedUser { w.member("authenticatedUser") { $0.string(user) } }
            w.member("clientAddress") { $0.string(o.clientAddress) }
            if let folder = o.folder { w.member("folder") { $0.string(folder) } }
            w.member("heloName") { $0.string(o.heloName) }
            w.member("protocolName") { $0.string(o.protocolName) }
            w.member("receivedAt") { $0.string(RecordDate.format(o.receivedAt)) }
            if let name = o.reverseName { w.member("reverseName") { $0.string(name) } }
            w.member("role") { $0.string(o.role) }
            if let cipher = o.tlsCipher { w.member("tlsCipher") { $0.string(cipher) } }
            if let version = o.tlsVersion { w.member("tlsVersion") { $0.string(version) } }
        }
    }
}

/// Pretty-printed JSON in the layout of Foundation's `JSONEncoder`:
/// two-space indentation, `"key" : value`, one member or element a line.
struct PrettyJSON {
    private(set) var bytes: [UInt8] = []
    private var depth = 0
    /// Whether the innermost open object or array has a member yet.
    private var started: [Bool] = []

    init() {
        bytes.reserveCapacity(1024)
    }

    mutating func object(_ body: (inout PrettyJSON) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    mutating func array<S: Sequence>(_ elements: S, _ element: (S.Element, inout PrettyJSON) -> Void) {
        open(UInt8(ascii: "["))
        for e in elements {
            next()
            element(e, &self)
        }
        close(UInt8(ascii: "]"))
    }

    mutating func member(_ key: String, _ value: (inout PrettyJSON) -> Void) {
        next()
        string(key)
        bytes.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
        value(&self)
    }

    mutating func number(_ n: Int) {
        bytes.append(contentsOf: String(n).utf8)
    }

    mutating func bool(_ b: Bool) {
        bytes.append(contentsOf: (b ? "true" : "false").utf8)
    }

    /// Escapes `"` and `\` and the control characters; everything else,
    /// `/` and non-ASCII included, is written as UTF-8.
    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        depth += 1
        started.append(false)
    }

    private mutating func close(_ bracket: UInt8) {
        depth -= 1
        if started.removeLast() {
            bytes.append(UInt8(ascii: "\n"))
            indent()
        }
        bytes.append(bracket)
    }

    private mutating func next() {
        if started[started.count - 1] { bytes.append(UInt8(ascii: ",")) }
        started[started.count - 1] = true
        bytes.append(UInt8(ascii: "\n"))
        indent()
    }

    private mutating func indent() {
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * depth))
    }
}
