import ArgumentParser
import Foundation
import TernDelivery
import TernServer
import TernSpool

/// Where the commands that talk to the server find its configuration:
/// `--config`, else `$TERN_CONFIG`, else /etc/tern/tern.toml when it
/// exists, else the trial instance's (state in ./var).
struct ServerLocation: ParsableArguments {
    static let systemPath = "/etc/tern/tern.toml"

    @Option(name: .long, help: ArgumentHelp(
        "The server's configuration file (default: $TERN_CONFIG, else \(ServerLocation.systemPath) if it exists, else the trial instance in ./var).",
        valueName: "FILE"))
    var config: String?

    func load() throws -> Configuration {
        try Self.load(config)
    }

    static func load(_ explicit: String?) throws -> Configuration {
        let environment = ProcessInfo.processInfo.environment["TERN_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let path = explicit ?? environment ?? (FileManager.default.fileExists(atPath: systemPath) ? systemPath : nil)
        guard let path else { return Configuration.trial(baseDirectory: FileManager.default.currentDirectoryPath) }
        do {
            return try Configuration.load(file: path)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// `tern queue list|show|flush|delete|hold|release|bounce`.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Look at and manage the mail queue.",
        discussion: """
            With the server running, these commands talk to it over its control socket \
            (<state_dir>/control.sock; root, Tern's own user and members of the "tern" group). \
            With the server stopped they work on the spool directly (holding <state_dir>/tern.lock, \
            so the server cannot start meanwhile); `flush` then only marks messages due, and \
            they are tried when the server starts.
            """,
        subcommands: [List.self, Show.self, Flush.self, Delete.self, Hold.self, Release.self, Bounce.self]
    )

    struct Output: ParsableArguments {
        @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
        var json = false
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List queued messages (like mailq).",
            discussion: "One block per message: queue ID, size, age, sender (! after the ID: held), then each recipient still waiting with its state and last error.")
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output

        func run() throws {
            let response = try QueueCommand.ask(ControlRequest(command: .list), location: location)
            let listing = response.listing ?? QueueListing(entries: [])
            if output.json { return try QueueCommand.printJSON(listing) }
            print(QueueTable.render(listing, now: Date()), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one message: envelope, each recipient's state and history, and its header section.")
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Argument(help: "The queue ID.") var id: String

        func run() throws {
            let response = try QueueCommand.ask(ControlRequest(command: .show, id: id), location: location)
            guard let entry = response.entry else { throw QueueCommand.Failure("no answer for \(id)") }
            if output.json { return try QueueCommand.printJSON(entry) }
            print(QueueTable.render(entry), terminator: "")
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Try deferred messages now: one, those for a domain, or all.")
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Option(name: .long, help: "Only recipients in this domain.") var domain: String?
        @Argument(help: "A queue ID; without it, every message.") var id: String?

        func validate() throws {
            if id != nil && domain != nil { throw ValidationError("give a queue ID or --domain, not both") }
        }

        func run() throws {
            let target: ControlRequest.Target = id.map { .id($0) } ?? domain.map { .domain($0) } ?? .all
            try QueueCommand.change(.flush(domain: domain), target, location: location, output: output)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove messages from the queue without telling anyone.")
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Flag(name: .long, help: "Every message with a recipient waiting for a retry.") var allDeferred = false
        @Argument(help: "The queue ID.") var id: String?

        func validate() throws {
            if (id == nil) == !allDeferred { throw ValidationError("give a queue ID or --all-deferred") }
        }

        func run() throws {
            try QueueCommand.change(.delete, id.map { .id($0) } ?? .deferred, location: location, output: output)
        }
    }

    struct Hold: SingleMessageChange {
        static let configuration = CommandConfiguration(abstract: "Keep a message in the queue untried until released.")
        static let change = QueueChange.hold
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Argument(help: "The queue ID.") var id: String
    }

    struct Release: SingleMessageChange {
        static let configuration = CommandConfiguration(abstract: "Release a held message; it is tried at once.")
        static let change = QueueChange.release
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Argument(help: "The queue ID.") var id: String
    }

    struct Bounce: SingleMessageChange {
        static let configuration = CommandConfiguration(
            abstract: "Give up on a message now: its waiting recipients fail and the sender gets a failure notice (DSN).")
        static let change = QueueChange.bounce
        @OptionGroup var location: ServerLocation
        @OptionGroup var output: Output
        @Argument(help: "The queue ID.") var id: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func change(_ change: QueueChange, _ target: ControlRequest.Target, location: ServerLocation,
                       output: Output) throws {
        let response = try ask(ControlRequest(command: .change, change: change, target: target), location: location)
        let changes = response.changes ?? [:]
        if output.json { return try printJSON(changes) }
        for (id, result) in changes.sorted(by: { $0.key < $1.key }) { print("\(id): \(result.rawValue)") }
        if changes.isEmpty { print("no message matched") }
    }

    /// Asks the running server, or does the work on the spool when it is stopped.
    static func ask(_ request: ControlRequest, location: ServerLocation) throws -> ControlResponse {
        let configuration = try location.load()
        let response: ControlResponse
        do {
            response = try OfflineQueue.ask(request, stateDirectory: configuration.stateDirectory)
        } catch {
            throw Failure("\(error)")
        }
        if let error = response.error { throw Failure(error) }
        return response
    }

    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

/// `hold`, `release`, `bounce`: one change to one queue ID.
protocol SingleMessageChange: AsyncParsableCommand {
    static var change: QueueChange { get }
    var location: ServerLocation { get }
    var output: QueueCommand.Output { get }
    var id: String { get }
}

extension SingleMessageChange {
    func run() throws { try QueueCommand.change(Self.change, .id(id), location: location, output: output) }
}
