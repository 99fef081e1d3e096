import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

extension Server {
    /// Reads again what can change under a running server without dropping
    /// a session: the users and aliases files, the TLS certificate and key
    /// (new connections get the new ones, open sessions keep theirs), and
    /// the configuration file, which is checked and compared: settings that
    /// differ from the running ones are named as needing a restart. DKIM
    /// keys need nothing: they are read from disk for each signature.
    /// Returns one line per thing done, for the log and `tern reload`.
    public func reload() async -> [String] {
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
        if let file = options.configurationFile {
            do {
                let fresh = try Configuration.load(file: file)
                let changed = Self.changedKeys(from: configuration, to: fresh)
                report.append(changed.isEmpty ? "\(file) checked: no setting changed"
                              : "\(file) checked; these changes take effect at the next restart: "
                                + changed.joined(separator: ", "))
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
