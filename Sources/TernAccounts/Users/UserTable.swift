import TernSMTP

/// The parsed users file: Dovecot's passwd-file format with full addresses
/// as user names.
///
/// ```
/// # comment
/// alice@example.com:{CRYPT}$y$j9T$…::::::
/// bob@example.com:{SHA512-CRYPT}$6$…:1000:1000:Bob:/home/bob
/// ```
///
/// Fields are separated by `:`; only `user:password` is required, trailing
/// fields may be left out. Lines whose first non-blank character is `#`, and
/// blank lines, are ignored. The eighth field (extra fields) runs to the end
/// of the line and may itself contain `:`. Errors — a user that is not an
/// address, a duplicate user, invalid UTF-8 — stop the load; a password that
/// cannot be used is only a warning (the account still receives mail).
public struct UserTable: Sendable {
    /// The file it was read from ("" when built in memory or not configured).
    public let path: String
    public let entries: [UserEntry]
    public let warnings: [AccountsWarning]

    /// No users.
    public static let empty = UserTable(path: "", entries: [], warnings: [])

    init(path: String, entries: [UserEntry], warnings: [AccountsWarning]) {
        self.path = path
        self.entries = entries
        self.warnings = warnings
    }

    /// Reads and parses the users file at `path`.
    public static func load(path: String) throws(AccountsFileError) -> UserTable {
        try read(path: path).table
    }

    static func read(path: String) throws(AccountsFileError) -> (table: UserTable, identity: FileIdentity) {
        let (bytes, identity) = try AccountFileReader.contents(of: path)
        return (try parse(lines: AccountFileReader.lines(bytes, path: path), path: path), identity)
    }

    /// Parses the text of a users file; `path` is only used in messages.
    public static func parse(_ text: String, path: String) throws(AccountsFileError) -> UserTable {
        try parse(lines: AccountFileReader.lines(Array(text.utf8), path: path), path: path)
    }

    static func parse(lines: [TextLine], path: String) throws(AccountsFileError) -> UserTable {
        var entries: [UserEntry] = []
        var warnings: [AccountsWarning] = []
        var firstLine: [AddressKey: Int] = [:]
        for line in lines where !isIgnorable(line.text) {
            let entry = try parseEntry(line, path: path, warnings: &warnings)
            let key = AddressKey(entry.address)
            if let first = firstLine[key] {
                throw AccountsFileError(path: path, line: line.number, reason: .duplicateUser(entry.name, firstLine: first))
            }
            firstLine[key] = line.number
            entries.append(entry)
        }
        return UserTable(path: path, entries: entries, warnings: warnings)
    }

    /// Blank lines and `#` comments.
    static func isIgnorable(_ text: String) -> Bool {
        guard let first = text.first(where: { $0 != " " && $0 != "\t" }) else { return true }
        return first == "#"
    }

    /// The `user` field of an entry line (everything before the first `:`),
    /// or nil when the line has no `:`.
    static func userField(of text: String) -> Substring? {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        return text[..<colon]
    }

    private static func parseEntry(_ line: TextLine, path: String,
                                   warnings: inout [AccountsWarning]) throws(AccountsFileError) -> UserEntry {
        // user:password:uid:gid:gecos:home:shell:extra_fields
        let fields = line.text.split(separator: ":", maxSplits: 7, omittingEmptySubsequences: false).map(String.init)
        guard fields.count >= 2 else {
            throw AccountsFileError(path: path, line: line.number, reason: .missingPasswordField)
        }
        guard fields[0].contains("@") else {
            throw AccountsFileError(path: path, line: line.number,
                                    reason: .badAddress(fields[0], detail: "a user must be a full address, local@domain"))
        }
        let address = try AddressParsing.mailbox(fields[0], path: path, line: line.number)
        var password: PasswordHash?
        do {
            password = try PasswordHash(parsing: fields[1])
        } catch {
            warnings.append(AccountsWarning(path: path, line: line.number, message: "\(address.text): \(error)"))
        }
        func field(_ i: Int) -> String? { i < fields.count && !fields[i].isEmpty ? fields[i] : nil }
        let extra = field(7).map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) } ?? []
        return UserEntry(address: address, password: password, uid: field(2), gid: field(3), gecos: field(4),
                         home: field(5), shell: field(6), extraFields: extra, line: line.number)
    }
}
