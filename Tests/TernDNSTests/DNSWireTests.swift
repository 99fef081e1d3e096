import Testing
@testable import TernDNS

@Suite("Queries built and replies parsed through libldns")
struct DNSWireTests {
    @Test("A query carries the ID, RD, one question and an EDNS0 OPT offering 1232 octets with DO clear")
    func queryShape() throws {
        let wire = try #require(DNSWire.query(id: 0xBEEF, name: "mx1.d.test", type: DNSRecordType.mx.rawValue))
        #expect(Array(wire[0..<2]) == [0xBE, 0xEF])
        #expect(wire[2] & 0x80 == 0)                          // QR clear: a query
        #expect(wire[2] & 0x01 == 1)                          // RD
        #expect(Array(wire[4..<12]) == [0, 1, 0, 0, 0, 0, 0, 1])
        let question: [UInt8] = [3] + Array("mx1".utf8) + [1] + Array("d".utf8) + [4] + Array("test".utf8)
            + [0, 0, 15, 0, 1]
        #expect(Array(wire[12..<(12 + question.count)]) == question)
        // OPT: root owner, type 41, class = UDP size, TTL = ext-rcode, version, DO+Z.
        #expect(Array(wire.suffix(11)) == [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0])
    }

    @Test("Names are canonical: lowercased, no trailing dot, escapes understood", arguments: [
        ("MX1.D.Test.", "mx1.d.test"),
        ("mx1.d.test", "mx1.d.test"),
        ("_25._tcp.mx.example", "_25._tcp.mx.example"),
        ("a\\.b.example", "a\\.b.example"),
        ("\\065.example", "a.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ])
    func canonicalNames(input: String, expected: String) {
        #expect(DNSWire.canonicalName(input) == expected)
    }

    @Test("Wire names with bytes outside printable ASCII are escaped")
    func escapedWireNames() {
        #expect(DNSWire.nameText(wire: [3, 0x61, 0x0A, 0x42, 0]) == "a\\010b")
        #expect(DNSWire.nameText(wire: [1, 0x2E, 0]) == "\\.")
        #expect(DNSWire.nameText(wire: [0]) == "")
        #expect(DNSWire.nameText(wire: [5, 0x61]) == nil)
    }

    @Test("Garbage does not parse")
    func garbage() {
        #expect(throws: DNSWireError.self) { try DNSWire.parse([0, 1, 2]) }
        #expect(throws: DNSWireError.self) { try DNSWire.parse([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0]) }
    }

    @Test("A parsed reply to our own query has its question; judging checks ID and question")
    func judge() throws {
        var wire = try #require(DNSWire.query(id: 7, name: "d.test", type: 15))
        wire[2] |= 0x80  // make it a response
        let question = DNSQuestion(name: "d.test", type: 15, dnsClass: 1)
        guard case .accept(let reply) = DNSTransport.judge(wire, id: 7, question: question) else {
            Issue.record("not accepted")
            return
        }
        #expect(reply.questions == [question])
        #expect(reply.rcode == 0)
        guard case .ignore = DNSTransport.judge(wire, id: 8, question: question) else {
            Issue.record("wrong ID accepted")
            return
        }
        guard case .ignore = DNSTransport.judge(wire, id: 7, question: DNSQuestion(name: "e.test", type: 15, dnsClass: 1))
        else {
            Issue.record("wrong question accepted")
            return
        }
        wire[2] &= 0x7F
        guard case .ignore = DNSTransport.judge(wire, id: 7, question: question) else {
            Issue.record("a query accepted as a reply")
            return
        }
    }
}

@Suite("Reading a reply for a question")
struct DNSAnswerReaderTests {
    func record(_ name: String, _ type: DNSRecordType, _ ttl: UInt32, _ data: DNSRecordData) -> DNSResourceRecord {
        DNSResourceRecord(name: name, type: type.rawValue, dnsClass: 1, ttl: ttl, data: data)
    }

    func reply(rcode: UInt8 = 0, answer: [DNSResourceRecord], authority: [DNSResourceRecord] = []) -> DNSReply {
        DNSReply(id: 1, isResponse: true, truncated: false, authenticated: false, rcode: rcode, questions: [],
                 answer: answer, authority: authority)
    }

    @Test("The TTL of a found answer is the smallest along the CNAME chain")
    func chainTTL() {
        let r = reply(answer: [record("a.test", .cname, 30, .name("b.test")),
                               record("b.test", .a, 300, .address([192, 0, 2, 1]))])
        #expect(DNSAnswerReader.read(r, name: "a.test", type: .a)
                == .records([.address([192, 0, 2, 1])], owner: "b.test", ttl: 30))
    }

    @Test("Negative TTL is min(SOA TTL, SOA minimum), capped at an hour")
    func negativeTTL() {
        let soa = { (ttl: UInt32, minimum: UInt32) in
            self.reply(rcode: 3, answer: [], authority: [self.record("test", .soa, ttl, .soa(minimum: minimum))])
        }
        #expect(DNSAnswerReader.read(soa(300, 60), name: "x.test", type: .a) == .nxdomain(negativeTTL: 60))
        #expect(DNSAnswerReader.read(soa(20, 60), name: "x.test", type: .a) == .nxdomain(negativeTTL: 20))
        #expect(DNSAnswerReader.read(soa(86400, 86400), name: "x.test", type: .a) == .nxdomain(negativeTTL: 3600))
        #expect(DNSAnswerReader.read(reply(answer: []), name: "x.test", type: .a) == .nodata(negativeTTL: nil))
    }

    @Test("A chain that ends outside the answering zone asks for its end")
    func alias() {
        let r = reply(answer: [record("a.test", .cname, 30, .name("b.other"))],
                      authority: [record("test", .soa, 300, .soa(minimum: 60))])
        #expect(DNSAnswerReader.read(r, name: "a.test", type: .a) == .alias(target: "b.other", ttl: 30))
    }

    @Test("A chain of more than eight CNAMEs is a failure")
    func longChain() {
        let chain = (0..<9).map { record("n\($0).test", .cname, 60, .name("n\($0 + 1).test")) }
        guard case .failure = DNSAnswerReader.read(reply(answer: chain), name: "n0.test", type: .a) else {
            Issue.record("a chain of nine was followed")
            return
        }
        let eight = Array(chain.prefix(8)) + [record("n8.test", .a, 60, .address([192, 0, 2, 8]))]
        guard case .records = DNSAnswerReader.read(reply(answer: eight), name: "n0.test", type: .a) else {
            Issue.record("a chain of eight was not followed")
            return
        }
    }
}
