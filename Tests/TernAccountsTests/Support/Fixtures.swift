import Testing
import TernSMTP
@testable import TernAccounts

/// SHA-512-crypt of "Hello world!" (Drepper's specification vector): fast
/// enough to verify in many table rows.
let helloWorldHash = "{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"

enum FixtureError: Error { case badAddress(String) }

func mailbox(_ text: String) throws -> Mailbox {
    do { return try Mailbox(parsing: text) } catch { throw FixtureError.badAddress(text) }
}

func domain(_ text: String) throws -> Domain {
    do { return try Domain(parsing: text) } catch { throw FixtureError.badAddress(text) }
}

/// Accounts from a list of user addresses (all with `helloWorldHash`, or
/// `address:password` to give one) and the text of an aliases file.
func makeAccounts(domains: [String], users: [String], aliases: String = "",
                  separators: String = "+") throws -> Accounts {
    let usersText = users.map { $0.contains(":") ? $0 : "\($0):\(helloWorldHash)" }.joined(separator: "\n")
    return Accounts(domains: try domains.map(domain),
                    users: try UserTable.parse(usersText, path: "users"),
                    aliases: try AliasTable.parse(aliases, path: "aliases"),
                    subaddressSeparators: separators)
}

/// An expansion as short strings: `local:<user>`, `remote:<address>`, or
/// `unknown`, `loop:a@x>b@x>a@x`, `tooDeep`.
func summary(_ expansion: Expansion) -> [String] {
    switch expansion {
    case .success(let destinations):
        return destinations.map {
            switch $0 {
            case .local(let user, _): return "local:\(user)"
            case .remote(let m): return "remote:\(m.text)"
            }
        }
    case .failure(.unknownRecipient): return ["unknown"]
    case .failure(.aliasLoop(let path)): return ["loop:" + path.joined(separator: ">")]
    case .failure(.tooDeep): return ["tooDeep"]
    }
}
