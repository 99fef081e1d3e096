import NIOCore
import NIOPosix

/// A UDP "nameserver" on 127.0.0.1 whose replies a test writes: for each
/// datagram received, `respond` returns the datagrams to send back (none,
/// one, or several — e.g. a forged one first). For answers no real server
/// gives on demand: SERVFAIL, garbage, a wrong ID.
public final class ScriptedUDPResponder: Sendable {
    private let channel: any Channel
    public let port: Int

    public var address: String { "127.0.0.1" }
    public var nameserver: String { "127.0.0.1:\(port)" }

    public init(group: any EventLoopGroup, respond: @escaping @Sendable ([UInt8]) -> [[UInt8]]) async throws {
        channel = try await DatagramBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    public func close() async {
        try? await channel.close()
    }

    deinit { channel.close(promise: nil) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let respond: @Sendable ([UInt8]) -> [[UInt8]]

        init(respond: @escaping @Sendable ([UInt8]) -> [[UInt8]]) {
            self.respond = respond
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for reply in respond(Array(envelope.data.readableBytesView)) {
                let out = AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: ByteBuffer(bytes: reply))
                context.write(wrapOutboundOut(out), promise: nil)
            }
            context.flush()
        }
    }
}

/// Hand-made DNS messages for scripted responders (RFC 1035 §4.1).
public enum DNSTestMessage {
    /// A reply to `query` that repeats its ID and question with QR set and
    /// `rcode`, no records; `id` overrides the ID, `flags` adds header bits
    /// of the second flags octet (0x80 RA, 0x20 AD) and `truncated` sets TC.
    public static func reply(to query: [UInt8], rcode: UInt8, id: UInt16? = nil, truncated: Bool = false,
                             keepQuestion: Bool = true) -> [UInt8] {
        guard query.count >= 12 else { return [] }
        var end = 12
        while end < query.count, query[end] != 0 { end += Int(query[end]) + 1 }
        end = min(query.count, end + 5)
        var reply = Array(query[0..<end])
        if let id {
            reply[0] = UInt8(id >> 8)
            reply[1] = UInt8(id & 0xFF)
        }
        reply[2] = 0x80 | (query[2] & 0x01) | (truncated ? 0x02 : 0)  // QR, RD copied
        reply[3] = 0x80 | (rcode & 0x0F)                                // RA, rcode
        reply[4] = 0; reply[5] = keepQuestion ? 1 : 0
        for i in 6..<12 { reply[i] = 0 }
        return keepQuestion ? reply : Array(reply[0..<12])
    }

    /// A NOERROR reply to `query` with `answers`, each owned by the
    /// question's name: `(type, ttl, rdata)`.
    public static func reply(to query: [UInt8], answers: [(type: UInt16, ttl: UInt32, rdata: [UInt8])]) -> [UInt8] {
        var reply = reply(to: query, rcode: 0)
        guard reply.count > 12 else { return reply }
        reply[6] = UInt8(answers.count >> 8)
        reply[7] = UInt8(answers.count & 0xFF)
        for answer in answers {
            reply += [0xC0, 0x0C, UInt8(answer.type >> 8), UInt8(answer.type & 0xFF), 0, 1]
            reply += [UInt8(answer.ttl >> 24), UInt8((answer.ttl >> 16) & 0xFF), UInt8((answer.ttl >> 8) & 0xFF),
                      UInt8(answer.ttl & 0xFF)]
            reply += [UInt8(answer.rdata.count >> 8), UInt8(answer.rdata.count & 0xFF)] + answer.rdata
        }
        return reply
    }

    /// The question name of `query`, lowercased, without the trailing dot.
    public static func questionName(of query: [UInt8]) -> String {
        var labels: [String] = []
        var index = 12
        while index < query.count, query[index] != 0 {
            let length = Int(query[index])
            guard index + 1 + length <= query.count else { break }
            labels.append(String(decoding: query[(index + 1)..<(index + 1 + length)], as: UTF8.self).lowercased())
            index += 1 + length
        }
        return labels.joined(separator: ".")
    }

    /// `name` in uncompressed wire form (RFC 1035 §3.1).
    public static func wireName(_ name: String) -> [UInt8] {
        var wire: [UInt8] = []
        for label in name.split(separator: ".") {
            wire.append(UInt8(label.utf8.count))
            wire += Array(label.utf8)
        }
        return wire + [0]
    }

    /// The query's ID.
    public static func id(of query: [UInt8]) -> UInt16 {
        query.count >= 2 ? UInt16(query[0]) << 8 | UInt16(query[1]) : 0
    }
}
