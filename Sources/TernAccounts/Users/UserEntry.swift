import TernSMTP

/// One account from the users file: a line of Dovecot's passwd-file format,
/// `user:password:uid:gid:gecos:home:shell:extra_fields`.
///
/// `user` is a full address. Only it and the password field are required;
/// the remaining fields are kept for other programs (Dovecot reads the same
/// file) and for delivery (`home`). An empty or unusable password leaves the
/// account able to receive mail but not to log in.
public struct UserEntry: Hashable, Sendable, CustomStringConvertible {
    /// The address as written in the users file (local part NFC, case kept).
    public let address: Mailbox
    /// nil when the password field is empty or cannot be used (then the
    /// table has a warning saying why). Never printed.
    public let password: PasswordHash?
    public let uid: String?
    public let gid: String?
    public let gecos: String?
    public let home: String?
    public let shell: String?
    /// Dovecot's space-separated `key=value` extra fields, uninterpreted.
    public let extraFields: [String]
    /// The 1-based line the entry is on.
    public let line: Int

    /// The account's canonical name: the address as written in the users
    /// file. `Accounts.expand` and `Accounts.authenticate` return it.
    public var name: String { address.text }

    public var description: String { "\(name) (line \(line))" }

    public init(address: Mailbox, password: PasswordHash?, uid: String? = nil, gid: String? = nil,
                gecos: String? = nil, home: String? = nil, shell: String? = nil,
                extraFields: [String] = [], line: Int) {
        self.address = address
        self.password = password
        self.uid = uid
        self.gid = gid
        self.gecos = gecos
        self.home = home
        self.shell = shell
        self.extraFields = extraFields
        self.line = line
    }
}
