import ArgumentParser
import Foundation
import TernServer

/// `tern config check [FILE]`: validates a configuration file and prints
/// the configuration Tern would run with.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with the configuration file.",
        subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file and print the effective configuration.",
            discussion: """
                Reads FILE as `tern serve --config FILE` would. When it has errors, prints \
                every one of them to standard error as file:line: message, naming the key, \
                and exits with status 78 (EX_CONFIG), as `tern serve` does.

                When it is valid, prints the effective configuration to standard output as \
                TOML: every setting, defaults included, relative paths made absolute. The \
                output reads back as the same configuration. Values of secret-looking keys \
                (password, secret, token, passphrase) are shown as "********"; files that \
                hold secrets, such as [delivery] relay_password_file, are named but never \
                read. Named files and folders that do not exist or cannot be read by this \
                user are listed on standard error as notes; they do not change the exit \
                status, since `tern serve` may run as another user.

                EXIT STATUS
                  0   the file is valid
                  78  the file cannot be read or has errors
                """
        )

        @Argument(help: ArgumentHelp("The configuration file.", valueName: "FILE"))
        var file: String = CheckCommand.defaultConfigurationFile

        @Flag(name: .shortAndLong, help: "Only validate: print nothing when the file is valid.")
        var quiet = false

        func run() throws {
            let configuration: Configuration
            do {
                configuration = try Configuration.load(file: file)
            } catch {
                FileHandle.standardError.write(Data("tern: configuration errors:\n\(error)\n".utf8))
                throw ExitCode(78)  // EX_CONFIG
            }
            guard !quiet else { return }
            let notes = configuration.fileNotes
            if !notes.isEmpty {
                let text = notes.map { "tern: note: \(file): \($0)\n" }.joined()
                FileHandle.standardError.write(Data(text.utf8))
            }
            let header = "# \(file) is valid. The effective configuration, defaults included, secrets masked:\n"
            FileHandle.standardOutput.write(Data((header + configuration.redactedDescription).utf8))
        }
    }
}
