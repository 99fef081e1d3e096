import Synchronization
import TernSMTP

/// What `AccountsStore.reloadIfChanged()` and `reload()` did.
public enum ReloadOutcome: Sendable, Hashable {
    /// Neither file changed since the last load attempt.
    case unchanged
    /// A new snapshot is in use; log its warnings.
    case reloaded(warnings: [AccountsWarning])
    /// A file could not be used; the previous snapshot is still in use. Log
    /// the error (it names the file and line). The same broken version is
    /// reported once: `reloadIfChanged` tries again only when a file changes.
    case failed(AccountsFileError)
}

/// The current `Accounts` snapshot, shared by every connection and the
/// delivery workers, and replaced whole when the users or aliases file
/// changes. Readers never see a half-loaded state and never wait for a
/// reload in progress: loading happens outside the snapshot lock.
///
/// Paths: "" means "none" (no users, or no aliases). A non-empty path that
/// does not exist makes `init` fail: a mistyped path in the configuration
/// should stop the server, not silently reject every recipient. After
/// start-up, a file that disappears is a failed reload like any other: the
/// last good snapshot stays in use.
public final class AccountsStore: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The local domains (configuration key `domains`).
        public var domains: [Domain]
        /// `[accounts] users`; "" = no users file.
        public var usersPath: String
        /// `[accounts] aliases`; "" = no aliases file.
        public var aliasesPath: String
        /// `[accounts] subaddress_separator`; default "+", "" = off.
        public var subaddressSeparators: String

        public init(domains: [Domain], usersPath: String, aliasesPath: String, subaddressSeparators: String = "+") {
            self.domains = domains
            self.usersPath = usersPath
            self.aliasesPath = aliasesPath
            self.subaddressSeparators = subaddressSeparators
        }
    }

    /// Which versions of the files the current state comes from (or failed on).
    private struct Loaded: Sendable, Equatable {
        var users: FileIdentity?
        var aliases: FileIdentity?
    }

    /// The domains and files in use (`reconfigure` changes them).
    public var configuration: Configuration { current.withLock { $0 } }
    private let current: Mutex<Configuration>
    private let snapshot: Mutex<Accounts>
    /// Held for the whole of a reload, so that two reloads do not interleave.
    private let loaded: Mutex<Loaded>

    /// Loads both files; throws if either is missing (with a non-empty path)
    /// or broken. Log `accounts.warnings` after start-up.
    public init(_ configuration: Configuration) throws(AccountsFileError) {
        self.current = Mutex(configuration)
        let (accounts, versions) = try AccountsStore.load(configuration)
        self.snapshot = Mutex(accounts)
        self.loaded = Mutex(versions)
    }

    /// The snapshot to answer from. Take it once per decision (e.g. per
    /// RCPT) and use that value; it never changes under you.
    public var accounts: Accounts {
        snapshot.withLock { $0 }
    }

    /// Re-reads the files if one of them changed (device, inode, size or
    /// modification time differ from the version last read or tried).
    public func reloadIfChanged() -> ReloadOutcome {
        loaded.withLock { last in
            let now: Loaded
            do throws(AccountsFileError) {
                let configuration = self.configuration
                now = Loaded(users: try identity(of: configuration.usersPath),
                             aliases: try identity(of: configuration.aliasesPath))
            } catch {
                return .failed(error)
            }
            if now == last { return .unchanged }
            return load(recordingFailureAs: now, into: &last)
        }
    }

    /// Re-reads both files now, changed or not.
    public func reload() -> ReloadOutcome {
        loaded.withLock { last in
            let configuration = self.configuration
            let now = Loaded(users: try? identity(of: configuration.usersPath),
                             aliases: try? identity(of: configuration.aliasesPath))
            return load(recordingFailureAs: now, into: &last)
        }
    }

    private func load(recordingFailureAs attempted: Loaded, into last: inout Loaded) -> ReloadOutcome {
        do throws(AccountsFileError) {
            let (accounts, versions) = try AccountsStore.load(self.configuration)
            snapshot.withLock { $0 = accounts }
            last = versions
            return .reloaded(warnings: accounts.warnings)
        } catch {
            last = attempted
            return .failed(error)
        }
    }

    /// Switches to other domains or files and loads them; when they cannot
    /// be loaded, the current configuration and snapshot stay in use.
    public func reconfigure(_ configuration: Configuration) -> ReloadOutcome {
        loaded.withLock { last in
            do throws(AccountsFileError) {
                let (accounts, versions) = try AccountsStore.load(configuration)
                snapshot.withLock { $0 = accounts }
                current.withLock { $0 = configuration }
                last = versions
                return .reloaded(warnings: accounts.warnings)
            } catch {
                return .failed(error)
            }
        }
    }

    private func identity(of path: String) throws(AccountsFileError) -> FileIdentity? {
        path.isEmpty ? nil : try FileIdentity.current(path: path)
    }

    private static func load(_ configuration: Configuration) throws(AccountsFileError) -> (Accounts, Loaded) {
        var versions = Loaded()
        var users = UserTable.empty
        var aliases = AliasTable.empty
        if !configuration.usersPath.isEmpty {
            (users, versions.users) = try UserTable.read(path: configuration.usersPath)
        }
        if !configuration.aliasesPath.isEmpty {
            (aliases, versions.aliases) = try AliasTable.read(path: configuration.aliasesPath)
        }
        let accounts = Accounts(domains: configuration.domains, users: users, aliases: aliases,
                                subaddressSeparators: configuration.subaddressSeparators)
        return (accounts, versions)
    }
}
