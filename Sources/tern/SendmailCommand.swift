import ArgumentParser
import Foundation
import NIOCore
import TernServer
import TernSMTP
#if canImport(Glibc)
import Glibc
#endif

/// `tern sendmail`, and the binary invoked as `sendmail` or `mailq`: the
/// sendmail(1) interface cron, PHP's mail() and other local programs use.
struct SendmailCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sendmail",
        abstract: "Send a message from a local program (sendmail-compatible).",
        discussion: """
            Reads a message from standard input and queues it for the recipients named \
            after the options. Link the tern binary as /usr/sbin/sendmail (and mailq) and \
            it behaves as such.

              -t            also take recipients from To, Cc and Bcc (Bcc is removed)
              -i, -oi       a line with a single dot does not end the message
              -f ADDRESS    envelope sender (root, Tern's user and [sendmail] trusted_users only;
                            everyone else sends as user@hostname); -r is the same
              -F NAME       full name for the From field added when the message has none
              -bm           read a message (the default)
              -bs           speak SMTP on standard input and output
              -bp           list the queue (like mailq)
              -q            try every queued message now
              -C FILE       the server's configuration file (also $TERN_CONFIG)
              -oX..., -odb, -v, -N, -R, -B, -V, -L   accepted and ignored

            The message goes to the running server over its control socket; when the server \
            is not running it is left in <state_dir>/pickup and queued when the server starts. \
            Missing From, Date and Message-ID fields are added. Exit status 0 once the message \
            is queued (or picked up), 64 for bad usage, 65 for a message Tern refuses, 75 when \
            it cannot be handed over.
            """
    )

    @Argument(parsing: .captureForPassthrough, help: "Options and recipients, as sendmail(1) takes them.")
    var arguments: [String] = []

    func run() throws {
        throw ExitCode(Sendmail.run(arguments))
    }
}

/// The sendmail(1) behaviour behind `SendmailCommand` and the `sendmail` link.
enum Sendmail {
    enum Mode { case message, smtp, listQueue, flush }

