import Foundation
import Testing
import TernSMTP
@testable import TernSpool

@Suite("Spool: accepting")
struct SpoolAcceptTests {
    @Test("An accepted message is stored byte for byte after its header and recovered as a committed entry")
    func acceptThenRecover() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)

        let file = try #require(fileBytes(spool.queueFilePath(id)))
        #expect(Array(file.suffix(Sample.message.count)) == Sample.message)
        #expect(try spool.openMessage(id).readAll() == Sample.message)
        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(fileNames(dir.path + "/env") == [id.text])
        #expect(fileNames(dir.path + "/state").isEmpty)

        let reopened = try Spool(directory: dir.path)
        let entries = try reopened.recover()
        #expect(entries.map(\.id) == [id])
        let entry = try #require(entries.first)
        #expect(entry.envelope == Sample.envelope())
        #expect(entry.origin == Sample.origin)
        #expect(entry.messageSize == Sample.message.count)
        #expect(entry.recipients == [RecipientRecord(mailbox: Sample.mailbox("alice@example.com"))])
        #expect(entry.held == false)
        #expect(entry.history.isEmpty)
        #expect(try reopened.load(id) == entry)
    }

    @Test("The spool directories are created with mode 0700 and files with 0600")
    func modes() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path + "/var/spool")
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        try spool.update(try spool.load(id))
        for sub in ["", "/tmp", "/env", "/state", "/corrupt"] {
            #expect(mode(of: dir.path + "/var/spool" + sub) == 0o700)
        }
        #expect(mode(of: spool.queueFilePath(id)) == 0o600)
        #expect(mode(of: spool.statePath(id)) == 0o600)
    }

    @Test("The queue file is a tern-spool line, a pretty-printed JSON header with sorted keys, then the message")
    func queueFileIsReadable() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(["alice@example.com", "bob@example.com"]),
                                  origin: Sample.origin, message: Sample.message)
        let file = try #require(fileBytes(spool.queueFilePath(id)))
        let firstLine = String(decoding: file.prefix(while: { $0 != UInt8(ascii: "\n") }), as: UTF8.self)
        let words = firstLine.split(separator: " ")
        #expect(words.count == 3)
        #expect(words.first == "tern-spool")
        #expect(words.dropFirst().first == "1")
        let headerLength = try #require(words.last.flatMap { Int($0) })
        let headerStart = firstLine.utf8.count + 1
        #expect(file.count == headerStart + headerLength + Sample.message.count)
        let header = String(decoding: file[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        #expect(header.hasPrefix("{\n"))
        #expect(header.hasSuffix("}\n"))
        let lines = header.split(separator: "\n")
        #expect(lines.count > 20)
        let topKeys = lines.filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(topKeys == ["arrivedAt", "envelope", "id", "messageSize", "origin"])
        #expect(header.contains("\"id\" : \"\(id)\""))
        #expect(header.contains("\"sender\" : \"<sender@example.org>\""))
        #expect(header.contains("bob@example.com"))
        #expect(header.contains("\"messageSize\" : \(Sample.message.count)"))
    }

    @Test("A message given in parts is stored as their concatenation")
    func parts() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let received = Array("Received: by mx.example.com; Sun, 23 Nov 2025 13:24:00 +0000\r\n".utf8)
        let body = Array("Subject: x\r\n\r\nbody\r\n".utf8)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin,
                                  messageParts: [received, Data(body), [UInt8]()])
        #expect(try spool.openMessage(id).readAll() == received + body)
        #expect(try spool.load(id).messageSize == received.count + body.count)
    }

    @Test("A message larger than any read buffer comes back whole, and so does an empty one")
    func sizes() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let big = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for message in [big, []] {
            let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: message)
            #expect(try spool.openMessage(id).readAll() == message)
            #expect(try spool.load(id).messageSize == message.count)
        }
        #expect(try spool.recover().count == 2)
    }

    @Test("A header larger than the first read is read whole")
    func bigHeader() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let many = (0..<400).map { "recipient-number-\($0)-with-a-long-local-part@example.com" }
        let id = try spool.accept(envelope: Sample.envelope(many), origin: Sample.origin, message: Sample.message)
        let entry = try spool.load(id)
        #expect(entry.recipients.count == 400)
        #expect(entry.envelope == Sample.envelope(many))
        #expect(try spool.openMessage(id).readAll() == Sample.message)
    }

    @Test("An envelope without recipients is refused permanently and leaves nothing behind")
    func noRecipients() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        #expect(throws: SpoolError.invalidEnvelope("no recipients")) {
            try spool.accept(envelope: Sample.envelope([]), origin: Sample.origin, message: Sample.message)
        }
        #expect(SpoolError.invalidEnvelope("no recipients").isTemporary == false)
        #expect(try spool.recover().isEmpty)
    }

    @Test("Concurrent accepts each commit their own entry")
    func concurrent() async throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let ids = try await withThrowingTaskGroup(of: QueueID.self) { group in
            for i in 0..<32 {
                group.addTask {
                    try spool.accept(envelope: Sample.envelope(), origin: Sample.origin,
                                     message: Array("Subject: \(i)\r\n\r\n".utf8))
                }
            }
            return try await group.reduce(into: [QueueID]()) { $0.append($1) }
        }
        #expect(Set(ids).count == 32)
        #expect(Set(try spool.recover().map(\.id)) == Set(ids))
    }
}

