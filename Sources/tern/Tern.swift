// tern — the command line. Thin: parses arguments and calls the libraries.
import ArgumentParser

@main
struct Tern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "A mail transfer agent for your own domains.",
        discussion: """
            `tern serve` with no configuration starts a trial instance on 127.0.0.1 \
            (ports 2525, 2587, 2465) with its state under ./var.
            """,
        subcommands: [ServeCommand.self, UserCommand.self, DKIMCommand.self]
    )
}
