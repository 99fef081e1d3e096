import Foundation
import Testing
@testable import TernServer
#if canImport(Glibc)
import Glibc
#endif

/// The parts of the switch to `user` that a test process can go through
/// without giving up root itself; `become()` runs in the e2e scenario
/// `deploy-run-as-user`, in the real binary.
@Suite("ServiceAccount: the user tern serve runs as")
struct ServiceAccountTests {
    /// Ids need no password-database entry to own files.
    static let account = ServiceAccount(name: "tern-test", uid: 4242, gid: 4343)

    struct Owner: Equatable, CustomStringConvertible {
        var uid: uid_t
        var gid: gid_t
        var description: String { "\(uid):\(gid)" }
    }

    static let tern = Owner(uid: 4242, gid: 4343)
    static let root = Owner(uid: 0, gid: 0)

    func owner(_ path: String) -> Owner? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return Owner(uid: st.st_uid, gid: st.st_gid)
    }

    func write(_ path: String) {
        #expect(FileManager.default.createFile(atPath: path, contents: Data("x".utf8)))
    }

    @Test("no user means nothing to do; an unknown one names the useradd line; root is refused")
    func switchTarget() throws {
        #expect(try ServiceAccount.switchTarget(for: nil) == nil)
        do {
            _ = try ServiceAccount.switchTarget(for: "tern-no-such-user-x")
            Issue.record("an unknown user was accepted")
        } catch {
            #expect(error.description.contains("user = \"tern-no-such-user-x\": there is no such user"))
            #expect(error.description.contains("useradd --system"))
        }
        #expect(throws: ServiceAccount.Failure.self) { try ServiceAccount.switchTarget(for: "root") }
        // nobody is in every Debian passwd file.
        let nobody = try ServiceAccount.named("nobody")
        #expect(nobody.uid == 65534)
        if geteuid() == 0 {
            #expect(try ServiceAccount.switchTarget(for: "nobody") == nobody)
        } else if geteuid() != nobody.uid {
            #expect(throws: ServiceAccount.Failure.self) { try ServiceAccount.switchTarget(for: "nobody") }
        }
    }

    @Test("the state directory, the spool with everything in it, the lock and the pickup directories are handed over; pickup files keep their senders; links and linked files are left alone",
          .enabled(if: geteuid() == 0, "needs root: chown"))
    func handOver() throws {
        let base = NSTemporaryDirectory() + "/tern-handover-\(UInt64.random(in: 0...UInt64.max))"
        let state = base + "/state"
        defer { try? FileManager.default.removeItem(atPath: base) }
        let fm = FileManager.default
        for dir in ["spool/env", "spool/tmp", "spool/state", "pickup", "pickup.refused", "tls"] {
            try fm.createDirectory(atPath: state + "/" + dir, withIntermediateDirectories: true)
        }
        write(state + "/tern.lock")
        write(state + "/spool/env/0001")
        write(state + "/spool/state/0001")
        write(state + "/pickup/1700000000.42.7")
        #expect(chown(state + "/pickup/1700000000.42.7", 1000, 1000) == 0)
        write(state + "/pickup.refused/1700000000.43.8")
        write(state + "/tls/key.pem")
        // What a subverted user could have left in its spool: a link to a
        // file of the system's, and a second name of one.
        write(base + "/shadow")
        #expect(symlink(base + "/shadow", state + "/spool/tmp/link") == 0)
        #expect(link(base + "/shadow", state + "/spool/tmp/hardlink") == 0)
        #expect(symlink(base, state + "/spool/linked-dir") == 0)

        try Self.account.handOver(stateDirectory: state)

        for path in ["", "/spool", "/spool/env", "/spool/env/0001", "/spool/tmp", "/spool/state", "/spool/state/0001",
                     "/tern.lock", "/pickup", "/pickup.refused"] {
            #expect(owner(state + path) == Self.tern, "\(path)")
        }
        #expect(owner(state + "/pickup/1700000000.42.7") == Owner(uid: 1000, gid: 1000))
        #expect(owner(state + "/pickup.refused/1700000000.43.8") == Self.root)
        #expect(owner(state + "/tls") == Self.root)
        #expect(owner(state + "/tls/key.pem") == Self.root)
        #expect(owner(base + "/shadow") == Self.root)
        #expect(owner(state + "/spool/tmp/link") == Self.root)
        #expect(owner(state + "/spool/linked-dir") == Self.root)
        #expect(owner(base) == Self.root)

        // Again, with everything already handed over: nothing changes, nothing fails.
        try Self.account.handOver(stateDirectory: state)
        #expect(owner(state + "/spool/env/0001") == Self.tern)
    }

    @Test("a missing state directory is an error naming it")
    func missingStateDirectory() {
        do {
            try Self.account.handOver(stateDirectory: "/nonexistent/tern-state")
            Issue.record("handed over a directory that does not exist")
        } catch {
            #expect(error.description.hasPrefix("open /nonexistent/tern-state: "))
        }
    }

    @Test("proc status lines are read as name and value, whitespace folded")
    func statusFields() {
        let fields = ServiceAccount.statusFields("Name:\ttern\nUid:\t998\t998\t998\t998\nGid:\t997\t997\t997\t997\n"
                                                 + "Groups:\t997 \nCapEff:\t0000000000000000\n")
        #expect(fields["Uid"] == "998 998 998 998")
        #expect(fields["Gid"] == "997 997 997 997")
        #expect(fields["Groups"] == "997")
        #expect(fields["CapEff"] == "0000000000000000")
        #expect(fields["Name"] == "tern")
    }
}
