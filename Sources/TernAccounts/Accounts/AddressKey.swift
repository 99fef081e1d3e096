import Foundation
import TernSMTP

/// How accounts compare addresses. RFC 5321 §2.4 lets a host decide whether
/// its local parts are case-sensitive; Tern matches them case-insensitively
/// (lowercased, then NFC as RFC 6531 §3.1 prescribes for UTF-8 local parts)
/// and keeps the original spelling wherever an address is written out.
/// Domains compare by their lowercased A-label form, as `Domain` does.
struct AddressKey: Hashable, Sendable, CustomStringConvertible {
    let local: String
    let domain: String

    init(_ mailbox: Mailbox) {
        self.local = AddressKey.fold(mailbox.localPart)
        self.domain = mailbox.domain.ascii
    }

    init(local: String, domain: Domain) {
        self.local = AddressKey.fold(local)
        self.domain = domain.ascii
    }

    /// The key of a catch-all `@domain` entry (a local part can never be empty).
    static func catchAll(_ domain: Domain) -> AddressKey {
        AddressKey(foldedLocal: "", domain: domain.ascii)
    }

    private init(foldedLocal: String, domain: String) {
        self.local = foldedLocal
        self.domain = domain
    }

    /// The same key with a different (already folded) local part.
    func with(local folded: String) -> AddressKey {
        AddressKey(foldedLocal: folded, domain: domain)
    }

    static func fold(_ localPart: String) -> String {
        localPart.lowercased().precomposedStringWithCanonicalMapping
    }

    var description: String { "\(local)@\(domain)" }
}

/// The characters that separate a local part from its detail, as Postfix's
/// `recipient_delimiter`: `alice+tag` → `alice` with "+". Several characters
/// may be given ("+-"); the first of any of them splits. Empty = off.
/// RFC 5233 describes the convention (for Sieve).
struct SubaddressSeparators: Hashable, Sendable {
    let characters: Set<Character>

    init(_ separators: String) {
        self.characters = Set(separators.lowercased())
    }

    /// The folded local part without its detail, or nil when it has none
    /// (no separator, or a separator in first position, which would leave
    /// an empty user).
    func base(ofFolded local: String) -> String? {
        guard !characters.isEmpty, let index = local.firstIndex(where: { characters.contains($0) }),
              index != local.startIndex
        else { return nil }
        return String(local[..<index])
    }
}
