import Foundation

/// A firewall rule that silently drops TCP packets to one loopback address
/// and port, as a provider that blocks port 25 does: connections there time
/// out instead of being refused. It lives in an nftables table of its own
/// (named after this process), which `remove()` deletes whole; tests call
/// it in a `defer`, so the rule goes even when the test fails. Needs root
/// and nft (Debian package nftables, scripts/install-test-deps).
struct DropRule {
    static let nft = "/usr/sbin/nft"

    let table: String
    let address: String
    let port: Int

    enum Failure: Error, CustomStringConvertible {
        case nft(String)
        var description: String {
            switch self { case .nft(let why): "nft failed: \(why)" }
        }
    }

    /// Adds the rule. A table left by an earlier run of this process id is
    /// replaced.
    init(address: String, port: Int) throws {
        self.address = address
        self.port = port
        self.table = "tern_test_drop_\(getpid())"
        guard FileManager.default.isExecutableFile(atPath: Self.nft) else {
            throw Failure.nft("\(Self.nft) is not installed (Debian package nftables; scripts/install-test-deps)")
        }
        _ = try? Self.run(["delete", "table", "inet", table])
        try Self.run(["add", "table", "inet", table])
        do {
            try Self.run(["add", "chain", "inet", table, "output",
                          "{ type filter hook output priority 0 ; policy accept ; }"])
            try Self.run(["add", "rule", "inet", table, "output", "ip", "daddr", address, "tcp", "dport", "\(port)", "drop"])
        } catch {
            remove()
            throw error
        }
    }

    /// Deletes the table and with it the rule.
    func remove() {
        _ = try? Self.run(["delete", "table", "inet", table])
    }

    /// Whether the table is still there (for the test that checks cleanup).
    var isInstalled: Bool {
        (try? Self.run(["list", "table", "inet", table])) != nil
    }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nft)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failure.nft("nft \(arguments.joined(separator: " ")): \(text)")
        }
        return text
    }
}
