import Foundation
import Testing
@testable import TernDelivery

@Suite("Maildir unique names")
struct MaildirNameTests {
    @Test("Names have Dovecot's shape, with the size added in new/")
    func shape() {
        let name = MaildirName(seconds: 1_763_904_240, microseconds: 123_456, pid: 4242, counter: 7,
                               host: "mx.example.com")
        #expect(name.base == "1763904240.M123456P4242Q7.mx.example.com")
        #expect(name.final(size: 1234) == "1763904240.M123456P4242Q7.mx.example.com,S=1234")
    }

    @Test("Slash and colon in the host are escaped as Dovecot does", arguments: [
        ("mx.example.com", "mx.example.com"),
        ("a/b", "a\\057b"),
        ("host:2525", "host\\0722525"),
        ("x/:y", "x\\057\\072y"),
    ])
    func hostEscape(host: String, escaped: String) {
        #expect(MaildirName.escape(host: host) == escaped)
    }

    @Test("Names made in a row differ by their counter and carry the time and process")
    func fresh() {
        let now = Date(timeIntervalSince1970: 1_763_904_240.25)
        let a = MaildirName.next(host: "mx", now: now)
        let b = MaildirName.next(host: "mx", now: now)
        #expect(a.base != b.base)
        #expect(b.counter > a.counter)
        #expect(a.seconds == 1_763_904_240)
        #expect(a.microseconds == 250_000)
        #expect(a.pid == getpid())
    }
}
