#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The entry points: read a file (or take text), parse it as TOML, decode it,
// and throw every problem at once.
//
// SECURITY: reads exactly one file, the one it is given, bounded in size; it
// opens nothing else and contacts nothing. Values of settings are repeated in
// error messages only with control characters escaped, and never for keys
// that may hold a secret (see ConfigurationSchema.isSecret and the relay).

extension Configuration {
    /// The largest configuration file accepted.
    public static let maximumFileSize = 1 << 20

    /// Reads and decodes the configuration file at `path`. Relative paths in
    /// it are resolved against the file's folder.
    /// - Throws: every problem found, each naming `path`, the line and the key.
    public static func load(file path: String) throws(ConfigurationErrors) -> Configuration {
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let content): bytes = content
        case .failure(let problem): throw ConfigurationErrors([problem])
        }
        return try decode(bytes: bytes, file: path, baseDirectory: ConfigPath.directory(of: path))
    }

    /// Decodes configuration text.
    /// - Parameters:
    ///   - toml: the file's content.
    ///   - file: the name used in messages.
    ///   - baseDirectory: the folder relative paths are resolved against
    ///     (made absolute against the current directory if it is not).
    /// - Throws: every problem found.
    public init(toml: String, file: String = "tern.toml", baseDirectory: String) throws(ConfigurationErrors) {
        self = try Self.decode(bytes: Array(toml.utf8), file: file, baseDirectory: baseDirectory)
    }

    /// The shared path of `load` and `init(toml:)`; `machineHostname` is the
    /// default `hostname` (tests replace it).
    static func decode(bytes: [UInt8], file: String, baseDirectory: String,
                       machineHostname: String? = Configuration.machineHostname()) throws(ConfigurationErrors) -> Configuration {
        let root: TOMLTable
        do {
            root = try TOML.parse(bytes: bytes, file: file)
        } catch {
            throw ConfigurationErrors([
                ConfigurationError(file: file, line: error.line, column: error.column, message: error.message),
            ])
        }
        var decoder = ConfigurationDecoder(file: file, baseDirectory: ConfigPath.absolute(baseDirectory))
        guard let configuration = decoder.decode(root, machineHostname: machineHostname), decoder.errors.isEmpty else {
            var errors = decoder.sortedErrors
            if errors.isEmpty {
                errors = [ConfigurationError(file: file, message: "the configuration could not be decoded")]
            }
            throw ConfigurationErrors(errors)
        }
        return configuration
    }

    /// This machine's name from gethostname(2), or `nil`.
    static func machineHostname() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    /// The whole file, or an error naming it and saying why it cannot be read.
    static func readFile(_ path: String) -> Result<[UInt8], ConfigurationError> {
        func failure(_ reason: String) -> Result<[UInt8], ConfigurationError> {
            .failure(ConfigurationError(file: path, message: "cannot read the configuration file: \(reason)"))
        }
        guard !path.isEmpty else { return failure("no path given") }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return failure(String(cString: strerror(errno))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return failure(String(cString: strerror(errno)))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > maximumFileSize { return failure("it is larger than \(maximumFileSize) bytes") }
        }
        return .success(bytes)
    }
}
