import TernSMTP

/// The parsed aliases file, in aliases(5) syntax:
///
/// ```
/// # bare key: postmaster@ every local domain goes to alice@ that domain
/// postmaster:        alice
/// # full-address key, two targets, the second on a continuation line
/// sales@example.com: alice@example.com,
///                    bob@partner.example
/// # catch-all: any other local part of example.org
/// @example.org:      alice@example.com
/// ```
///
/// - A logical line starts with a non-blank character; a line that starts
///   with a space or tab continues the previous one. Blank lines and lines
///   whose first non-blank character is `#` are ignored (also between
///   continuation lines), as Postfix does. `#` elsewhere is part of the text
///   (it is a valid local-part character), so there are no trailing comments.
/// - Keys: a full address, a bare local part, or `@domain` (catch-all).
///   Keys compare case-insensitively; a key may appear only once.
/// - Targets are separated by commas: full addresses (local or remote) or
///   bare local parts (same domain as the address being expanded). Quoted
///   local parts (`"john doe"@example.com`) may contain `,` `:` and spaces.
/// - `|command`, `/file` and `:include:list` targets are not supported: each
///   is skipped with a warning naming its line. `\user` is an error.
public struct AliasTable: Sendable {
    public let path: String
    public let entries: [AliasEntry]
    public let warnings: [AccountsWarning]

    public static let empty = AliasTable(path: "", entries: [], warnings: [])

    init(path: String, entries: [AliasEntry], warnings: [AccountsWarning]) {
        self.path = path
        self.entries = entries
        self.warnings = warnings
    }

    public static func load(path: String) throws(AccountsFileError) -> AliasTable {
        try read(path: path).table
    }

    static func read(path: String) throws(AccountsFileError) -> (table: AliasTable, identity: FileIdentity) {
        let (bytes, identity) = try AccountFileReader.contents(of: path)
        return (try parse(lines: AccountFileReader.lines(bytes, path: path), path: path), identity)
    }

    /// Parses the text of an aliases file; `path` is only used in messages.
    public static func parse(_ text: String, path: String) throws(AccountsFileError) -> AliasTable {
        try parse(lines: AccountFileReader.lines(Array(text.utf8), path: path), path: path)
    }

    /// A logical line: the physical lines it is made of.
    private struct Logical {
        var segments: [(text: Substring, line: Int)]
    }

    static func parse(lines: [TextLine], path: String) throws(AccountsFileError) -> AliasTable {
        var logicals: [Logical] = []
        for line in lines where !UserTable.isIgnorable(line.text) {
            let text = Substring(line.text)
            if text.first == " " || text.first == "\t" {
                guard !logicals.isEmpty else {
                    throw AccountsFileError(path: path, line: line.number, reason: .continuationWithoutEntry)
                }
                logicals[logicals.count - 1].segments.append((text, line.number))
            } else {
                logicals.append(Logical(segments: [(text, line.number)]))
            }
        }
        var entries: [AliasEntry] = []
        var warnings: [AccountsWarning] = []
        var firstLine: [AliasKeyID: Int] = [:]
        for logical in logicals {
            let entry = try parseEntry(logical, path: path, warnings: &warnings)
            if let first = firstLine[entry.key.id] {
                throw AccountsFileError(path: path, line: entry.line,
                                        reason: .duplicateAlias(entry.key.description, firstLine: first))
            }
            firstLine[entry.key.id] = entry.line
            entries.append(entry)
        }
        return AliasTable(path: path, entries: entries, warnings: warnings)
    }

