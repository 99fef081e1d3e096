import Foundation
import TernDelivery

/// What `tern queue`, `tern sendmail` and `tern reload` say to the running
/// server over its Unix socket (`<state_dir>/control.sock`).
///
/// One request per connection: a line of JSON (`ControlRequest`), then for
/// `submit` exactly `submission.size` message bytes; the server answers
/// with a line of JSON (`ControlResponse`) and closes. Who may ask what is
/// decided on the peer's kernel credentials: anyone may submit a message
/// (as themselves); the queue commands and reload are for root, the
/// server's own user and members of the `tern` group.
public struct ControlRequest: Codable, Sendable, Hashable {
    public enum Command: String, Codable, Sendable {
        case list, show, change, submit, reload
    }

    /// Which queued messages a change is for.
    public enum Target: Codable, Sendable, Hashable {
        case id(String)
        /// Every queued message.
        case all
        /// Every message with a recipient waiting for a retry.
        case deferred
        /// Every message with a recipient in this domain still to be delivered.
        case domain(String)
    }

    public var command: Command
    /// `show`: the queue ID.
    public var id: String?
    public var change: QueueChange?
    public var target: Target?
    public var submission: LocalSubmission.Request?

    public init(command: Command, id: String? = nil, change: QueueChange? = nil, target: Target? = nil,
                submission: LocalSubmission.Request? = nil) {
        self.command = command
        self.id = id
        self.change = change
        self.target = target
        self.submission = submission
    }
}

public struct ControlResponse: Codable, Sendable, Hashable {
    /// Set when the request failed; the rest is then empty.
    public var error: String?
    public var listing: QueueListing?
    public var entry: QueueListing.Entry?
    /// `change`: what happened to each message, by queue ID.
    public var changes: [String: QueueChangeResult]?
    /// `submit`: the new message's queue ID.
    public var queueID: String?
    /// `reload`: what was read again, or why not.
    public var messages: [String]?

    public init(error: String? = nil) { self.error = error }
}

enum ControlCoding {
    /// The longest request line accepted (the JSON before any message bytes).
    static let maximumRequestLine = 64 * 1024

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }

    /// One JSON line, newline-terminated.
    static func line(_ value: some Encodable) throws -> [UInt8] {
        Array(try encoder().encode(value)) + [0x0A]
    }
}
