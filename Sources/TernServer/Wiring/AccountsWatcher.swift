import Logging
import ServiceLifecycle
import TernAccounts

/// Re-reads the users and aliases files when they change, without a
/// restart; a broken file keeps the last good one and the log says why.
/// Checks every 2 seconds (a stat of two files); a graceful shutdown ends
/// the wait at once, so a stop never waits out the interval.
struct AccountsWatcher: Service {
    let store: AccountsStore
    let logger: Logger
    var interval: Duration = .seconds(2)

    func run() async throws {
        let interval = self.interval
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { return }
            switch store.reloadIfChanged() {
            case .unchanged: break
            case .reloaded(let warnings):
                logger.notice("accounts reloaded", metadata: ["users": "\(store.accounts.users.count)"])
                for w in warnings { logger.warning("\(w)") }
            case .failed(let error):
                logger.error("accounts file broken, keeping the last good one: \(error)")
            }
        }
    }
}
