import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `[log] file`: the log written to a file as well as to standard error,
/// one line per event. Opened for appending; `reopen()` (on reload) starts
/// a new file after logrotate has moved the old one away.
public final class LogFile: Sendable {
    public let path: String
    private let fd: Mutex<Int32>

    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(path: String) throws {
        self.path = path
        self.fd = Mutex(try Self.open(path))
    }

    private static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw OpenError(description: "[log] file \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Opens the path again (the old file stays with whoever moved it).
    public func reopen() throws {
        let fresh = try Self.open(path)
        let old = fd.withLock { fd in
            defer { fd = fresh }
            return fd
        }
        close(old)
    }

    /// Appends one line; a line is written with a single write(2), so lines
    /// from several threads never interleave.
    func write(_ line: String) {
        let bytes = Array(line.utf8)
        fd.withLock { fd in
            _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        }
    }

    deinit {
        fd.withLock { close($0) }
    }
}

/// Writes log events to a `LogFile` in the same shape as the standard-error
/// lines: `time level label: key=value … [source] message`.
public struct FileLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let file: LogFile

    public init(label: String, file: LogFile, level: Logger.Level) {
        self.label = label
        self.file = file
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let line = "\(time) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)\n"
        file.write(line.replacingOccurrences(of: "\n", with: " ", options: [], range: line.startIndex..<line.index(before: line.endIndex)))
    }
}
