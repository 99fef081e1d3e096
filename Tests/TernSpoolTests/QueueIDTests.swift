import Foundation
import Testing
@testable import TernSpool

@Suite("Queue IDs")
struct QueueIDTests {
    @Test("A generated ID is twenty characters of the lowercase base32 alphabet")
    func shape() {
        let id = QueueID.generate()
        #expect(id.text.count == 20)
        #expect(id.text.allSatisfy { "0123456789abcdefghjkmnpqrstvwxyz".contains($0) })
        #expect(QueueID(id.text) == id)
    }

    @Test("IDs made one after another are unique and sort in the order they were made")
    func sortable() {
        let ids = (0..<5000).map { _ in QueueID.generate() }
        #expect(Set(ids).count == ids.count)
        #expect(ids.sorted() == ids)
    }

    @Test("IDs made in the same millisecond still sort in order")
    func sameMillisecond() {
        let now = Date(timeIntervalSince1970: 4_000_000_000)
        let ids = (0..<2000).map { _ in QueueID.generate(now: now) }
        #expect(ids.sorted() == ids)
        #expect(Set(ids).count == ids.count)
    }

    @Test("An ID carries its time to the millisecond")
    func date() throws {
        // The clock state is shared by the whole process (other tests use
        // times in the future), so compare with the ID's own time, not `now`.
        let id = QueueID.generate()
        let millis = id.date.timeIntervalSince1970 * 1000
        #expect(millis == millis.rounded())
        #expect(id.date.timeIntervalSinceNow > -5)
        let known = try #require(QueueID("1jd2k7q8z0" + "00" + "00000000"))
        let expected: UInt64 = [1, 18, 13, 2, 19, 7, 23, 8, 31, 0].reduce(0) { $0 << 5 | $1 }
        #expect(known.date == Date(timeIntervalSince1970: Double(expected) / 1000))
    }

    @Test("Two processes' IDs differ through their random part")
    func randomPart() {
        let now = Date(timeIntervalSince1970: 4_200_000_000)
        var a = FixedRandom(value: 1)
        var b = FixedRandom(value: 2)
        let x = QueueID.generate(now: now, using: &a)
        let y = QueueID.generate(now: now, using: &b)
        #expect(x.text.suffix(8) != y.text.suffix(8))
    }

    @Test("Strings that are not queue IDs are refused", arguments: [
        "", "../../etc/passwd", "0000000000000000000", "000000000000000000000",
        "0000000000000000000U", "0000000000000000000i", "000000000/0000000000", "00000000000000000.00",
    ])
    func refused(text: String) {
        #expect(QueueID(text) == nil)
    }
}
