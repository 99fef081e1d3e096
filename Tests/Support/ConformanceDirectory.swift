import Foundation

/// Where the shared conformance data (`../shared/conformance/`) is:
/// `$TERN_CONFORMANCE_DIR`, or `shared/conformance` next to the repository
/// or further up, or `/work/shared/conformance`. Missing data fails the
/// tests that need it.
public enum ConformanceDirectory {
    public static var url: URL {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["TERN_CONFORMANCE_DIR"] { return URL(fileURLWithPath: env) }
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        for _ in 0..<8 {
            dir = dir.deletingLastPathComponent()
            let candidate = dir.appendingPathComponent("shared/conformance")
            if fm.fileExists(atPath: candidate.appendingPathComponent("smtp").path) { return candidate }
        }
        return URL(fileURLWithPath: "/work/shared/conformance")
    }
}
