import Foundation
import Testing

/// A stop is prompt: no service waits out a timer of its own before it lets
/// go (`tern serve` under systemd, and every test that restarts a server).
@Suite("Shutdown")
struct ShutdownTests {
    @Test("An idle server stops within a second of a graceful shutdown")
    func idleStopIsPrompt() async throws {
        let server = try await TestServer.start()
        // Every service is in its idle wait by now (the accounts watcher
        // looks every 2 s).
        try await Task.sleep(for: .milliseconds(300))
        let took = await ContinuousClock().measure { await server.stop() }
        #expect(took < .seconds(1), "stopping took \(took)")
    }
}