    struct Invocation {
        var mode = Mode.message
        var request = LocalSubmission.Request()
        var dotEnds = true
        var config: String?
    }

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws -> Invocation {
        var inv = Invocation()
        var i = 0
        // Options that take a value, attached (-fjoe) or as the next argument.
        func value(_ arg: String, _ letter: String) throws -> String {
            let attached = String(arg.dropFirst(1 + letter.count))
            if !attached.isEmpty { return attached }
            i += 1
            guard i < arguments.count else { throw UsageError(description: "option -\(letter) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" { i += 1; break }
            guard arg.hasPrefix("-"), arg.count > 1 else { break }
            switch arg {
            case "-t": inv.request.extractRecipients = true
            case "-i", "-oi": inv.dotEnds = false
            case "-bm": inv.mode = .message
            case "-bs": inv.mode = .smtp
            case "-bp": inv.mode = .listQueue
            case "-v", "-Am", "-Ac", "-U": break
            default:
                if arg.hasPrefix("-f") || arg.hasPrefix("-r") {
                    inv.request.sender = try value(arg, String(arg.dropFirst().prefix(1)))
                } else if arg.hasPrefix("-F") {
                    inv.request.fullName = try value(arg, "F")
                } else if arg.hasPrefix("-C") {
                    inv.config = try value(arg, "C")
                } else if arg.hasPrefix("-q") {
                    inv.mode = .flush  // -q, -q30m, -qR…: one run now
                } else if arg.hasPrefix("-o") {
                    if arg == "-oi" || arg == "-oitrue" { inv.dotEnds = false }  // others (-odb, -oem…) ignored
                } else if let letter = arg.dropFirst().first, "NRBVLh".contains(letter) {
                    _ = try value(arg, String(letter))  // DSN, return, body type, envid, label, hops: ignored
                } else {
                    throw UsageError(description: "unknown option \(arg)")
                }
            }
            i += 1
        }
        inv.request.recipients = Array(arguments[i...]).flatMap {
            $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return inv
    }

    static func run(_ arguments: [String]) -> Int32 {
        let inv: Invocation
        do {
            inv = try parse(arguments)
        } catch {
            warn("\(error)")
            return 64  // EX_USAGE
        }
        let configuration: Configuration
        do {
            configuration = try ServerLocation.load(inv.config)
        } catch {
            warn("\(error)")
            return 78  // EX_CONFIG
        }
        let state = configuration.stateDirectory
        switch inv.mode {
        case .listQueue:
            return runQueue(ControlRequest(command: .list), state: state) { response in
                print(QueueTable.render(response.listing ?? .init(entries: []), now: Date()), terminator: "")
            }
        case .flush:
            return runQueue(ControlRequest(command: .change, change: .flush(domain: nil), target: .all), state: state) { _ in }
        case .message:
            guard !inv.request.recipients.isEmpty || inv.request.extractRecipients else {
                warn("no recipients given (name them, or use -t)")
                return 64
            }
            let message = readMessage(dotEnds: inv.dotEnds)
            return submit(inv.request, message: message, state: state).status
        case .smtp:
            return smtp(inv.request, configuration: configuration)
        }
    }

    private static func runQueue(_ request: ControlRequest, state: String, _ show: (ControlResponse) -> Void) -> Int32 {
        do {
            let response = try OfflineQueue.ask(request, stateDirectory: state)
            if let error = response.error {
                warn(error)
                return 75
            }
            show(response)
            return 0
        } catch {
            warn("\(error)")
            return 75
        }
    }

    /// Standard input to its end, or to a line holding a single dot.
    static func readMessage(dotEnds: Bool) -> [UInt8] {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        var bytes = [UInt8](data)
        guard dotEnds else { return bytes }
        var lineStart = 0
        while lineStart < bytes.count {
            let end = bytes[lineStart...].firstIndex(of: 0x0A) ?? bytes.count
            let line = bytes[lineStart..<end]
            if line.elementsEqual([0x2E]) || line.elementsEqual([0x2E, 0x0D]) {
                bytes.removeSubrange(lineStart...)
                break
            }
            lineStart = end + 1
        }
        return bytes
    }

    struct Outcome {
        var status: Int32
        var queueID: String?
        var error: String?
    }

    /// Hands the message to the server, or to the pickup directory when it is down.
    static func submit(_ request: LocalSubmission.Request, message: [UInt8], state: String, quiet: Bool = false) -> Outcome {
        var request = request
        request.size = message.count
        do {
            let response = try ControlClient(stateDirectory: state).send(ControlRequest(command: .submit, submission: request),
                                                                         body: message)
            if let error = response.error {
                if !quiet { warn(error) }
                return Outcome(status: 65, error: error)  // EX_DATAERR
            }
            return Outcome(status: 0, queueID: response.queueID)
        } catch .notRunning {
            do {
                let name = try PickupDirectory(stateDirectory: state).drop(request, message: message)
                return Outcome(status: 0, queueID: "pickup/\(name)")
            } catch {
                if !quiet { warn("the server is not running and \(error)") }
                return Outcome(status: 75, error: "\(error)")
            }
        } catch {
            if !quiet { warn("\(error)") }
            return Outcome(status: 75, error: "\(error)")  // EX_TEMPFAIL
        }
    }

    /// `-bs`: an SMTP session on standard input and output, each message
    /// handed over as `submit` would.
    static func smtp(_ base: LocalSubmission.Request, configuration c: Configuration) -> Int32 {
        let hostname = c.hostname.ascii
        var session = ServerSession(configuration: SessionConfiguration(
            hostname: hostname, role: .mx, maximumMessageSize: c.limits.messageSize,
            maximumRecipients: c.limits.recipients, postmasterDomain: c.domains.first ?? c.hostname))
        var pending = session.start()
        let input = FileHandle.standardInput
        var ended = false
        while true {
            while !pending.isEmpty {
                let action = pending.removeFirst()
                switch action {
                case .send(let reply):
                    FileHandle.standardOutput.write(Data(reply.wire.utf8))
                case .close:
                    return 0
                case .startTLS:
                    pending += session.tlsEstablished(TLSInfo(version: "none", cipher: "none"))
                case .authenticate:
                    pending += session.resume(.authentication(nil))
                case .checkSender:
                    pending += session.resume(.sender(nil))
                case .checkRecipient:
                    pending += session.resume(.recipient(nil))
                case .deliver(let delivery):
                    var request = base
                    request.sender = delivery.envelope.sender.mailbox?.text ?? ""
                    request.recipients = delivery.envelope.recipients.map(\.mailbox.text)
                    request.extractRecipients = false
                    let outcome = submit(request, message: Array(delivery.message.readableBytesView), state: c.stateDirectory,
                                         quiet: true)
                    let reply: SMTPReply
                    if outcome.status == 0 {
                        reply = Replies.queued(outcome.queueID ?? "")
                    } else if outcome.status == 65 {
                        reply = SMTPReply(554, .init(5, 6, 0), outcome.error ?? "refused")
                    } else {
                        reply = SMTPReply(451, .init(4, 3, 0), outcome.error ?? "cannot queue the message")
                    }
                    pending += session.resume(.delivery(reply))
                }
            }
            if ended { return 0 }
            let data = input.availableData
            if data.isEmpty {
                // The client went away: whatever the session says last, then stop.
                pending += session.shutdown()
                ended = true
                continue
            }
            pending += session.receive(ByteBuffer(bytes: data))
        }
    }

    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("sendmail: \(text)\n".utf8))
    }
}
