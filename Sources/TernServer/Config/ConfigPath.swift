import Foundation

/// Paths in the configuration: relative ones are taken from the folder of
/// the configuration file, then everything is made absolute and tidy
/// (`.` and `..` removed, no doubled or trailing slashes). Purely lexical:
/// nothing is looked up on disk, symbolic links are left alone.
enum ConfigPath {
    /// `path` made absolute against `base` (itself made absolute against the
    /// current directory when it is not).
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        return normalize(absolute(base) + "/" + path)
    }

    /// `path` made absolute against the current directory.
    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return normalize(path) }
        return normalize(FileManager.default.currentDirectoryPath + "/" + path)
    }

    /// The folder holding `file`, absolute.
    static func directory(of file: String) -> String {
        let full = absolute(file)
        guard let slash = full.lastIndex(of: "/"), slash != full.startIndex else { return "/" }
        return String(full[..<slash])
    }

    /// Removes `.`, empty components and `..` (which stops at the root).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
