import Foundation
import Testing
import TernSMTP
@testable import TernSpool

@Suite("Spool: census (queue size and oldest entry)")
struct SpoolCensusTests {
    @Test("An empty spool has no messages, no oldest entry and age 0")
    func empty() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let census = try spool.census()
        #expect(census == SpoolCensus(messages: 0, oldest: nil))
        #expect(census.oldestAge() == 0)
    }

    @Test("Committed entries are counted and the earliest queued is the oldest, whatever the order of names")
    func countsAndOldest() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let now = Date()
        // IDs made in the past (the ID generator itself never goes back in time).
        let newer = try spool.accept(id: Self.id(queued: now.addingTimeInterval(-60)), envelope: Sample.envelope(),
                                     origin: Sample.origin, messageParts: [Sample.message])
        let older = try spool.accept(id: Self.id(queued: now.addingTimeInterval(-3600)), envelope: Sample.envelope(),
                                     origin: Sample.origin, messageParts: [Sample.message])
        let census = try spool.census()
        #expect(census.messages == 2)
        #expect(census.oldest == older)
        #expect(abs(census.oldestAge(now: now) - 3600) < 1)
        // A stray file in env/ is not a message.
        #expect(FileManager.default.createFile(atPath: dir.path + "/env/README", contents: Data("x".utf8)))
        #expect(try spool.census().messages == 2)
        try spool.complete(older)
        #expect(try spool.census() == SpoolCensus(messages: 1, oldest: newer))
    }

    /// A queue ID whose time is `date`: ten characters of milliseconds in
    /// the ID alphabet, then ten of padding.
    static func id(queued date: Date) throws -> QueueID {
        var millis = UInt64(date.timeIntervalSince1970 * 1000)
        var time = [UInt8](repeating: 0, count: 10)
        for i in (0..<10).reversed() {
            time[i] = QueueID.alphabet[Int(millis & 31)]
            millis >>= 5
        }
        return try #require(QueueID(String(decoding: time, as: UTF8.self) + "0000000000"))
    }
}
