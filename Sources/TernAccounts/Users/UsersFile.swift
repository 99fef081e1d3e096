import TernSMTP

/// Edits the users file for `tern user`: add, change a password, delete,
/// list.
///
/// Every change re-reads the file under an advisory lock, refuses to touch
/// a file that does not parse (fix it first: the error names the line),
/// changes only the one line concerned — every other line, comment and
/// blank line is written back byte for byte — and replaces the file
/// atomically (see `AtomicFileWriter`): mode and owner are kept, a new file
/// gets mode 0640. New entries are `address:{CRYPT}$y$…` (Dovecot
/// passwd-file with only the required fields).
///
/// Hashing is CPU-heavy (yescrypt); this type is for the command line and
/// admin tools, not for an event loop.
public struct UsersFile: Sendable {
    public enum EditError: Error, Hashable, Sendable, CustomStringConvertible {
        case alreadyExists(String, line: Int)
        case noSuchUser(String)
        /// The address is valid mail syntax but cannot be written as a
        /// passwd-file user (it contains `:` or whitespace, or starts with `#`).
        case unsuitableAddress(String, reason: String)
        case password(PasswordHash.MakeError)
        case file(AccountsFileError)

        public var description: String {
            switch self {
            case .alreadyExists(let user, let line): return "user \(user) already exists (line \(line))"
            case .noSuchUser(let user): return "no user \(user)"
            case .unsuitableAddress(let address, let reason): return "cannot store \(address) as a user: \(reason)"
            case .password(let error): return "\(error)"
            case .file(let error): return "\(error)"
            }
        }
    }

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The entries in file order; a missing file has none.
    public func list() throws(EditError) -> [UserEntry] {
        do {
            return try UserTable.load(path: path).entries
        } catch {
            if error.reason == .missing { return [] }
            throw .file(error)
        }
    }

    /// The entry for `address` (compared case-insensitively), if any.
    public func user(_ address: Mailbox) throws(EditError) -> UserEntry? {
        let key = AddressKey(address)
        return try list().first { AddressKey($0.address) == key }
    }

    /// Adds `address` with a new yescrypt hash of `password`. Creates the
    /// file (mode 0640) when it does not exist; fails if the user exists
    /// (compared case-insensitively).
    public func add(_ address: Mailbox, password: String) throws(EditError) {
        try Self.checkStorable(address)
        try add(address, hash: Self.hash(password))
    }

    /// Adds `address` with an already computed hash.
    public func add(_ address: Mailbox, hash: PasswordHash) throws(EditError) {
        try Self.checkStorable(address)
        try edit { (bytes, lines, table) throws(EditError) -> [UInt8] in
            if let existing = Self.entry(address, in: table) {
                throw .alreadyExists(existing.name, line: existing.line)
            }
            var out = bytes
            if let last = out.last, last != UInt8(ascii: "\n") { out.append(UInt8(ascii: "\n")) }
            out.append(contentsOf: "\(address.text):\(hash.stored)\n".utf8)
            return out
        }
    }

    /// Replaces the password of an existing user with a new yescrypt hash.
    /// The other fields of the line are kept.
    public func setPassword(of address: Mailbox, to password: String) throws(EditError) {
        try setPassword(of: address, hash: Self.hash(password))
    }

    public func setPassword(of address: Mailbox, hash: PasswordHash) throws(EditError) {
        try edit { (_, lines, table) throws(EditError) -> [UInt8] in
            guard let entry = Self.entry(address, in: table) else { throw .noSuchUser(address.text) }
            var out: [UInt8] = []
            for line in lines {
                guard line.number == entry.line else { out.append(contentsOf: line.raw); continue }
                var fields = line.text.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
                fields[1] = hash.stored
                out.append(contentsOf: fields.joined(separator: ":").utf8)
                out.append(contentsOf: Self.terminator(of: line))
            }
            return out
        }
    }

    /// Removes the user's line.
    public func delete(_ address: Mailbox) throws(EditError) {
        try edit { (_, lines, table) throws(EditError) -> [UInt8] in
            guard let entry = Self.entry(address, in: table) else { throw .noSuchUser(address.text) }
            var out: [UInt8] = []
            for line in lines where line.number != entry.line {
                out.append(contentsOf: line.raw)
            }
            return out
        }
    }

    /// Read, change, write — under the folder lock, so two editors cannot
    /// lose each other's change.
    private func edit(_ change: ([UInt8], [TextLine], UserTable) throws(EditError) -> [UInt8]) throws(EditError) {
        let path = self.path
        try AtomicFileWriter.withFolderLock(of: path, onFailure: EditError.file) { () throws(EditError) in
            var bytes: [UInt8] = []
            do throws(AccountsFileError) {
                bytes = try AccountFileReader.contents(of: path).bytes
            } catch {
                guard error.reason == .missing else { throw .file(error) }
            }
            let lines: [TextLine]
            let table: UserTable
            do throws(AccountsFileError) {
                lines = try AccountFileReader.lines(bytes, path: path)
                table = try UserTable.parse(lines: lines, path: path)
            } catch {
                throw .file(error)
            }
            let updated = try change(bytes, lines, table)
            do throws(AccountsFileError) {
                try AtomicFileWriter.replace(path: path, with: updated)
            } catch {
                throw .file(error)
            }
        }
    }

    private static func entry(_ address: Mailbox, in table: UserTable) -> UserEntry? {
        let key = AddressKey(address)
        return table.entries.first { AddressKey($0.address) == key }
    }

    private static func terminator(of line: TextLine) -> [UInt8] {
        if line.raw.last != UInt8(ascii: "\n") { return [] }
        let count = line.raw.count
        if count >= 2, line.raw[line.raw.startIndex + count - 2] == UInt8(ascii: "\r") { return Array("\r\n".utf8) }
        return [UInt8(ascii: "\n")]
    }

    private static func hash(_ password: String) throws(EditError) -> PasswordHash {
        do {
            return try PasswordHash.make(password: password)
        } catch {
            throw .password(error)
        }
    }

    /// A passwd-file user field ends at the first `:`, and a line starting
    /// with `#` is a comment.
    static func checkStorable(_ address: Mailbox) throws(EditError) {
        let text = address.text
        if text.contains(":") { throw .unsuitableAddress(text, reason: "it contains ':', the passwd-file field separator") }
        if text.hasPrefix("#") { throw .unsuitableAddress(text, reason: "a line starting with '#' is a comment") }
        if text.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            throw .unsuitableAddress(text, reason: "it contains whitespace or control characters")
        }
    }
}
