// tern — the command line. Thin: parses arguments and calls the libraries.
import ArgumentParser
import Foundation

/// The entry point: the binary linked as `sendmail` or `mailq` behaves as
/// that program; otherwise it is `tern`.
@main
enum Main {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch URL(fileURLWithPath: CommandLine.arguments.first ?? "tern").lastPathComponent {
        case "sendmail":
            exit(Sendmail.run(arguments))
        case "mailq":
            await Tern.main(["queue", "list"] + arguments)
        default:
            await Tern.main()
        }
    }
}

struct Tern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tern",
        abstract: "A mail transfer agent for your own domains.",
        discussion: """
            `tern serve` with no configuration starts a trial instance on 127.0.0.1 \
            (ports 2525, 2587, 2465) with its state under ./var.
            """,
        subcommands: [ServeCommand.self, UserCommand.self, DKIMCommand.self, QueueCommand.self, SendmailCommand.self, ReloadCommand.self,
                      CheckCommand.self, ConfigCommand.self]
    )
}
