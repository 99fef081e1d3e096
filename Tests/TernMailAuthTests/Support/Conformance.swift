import Foundation
import TernTestSupport

/// Reads the shared conformance data (`../shared/conformance/`), byte-exact.
/// YAML files are converted to JSON by the system Python's PyYAML
/// (`/usr/bin/python3`, Debian `python3-yaml`; scripts/install-test-deps
/// installs it). Missing data or a missing converter fails the tests that
/// need them.
enum Conformance {
    /// See `ConformanceDirectory`.
    static var directory: URL { ConformanceDirectory.url }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(relative)))
    }

    struct ConversionFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// Every document of a YAML file, as JSON values (dictionaries, arrays,
    /// strings, numbers, booleans, NSNull).
    static func yamlDocuments(_ relative: String) throws -> [Any] {
        let path = directory.appendingPathComponent(relative).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", """
            import sys, json, yaml
            with open(sys.argv[1], 'rb') as f:
                docs = list(yaml.safe_load_all(f))
            json.dump(docs, sys.stdout)
            """, path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ConversionFailed(description: "python3 yaml→json failed for \(relative) (is python3-yaml installed?): "
                                   + String(decoding: errors, as: UTF8.self))
        }
        guard let docs = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [Any] else {
            throw ConversionFailed(description: "\(relative): not a list of documents")
        }
        return docs
    }

    /// The first document as a dictionary.
    static func yaml(_ relative: String) throws -> [String: Any] {
        guard let doc = try yamlDocuments(relative).first as? [String: Any] else {
            throw ConversionFailed(description: "\(relative): first document is not a mapping")
        }
        return doc
    }
}

/// Accessors for JSON values read from YAML.
extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String? {
        switch self[key] {
        case let s as String: s
        case let n as NSNumber: n.stringValue
        default: nil
        }
    }
    func bool(_ key: String) -> Bool? { (self[key] as? NSNumber)?.boolValue }
    func int(_ key: String) -> Int? { (self[key] as? NSNumber)?.intValue }
    func dict(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
    func list(_ key: String) -> [Any]? { self[key] as? [Any] }
}
