import Foundation
import NIOCore
import Testing
@testable import TernDNS

@Suite("Nameserver settings and resolv.conf")
struct ConfigurationTests {
    @Test("Nameserver texts parse with their ports", arguments: [
        ("127.0.0.1:5353", "127.0.0.1", 5353),
        ("127.0.0.1", "127.0.0.1", 53),
        ("[::1]:5353", "::1", 5353),
        ("::1", "::1", 53),
        ("[2001:db8::53]", "2001:db8::53", 53),
        (" 192.0.2.53:53 ", "192.0.2.53", 53),
    ])
    func parse(text: String, address: String, port: Int) throws {
        let parsed = try DNSResolverConfiguration.parseNameserver(text)
        #expect(parsed.ipAddress == address)
        #expect(parsed.port == port)
    }

    @Test("Bad nameserver texts are refused", arguments: [
        "", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]x", "::1:53x", "1.2.3.4:5:6x",
        "127.0.0.1:+53",
    ])
    func refuse(text: String) {
        #expect(throws: DNSConfigurationError.self) { try DNSResolverConfiguration.parseNameserver(text) }
    }

    func withResolvConf(_ text: String, _ body: (String) throws -> Void) throws {
        let path = NSTemporaryDirectory() + "tern-resolv-\(UInt64.random(in: 0 ... .max)).conf"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test("resolv.conf nameserver lines are read in order on port 53; other lines ignored")
    func resolvConf() throws {
        try withResolvConf("""
        # generated
        search example.com
        nameserver 192.0.2.53
        ; comment
        nameserver\t2001:db8::53
        nameserver fe80::1%eth0
        options ndots:2 timeout:1

        """) { path in
            let configuration = try DNSResolverConfiguration.systemDefault(resolvConf: path)
            #expect(configuration.nameservers.map(\.ipAddress) == ["192.0.2.53", "2001:db8::53"])
            #expect(configuration.nameservers.map(\.port) == [53, 53])
            #expect(configuration.timeout == .seconds(2))
            #expect(configuration.attempts == 2)
            #expect(configuration.cacheCapacity == 10_000)
        }
    }

    @Test("A resolv.conf without nameservers means 127.0.0.1, as in the C library")
    func emptyResolvConf() throws {
        try withResolvConf("search example.com\n") { path in
            let configuration = try DNSResolverConfiguration.systemDefault(resolvConf: path)
            #expect(configuration.nameservers.map(\.ipAddress) == ["127.0.0.1"])
        }
    }

    @Test("A missing resolv.conf is an error naming the file")
    func missingResolvConf() {
        #expect(throws: DNSConfigurationError.self) {
            try DNSResolverConfiguration.systemDefault(resolvConf: "/nonexistent/resolv.conf")
        }
    }
}

@Suite("Addresses")
struct DNSAddressTests {
    @Test("IPv6 text follows RFC 5952", arguments: [
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("::", "::"),
        ("::1", "::1"),
        ("fe80::", "fe80::"),
        ("2001:db8:0:0:1:0:0:0", "2001:db8:0:0:1::"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("2001:DB8::ABCD", "2001:db8::abcd"),
    ])
    func ipv6Text(input: String, expected: String) throws {
        let address = try #require(DNSAddress(input))
        #expect(address.description == expected)
    }

    @Test("Reverse names for PTR")
    func reverseNames() throws {
        #expect(DNSAddress.v4([192, 0, 2, 1]).reverseName == "1.2.0.192.in-addr.arpa")
        let v6 = try #require(DNSAddress("2001:db8::567:89ab"))
        #expect(v6.reverseName == "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }

    @Test("Socket addresses carry the port")
    func socketAddress() throws {
        let v4 = try DNSAddress.v4([192, 0, 2, 1]).socketAddress(port: 25)
        #expect(v4.ipAddress == "192.0.2.1")
        #expect(v4.port == 25)
        let v6 = try #require(DNSAddress("2001:db8::1")).socketAddress(port: 587)
        #expect(v6.ipAddress == "2001:db8::1")
        #expect(v6.port == 587)
    }
}
