import Foundation
import Testing
import TernServer
import TernTestSupport

/// The Prometheus endpoint (`[metrics] address`), scraped over real HTTP
/// after real SMTP traffic, its text parsed sample by sample. Each
/// `TestServer` counts into a registry of its own, so the values are exact.
@Suite("Metrics endpoint", .serialized)
struct MetricsTests {
    static let loopbackPortZero = Configuration.Endpoint(address: "127.0.0.1", port: 0, isIPv6: false)

    static func scrape(_ server: TestServer) async throws -> PrometheusExposition {
        let port = try #require(server.server.metricsEndpoint?.address.port)
        let response = try await HTTPTestClient.request("GET", "/metrics", port: port)
        #expect(response.status == 200)
        #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusExposition(response.body)
    }

    @Test("After traffic, /metrics counts connections, TLS, AUTH failures, messages, deliveries, the queue, DNS and SPF/DKIM/DMARC")
    func afterTraffic() async throws {
        let nsd = try NSDServer(zones: [
            "pass.test": OutboundTests.zone("pass.test", [
                "@ IN TXT \"v=spf1 ip4:127.0.0.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=reject\""]),
            "reject.test": OutboundTests.zone("reject.test", [
                "@ IN TXT \"v=spf1 ip4:192.0.2.1 -all\"", "_dmarc IN TXT \"v=DMARC1; p=reject\""]),
            // Its MX is this host on a port where nothing listens: remote delivery is deferred.
            "far.test": OutboundTests.zone("far.test", ["@ IN MX 10 mx", "mx IN A 127.0.0.1"]),
        ])
        defer { nsd.stop() }
        let dnsPort = nsd.port
        let server = try await TestServer.start { c in
            c.dns.nameservers = [Configuration.Endpoint(address: "127.0.0.1", port: dnsPort, isIPv6: false)]
            c.checks.spf = .annotate
            c.checks.dkim = .verify
            c.checks.dmarc = .enforce
            c.delivery.mxPort = 1
            c.metrics.address = Self.loopbackPortZero
        }
        defer { Task { await server.stop() } }

        // Port 25: an unknown user and a relay attempt refused at RCPT, then
        // a message that passes SPF and DMARC, delivered to a Maildir.
        let mx = try await SMTPTestClient.connect(port: server.mxPort)
        #expect(try await mx.readReply().code == 220)
        #expect(try await mx.command("EHLO client.test").code == 250)
        #expect(try await mx.command("MAIL FROM:<alice@pass.test>").code == 250)
        #expect(try await mx.command("RCPT TO:<nobody@tern.test>").code == 550)
        #expect(try await mx.command("RCPT TO:<friend@elsewhere.test>").code == 554)
        #expect(try await mx.command("RCPT TO:<user@tern.test>").code == 250)
        #expect(try await mx.command("DATA").code == 354)
        #expect(try await mx.command("From: <alice@pass.test>\r\nSubject: counted\r\n\r\nbody\r\n.").code == 250)
        _ = try? await mx.command("QUIT")
        // Port 25 again: SPF fails and DMARC p=reject refuses the message.
        #expect(try await ChecksTests.send(server, from: "bob@reject.test", headerFrom: "bob@reject.test").code == 550)

        // Submission: STARTTLS, one wrong password, then a message for a remote domain.
        let sub = try await SMTPTestClient.connect(port: server.submissionPort)
        _ = try await sub.readReply()
        _ = try await sub.command("EHLO client.test")
        #expect(try await sub.command("STARTTLS").code == 220)
        try await sub.startTLS(trust: server.certificatePEM)
        _ = try await sub.command("EHLO client.test")
        let wrong = Data("\0user@tern.test\0wrong".utf8).base64EncodedString()
        #expect(try await sub.command("AUTH PLAIN \(wrong)").code == 535)
        #expect(try await sub.command("AUTH PLAIN AHVzZXJAdGVybi50ZXN0AHNlY3JldA==").code == 235)
        #expect(try await sub.command("MAIL FROM:<user@tern.test>").code == 250)
        #expect(try await sub.command("RCPT TO:<friend@far.test>").code == 250)
        #expect(try await sub.command("DATA").code == 354)
        #expect(try await sub.command("From: <user@tern.test>\r\nSubject: out\r\n\r\nbody\r\n.").code == 250)
        _ = try? await sub.command("QUIT")

        // The local copy is delivered; the remote one is deferred (its state file written).
        #expect(await waitUntil { server.messages("user").count == 1 && !server.spoolStates.isEmpty })
        let m = try await Self.scrape(server)

        #expect(m.types["tern_connections_total"] == "counter")
        #expect(m.types["tern_queue_messages"] == "gauge")
        #expect(m.value("tern_connections_total", ["listener": "mx"]) == 2)
        #expect(m.value("tern_connections_total", ["listener": "submission"]) == 1)
        #expect(m.value("tern_connections_total", ["listener": "submissions"]) == 0)
        #expect(m.value("tern_tls_handshakes_total", ["listener": "submission", "version": "TLSv1.3"]) == 1)
        #expect(m.value("tern_auth_failures_total", ["listener": "submission"]) == 1)
        #expect(m.value("tern_auth_failures_total", ["listener": "mx"]) == 0)

        #expect(m.value("tern_messages_accepted_total", ["listener": "mx"]) == 1)
        #expect(m.value("tern_messages_accepted_total", ["listener": "submission"]) == 1)
        let rejected = { (reason: String) in
            m.value("tern_messages_rejected_total", ["listener": "mx", "reason": reason])
        }
        #expect(rejected("unknown_recipient") == 1)
        #expect(rejected("relay_denied") == 1)
        #expect(rejected("dmarc") == 1)
        #expect(rejected("spf") == 0)
        #expect(m.samples("tern_messages_rejected_total").map(\.value).reduce(0, +) == 3)

        #expect(m.value("tern_deliveries_total", ["destination": "local", "outcome": "delivered"]) == 1)
        #expect(m.value("tern_deliveries_total", ["destination": "remote", "outcome": "deferred"]) == 1)
        #expect(m.samples("tern_deliveries_total").map(\.value).reduce(0, +) == 2)
        #expect(m.value("tern_queue_messages") == 1)
        let age = try #require(m.value("tern_queue_oldest_message_age_seconds"))
        #expect(age >= 0 && age < 120)

        #expect(m.value("tern_spf_results_total", ["result": "pass"]) == 1)
        #expect(m.value("tern_spf_results_total", ["result": "fail"]) == 1)
        #expect(m.value("tern_dkim_results_total", ["result": "none"]) == 2)
        #expect(m.value("tern_dmarc_results_total", ["result": "pass"]) == 1)
        #expect(m.value("tern_dmarc_results_total", ["result": "fail"]) == 1)
        #expect((m.value("tern_dns_lookups_total", ["type": "MX", "result": "found"]) ?? 0) >= 1)
        #expect((m.value("tern_dns_lookups_total", ["type": "TXT", "result": "found"]) ?? 0) >= 2)
        #expect((m.value("tern_dns_queries_total") ?? 0) >= 3)
    }

