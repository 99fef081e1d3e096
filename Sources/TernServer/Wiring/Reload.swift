import Foundation
import Logging
import ServiceLifecycle
import TernAccounts
import UnixSignals

extension Server {
    /// Reads again what can change under a running server without dropping
    /// a session: the users and aliases files, the TLS certificate and key
    /// (new connections get the new ones, open sessions keep theirs), and
    /// the configuration file: what `appliesLive` names takes effect for
    /// new sessions, other changed settings are named as waiting for a
    /// restart. DKIM keys need nothing: they are read for each signature.
    /// Returns one line per thing done, for the log and `tern reload`.
    public func reload() async -> [String] {
        await reload(configurationFile: options.configurationFile)
    }

    func reload(configurationFile: String?) async -> [String] {
        var report: [String] = []
        switch accounts.reload() {
        case .reloaded(let warnings):
            report.append("users and aliases read again" + (warnings.isEmpty ? "" : " (\(warnings.count) warnings)"))
        case .failed(let error):
            report.append("users and aliases NOT reloaded, the last good ones stay: \(error)")
        case .unchanged:
            report.append("users and aliases unchanged")
        }
        if let tls {
            do {
                try tls.reload()
                report.append("TLS certificate \(tls.certificatePath) read again")
            } catch {
                report.append("TLS certificate NOT reloaded, the old one stays: \(error)")
            }
        }
        if let file = configurationFile {
            do {
                report += try apply(Configuration.load(file: file), from: file)
            } catch {
                report.append("\(file) has errors, nothing from it applied:\n\(error)")
            }
        }
        if let file = options.logFile {
            do {
                try file.reopen()
                report.append("log file \(file.path) opened again")
            } catch {
                report.append("log file NOT opened again, still writing the old one: \(error)")
            }
        }
        report.append("DKIM keys are read for each signature: nothing to reload")
        for line in report { logger.notice("reload: \(line)") }
        return report
    }

    /// Settings a reload puts into effect: the local domains and account
    /// files, the checks, per-session limits and timeouts, DKIM keys and
    /// reverse lookups. Every other change waits for a restart.
    static func appliesLive(_ key: String) -> Bool {
        let live: Set<String> = ["domains", "limits.message_size", "limits.recipients", "limits.errors",
                                 "limits.received_headers", "dkim.keys", "dns.reverse_lookup"]
        return live.contains(key) || ["accounts.", "checks.", "timeouts."].contains { key.hasPrefix($0) }
    }

    /// Applies what a reload can of `fresh` (read from `file`): new account
    /// files and domains, then new listener contexts for new connections.
    /// Returns what it did and what waits for a restart.
    private func apply(_ fresh: Configuration, from file: String) throws -> [String] {
        let before = applied.withLock { $0 }
        let live = Self.changedKeys(from: before, to: fresh).filter(Self.appliesLive)
        let later = Self.changedKeys(from: configuration, to: fresh).filter { !Self.appliesLive($0) }
        var report: [String] = []
        if !live.isEmpty {
            if live.contains(where: { $0 == "domains" || $0.hasPrefix("accounts.") }) {
                let accountsConfiguration = AccountsStore.Configuration(
                    domains: fresh.domains, usersPath: fresh.accounts.users, aliasesPath: fresh.accounts.aliases ?? "",
                    subaddressSeparators: fresh.accounts.subaddressSeparator)
                if case .failed(let error) = accounts.reconfigure(accountsConfiguration) {
                    return ["\(file): the new accounts settings cannot be used, nothing from it applied: \(error)"]
                }
            }
            // Only the settings that apply live: the rest of `fresh` waits for a restart.
            var next = before
            next.domains = fresh.domains
            next.accounts = fresh.accounts
            next.checks = fresh.checks
            next.limits.messageSize = fresh.limits.messageSize
            next.limits.recipients = fresh.limits.recipients
            next.limits.errors = fresh.limits.errors
            next.limits.receivedHeaders = fresh.limits.receivedHeaders
            next.timeouts = fresh.timeouts
            next.dkim = fresh.dkim
            next.dns.reverseLookup = fresh.dns.reverseLookup
            inbound.update(try Self.listenerContexts(next, parts: parts))
            applied.withLock { $0 = next }
            report.append("\(file) read; applied for new sessions: " + live.joined(separator: ", "))
        } else {
            report.append("\(file) read; nothing to apply")
        }
        if !later.isEmpty {
            report.append("changed in \(file), in effect after a restart: " + later.joined(separator: ", "))
        }
        return report
    }

    /// The keys (`section.key`) whose effective values differ.
    static func changedKeys(from old: Configuration, to new: Configuration) -> [String] {
        func settings(_ c: Configuration) -> [String: [String]] {
            var section = ""
            var values: [String: [String]] = [:]
            for line in c.redactedDescription.split(separator: "\n") {
                let text = line.trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("[") {
                    section = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                    continue
                }
                guard let eq = text.firstIndex(of: "=") else { continue }
                let key = text[..<eq].trimmingCharacters(in: .whitespaces)
                values[section.isEmpty ? key : "\(section).\(key)", default: []].append(String(text[text.index(after: eq)...]))
            }
            return values
        }
        let before = settings(old), after = settings(new)
        return Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
    }
}

/// SIGHUP → `Server.reload()`.
struct ReloadOnSignal: Service {
    let signals: [UnixSignal]
    let reload: @Sendable () async -> Void

    func run() async throws {
        // A service that returns ends the whole group: without signals, wait for the end.
        guard !signals.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        let sequence = await UnixSignalsSequence(trapping: signals)
        try await cancelWhenGracefulShutdown {
            for await _ in sequence { await reload() }
        }
    }
}
