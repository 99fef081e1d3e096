import NIOCore

/// Learns the negotiated cipher suite by reading the server's own ServerHello
/// on its way out (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3): swift-nio-ssl reports
/// the TLS version but not the cipher, and the Received field wants both.
/// Sits between the socket and the TLS handler; passes every byte through
/// untouched and removes itself once it has seen enough.
final class ServerHelloSniffer: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var seen: [UInt8] = []
    private(set) var cipher: String?
    private var done = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !done {
            let buffer = unwrapOutboundIn(data)
            seen.append(contentsOf: buffer.readableBytesView.prefix(max(0, 512 - seen.count)))
            if let code = ServerHelloSniffer.cipherSuite(inFirstRecord: seen) {
                cipher = ServerHelloSniffer.name(of: code)
                done = true
            } else if seen.count >= 512 {
                done = true
            }
        }
        context.write(data, promise: promise)
    }

    /// The cipher suite of a ServerHello at the start of `bytes`, if complete.
    static func cipherSuite(inFirstRecord b: [UInt8]) -> UInt16? {
        // record: type(1)=22 version(2) length(2); handshake: type(1)=2 length(3)
        guard b.count >= 9, b[0] == 22, b[5] == 2 else { return nil }
        // legacy_version(2) random(32) session_id_length(1)
        let sidLengthIndex = 9 + 2 + 32
        guard b.count > sidLengthIndex else { return nil }
        let suiteIndex = sidLengthIndex + 1 + Int(b[sidLengthIndex])
        guard b.count >= suiteIndex + 2 else { return nil }
        return UInt16(b[suiteIndex]) << 8 | UInt16(b[suiteIndex + 1])
    }

    /// IANA names of the suites BoringSSL negotiates.
    static func name(of code: UInt16) -> String {
        switch code {
        case 0x1301: return "TLS_AES_128_GCM_SHA256"
        case 0x1302: return "TLS_AES_256_GCM_SHA384"
        case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256"
        case 0xC02B: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        case 0xC02C: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        case 0xC02F: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        case 0xC030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        case 0xCCA8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCA9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xC009: return "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        case 0xC00A: return "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        case 0xC013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        case 0xC014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        case 0x009C: return "TLS_RSA_WITH_AES_128_GCM_SHA256"
        case 0x009D: return "TLS_RSA_WITH_AES_256_GCM_SHA384"
        case 0x002F: return "TLS_RSA_WITH_AES_128_CBC_SHA"
        case 0x0035: return "TLS_RSA_WITH_AES_256_CBC_SHA"
        default:
            let hex = String(code, radix: 16, uppercase: true)
            return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
}
