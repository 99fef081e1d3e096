import Foundation
import Testing
@testable import TernAccounts

@Suite("Password hashes")
struct PasswordHashTests {
    @Test("a made password is {CRYPT} yescrypt, verifies, and rejects a wrong password")
    func yescryptRoundTrip() throws {
        let hash = try PasswordHash.make(password: "correct horse battery staple")
        #expect(hash.stored.hasPrefix("{CRYPT}$y$"))
        #expect(hash.scheme == .crypt)
        #expect(hash.verify("correct horse battery staple"))
        #expect(!hash.verify("correct horse battery stapler"))
        #expect(!hash.verify(""))
        let again = try PasswordHash(parsing: hash.stored)
        #expect(again == hash)
        #expect(again.verify("correct horse battery staple"))
    }

    @Test("two hashes of one password have different salts")
    func saltsDiffer() throws {
        let a = try PasswordHash.make(password: "pässwörd")
        let b = try PasswordHash.make(password: "pässwörd")
        #expect(a.stored != b.stored)
        #expect(a.verify("pässwörd") && b.verify("pässwörd"))
    }

    /// Published vectors: Drepper's SHA-crypt specification ($5$, $6$),
    /// OpenWall's crypt_blowfish tests ($2a$); the $2y$ and yescrypt values
    /// were computed with libxcrypt 4.4.33 and guard against regressions.
    @Test("known hashes verify under every accepted notation", arguments: [
        ("{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("{sha512-crypt}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"),
        ("{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"),
        ("{CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", "Hello world!"),
        ("{BLF-CRYPT}$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"),
        ("{BLF-CRYPT}$2y$05$abcdefghijklmnopqrstuuHNbAKRhpaujgo33bRWs.NLUTJO3lOy2", "correct horse"),
        ("{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79", "correct horse"),
        ("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79", "correct horse"),
    ])
    func knownHashes(stored: String, password: String) throws {
        let hash = try PasswordHash(parsing: stored)
        #expect(hash.verify(password))
        #expect(!hash.verify(password + "x"))
        #expect(!hash.verify(String(password.dropLast())))
    }

    @Test("hashes made by openssl passwd verify", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")),
          arguments: [("-6", "{SHA512-CRYPT}"), ("-5", "{SHA256-CRYPT}"), ("-6", ""), ("-5", "{CRYPT}")])
    func opensslHashes(flag: String, prefix: String) throws {
        let password = "Tr0ub4dor&3 ünïcode"
        let made = try #require(runTool("/usr/bin/openssl", ["passwd", flag, "-stdin"], input: password + "\n"))
        let hash = try PasswordHash(parsing: prefix + made)
        #expect(hash.verify(password))
        #expect(!hash.verify("Tr0ub4dor&3"))
    }

    @Test("bcrypt hashes made by Python's crypt module verify",
          .enabled(if: runTool("/usr/bin/python3", ["-W", "ignore", "-c", "import crypt"], input: "") != nil))
    func pythonBcrypt() throws {
        let script = "import crypt,sys; print(crypt.crypt(sys.stdin.readline().rstrip('\\n'), crypt.mksalt(crypt.METHOD_BLOWFISH)))"
        let made = try #require(runTool("/usr/bin/python3", ["-W", "ignore", "-c", script], input: "s3cret pass\n"))
        #expect(made.hasPrefix("$2b$"))
        let hash = try PasswordHash(parsing: "{BLF-CRYPT}" + made)
        #expect(hash.verify("s3cret pass"))
        #expect(!hash.verify("s3cret pas"))
    }

    @Test("plaintext and unknown schemes are refused", arguments: [
        ("{PLAIN}secret", PasswordHash.ParseError.unsupportedScheme("PLAIN")),
        ("{plain}secret", .unsupportedScheme("PLAIN")),
        ("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", .unsupportedScheme("MD5")),
        ("{SSHA}abcdef", .unsupportedScheme("SSHA")),
        ("secret", .notACryptString),
        ("abJnggxhB/yWI", .notACryptString),
        ("", .empty),
        ("{SHA512-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5", .schemeMismatch(.sha512Crypt)),
        ("{BLF-CRYPT}$6$salt$abc", .schemeMismatch(.blfCrypt)),
        ("{CRYPT}!$6$saltstring$svn8", .malformed),
        ("{CRYPT}*", .malformed),
        ("{CRYPT}", .malformed),
        ("{CRYPT$6$x", .malformed),
        ("$6$salt with space$x", .malformed),
    ])
    func refused(stored: String, expected: PasswordHash.ParseError) {
        #expect(throws: expected) { try PasswordHash(parsing: stored) }
    }

    @Test("verifying against a refused stored value is false, even with the plaintext itself", arguments: [
        ("{PLAIN}secret", "secret"), ("{PLAIN}secret", "{PLAIN}secret"), ("secret", "secret"), ("", ""),
        ("{MD5}Xr4ilOzQ4PCOq3aQ0qbuaQ==", "secret"),
    ])
    func verifyRefused(stored: String, password: String) {
        #expect(!PasswordHash.verify(password, against: stored))
    }

    @Test("verifying against an accepted stored value checks the password")
    func verifyStored() {
        let stored = "{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
        #expect(PasswordHash.verify("Hello world!", against: stored))
        #expect(!PasswordHash.verify("Hello world", against: stored))
    }

    @Test("a password with a NUL byte does not match the hash of its prefix")
    func nulTruncation() throws {
        let hash = try PasswordHash(parsing: "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
        #expect(hash.verify("Hello world!"))
        #expect(!hash.verify("Hello world!\u{0}anything"))
        #expect(throws: PasswordHash.MakeError.containsNUL) { try PasswordHash.make(password: "a\u{0}b") }
        #expect(throws: PasswordHash.MakeError.empty) { try PasswordHash.make(password: "") }
    }

    @Test("an overlong password is refused, not hashed")
    func overlong() throws {
        let long = String(repeating: "a", count: PasswordHash.maximumPasswordLength + 1)
        #expect(throws: PasswordHash.MakeError.tooLong(maximum: PasswordHash.maximumPasswordLength)) {
            try PasswordHash.make(password: long)
        }
        let hash = try PasswordHash(parsing: "{CRYPT}$6$saltstring$x")
        #expect(!hash.verify(long))
    }

    @Test("a malformed crypt string never verifies")
    func garbageSetting() throws {
        let hash = try PasswordHash(parsing: "{CRYPT}$6$saltstring$notTheRightLength")
        #expect(!hash.verify("Hello world!"))
        let unknown = try PasswordHash(parsing: "$unknown$x$y")
        #expect(!unknown.verify("x"))
    }

    @Test("printing a hash does not reveal it")
    func descriptionRedacts() throws {
        let hash = try PasswordHash(parsing: "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
        #expect(!"\(hash)".contains("svn8Uo"))
        #expect(!"\(hash)".contains("saltstring"))
        #expect("\(hash)".contains("SHA512-CRYPT"))
    }

    @Test("constant-time comparison compares whole strings", arguments: [
        ("abc", "abc", true), ("abc", "abd", false), ("abc", "ab", false), ("", "", true), ("", "a", false),
    ])
    func constantTimeEqual(a: String, b: String, equal: Bool) {
        #expect(Crypt.constantTimeEqual(a.utf8, b.utf8) == equal)
    }
}
