import ArgumentParser
import TernAccounts
import TernSMTP
import TernServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `tern user add|passwd|del|list`: edits the users file (Dovecot
/// passwd-file format; see `UsersFile`).
///
/// Passwords are never taken from the command line, where `ps` and shell
/// history would show them: with a terminal they are asked for twice
/// without echo; otherwise the first line of standard input is the password
/// (`printf '%s\n' "$PW" | tern user add alice@example.com`).
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Add, delete and list users, and change their passwords.",
        subcommands: [Add.self, Passwd.self, Del.self, List.self]
    )

    /// Used when `--users` is not given (and the caller has no configuration).
    static let defaultUsersPath = "./var/users"

    struct Options: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("The users file (default: [accounts] users of --config, else \(UserCommand.defaultUsersPath)).",
                                                valueName: "FILE"))
        var users: String?

        @Option(name: .long, help: ArgumentHelp("Take the users file from this configuration file.", valueName: "FILE"))
        var config: String?

        var usersPath: String {
            get throws {
                if let users { return users }
                guard let config else { return UserCommand.defaultUsersPath }
                do {
                    return try Configuration.load(file: config).accounts.users
                } catch {
                    throw ValidationError("\(error)")
                }
            }
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password is asked for.")
        @OptionGroup var options: Options
        @Argument(help: "The user's full address, e.g. alice@example.com.") var address: String

        func run() throws {
            try UserCommand.run(.add(address: address), usersPath: try options.usersPath)
        }
    }

    struct Passwd: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a user's password; it is asked for.")
        @OptionGroup var options: Options
        @Argument(help: "The user's address.") var address: String

        func run() throws {
            try UserCommand.run(.passwd(address: address), usersPath: try options.usersPath)
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a user (their mail is not touched).")
        @OptionGroup var options: Options
        @Argument(help: "The user's address.") var address: String

        func run() throws {
            try UserCommand.run(.del(address: address), usersPath: try options.usersPath)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users, one address per line.")
        @OptionGroup var options: Options

        func run() throws {
            try UserCommand.run(.list, usersPath: try options.usersPath)
        }
    }

    /// One `tern user` action.
    enum Action: Hashable, Sendable {
        case add(address: String)
        case passwd(address: String)
        case del(address: String)
        case list
    }

    /// Runs `action` on the users file at `usersPath` — for callers that take
    /// the path from the configuration file. Prints results to standard
    /// output and asks for passwords as described on `UserCommand`.
    static func run(_ action: Action, usersPath: String) throws {
        let file = UsersFile(path: usersPath)
        switch action {
        case .add(let text):
            let address = try mailbox(text)
            if let existing = try file.user(address) {
                // Checked again under the lock by `add`; asking first spares typing a password for nothing.
                throw UserCommandError("user \(existing.name) already exists (line \(existing.line))")
            }
            let password = try PasswordPrompt.ask(for: address.text)
            try file.add(address, password: password)
            print("added \(address.text)")
        case .passwd(let text):
            let address = try mailbox(text)
            let password = try PasswordPrompt.ask(for: address.text)
            try file.setPassword(of: address, to: password)
            print("changed the password of \(address.text)")
        case .del(let text):
            let address = try mailbox(text)
            try file.delete(address)
            print("deleted \(address.text)")
        case .list:
            if access(usersPath, F_OK) != 0 {
                writeToStandardError("tern: no users file at \(usersPath)\n")
            }
            for entry in try file.list() {
                print(entry.password == nil ? "\(entry.name)\t(cannot log in)" : entry.name)
            }
        }
    }

    private static func mailbox(_ text: String) throws(UserCommandError) -> Mailbox {
        do {
            return try Mailbox(parsing: text)
        } catch {
            throw UserCommandError("'\(text)' is not a valid address (expected local@domain, RFC 5321 §4.1.2)")
        }
    }
}

struct UserCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Reads a new password without echoing it, or from a pipe.
enum PasswordPrompt {
    static let maximumLength = PasswordHash.maximumPasswordLength

    static func ask(for user: String) throws(UserCommandError) -> String {
        let password: String
        if isatty(STDIN_FILENO) == 1 {
            let first = try readHidden(prompt: "New password for \(user): ")
            let second = try readHidden(prompt: "Retype the password: ")
            guard first == second else { throw UserCommandError("the passwords do not match") }
            password = first
        } else {
            guard let line = try readLine(from: STDIN_FILENO) else {
                throw UserCommandError("no password on standard input")
            }
            password = line
        }
        guard !password.isEmpty else { throw UserCommandError("the password is empty") }
        return password
    }

    /// The first line of `fd` without its LF or CRLF, read one byte at a
    /// time so that nothing after it is consumed.
    private static func readLine(from fd: Int32) throws(UserCommandError) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw UserCommandError("cannot read standard input: \(String(cString: strerror(errno)))")
            }
            if n == 0 { if bytes.isEmpty { return nil }; break }
            if byte == UInt8(ascii: "\n") { break }
            bytes.append(byte)
            guard bytes.count <= maximumLength else { throw UserCommandError("the password is too long") }
        }
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw UserCommandError("the password is not valid UTF-8")
        }
        return text
    }

    /// Reads from the terminal in non-canonical mode with echo and signals
    /// off, so that Ctrl-C cannot leave the terminal without echo: Ctrl-C
    /// and Ctrl-D cancel, Backspace erases, Enter ends.
    private static func readHidden(prompt: String) throws(UserCommandError) -> String {
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else {
            throw UserCommandError("cannot read the terminal settings: \(String(cString: strerror(errno)))")
        }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG)
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else {
            throw UserCommandError("cannot turn off the terminal echo: \(String(cString: strerror(errno)))")
        }
        defer {
            _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            writeToStandardError("\n")
        }
        writeToStandardError(prompt)
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(STDIN_FILENO, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw UserCommandError("cannot read the terminal: \(String(cString: strerror(errno)))")
            }
            if n == 0 { throw UserCommandError("cancelled") }
            switch byte {
            case 0x0A, 0x0D: break
            case 0x03, 0x04: throw UserCommandError("cancelled")
            case 0x7F, 0x08:
                // Drop the last UTF-8 character, continuation bytes included.
                while let last = bytes.popLast(), last & 0xC0 == 0x80 {}
                continue
            default:
                bytes.append(byte)
                guard bytes.count <= maximumLength else { throw UserCommandError("the password is too long") }
                continue
            }
            break
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw UserCommandError("the password is not valid UTF-8")
        }
        return text
    }

}

func writeToStandardError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
