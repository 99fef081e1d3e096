import NIOCore
import NIOPosix

/// One HTTP/1.1 request over a real TCP connection, `Connection: close`,
/// the response read until the server closes. Just enough HTTP to scrape
/// the metrics endpoint the way Prometheus does.
enum HTTPTestClient {
    struct Response {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: String
    }

    enum ClientError: Error { case malformed(String) }

    static func request(_ method: String = "GET", _ path: String, port: Int,
                        host: String = "127.0.0.1") async throws -> Response {
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: [UInt8].self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(done: done))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            done.fail(error)
            throw error
        }
        let request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request))
        let bytes = try await done.futureResult.get()
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    static func parse(_ text: String) throws -> Response {
        guard let split = text.range(of: "\r\n\r\n") else { throw ClientError.malformed(text) }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = head.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw ClientError.malformed(head.first ?? "")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError.malformed(line) }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// Gathers every byte read; completes when the connection closes.
    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let done: EventLoopPromise<[UInt8]>
        private var bytes: [UInt8] = []
        private var finished = false

        init(done: EventLoopPromise<[UInt8]>) {
            self.done = done
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            bytes += unwrapInboundIn(data).readableBytesView
        }

        func channelInactive(context: ChannelHandlerContext) {
            guard !finished else { return }
            finished = true
            done.succeed(bytes)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !finished {
                finished = true
                done.fail(error)
            }
            context.close(promise: nil)
        }
    }
}

/// The Prometheus text exposition format (version 0.0.4), parsed: each
/// sample line `name{label="value",…} number`, and the `# TYPE` lines.
struct PrometheusExposition {
    struct Sample: Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    /// Metric family name → counter, gauge, histogram, …
    var types: [String: String] = [:]

    enum ParseError: Error { case malformed(String) }

    init(_ text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw ParseError.malformed(String(line)) }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            samples.append(try Self.sample(Substring(line)))
        }
    }

    /// The value of the one sample with exactly these labels; nil if none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every sample of a family.
    func samples(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    private static func sample(_ line: Substring) throws -> Sample {
        var rest = line[...]
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = String(rest[..<nameEnd])
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
            throw ParseError.malformed(String(line))
        }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw ParseError.malformed(String(line)) }
                let key = String(rest[..<equals])
                rest = rest[rest.index(after: equals)...]
                guard rest.first == "\"" else { throw ParseError.malformed(String(line)) }
                rest = rest.dropFirst()
                var value = ""
                while let c = rest.first, c != "\"" {
                    rest = rest.dropFirst()
                    if c == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(escaped == "n" ? "\n" : escaped)
                    } else {
                        value.append(c)
                    }
                }
                guard rest.first == "\"" else { throw ParseError.malformed(String(line)) }
                rest = rest.dropFirst()
                labels[key] = value
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { throw ParseError.malformed(String(line)) }
            }
            rest = rest.dropFirst()
        }
        let fields = rest.split(separator: " ")
        guard let first = fields.first, fields.count <= 2, let value = Double(first) else {
            throw ParseError.malformed(String(line))
        }
        return Sample(name: name, labels: labels, value: value)
    }
}
