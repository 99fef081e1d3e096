import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A fresh directory under the system's temporary folder, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/tern-accounts-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    func file(_ name: String) -> String { path + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: p))
        return p
    }

    func read(_ name: String) throws -> String {
        String(decoding: try Data(contentsOf: URL(fileURLWithPath: file(name))), as: UTF8.self)
    }

    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }

    func mode(_ name: String) -> mode_t? {
        var s = stat()
        guard stat(file(name), &s) == 0 else { return nil }
        return s.st_mode & 0o7777
    }

    /// Sets the file's modification time explicitly, so that a change is seen
    /// even when it lands in the same timestamp tick as the previous write.
    func setModificationTime(_ name: String, secondsSinceEpoch: Int) {
        var times = [timeval(tv_sec: secondsSinceEpoch, tv_usec: 0), timeval(tv_sec: secondsSinceEpoch, tv_usec: 0)]
        _ = utimes(file(name), &times)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs a program with `input` on stdin; nil when it is not installed or fails.
func runTool(_ executable: String, _ arguments: [String], input: String) -> String? {
    guard FileManager.default.isExecutableFile(atPath: executable) else { return nil }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try? stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { return nil }
    return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
