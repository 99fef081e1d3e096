import Logging
import ServiceLifecycle
import TernAccounts

/// Re-reads the users and aliases files when they change, without a
/// restart; a broken file keeps the last good one and the log says why.
/// Checks every 2 seconds (a stat of two files).
struct AccountsWatcher: Service {
    let store: AccountsStore
    let logger: Logger
    var interval: Duration = .seconds(2)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
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
