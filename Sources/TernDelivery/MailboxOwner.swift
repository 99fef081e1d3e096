import CThreadCredentials
import Foundation
import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// The Unix user and group a mailbox belongs to.
public struct MailboxOwner: Hashable, Sendable, CustomStringConvertible {
    public var uid: uid_t
    public var gid: gid_t

    public init(uid: uid_t, gid: gid_t) {
        self.uid = uid
        self.gid = gid
    }

    public var description: String { "uid \(uid), gid \(gid)" }
}

/// Maildir delivery done as the mailbox's owner, when Tern runs as root.
///
/// A per-user mail store (Maildirs in home directories, or a tree that a
/// virtual-mail user owns) needs every directory and file made for a
/// mailbox to belong to that mailbox's owner, as Dovecot expects; and root
/// must never follow a user's symbolic link (`~/Maildir/tmp` → `/etc`) to
/// write where the user could not. So the delivering thread takes the
/// owner's identity for file system access — setfsuid(2) and setfsgid(2),
/// which change the calling thread only (glibc applies setuid(2) to every
/// thread, not these) — for the whole delivery, and takes its own back
/// after. Files are then created with the owner's uid and gid from the
/// start (nothing appears in `new/` with another owner, there is no chown
/// to forget), and the kernel checks each step as it would for the owner:
/// while the file system uid is not 0 the thread has no CAP_DAC_OVERRIDE,
/// CAP_CHOWN or CAP_FOWNER (capabilities(7)). The thread keeps root's
/// supplementary groups meanwhile (normally only root's own group).
///
/// **Who owns a Maildir.** The path is walked from `/` down, a final
/// symbolic link of each step not followed; the first component owned by
/// someone other than root decides, with its uid and gid. Whoever owns a
/// directory can replace anything below it, so acting as them grants them
/// nothing they do not already have. What root owns was put there by the
/// administrator and is trusted: a root-owned symbolic link
/// (`/var/mail/example.com/alice/Maildir` → `/home/alice/Maildir`) is
/// followed, and its target's owner counts. The walk stops at the first
/// missing component. So `/home/alice/Maildir` → alice,
/// `/var/mail/example.com/bob/Maildir` under a vmail-owned `/var/mail` →
/// vmail, and a path owned by root all along → root: delivery then runs
/// as root, as it does when Tern is not started as root at all — keep such
/// a tree writable by root only.
///
/// When the process is not root (`user` is set in the configuration, or
/// it was started as an unprivileged user) none of this happens: no walk,
/// no extra system call; whatever Tern creates is its own user's.
///
/// A decision for a non-root owner is kept for `lifetime` per Maildir
/// path (only root can change it, by changing who owns a directory); a
/// root decision is made afresh each time, since a missing component may
/// be created by a user meanwhile.
public final class MailboxOwners: Sendable {
    /// The process's table.
    public static let shared = MailboxOwners()

    /// How long a decision is kept. Default 60 s.
    public let lifetime: TimeInterval

    private let cache = SleepingMutex<[String: (owner: MailboxOwner, until: Date)]>([:])

    public init(lifetime: TimeInterval = 60) {
        self.lifetime = lifetime
    }

    /// Whether this process may act as others; read at the first delivery,
    /// which comes after `tern serve` has given up root (when `user` is
    /// set). Should it still be stale, setfsuid(2) without CAP_SETUID
    /// changes nothing and the check in `actingAsOwner` refuses.
    private static let processIsRoot = geteuid() == 0

    /// Runs `body` (the whole delivery into `maildir`) with the file
    /// system identity of the Maildir's owner when this process is root and
    /// the owner is not; otherwise just runs it. Never returns with the
    /// thread's identity changed. `body` must not suspend or hand work to
    /// another thread.
    func actingAsOwner<R>(of maildir: String, _ body: () throws(DeliveryError) -> R) throws(DeliveryError) -> R {
        guard Self.processIsRoot, let owner = owner(of: maildir) else { return try body() }
        return try Self.acting(as: owner, mailbox: maildir, body)
    }

    /// The non-root owner of the Maildir at `maildir`, nil when root owns
    /// it (or the path all the way down to a missing component).
    public func owner(of maildir: String) -> MailboxOwner? {
        let now = Date()
        if let kept = cache.withLock({ $0[maildir] }), kept.until > now { return kept.owner }
        guard let owner = Self.walk(maildir) else {
            cache.withLock { $0[maildir] = nil }
            return nil
        }
        cache.withLock { $0[maildir] = (owner, now.addingTimeInterval(lifetime)) }
        return owner
    }

    /// The walk described above, uncached.
    static func walk(_ path: String) -> MailboxOwner? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var prefix = ""
        for component in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            var st = stat()
            guard lstat(prefix, &st) == 0 else { return nil }
            if st.st_mode & S_IFMT == S_IFLNK && st.st_uid == 0 {
                guard stat(prefix, &st) == 0 else { return nil }
            }
            if st.st_uid != 0 { return MailboxOwner(uid: st.st_uid, gid: st.st_gid) }
        }
        return nil
    }

    /// Runs `body` with the calling thread's file system uid and gid set to
    /// `owner`'s, then restores them (uid first: that gives the thread its
    /// capabilities back, which setting the gid needs).
    static func acting<R>(as owner: MailboxOwner, mailbox: String,
                          _ body: () throws(DeliveryError) -> R) throws(DeliveryError) -> R {
        let previousGID = gid_t(truncatingIfNeeded: setfsgid(owner.gid))
        let previousUID = uid_t(truncatingIfNeeded: setfsuid(owner.uid))
        defer {
            _ = setfsuid(previousUID)
            _ = setfsgid(previousGID)
        }
        // Each call answers the identity before it; an invalid id (-1)
        // changes nothing, so this reads the current one back.
        guard uid_t(truncatingIfNeeded: setfsuid(uid_t.max)) == owner.uid,
              gid_t(truncatingIfNeeded: setfsgid(gid_t.max)) == owner.gid else {
            throw DeliveryError(code: 451, status: "4.3.0",
                                text: "cannot act as the owner (\(owner)) of \(mailbox) to deliver into it")
        }
        return try body()
    }
}