    private static func parseEntry(_ logical: Logical, path: String,
                                   warnings: inout [AccountsWarning]) throws(AccountsFileError) -> AliasEntry {
        guard let (firstText, lineNumber) = logical.segments.first else {
            throw AccountsFileError(path: path, reason: .missingColon)
        }
        guard let colon = QuoteAwareScanner.firstUnquoted(":", in: firstText) else {
            throw AccountsFileError(path: path, line: lineNumber, reason: .missingColon)
        }
        let keyText = String(firstText[..<colon]).trimmingBlanks()
        let key = try parseKey(keyText, path: path, line: lineNumber)

        var pieces: [(text: String, line: Int)] = []
        var segments = logical.segments
        segments[0].text = firstText[firstText.index(after: colon)...]
        for segment in segments {
            for piece in QuoteAwareScanner.split(segment.text, on: ",") {
                let text = String(piece).trimmingBlanks()
                if !text.isEmpty { pieces.append((text, segment.line)) }
            }
        }
        guard !pieces.isEmpty else {
            throw AccountsFileError(path: path, line: lineNumber, reason: .noTargets(key.description))
        }
        var targets: [AliasTarget] = []
        for piece in pieces {
            if let why = unsupportedReason(piece.text) {
                warnings.append(AccountsWarning(path: path, line: piece.line,
                                                message: "alias \(key): target '\(piece.text)' skipped: \(why)"))
                continue
            }
            targets.append(try parseTarget(piece.text, path: path, line: piece.line))
        }
        if targets.isEmpty {
            warnings.append(AccountsWarning(path: path, line: lineNumber,
                                            message: "alias \(key) has no supported targets; mail to it is refused"))
        }
        return AliasEntry(key: key, targets: targets, line: lineNumber)
    }

    /// aliases(5) targets that Tern deliberately does not implement: it
    /// never runs programs or writes files as a delivery.
    private static func unsupportedReason(_ target: String) -> String? {
        let unquoted = target.hasPrefix("\"") ? String(target.dropFirst()) : target
        if unquoted.hasPrefix("|") { return "delivery to a program is not supported" }
        if unquoted.hasPrefix("/") { return "delivery to a file is not supported" }
        if unquoted.lowercased().hasPrefix(":include:") { return ":include: lists are not supported" }
        return nil
    }

    private static func parseKey(_ text: String, path: String, line: Int) throws(AccountsFileError) -> AliasKey {
        guard !text.isEmpty else {
            throw AccountsFileError(path: path, line: line, reason: .badAddress(text, detail: "the alias key is empty"))
        }
        if text.hasPrefix("@") {
            return .catchAll(try AddressParsing.domain(String(text.dropFirst()), path: path, line: line))
        }
        if QuoteAwareScanner.firstUnquoted("@", in: Substring(text)) != nil {
            return .address(try AddressParsing.mailbox(text, path: path, line: line))
        }
        return .localPart(try AddressParsing.localPart(text, path: path, line: line))
    }

    private static func parseTarget(_ text: String, path: String, line: Int) throws(AccountsFileError) -> AliasTarget {
        if text.hasPrefix("\\") {
            throw AccountsFileError(path: path, line: line, reason: .unsupportedTarget(
                text, detail: "'\\user' (deliver without expanding) is not supported; name the user's full address"))
        }
        if QuoteAwareScanner.firstUnquoted(" ", in: Substring(text)) != nil
            || QuoteAwareScanner.firstUnquoted("\t", in: Substring(text)) != nil {
            throw AccountsFileError(path: path, line: line, reason: .badAddress(
                text, detail: "targets must be separated by commas"))
        }
        if QuoteAwareScanner.firstUnquoted("@", in: Substring(text)) != nil {
            return .address(try AddressParsing.mailbox(text, path: path, line: line))
        }
        return .localPart(try AddressParsing.localPart(text, path: path, line: line))
    }
}

/// Finds separators outside RFC 5321 quoted strings (`"a,b"@x` is one address).
enum QuoteAwareScanner {
    static func firstUnquoted(_ separator: Character, in text: Substring) -> Substring.Index? {
        var quoted = false
        var escaped = false
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if escaped {
                escaped = false
            } else if quoted && c == "\\" {
                escaped = true
            } else if c == "\"" {
                quoted.toggle()
            } else if !quoted && c == separator {
                return index
            }
            index = text.index(after: index)
        }
        return nil
    }

    static func split(_ text: Substring, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var rest = text
        while let index = firstUnquoted(separator, in: rest) {
            parts.append(rest[..<index])
            rest = rest[rest.index(after: index)...]
        }
        parts.append(rest)
        return parts
    }
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
