import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// A raw SMTP client for tests: sends exactly the bytes it is given and reads
/// replies as they come, over a real socket, optionally with real TLS.
final class SMTPTestClient {
    struct Reply: CustomStringConvertible {
        var code: Int
        var lines: [String]
        var text: String { lines.joined(separator: "\n") }
        var description: String { "\(code) \(text)" }
        /// The enhanced status code at the start of the text, if any.
        var enhanced: String? {
            lines.first?.split(separator: " ").first.map(String.init).flatMap { $0.filter { $0 == "." }.count == 2 ? $0 : nil }
        }
    }

    enum ClientError: Error { case timeout, closed, malformed(String), tlsFailed(String) }

    enum Event: Sendable {
        case data(ByteBuffer)
        case timeout(Int)
        case tlsReady
        case failure(String)
    }

    private let channel: any Channel
    private var iterator: AsyncStream<Event>.AsyncIterator
    private let continuation: AsyncStream<Event>.Continuation
    private var buffer = ByteBuffer()
    private var closed = false
    private var timeoutToken = 0
    static let group = MultiThreadedEventLoopGroup.singleton

    private init(channel: any Channel, stream: AsyncStream<Event>, continuation: AsyncStream<Event>.Continuation) {
        self.channel = channel
        self.iterator = stream.makeAsyncIterator()
        self.continuation = continuation
    }

    static func connect(port: Int, host: String = "127.0.0.1", implicitTLS: Bool = false,
                        trust certificatePEM: String? = nil, maximumTLSVersion: TLSVersion? = nil) async throws -> SMTPTestClient {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        let tlsContext = try implicitTLS ? makeTLSContext(trust: certificatePEM, maximumVersion: maximumTLSVersion) : nil
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: "mx.tern.test"))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                }
            }
            .connect(host: host, port: port).get()
        let client = SMTPTestClient(channel: channel, stream: stream, continuation: continuation)
        if implicitTLS { try await client.waitForTLS() }
        return client
    }

    static func makeTLSContext(trust certificatePEM: String?, maximumVersion: TLSVersion? = nil) throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        if let maximumVersion {
            config.minimumTLSVersion = .tlsv1
            config.maximumTLSVersion = maximumVersion
        }
        if let certificatePEM {
            config.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)))
        } else {
            config.certificateVerification = .none
        }
        return try NIOSSLContext(configuration: config)
    }

    // MARK: Sending

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Sends a line with CRLF and reads its reply.
    func command(_ line: String, timeout: TimeAmount = .seconds(10)) async throws -> Reply {
        try await send(line + "\r\n")
        return try await readReply(timeout: timeout)
    }

    // MARK: Reading

    /// The next complete reply (all its continuation lines).
    func readReply(timeout: TimeAmount = .seconds(10)) async throws -> Reply {
        var lines: [String] = []
        var code = 0
        while true {
            let line = try await readLine(timeout: timeout)
            guard line.count >= 3, let c = Int(line.prefix(3)) else { throw ClientError.malformed(line) }
            code = c
            lines.append(String(line.dropFirst(4)))
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " { break }
        }
        return Reply(code: code, lines: lines)
    }

    private func readLine(timeout: TimeAmount) async throws -> String {
        while true {
            if let i = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = i - buffer.readerIndex
                let bytes = buffer.readBytes(length: length + 1) ?? []
                return String(decoding: bytes.dropLast(bytes.last == 10 ? 1 : 0).dropLast(bytes.dropLast().last == 13 ? 1 : 0),
                              as: UTF8.self)
            }
            try await fill(timeout: timeout)
        }
    }

    private func fill(timeout: TimeAmount) async throws {
        guard !closed else { throw ClientError.closed }
        timeoutToken += 1
        let token = timeoutToken
        let continuation = self.continuation
        let scheduled = channel.eventLoop.scheduleTask(in: timeout) { continuation.yield(.timeout(token)) }
        defer { scheduled.cancel() }
        while true {
            guard let event = await iterator.next() else {
                closed = true
                throw ClientError.closed
            }
            switch event {
            case .data(var data):
                buffer.writeBuffer(&data)
                return
            case .timeout(let t):
                if t == token { throw ClientError.timeout }
            case .tlsReady:
                continue
            case .failure(let reason):
                throw ClientError.tlsFailed(reason)
            }
        }
    }

    /// True when the server closes the connection within the timeout, with
    /// no byte sent meanwhile; false if data arrives.
    func waitForClose(timeout: TimeAmount = .seconds(10)) async throws -> Bool {
        if buffer.readableBytes > 0 { return false }
        do {
            try await fill(timeout: timeout)
            return false
        } catch ClientError.closed {
            return true
        }
    }

    /// Everything the server still sends until it closes.
    func readUntilClose(timeout: TimeAmount = .seconds(10)) async throws -> [Reply] {
        var replies: [Reply] = []
        while true {
            do {
                replies.append(try await readReply(timeout: timeout))
            } catch ClientError.closed {
                return replies
            }
        }
    }

    // MARK: TLS

    /// After the server's 220 to STARTTLS: handshake over the same connection.
    func startTLS(trust certificatePEM: String?) async throws {
        let context = try SMTPTestClient.makeTLSContext(trust: certificatePEM)
        let channel = self.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(
                NIOSSLClientHandler(context: context, serverHostname: "mx.tern.test"), position: .first)
        }.get()
        try await waitForTLS()
    }

    private func waitForTLS() async throws {
        timeoutToken += 1
        let token = timeoutToken
        let continuation = self.continuation
        let scheduled = channel.eventLoop.scheduleTask(in: .seconds(10)) { continuation.yield(.timeout(token)) }
        defer { scheduled.cancel() }
        while let event = await iterator.next() {
            switch event {
            case .tlsReady: return
            case .data(var data): buffer.writeBuffer(&data)
            case .timeout(let t): if t == token { throw ClientError.timeout }
            case .failure(let reason): throw ClientError.tlsFailed(reason)
            }
        }
        closed = true
        throw ClientError.closed
    }

    func close() async {
        try? await channel.close()
    }

    /// Feeds the stream from the channel.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncStream<Event>.Continuation
        init(continuation: AsyncStream<Event>.Continuation) { self.continuation = continuation }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(.data(unwrapInboundIn(data)))
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? TLSUserEvent, case .handshakeCompleted = e { continuation.yield(.tlsReady) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            continuation.yield(.failure("\(error)"))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
        }
    }
}