@Suite("Spool: the queue file header")
struct HeaderWriterTests {
    static let envelopes: [Envelope] = [
        Sample.envelope(),
        Sample.envelope(["alice@example.com", "bob@example.com"], sender: nil),
        Envelope(sender: .mailbox(Sample.mailbox("\"odd \\\"quoted\\\\ local\"@example.org")),
                 recipients: [
                     EnvelopeRecipient(mailbox: Sample.mailbox("jürgen@bücher.example"), notify: .never,
                                       originalRecipient: OriginalRecipient(addressType: "rfc822", address: "a/b+c@example.com")),
                     EnvelopeRecipient(mailbox: Sample.mailbox("postmaster@example.com"), notify: .default),
                 ],
                 body: .binaryMIME, smtpUTF8: true, declaredSize: 123_456, dsnReturn: .headers,
                 envelopeID: "id with \"quotes\", a tab\t, a \u{1} control and ünïcode/slash"),
    ]

    static let origins: [MessageOrigin] = [
        Sample.origin,
        MessageOrigin(role: "submission", clientAddress: "2001:db8::1", heloName: "[192.0.2.1]",
                      reverseName: "host.example.net", tlsVersion: "TLSv1.3", tlsCipher: "TLS_AES_128_GCM_SHA256",
                      authenticatedUser: "alice@example.com", protocolName: "ESMTPSA",
                      receivedAt: Date(timeIntervalSince1970: 1_763_900_000.25)),
    ]

    @Test("The hand-written header is byte for byte what JSONEncoder writes, and decodes to the same value",
          arguments: envelopes, origins)
    func matchesFoundation(envelope: Envelope, origin: MessageOrigin) throws {
        let header = SpoolFiles.Header(id: QueueID.generate(), envelope: envelope, origin: origin,
                                       arrivedAt: Date(timeIntervalSince1970: 1_763_904_240.123), messageSize: 42)
        let ours = HeaderWriter.write(header)
        let foundation = try SpoolFiles.foundationJSON(header)
        #expect(String(decoding: ours, as: UTF8.self) == String(decoding: foundation, as: UTF8.self))
        let decoded = try (ours + [UInt8(ascii: "\n")]).withUnsafeBytes { try SpoolFiles.decodeHeader($0) }
        #expect(decoded.envelope == envelope)
        #expect(decoded.origin == origin)
        #expect(decoded.id == header.id)
        #expect(decoded.arrivedAt == header.arrivedAt)
        #expect(decoded.messageSize == 42)
    }
}