    @Test("The queue gauges follow the spool: empty again once the message is delivered")
    func queueEmpties() async throws {
        let server = try await TestServer.start { $0.metrics.address = Self.loopbackPortZero }
        defer { Task { await server.stop() } }
        let before = try await Self.scrape(server)
        #expect(before.value("tern_queue_messages") == 0)
        #expect(before.value("tern_queue_oldest_message_age_seconds") == 0)
        let c = try await server.openTransaction()
        #expect(try await c.command("DATA").code == 354)
        #expect(try await c.command("Subject: once\r\n\r\nbody\r\n.").code == 250)
        #expect(await server.waitForMessages("user", count: 1).count == 1)
        let after = try await Self.scrape(server)
        #expect(after.value("tern_queue_messages") == 0)
        #expect(after.value("tern_deliveries_total", ["destination": "local", "outcome": "delivered"]) == 1)
    }

    @Test("Only GET and HEAD on /metrics: other paths are 404, other methods 405")
    func otherRequests() async throws {
        let server = try await TestServer.start { $0.metrics.address = Self.loopbackPortZero }
        defer { Task { await server.stop() } }
        let port = try #require(server.server.metricsEndpoint?.address.port)
        #expect(try await HTTPTestClient.request("GET", "/", port: port).status == 404)
        #expect(try await HTTPTestClient.request("GET", "/metricsx", port: port).status == 404)
        let post = try await HTTPTestClient.request("POST", "/metrics", port: port)
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try await HTTPTestClient.request("HEAD", "/metrics", port: port)
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
        // A query string is ignored, as Prometheus servers may add one.
        #expect(try await HTTPTestClient.request("GET", "/metrics?name[]=x", port: port).status == 200)
    }

    @Test("With [metrics] address empty (the default) nothing listens for metrics")
    func offByDefault() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        #expect(server.server.configuration.metrics.address == nil)
        #expect(server.server.metricsEndpoint == nil)
    }

    @Test("A metrics port in use stops the start with [metrics] and the address named")
    func portInUse() async throws {
        let holder = try await TestServer.start { $0.metrics.address = Self.loopbackPortZero }
        defer { Task { await holder.stop() } }
        let busy = try #require(holder.server.metricsEndpoint?.address.port)
        do {
            let server = try await TestServer.start {
                $0.metrics.address = Configuration.Endpoint(address: "127.0.0.1", port: busy, isIPv6: false)
            }
            await server.stop()
            Issue.record("started with the metrics port in use")
        } catch {
            #expect("\(error)" == "[metrics] cannot listen on 127.0.0.1:\(busy): address already in use")
        }
    }
}
