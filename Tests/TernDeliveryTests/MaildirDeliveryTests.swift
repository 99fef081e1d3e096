import Foundation
import Testing
import TernSMTP
import TernSpool
@testable import TernDelivery
#if canImport(Glibc)
import Glibc
#endif

@Suite("Maildir delivery")
struct MaildirDeliveryTests {
    let delivery = MaildirDelivery(hostname: "mx.example.com")

    /// Writes `bytes` as a spooled message file and returns its path.
    func spooled(_ bytes: [UInt8], in dir: TemporaryDirectory) throws -> String {
        let path = dir.path + "/message"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("A missing Maildir is created with mode 0700, parents too")
    func createsMaildir() throws {
        let dir = try TemporaryDirectory()
        let maildir = dir.path + "/var/mail/example.com/alice/Maildir"
        _ = try delivery.deliver(messageAt: try spooled(Sample.message, in: dir), to: maildir,
                                 returnPath: .mailbox(Sample.mailbox("sender@example.org")),
                                 deliveredTo: Sample.mailbox("alice@example.com"))
        for path in ["/var", "/var/mail", "/var/mail/example.com", "/var/mail/example.com/alice"] {
            #expect(mode(of: dir.path + path) == 0o700, "\(path)")
        }
        for sub in ["", "/cur", "/new", "/tmp"] {
            #expect(mode(of: maildir + sub) == 0o700, "\(sub)")
        }
        #expect(fileNames(maildir + "/tmp").isEmpty)
        #expect(fileNames(maildir + "/cur").isEmpty)
        #expect(fileNames(maildir + "/new").count == 1)
    }

    @Test("The file in new/ has Return-Path and Delivered-To first, LF endings, and its size in the name",
          arguments: Fixtures.messageNames)
    func contents(name: String) throws {
        let dir = try TemporaryDirectory()
        let message = try Fixtures.message(name)
        let maildir = dir.path + "/Maildir"
        let now = Date(timeIntervalSince1970: 1_763_904_240.5)
        let delivered = try delivery.deliver(messageAt: try spooled(message, in: dir), to: maildir,
                                             returnPath: .mailbox(Sample.mailbox("sender@example.org")),
                                             deliveredTo: Sample.mailbox("alice@example.com"), now: now)
        let bytes = try #require(fileBytes(delivered.path))
        let expected = Array("Return-Path: <sender@example.org>\nDelivered-To: alice@example.com\n".utf8)
            + LineEndingConverter.convert(message)
        #expect(bytes == expected)
        #expect(!bytes.contains(UInt8(ascii: "\r")))
        #expect(delivered.size == bytes.count)
        #expect(mode(of: delivered.path) == 0o600)

        let file = String(delivered.path.split(separator: "/").last ?? "")
        #expect(delivered.path == "\(maildir)/new/\(file)")
        let pattern = #/^1763904240\.M500000P(\d+)Q(\d+)\.mx\.example\.com,S=(\d+)$/#
        let match = try #require(file.wholeMatch(of: pattern))
        #expect(Int32(match.output.1) == getpid())
        #expect(Int(match.output.3) == bytes.count)
    }

    @Test("A null reverse-path is written as Return-Path: <>")
    func nullSender() throws {
        let dir = try TemporaryDirectory()
        let delivered = try delivery.deliver(messageAt: try spooled(Sample.message, in: dir), to: dir.path + "/Maildir",
                                             returnPath: .null, deliveredTo: Sample.mailbox("bob@example.com"))
        let text = String(decoding: try #require(fileBytes(delivered.path)), as: UTF8.self)
        #expect(text.hasPrefix("Return-Path: <>\nDelivered-To: bob@example.com\nFrom: "))
    }

    @Test("Delivering into an existing Maildir leaves every file in it untouched, the tmp/ leftover too")
    func fixtureUntouched() throws {
        let dir = try TemporaryDirectory()
        let maildir = try Fixtures.copyMaildir(into: dir.path)
        let before = snapshot(maildir)
        #expect(before.keys.contains("tmp/1763899300.M7P1235Q8.mx.example.com"))
        #expect(before.count >= 15)
        let directoryModes = ["", "/cur", "/new", "/tmp", "/.Junk"].map { mode(of: maildir + $0) }

        var delivered: [String] = []
        for name in Fixtures.messageNames {
            let message = try Fixtures.message(name)
            let path = dir.path + "/spooled-" + name
            try Data(message).write(to: URL(fileURLWithPath: path))
            delivered.append(try delivery.deliver(messageAt: path, to: maildir,
                                                  returnPath: .mailbox(Sample.mailbox("sender@example.org")),
                                                  deliveredTo: Sample.mailbox("alice@example.com")).path)
        }

        let after = snapshot(maildir)
        for (path, facts) in before {
            #expect(after[path] == facts, "\(path) changed")
        }
        let added = Set(after.keys).subtracting(before.keys)
        #expect(added == Set(delivered.map { "new/" + ($0.split(separator: "/").last.map(String.init) ?? "") }))
        #expect(directoryModes == ["", "/cur", "/new", "/tmp", "/.Junk"].map { mode(of: maildir + $0) })
    }

    @Test("Symbolic links to directories are followed, for the Maildir and its parents")
    func symlinks() throws {
        let dir = try TemporaryDirectory()
        let real = dir.path + "/srv/mail"
        try FileManager.default.createDirectory(atPath: real, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.path + "/mail", withDestinationPath: real)
        try FileManager.default.createDirectory(atPath: dir.path + "/home/alice/Maildir", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: real + "/example.com/alice", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: real + "/example.com/alice/Maildir",
                                                   withDestinationPath: dir.path + "/home/alice/Maildir")
        let delivered = try delivery.deliver(messageAt: try spooled(Sample.message, in: dir),
                                             to: dir.path + "/mail/example.com/alice/Maildir", returnPath: .null,
                                             deliveredTo: Sample.mailbox("alice@example.com"))
        #expect(fileNames(dir.path + "/home/alice/Maildir/new").count == 1)
        #expect(fileBytes(delivered.path) != nil)
    }

    @Test("A Maildir path that is a regular file is a permanent 5.2.1 failure and stays as it was")
    func pathIsAFile() throws {
        let dir = try TemporaryDirectory()
        let maildir = dir.path + "/Maildir"
        try Data("mbox, not Maildir\n".utf8).write(to: URL(fileURLWithPath: maildir))
        let error = try expectFailure(message: try spooled(Sample.message, in: dir), maildir: maildir)
        #expect(error.isPermanent)
        #expect(error.reply.code == 550)
        #expect(error.reply.enhancedStatus == "5.2.1")
        #expect(fileBytes(maildir) == Array("mbox, not Maildir\n".utf8))
    }

    @Test("A parent of the Maildir that is a regular file is permanent too")
    func parentIsAFile() throws {
        let dir = try TemporaryDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/example.com"))
        let error = try expectFailure(message: try spooled(Sample.message, in: dir),
                                      maildir: dir.path + "/example.com/alice/Maildir")
        #expect(error.isPermanent)
        #expect(error.reply.enhancedStatus == "5.2.1")
    }

    @Test("A Maildir whose new/ is not a directory is not a Maildir")
    func newIsAFile() throws {
        let dir = try TemporaryDirectory()
        let maildir = dir.path + "/Maildir"
        for sub in ["cur", "tmp"] { try FileManager.default.createDirectory(atPath: "\(maildir)/\(sub)", withIntermediateDirectories: true) }
        try Data().write(to: URL(fileURLWithPath: maildir + "/new"))
        let error = try expectFailure(message: try spooled(Sample.message, in: dir), maildir: maildir)
        #expect(error.isPermanent)
        #expect(fileNames(maildir + "/tmp").isEmpty)
    }

    @Test("A spooled message that cannot be read is a temporary failure that leaves no tmp/ file")
    func missingMessage() throws {
        let dir = try TemporaryDirectory()
        let maildir = dir.path + "/Maildir"
        let error = try expectFailure(message: dir.path + "/no-such-message", maildir: maildir)
        #expect(!error.isPermanent)
        #expect(error.reply.enhancedStatus == "4.3.0")
        #expect(fileNames(maildir + "/tmp").isEmpty)
        #expect(fileNames(maildir + "/new").isEmpty)
    }

    @Test("A full disk is a temporary 452 4.3.1 and leaves no file behind",
          .enabled(if: TinyFilesystem.canMount, "needs permission to mount a tmpfs"))
    func diskFull() throws {
        let dir = try TemporaryDirectory()
        let fs = try TinyFilesystem()
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 200 * 1024)
        let error = try expectFailure(message: try spooled(big, in: dir), maildir: fs.path + "/Maildir")
        #expect(!error.isPermanent)
        #expect(error.reply.code == 452)
        #expect(error.reply.enhancedStatus == "4.3.1")
        #expect(fileNames(fs.path + "/Maildir/tmp").isEmpty)
        #expect(fileNames(fs.path + "/Maildir/new").isEmpty)
    }

    @Test("System errors map to their SMTP meaning", arguments: [
        (ENOSPC, 452, "4.3.1"), (EDQUOT, 452, "4.2.2"), (EACCES, 450, "4.2.0"), (EPERM, 450, "4.2.0"),
        (EROFS, 450, "4.2.0"), (EIO, 451, "4.3.0"), (ENOTDIR, 550, "5.2.1"), (ENAMETOOLONG, 550, "5.2.1"),
        (EMFILE, 451, "4.3.0"),
    ])
    func errnoMapping(errno: Int32, code: Int, status: String) {
        let error = DeliveryError.fromSystem(SystemCallError("open", path: "/x", errno: errno), mailbox: "/x")
        #expect(error.reply.code == code)
        #expect(error.reply.enhancedStatus == status)
        #expect(error.isPermanent == (code >= 500))
    }

    private func expectFailure(message: String, maildir: String) throws -> DeliveryError {
        do {
            let delivered = try delivery.deliver(messageAt: message, to: maildir, returnPath: .null,
                                                 deliveredTo: Sample.mailbox("alice@example.com"))
            Issue.record("delivery should fail, made \(delivered.path)")
            throw POSIXError(.EINVAL)
        } catch let error as DeliveryError {
            return error
        }
    }
}

/// A 64 KiB tmpfs mounted for one test and unmounted after it, in a
/// temporary directory of its own that outlives the mount.
final class TinyFilesystem {
    private let base: TemporaryDirectory
    let path: String

    init() throws {
        base = try TemporaryDirectory()
        path = base.path + "/fs"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=64k,mode=0700") == 0 else { throw POSIXError(.EPERM) }
    }

    deinit { umount2(path, Int32(MNT_DETACH)) }

    /// Whether this process may mount (root in a namespace that allows it).
    static let canMount: Bool = (try? TinyFilesystem()) != nil
}
