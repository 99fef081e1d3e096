import NIOCore
import Testing
@testable import TernSMTP

@Suite("Line framing and message reading")
struct FramingTests {
    func frame(_ chunks: [String], limit: Int = 512) -> [LineFramer.Event] {
        var framer = LineFramer()
        var buffer = ByteBuffer()
        var events: [LineFramer.Event] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let e = framer.next(from: &buffer, limit: limit) {
                events.append(e)
                if e == .bareLineEnding { return events }
            }
        }
        return events
    }

    @Test("Only CRLF ends a command line, even split across reads")
    func crlfAcrossReads() {
        #expect(frame(["NOOP\r", "\nQUIT\r\n"]) == [.line(Array("NOOP".utf8)), .line(Array("QUIT".utf8))])
    }

    @Test("A bare LF or CR is reported", arguments: ["NOOP\n", "NOOP\rX\r\n", "\n"])
    func bare(input: String) {
        #expect(frame([input]).last == .bareLineEnding)
    }

    @Test("An overlong line is dropped to its CRLF and reported once; its tail is not a command")
    func overlong() {
        let events = frame(["NOOP " + String(repeating: "A", count: 1020) + "QUIT\r\nNOOP\r\n"])
        #expect(events == [.tooLong, .line(Array("NOOP".utf8))])
    }

    @Test("An overlong line spread over many reads is still one error")
    func overlongChunks() {
        let chunks = Array(repeating: String(repeating: "B", count: 300), count: 10) + ["\r\nNOOP\r\n"]
        #expect(frame(chunks) == [.tooLong, .line(Array("NOOP".utf8))])
    }

    func readData(_ input: [UInt8], max: Int = 100_000) -> (MessageReader.Progress, MessageReader, ByteBuffer) {
        var reader = MessageReader(maximumSize: max)
        var buffer = ByteBuffer(bytes: input)
        var unused = 0
        let p = reader.read(from: &buffer, mode: .dotTerminated, remaining: &unused)
        return (p, reader, buffer)
    }

    @Test("Dot-stuffing is undone (RFC 5321 4.5.2)")
    func dotStuffing() {
        let input = ".From: x@y.test\r\nSubject: s\r\n\r\n.Muahahahaha\r\n\r\n..x\r\n\r\n..\r\n\r\n.This is stuffy.\r\n\r\n.\r\n"
        let (p, reader, rest) = readData(Array(input.utf8))
        #expect(p == .end)
        #expect(rest.readableBytes == 0)
        #expect(String(buffer: reader.takeMessage())
                == "From: x@y.test\r\nSubject: s\r\n\r\nMuahahahaha\r\n\r\n.x\r\n\r\n.\r\n\r\nThis is stuffy.\r\n\r\n")
    }

    @Test("The end of data is found when it arrives one byte at a time")
    func byteByByte() {
        var reader = MessageReader(maximumSize: 1000)
        var buffer = ByteBuffer()
        var unused = 0
        var last: MessageReader.Progress = .needMore
        for b in Array("a\r\n.b\r\n.\r\nNEXT".utf8) {
            buffer.writeInteger(b)
            last = reader.read(from: &buffer, mode: .dotTerminated, remaining: &unused)
            if last == .end { break }
        }
        #expect(last == .end)
        #expect(String(buffer: reader.takeMessage()) == "a\r\nb\r\n")
        #expect(String(buffer: buffer) == "")
    }

    @Test("Oversized messages are read to the end and flagged, not stored")
    func oversized() {
        let line = String(repeating: "x", count: 900) + "\r\n"
        let (p, reader, _) = readData(Array((String(repeating: line, count: 20) + ".\r\n").utf8), max: 5000)
        #expect(p == .end)
        #expect(reader.verdict.tooBig)
        #expect(reader.takeMessage().readableBytes == 0)
    }

    @Test("Lines over 1000 octets are flagged; 998 octets are fine")
    func lineLength() {
        let ok = readData(Array(("s\r\n\r\n" + String(repeating: "a", count: 998) + "\r\n.\r\n").utf8))
        #expect(ok.0 == .end && !ok.1.verdict.lineTooLong)
        let long = readData(Array(("s\r\n\r\n" + String(repeating: "a", count: 999) + "\r\n.\r\n").utf8))
        #expect(long.0 == .end && long.1.verdict.lineTooLong)
    }

    @Test("Received fields in the header are counted, not those in the body")
    func receivedCount() {
        let header = String(repeating: "Received: from x by y; Tue, 14 Nov 2023 22:13:20 +0000\r\n", count: 3)
        let input = header + "RECEIVED: z\r\nSubject: r\r\n\r\nReceived: not a header\r\n.\r\n"
        let (p, reader, _) = readData(Array(input.utf8))
        #expect(p == .end)
        #expect(reader.verdict.receivedFields == 4)
    }

    @Test("BDAT chunks are counted, not dot-unstuffed, and a CRLF may straddle chunks")
    func counted() {
        var reader = MessageReader(maximumSize: 1000)
        var buffer = ByteBuffer(string: "a\r\n.b\rNEXT")
        var remaining = 6
        #expect(reader.read(from: &buffer, mode: .counted, remaining: &remaining) == .end)
        #expect(String(buffer: buffer) == "NEXT")
        var second = ByteBuffer(string: "\nc")
        remaining = 2
        #expect(reader.read(from: &second, mode: .counted, remaining: &remaining) == .end)
        let finished = reader.finishCountedMessage()
        #expect(finished)
        #expect(String(buffer: reader.takeMessage()) == "a\r\n.b\r\nc\r\n")
    }
}
