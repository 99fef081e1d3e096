import Foundation
import Testing
import TernSMTP
@testable import TernDelivery
#if canImport(Glibc)
import Glibc
#endif

/// Maildir delivery by a root process into trees that users own. Ids need
/// no password-database entry: the kernel only compares numbers.
@Suite("Maildir delivery as the mailbox's owner", .enabled(if: geteuid() == 0, "needs root: chown and setfsuid"))
struct MailboxOwnerTests {
    static let alice = MailboxOwner(uid: 4242, gid: 4343)
    static let vmail = MailboxOwner(uid: 5000, gid: 5001)

    /// A delivery with a table of its own, so no decision is kept between tests.
    let delivery: MaildirDelivery = {
        var d = MaildirDelivery(hostname: "mx.example.com")
        d.owners = MailboxOwners()
        return d
    }()

    /// A fresh directory that others may pass through, as / and /home are.
    func world() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        chmod(dir.path, 0o755)
        return dir
    }

    func directory(_ path: String, owner: MailboxOwner? = nil, mode: mode_t = 0o755) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, mode)
        if let owner { #expect(chown(path, owner.uid, owner.gid) == 0) }
    }

    func symlink(_ path: String, to target: String, owner: MailboxOwner? = nil) {
        #expect(Glibc.symlink(target, path) == 0)
        if let owner { #expect(lchown(path, owner.uid, owner.gid) == 0) }
    }

    func owner(of path: String) -> MailboxOwner? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return MailboxOwner(uid: st.st_uid, gid: st.st_gid)
    }

    func deliver(to maildir: String, _ delivery: MaildirDelivery? = nil) throws(DeliveryError) -> MaildirDelivery.Delivered {
        let messagePath = NSTemporaryDirectory() + "/tern-owner-test-\(UInt64.random(in: 0...UInt64.max))"
        _ = FileManager.default.createFile(atPath: messagePath, contents: Data(Sample.message))
        defer { unlink(messagePath) }
        return try (delivery ?? self.delivery).deliver(messageAt: messagePath, to: maildir,
                                                      returnPath: .mailbox(Sample.mailbox("sender@example.org")),
                                                      deliveredTo: Sample.mailbox("alice@example.com"))
    }

    @Test("The first component of the path not owned by root decides who owns a Maildir")
    func walk() throws {
        let dir = try world()
        let root = dir.path
        // A home directory: missing Maildir, the home's owner.
        try directory(root + "/home/alice", owner: Self.alice, mode: 0o700)
        #expect(MailboxOwners.walk(root + "/home/alice/Maildir") == Self.alice)
        // A vmail-owned tree: the top of it decides, however deep the Maildir.
        try directory(root + "/vmail/example.com", owner: Self.vmail)
        #expect(chown(root + "/vmail", Self.vmail.uid, Self.vmail.gid) == 0)
        #expect(MailboxOwners.walk(root + "/vmail/example.com/bob/Maildir") == Self.vmail)
        // Root all along, down to a missing component: nobody else.
        try directory(root + "/var/mail")
        #expect(MailboxOwners.walk(root + "/var/mail/example.com/bob/Maildir") == nil)
        // A link the administrator made is followed: its target's owner counts.
        try directory(root + "/var/mail/example.com/carol")
        symlink(root + "/var/mail/example.com/carol/Maildir", to: root + "/home/alice/Maildir")
        try directory(root + "/home/alice/Maildir", owner: Self.alice, mode: 0o700)
        #expect(MailboxOwners.walk(root + "/var/mail/example.com/carol/Maildir") == Self.alice)
        // A link a user made is not: pointing at root's directory makes nobody root.
        try directory(root + "/home/mallory")
        try directory(root + "/etc")
        symlink(root + "/home/mallory/Maildir", to: root + "/etc", owner: Self.alice)
        #expect(MailboxOwners.walk(root + "/home/mallory/Maildir") == Self.alice)
    }

    @Test("Delivered by root into a user's home: the new Maildir, its folders, the Junk folder and the message are the user's")
    func deliversAsOwner() throws {
        let dir = try world()
        let home = dir.path + "/home/alice"
        try directory(home, owner: Self.alice, mode: 0o700)
        let maildir = home + "/Maildir"

        let delivered = try deliver(to: maildir)
        for path in [maildir, maildir + "/tmp", maildir + "/new", maildir + "/cur"] {
            #expect(owner(of: path) == Self.alice, "\(path)")
            #expect(mode(of: path) == 0o700, "\(path)")
        }
        #expect(owner(of: delivered.path) == Self.alice)
        #expect(mode(of: delivered.path) == 0o600)
        #expect(fileNames(maildir + "/new").count == 1)
        #expect(fileNames(maildir + "/tmp").isEmpty)

        let junk = try delivery.folder("Junk", of: maildir)
        for path in [junk, junk + "/tmp", junk + "/new", junk + "/cur", junk + "/maildirfolder"] {
            #expect(owner(of: path) == Self.alice, "\(path)")
        }
        let quarantined = try deliver(to: junk)
        #expect(owner(of: quarantined.path) == Self.alice)

        // The thread is root again afterwards: what it creates now is root's.
        let after = dir.path + "/after"
        #expect(FileManager.default.createFile(atPath: after, contents: Data()))
        #expect(owner(of: after) == MailboxOwner(uid: 0, gid: 0))
        // And a tree root owns is still written as root.
        let rootOwned = try deliver(to: dir.path + "/var/mail/example.com/bob/Maildir")
        #expect(owner(of: rootOwned.path) == MailboxOwner(uid: 0, gid: 0))
    }

    @Test("A symbolic link a user put in their Maildir cannot make root write where the user may not")
    func plantedLinks() throws {
        let dir = try world()
        let protected = dir.path + "/etc"
        try directory(protected)
        // The whole Maildir is a link to root's directory.
        try directory(dir.path + "/home/mallory", owner: Self.alice)
        symlink(dir.path + "/home/mallory/Maildir", to: protected, owner: Self.alice)
        #expect(throws: DeliveryError.self) { try deliver(to: dir.path + "/home/mallory/Maildir") }
        // Its tmp/ and new/ are links to it.
        try directory(dir.path + "/home/eve/Maildir/cur", owner: Self.alice, mode: 0o700)
        #expect(chown(dir.path + "/home/eve", Self.alice.uid, Self.alice.gid) == 0)
        #expect(chown(dir.path + "/home/eve/Maildir", Self.alice.uid, Self.alice.gid) == 0)
        symlink(dir.path + "/home/eve/Maildir/tmp", to: protected, owner: Self.alice)
        symlink(dir.path + "/home/eve/Maildir/new", to: protected, owner: Self.alice)
        do {
            _ = try deliver(to: dir.path + "/home/eve/Maildir")
            Issue.record("delivered through links into a directory only root may write")
        } catch {
            #expect(error.isPermanent == false)
        }
        #expect(fileNames(protected).isEmpty)
    }
}
