import TernSMTP

/// Parsing of the addresses written in the account files, with error text
/// an administrator can act on. `path` and `line` only go into the error.
enum AddressParsing {
    /// A full address `local@domain` (RFC 5321 §4.1.2 Mailbox; UTF-8 allowed
    /// as under SMTPUTF8, RFC 6531).
    static func mailbox(_ text: String, path: String, line: Int) throws(AccountsFileError) -> Mailbox {
        do {
            return try Mailbox(parsing: text)
        } catch {
            throw AccountsFileError(path: path, line: line, reason: .badAddress(text, detail: describe(error)))
        }
    }

    /// A local part on its own (`postmaster`, `"john doe"`), decoded.
    static func localPart(_ text: String, path: String, line: Int) throws(AccountsFileError) -> String {
        do {
            // Borrow the Mailbox grammar with a placeholder domain.
            return try Mailbox(parsing: text + "@local.invalid").localPart
        } catch {
            throw AccountsFileError(path: path, line: line, reason: .badAddress(text, detail: describe(error)))
        }
    }

    /// The domain of a catch-all key `@domain`.
    static func domain(_ text: String, path: String, line: Int) throws(AccountsFileError) -> Domain {
        do {
            return try Domain(parsing: text)
        } catch {
            throw AccountsFileError(path: path, line: line, reason: .badAddress("@" + text, detail: describe(.badDomain(error))))
        }
    }

    static func describe(_ error: Mailbox.ParseError) -> String {
        switch error {
        case .syntax: return "not local-part@domain (RFC 5321 §4.1.2)"
        case .tooLong: return "longer than 256 octets (RFC 5321 §4.5.3.1.3)"
        case .nonASCII: return "non-ASCII characters where they are not allowed"
        case .invalidUTF8: return "invalid UTF-8"
        case .badDomain(let domainError):
            switch domainError {
            case .empty: return "the domain is empty"
            case .syntax: return "the domain is not a valid host name"
            case .tooLong: return "the domain or one of its labels is too long"
            case .badIDN: return "the domain is not a valid internationalised name (IDNA)"
            case .nonASCII: return "the domain has non-ASCII characters"
            }
        }
    }
}
