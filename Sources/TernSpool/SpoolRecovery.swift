#if canImport(Glibc)
import Glibc
#endif

/// Something `Spool.recover()` found and dealt with. None of these stops
/// recovery; the caller logs them.
public enum SpoolRecoveryEvent: Hashable, Sendable, CustomStringConvertible {
    /// A file in `tmp/` left by a crash during accept or update.
    case removedTemporaryFile(name: String)
    /// A state file in `state/` without its queue file: left by a crash
    /// during `complete` (the entry was finished).
    case removedOrphanState(name: String)
    /// A queue file, and its state file if any, moved to `corrupt/<name>`
    /// and `corrupt/<name>.state` because it could not be trusted.
    case setAside(name: String, reason: String)
    /// A state file moved to `corrupt/<name>.state` because it could not be
    /// trusted; the entry goes on from its queue file's header, every
    /// recipient not yet known to be delivered pending again (duplicates
    /// are possible, nothing is lost).
    case stateSetAside(name: String, reason: String)

    public var description: String {
        switch self {
        case .removedTemporaryFile(let name): return "removed leftover tmp/\(name)"
        case .removedOrphanState(let name): return "removed state/\(name) that has no queue file"
        case .setAside(let name, let reason): return "moved env/\(name) to corrupt/: \(reason)"
        case .stateSetAside(let name, let reason):
            return "moved state/\(name) to corrupt/ and restarted the entry from its header: \(reason)"
        }
    }
}

extension Spool {
    /// Brings the spool back to a consistent state after a restart or a
    /// crash and returns every committed entry, oldest first.
    ///
    /// - removes everything in `tmp/` except the files of accepts and
    ///   updates this process is making right now;
    /// - every queue file in `env/` is a committed entry; one whose header
    ///   does not decode, does not match its file name, or does not match
    ///   the file's size is set aside to `corrupt/` (with its state file),
    ///   for an administrator to look at;
    /// - a state file that cannot be trusted is set aside to `corrupt/` and
    ///   its entry goes on from its header;
    /// - removes every state file whose queue file is gone;
    /// - leaves `free/` alone: its files are not entries, whatever they
    ///   hold (a crash in the middle of rewriting one leaves anything there).
    ///
    /// Throws only when a directory cannot be read or changed at all.
    ///
    /// `onEntry` sees each entry as soon as it is read, so that delivery can
    /// start before a large spool has been read to its end (the entries are
    /// also returned at the end).
    public func recover(onEvent report: (SpoolRecoveryEvent) -> Void = { _ in },
                        onEntry: (SpoolEntry) -> Void = { _ in }) throws(SpoolError) -> [SpoolEntry] {
        do {
            return try recoverFiles(report, onEntry)
        } catch {
            throw SpoolError(error)
        }
    }

    private func recoverFiles(_ report: (SpoolRecoveryEvent) -> Void,
                              _ onEntry: (SpoolEntry) -> Void) throws(SystemCallError) -> [SpoolEntry] {
        for name in try FileSystem.list(tmpDirectory).sorted() where !isBusy(name.prefix(QueueID.length)) {
            try FileSystem.remove("\(tmpDirectory)/\(name)")
            report(.removedTemporaryFile(name: name))
        }

        var entries: [SpoolEntry] = []
        var changedQueue = false
        var changedState = false
        var changedCorrupt = false
        for name in try FileSystem.list(queueDirectory).sorted() {
            guard let examined = try examine(queueFileNamed: name) else { continue }
            switch examined {
            case .failure(let reason):
                try FileSystem.rename("\(queueDirectory)/\(name)", to: "\(corruptDirectory)/\(name)")
                let state = "\(stateDirectory)/\(name)"
                if try FileSystem.kind(of: state) != .missing {
                    try FileSystem.rename(state, to: "\(corruptDirectory)/\(name).state")
                    changedState = true
                }
                changedQueue = true
                changedCorrupt = true
                report(.setAside(name: name, reason: reason.text))
            case .success(var entry):
                let state = statePath(entry.id)
                let bytes: [UInt8]
                do {
                    bytes = try FileSystem.readFile(state)
                } catch {
                    if error.errno != ENOENT { throw error }
                    entries.append(entry)
                    onEntry(entry)
                    continue
                }
                if let problem = overlay(bytes, on: &entry) {
                    try FileSystem.rename(state, to: "\(corruptDirectory)/\(name).state")
                    changedState = true
                    changedCorrupt = true
                    report(.stateSetAside(name: name, reason: problem))
                }
                entries.append(entry)
                onEntry(entry)
            }
        }

        let committed = Set(entries.map(\.id.text))
        for name in try FileSystem.list(stateDirectory).sorted() where !committed.contains(name) {
            // An update of this process may be writing it right now, or an
            // accept may have committed the entry since env/ was listed:
            // check busy first, then the queue file.
            if isBusy(name) { continue }
            if try FileSystem.kind(of: "\(queueDirectory)/\(name)") != .missing { continue }
            try FileSystem.remove("\(stateDirectory)/\(name)")
            changedState = true
            report(.removedOrphanState(name: name))
        }
        if changedCorrupt { try FileSystem.syncDirectory(corruptDirectory) }
        if changedQueue { try FileSystem.syncDirectory(queueDirectory) }
        if changedState { try FileSystem.syncDirectory(stateDirectory) }
        return entries
    }

    struct Distrust: Error {
        var text: String
    }

    /// Reads one queue file's header and checks it against its name and
    /// size; nil when the file is gone (completed since env/ was listed).
    private func examine(queueFileNamed name: String) throws(SystemCallError) -> Result<SpoolEntry, Distrust>? {
        guard let id = QueueID(name) else { return .failure(Distrust(text: "the name is not a queue ID")) }
        do {
            return .success(try loadHeader(id))
        } catch {
            switch error {
            case .system(let operation, let path, let e): throw SystemCallError(operation, path: path, errno: e)
            case .corruptRecord(_, let reason): return .failure(Distrust(text: reason))
            case .notFound: return nil
            case .invalidEnvelope(let reason): return .failure(Distrust(text: reason))
            }
        }
    }
}
