import Foundation
import Testing

/// Golden transcripts (STYLE 8): one file per dialogue under Transcripts/,
/// `C:` lines sent (several in a row go out in one write, pipelined), `S:`
/// lines expected exactly (`<ID>` stands for a queue ID, a trailing `*`
/// for any rest), `TLS` for a client handshake, `CLOSED` for the server
/// closing. Run against a real listener.
@Suite("Golden transcripts", .serialized)
struct TranscriptTests {
    static var directory: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Transcripts") }

    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasSuffix(".txt") }.sorted()

    @Test("There are transcripts")
    func present() { #expect(TranscriptTests.files.count >= 4) }

    @Test("The server says exactly what the transcript says", arguments: TranscriptTests.files)
    func transcript(_ name: String) async throws {
        let text = try String(contentsOf: TranscriptTests.directory.appendingPathComponent(name), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let port = lines.first { $0.hasPrefix("# port: ") }.map { String($0.dropFirst(8)) } ?? "mx"
        let server = try await Shared.server()
        let c: SMTPTestClient
        switch port {
        case "submission": c = try await SMTPTestClient.connect(port: server.submissionPort)
        case "submissions":
            c = try await SMTPTestClient.connect(port: server.submissionsPort, implicitTLS: true, trust: server.certificatePEM)
        default: c = try await SMTPTestClient.connect(port: server.mxPort)
        }
        var pending = ""
        var expected: [String] = []
        var received: [String] = []
        func flush() async throws {
            if !pending.isEmpty {
                try await c.send(pending)
                pending = ""
            }
        }
        for (number, line) in lines.enumerated() where !line.hasPrefix("#") && !line.isEmpty {
            if line.hasPrefix("C:") {
                pending += String(line.dropFirst(line.hasPrefix("C: ") ? 3 : 2)) + "\r\n"
            } else if line.hasPrefix("S: ") {
                try await flush()
                let want = String(line.dropFirst(3))
                if received.isEmpty {
                    let reply = try await c.readReply()
                    received = reply.lines.enumerated().map { i, l in
                        "\(reply.code)\(i == reply.lines.count - 1 ? " " : "-")\(l)"
                    }
                }
                let got = received.removeFirst()
                expected.append(want)
                #expect(TranscriptTests.matches(got, want), "\(name):\(number + 1): got \"\(got)\", want \"\(want)\"")
            } else if line == "TLS" {
                try await flush()
                try await c.startTLS(trust: server.certificatePEM)
            } else if line == "CLOSED" {
                try await flush()
                #expect(try await c.waitForClose(), "\(name):\(number + 1): still open")
            } else {
                Issue.record("\(name):\(number + 1): unknown transcript line \(line)")
            }
        }
        #expect(received.isEmpty, "\(name): unexpected reply lines \(received)")
        #expect(!expected.isEmpty)
    }

    static func matches(_ got: String, _ want: String) -> Bool {
        if want.hasSuffix("*") { return got.hasPrefix(String(want.dropLast())) }
        if let r = want.range(of: "<ID>") {
            let prefix = want[..<r.lowerBound], suffix = want[r.upperBound...]
            guard got.hasPrefix(prefix), got.hasSuffix(suffix) else { return false }
            let id = got.dropFirst(prefix.count).dropLast(suffix.count)
            return id.count == 20 && id.allSatisfy { $0.isLetter || $0.isNumber }
        }
        return got == want
    }
}
