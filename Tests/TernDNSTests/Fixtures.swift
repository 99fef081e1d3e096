import NIOCore
import NIOPosix
import Synchronization
import TernTestSupport
@testable import TernDNS

/// The zones every resolver test serves from a real nsd.
enum Zones {
    /// 1,500 octets of TXT in six strings: more than the 1,232 octets
    /// offered over UDP, so nsd truncates and the resolver must use TCP.
    static let bigParts = (0..<6).map { String(repeating: Character(UnicodeScalar(UInt8(0x61 + $0))), count: 250) }
    static let tlsaHex = "77d1eefaf7e6e91b0f4d16b77fad6b483e7ba5f66f03ad5a08e64abc783fbc14"
    static let mx1v6 = DNSAddress.v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01])

    static let dTest = """
    $ORIGIN d.test.
    $TTL 300
    @           IN SOA   ns.d.test. hostmaster.d.test. 1 3600 600 86400 60
    @           IN NS    ns
    ns          IN A     127.0.0.1
    @           IN MX    10 mx1
    @           IN MX    20 MX2.D.Test.
    mx1         IN A     192.0.2.1
    mx1         IN AAAA  2001:db8::1
    mx2         IN A     192.0.2.2
    nullmx      IN MX    0 .
    txtonly     IN TXT   "v=spf1 -all"
    split       IN TXT   "v=spf1 " "ip4:192.0.2.0/24 " "-all"
    split       IN TXT   "second record"
    big         IN TXT   \(bigParts.map { "\"\($0)\"" }.joined(separator: " "))
    _25._tcp.mx1 IN TLSA 3 1 1 \(tlsaHex)
    alias       IN CNAME alias2
    alias2      IN CNAME mx1
    dangling    IN CNAME nothere
    tonodata    IN CNAME txtonly
    outside     IN CNAME target.e.test.
    loop1       IN CNAME loop2
    loop2       IN CNAME loop1
    ttl60    60 IN A     192.0.2.60

    """

    static let eTest = """
    $TTL 120
    @           IN SOA   ns.d.test. hostmaster.d.test. 1 3600 600 86400 30
    @           IN NS    ns.d.test.
    target      IN A     192.0.2.77

    """

    static let reverse4 = """
    $TTL 300
    @           IN SOA   ns.d.test. hostmaster.d.test. 1 3600 600 86400 60
    @           IN NS    ns.d.test.
    1           IN PTR   MX1.d.test.

    """

    static let reverse6 = """
    $TTL 300
    @           IN SOA   ns.d.test. hostmaster.d.test. 1 3600 600 86400 60
    @           IN NS    ns.d.test.
    \(mx1v6.reverseName). IN PTR mx1.d.test.

    """

    static let all = [
        "d.test.": dTest,
        "e.test.": eTest,
        "2.0.192.in-addr.arpa.": reverse4,
        "8.b.d.0.1.0.0.2.ip6.arpa.": reverse6,
    ]
}

/// A clock for the cache that moves only when a test says so.
final class ManualClock: Sendable {
    private let now = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000_000))

    func read() -> NIODeadline { now.withLock { $0 } }

    func advance(seconds: Int64) {
        now.withLock { $0 = $0 + .seconds(seconds) }
    }
}

/// A resolver pointed at `nameservers` ("127.0.0.1:PORT"), with a manual
/// clock for the cache.
func makeResolver(_ nameservers: [String], timeout: Duration = .seconds(2), attempts: Int = 2,
                  cacheCapacity: Int = 100, clock: ManualClock = ManualClock()) throws -> DNSResolver {
    let configuration = DNSResolverConfiguration(
        nameservers: try nameservers.map(DNSResolverConfiguration.parseNameserver),
        timeout: timeout, attempts: attempts, cacheCapacity: cacheCapacity)
    return DNSResolver(configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                       clock: { clock.read() })
}

extension Array where Element == UInt8 {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        self = bytes
    }
}
