import Foundation
import Testing

/// A stop is prompt: no service waits out a timer of its own before it lets
/// go (`tern serve` under systemd, and every test that restarts a server).
@Suite("Shutdown")
struct ShutdownTests {
    @Test("A graceful shutdown ends every service's idle wait: an hour-long watcher interval does not hold the stop",
          .timeLimit(.minutes(1)))
    func idleStopIsPrompt() async throws {
        let server = try await TestServer.start(options: { options in
            options.accountsCheckInterval = .seconds(3600)
            options.pickupInterval = .seconds(3600)
        })
        // Every service is in its idle wait once the first pickup scan has run.
        let pickup = server.directory.appendingPathComponent("state/pickup").path
        #expect(await waitUntil { FileManager.default.fileExists(atPath: pickup) })
        // Not a timing: a service that slept out its interval would take an hour.
        let took = await ContinuousClock().measure { await server.stop() }
        #expect(took < .seconds(60), "stopping took \(took)")
    }
}
