/// Something `Spool.recover()` found and dealt with. None of these stops
/// recovery; the caller logs them.
public enum SpoolRecoveryEvent: Hashable, Sendable, CustomStringConvertible {
    /// A file in `tmp/` left by a crash during accept or update.
    case removedTemporaryFile(name: String)
    /// A message in `msg/` without a record: never acknowledged (a crash
    /// during accept) or already completed (a crash during complete).
    case removedOrphanMessage(name: String)
    /// A record, and its message if any, moved to `corrupt/<name>.env` and
    /// `corrupt/<name>.msg` because it could not be trusted.
    case setAside(name: String, reason: String)

    public var description: String {
        switch self {
        case .removedTemporaryFile(let name): return "removed leftover tmp/\(name)"
        case .removedOrphanMessage(let name): return "removed message msg/\(name) that has no record"
        case .setAside(let name, let reason): return "moved env/\(name) to corrupt/: \(reason)"
        }
    }
}

extension Spool {
    /// Brings the spool back to a consistent state after a restart or a
    /// crash and returns every committed entry, oldest first.
    ///
    /// - removes everything in `tmp/` except the files of accepts and
    ///   updates this process is making right now;
    /// - sets aside every record that does not decode, does not match its
    ///   file name, or whose message is missing or of the wrong size — with
    ///   its message, to `corrupt/`, for an administrator to look at;
    /// - removes every message that has no record and that no accept in
    ///   this process is committing right now.
    ///
    /// Throws only when a directory cannot be read or changed at all.
    public func recover(onEvent report: (SpoolRecoveryEvent) -> Void = { _ in }) throws(SpoolError) -> [SpoolEntry] {
        do {
            return try recoverFiles(report)
        } catch {
            throw SpoolError(error)
        }
    }

    private func recoverFiles(_ report: (SpoolRecoveryEvent) -> Void) throws(SystemCallError) -> [SpoolEntry] {
        for name in try FileSystem.list(tmpDirectory).sorted() where !isBusy(name.prefix(QueueID.length)) {
            try FileSystem.remove("\(tmpDirectory)/\(name)")
            report(.removedTemporaryFile(name: name))
        }

        var entries: [SpoolEntry] = []
        var setAside = false
        for name in try FileSystem.list(recordDirectory).sorted() {
            switch try examine(recordNamed: name) {
            case .success(let entry):
                entries.append(entry)
            case .failure(let reason):
                try FileSystem.rename("\(recordDirectory)/\(name)", to: "\(corruptDirectory)/\(name).env")
                let message = "\(messageDirectory)/\(name)"
                if try FileSystem.kind(of: message) != .missing {
                    try FileSystem.rename(message, to: "\(corruptDirectory)/\(name).msg")
                }
                setAside = true
                report(.setAside(name: name, reason: reason.text))
            }
        }
        if setAside {
            try FileSystem.syncDirectory(corruptDirectory)
            try FileSystem.syncDirectory(recordDirectory)
        }

        let committed = Set(entries.map(\.id.text))
        var removed = false
        for name in try FileSystem.list(messageDirectory).sorted() where !committed.contains(name) {
            // An accept of this process may be between renaming the message
            // and renaming the record, or may have finished since env/ was
            // listed: it marks itself idle only after the record is in place,
            // so check busy first, then the record.
            if isBusy(name) { continue }
            if try FileSystem.kind(of: "\(recordDirectory)/\(name)") != .missing { continue }
            try FileSystem.remove("\(messageDirectory)/\(name)")
            removed = true
            report(.removedOrphanMessage(name: name))
        }
        if removed || setAside { try FileSystem.syncDirectory(messageDirectory) }
        return entries
    }

    struct Distrust: Error {
        var text: String
    }

    /// Reads one record file and checks it against its name and its message.
    private func examine(recordNamed name: String) throws(SystemCallError) -> Result<SpoolEntry, Distrust> {
        guard let id = QueueID(name) else { return .failure(Distrust(text: "the name is not a queue ID")) }
        let entry: SpoolEntry
        do {
            entry = try load(id)
        } catch {
            switch error {
            case .system(let operation, let path, let e): throw SystemCallError(operation, path: path, errno: e)
            case .corruptRecord(_, let reason): return .failure(Distrust(text: reason))
            case .notFound: return .failure(Distrust(text: "the record vanished"))
            case .invalidEnvelope(let reason): return .failure(Distrust(text: reason))
            }
        }
        switch try FileSystem.kind(of: messagePath(id)) {
        case .regular(let size) where size == entry.messageSize:
            return .success(entry)
        case .regular(let size):
            return .failure(Distrust(text: "the message has \(size) bytes, the record says \(entry.messageSize)"))
        case .missing:
            return .failure(Distrust(text: "the message file is missing"))
        case .directory, .other:
            return .failure(Distrust(text: "the message is not a regular file"))
        }
    }
}
