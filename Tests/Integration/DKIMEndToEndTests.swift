import Foundation
import NIOCore
import NIOPosix
import TernDNS
import Testing
import TernMailAuth
import TernServer
import TernTestSupport

/// Tern A (tern.test, 127.0.0.1) signs what its users submit; Tern B
/// (b.test, 127.0.0.2) verifies what arrives on port 25. SPF, DKIM keys and
/// DMARC for tern.test are published on a real nsd.
@Suite("DKIM signing and verifying between two Terns", .serialized)
struct DKIMEndToEndTests {
    @Test("Submitted to A for a user of B: arrives with spf=pass, dkim=pass (RSA and Ed25519) and dmarc=pass; a changed body fails DKIM")
    func signedAndVerified() async throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("tern-dkim-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: keys) }
        let store = DKIMKeyStore(directory: keys.path)
        let rsa = try store.generate(domain: "tern.test", selector: "rsa1", algorithm: .rsaSHA256)
        let ed = try store.generate(domain: "tern.test", selector: "ed1", algorithm: .ed25519SHA256)
        let nsd = try NSDServer(zones: [
            "tern.test": OutboundTests.zone("tern.test", [
                "@ IN TXT \"v=spf1 ip4:127.0.0.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=reject\"",
                rsa.zoneLine, ed.zoneLine]),
            "b.test": OutboundTests.zone("b.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.2"]),
        ])
        let port = nsd.port
        let nameserver = Configuration.Endpoint(address: "127.0.0.1", port: port, isIPv6: false)
        let receiver = try await TestServer.start(domain: "b.test", host: "127.0.0.2") { c in
            c.dns.nameservers = [nameserver]
            c.checks.spf = .annotate
            c.checks.dkim = .verify
            c.checks.dmarc = .enforce
        }
        let mxPort = receiver.mxPort
        let sender = try await TestServer.start { c in
            c.dns.nameservers = [nameserver]
            c.delivery.mxPort = mxPort
            c.delivery.sourceAddress = "127.0.0.1"
            c.dkim.keys = keys.path
        }
        defer { nsd.stop(); Task { await sender.stop(); await receiver.stop() } }

        _ = try await OutboundTests.submit(sender, to: ["user@b.test"], from: "user@tern.test",
                                           body: "From: User <user@tern.test>\r\nTo: <user@b.test>\r\nSubject: signed\r\n\r\nhello from A\r\n")
        let arrived = await receiver.waitForMessages("user", count: 1)
        let head = ChecksTests.header(arrived.first ?? "")
        #expect(head.contains("dkim=pass"), "\(head)")
        #expect(head.components(separatedBy: "dkim=pass").count == 3, "both signatures pass")
        #expect(head.contains("header.d=tern.test"))
        #expect(head.contains("header.a=ed25519-sha256"))
        #expect(head.contains("header.a=rsa-sha256"))
        #expect(head.contains("spf=pass"))
        #expect(head.contains("dmarc=pass"))
        #expect(head.components(separatedBy: "DKIM-Signature:").count == 3)

        // The same signed header with another body, straight to B's port 25
        // from an address SPF allows: DKIM fails, DMARC still passes on SPF.
        let signatures = (arrived.first ?? "").components(separatedBy: "\n").drop { !$0.hasPrefix("DKIM-Signature:") }
        var signatureLines: [String] = []
        for line in signatures {
            if line.hasPrefix("DKIM-Signature:") || line.hasPrefix("\t") || line.hasPrefix(" ") {
                signatureLines.append(line)
            } else {
                break
            }
        }
        let changed = signatureLines.joined(separator: "\r\n") + "\r\nFrom: User <user@tern.test>\r\nTo: <user@b.test>\r\nSubject: signed\r\n\r\nhello from someone else\r\n"
        let c = try await SMTPTestClient.connect(port: receiver.mxPort, host: "127.0.0.2")
        _ = try await c.readReply()
        _ = try await c.command("EHLO mx.tern.test")
        #expect(try await c.command("MAIL FROM:<user@tern.test>").code == 250)
        #expect(try await c.command("RCPT TO:<alice@b.test>").code == 250)
        #expect(try await c.command("DATA").code == 354)
        #expect(try await c.command(changed + ".").code == 250)
        let tampered = ChecksTests.header(await receiver.waitForMessages("alice", count: 1).first ?? "")
        #expect(tampered.contains("dkim=fail"), "\(tampered)")
        #expect(!tampered.contains("dkim=pass"))
        #expect(tampered.contains("dmarc=pass"))

        // A bounce A writes itself (B refuses nobody@b.test) is signed too,
        // with tern.test's keys (From: MAILER-DAEMON@mx.tern.test aligns).
        _ = try await OutboundTests.submit(sender, to: ["nobody@b.test"], from: "user@tern.test",
                                           body: "From: <user@tern.test>\r\nSubject: to nobody\r\n\r\nhi\r\n")
        let bounce = await sender.waitForMessages("user", count: 1).first ?? ""
        #expect(bounce.contains("Return-Path: <>"))
        #expect(bounce.contains("DKIM-Signature:"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { Task { try? await group.shutdownGracefully() } }
        let resolver = DNSResolver(configuration: DNSResolverConfiguration(
            nameservers: [try SocketAddress(ipAddress: "127.0.0.1", port: port)]), eventLoopGroup: group)
        let crlf = Array(bounce.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let verdicts = await DKIMVerifier(resolver: resolver).verify(crlf)
        #expect(verdicts.count == 2)
        #expect(verdicts.allSatisfy { $0.verdict == .pass && $0.domain == "tern.test" }, "\(verdicts)")
        await resolver.shutdown()
    }
}
