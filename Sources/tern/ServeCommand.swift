import ArgumentParser
import Foundation
import Logging
import TernServer

/// `tern serve [--config FILE]`.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the mail server.",
        discussion: """
            With --config, reads that TOML file (see etc/tern.toml); any error in it stops \
            the start with the file, line and key. Without it, starts a trial instance for \
            localhost on 127.0.0.1 with everything under ./var and a self-signed certificate.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "FILE"))
    var config: String?

    @Flag(name: .long, help: "Print a line for every message accepted (sender, recipients, size, subject): for development.")
    var print = false

    func run() async throws {
        let configuration: Configuration
        let trial = config == nil
        if let path = config {
            do {
                configuration = try Configuration.load(file: path)
            } catch {
                FileHandle.standardError.write(Data("tern: configuration errors:\n\(error)\n".utf8))
                throw ExitCode(78)  // EX_CONFIG
            }
        } else {
            configuration = Configuration.trial(baseDirectory: FileManager.default.currentDirectoryPath)
            do {
                try TrialSetup.prepare(configuration)
            } catch {
                FileHandle.standardError.write(Data("tern: cannot prepare ./var: \(error)\n".utf8))
                throw ExitCode(73)  // EX_CANTCREAT
            }
        }
        let level = configuration.log.level
        var logFile: LogFile?
        if let path = configuration.log.file {
            do {
                logFile = try LogFile(path: path)
            } catch {
                FileHandle.standardError.write(Data("tern: \(error)\n".utf8))
                throw ExitCode(73)  // EX_CANTCREAT
            }
        }
        let file = logFile
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            guard let file else { return handler }
            return MultiplexLogHandler([handler, FileLogHandler(label: label, file: file, level: level)])
        }
        let logger = Logger(label: "tern")
        var options = Server.Options()
        options.logFile = logFile
        options.portFallback = trial
        options.configurationFile = config
        if print {
            options.announce = { message in
                FileHandle.standardOutput.write(Data((message.description + "\n").utf8))
            }
        }
        // One server in this process: everything counted through the global
        // swift-metrics API lands in the registry [metrics] address serves.
        options.bootstrapMetricsSystem()
        let server: Server
        do {
            server = try await Server.start(configuration, options: options, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("tern: \(error)\n".utf8))
            throw ExitCode(1)
        }
        for (listener, address) in zip(configuration.listeners, server.boundAddresses) {
            logger.notice("listening", metadata: ["role": "\(listener.role.rawValue)", "address": "\(address)"])
        }
        if trial { printTrialHelp(server) }
        try await server.run()
    }

    private func printTrialHelp(_ server: Server) {
        let mx = server.port(of: .mx) ?? 2525
        let sub = server.port(of: .submission) ?? 2587
        let subs = server.port(of: .submissions) ?? 2465
        let users = server.configuration.accounts.users
        FileHandle.standardOutput.write(Data("""

            Tern trial instance for the domain "localhost", state in ./var
              MX (port 25 role):        127.0.0.1:\(mx)
              submission (STARTTLS):    127.0.0.1:\(sub)
              submissions (TLS):        127.0.0.1:\(subs)

            Next steps, in another terminal:
              1. Add a user (the password is asked for):
                   tern user add --users \(users) you@localhost
              2. Send a first message to it:
                   swaks --server 127.0.0.1:\(mx) --to you@localhost --from friend@example.org
                 or through submission with AUTH:
                   swaks --server 127.0.0.1:\(sub) -tls --auth-user you@localhost --to you@localhost --from you@localhost
              3. Read it: ls ./var/mail/localhost/you/Maildir/new/

            """.utf8))
    }
}
