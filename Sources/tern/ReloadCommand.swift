import ArgumentParser
import TernServer

/// `tern reload`: the running server reads its files again (as on SIGHUP).
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Make the running server read its users, aliases, certificate and configuration again.",
        discussion: """
            The same as sending the server SIGHUP (systemctl reload tern), but it prints what was \
            done: the users and aliases files and the TLS certificate and key are read again (a \
            broken file keeps the last good version in use and is reported); the configuration \
            file is checked and the settings that changed are listed, since they take effect at \
            the next restart. Sessions in progress are not interrupted: new connections get the \
            new certificate. DKIM keys need no reload (they are read for each signature).
            """)

    @OptionGroup var location: ServerLocation

    func run() throws {
        let configuration = try location.load()
        let response: ControlResponse
        do {
            response = try ControlClient(stateDirectory: configuration.stateDirectory).send(ControlRequest(command: .reload))
        } catch {
            throw QueueCommand.Failure("\(error)")
        }
        if let error = response.error { throw QueueCommand.Failure(error) }
        for line in response.messages ?? [] { print(line) }
    }
}
