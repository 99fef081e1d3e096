import Foundation
import Testing
import TernSMTP
@testable import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// Real failures, not simulated ones. Tests run as root, so permissions
/// cannot make a directory unwritable; instead a spool directory is replaced
/// by a regular file (open or rename fails with ENOTDIR at exactly that step), and,
/// where this machine lets the tests mount one, a 64 KiB tmpfs gives a real
/// ENOSPC.
@Suite("Spool: failures leave nothing committed")
struct SpoolFailureTests {
    @Test("When env/ is not a directory, accept fails temporarily and cleans up tmp/")
    func queueDirectoryBroken() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        try FileManager.default.removeItem(atPath: dir.path + "/env")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: dir.path + "/env"))
        do {
            _ = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
            Issue.record("accept should fail")
        } catch {
            guard case .system(let operation, _, let e) = error else { Issue.record("unexpected \(error)"); return }
            #expect(operation == "rename")
            #expect(e == ENOTDIR)
            #expect(error.isTemporary)
            #expect(error.replyCode == 451)
            #expect(error.enhancedStatus == "4.3.0")
        }
        #expect(fileNames(dir.path + "/tmp").isEmpty)
    }

    @Test("When tmp/ is not a directory, accept fails before anything is committed")
    func tmpDirectoryBroken() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        try FileManager.default.removeItem(atPath: dir.path + "/tmp")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: dir.path + "/tmp"))
        #expect(throws: SpoolError.self) {
            try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        }
        #expect(fileNames(dir.path + "/env").isEmpty)
    }

    @Test("When state/ is not a directory, an update fails temporarily and the entry keeps its queue file")
    func stateDirectoryBroken() throws {
        let dir = try TemporaryDirectory()
        let spool = try Spool(directory: dir.path)
        let id = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        var entry = try spool.load(id)
        entry.held = true
        try FileManager.default.removeItem(atPath: dir.path + "/state")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: dir.path + "/state"))
        do {
            try spool.update(entry)
            Issue.record("update should fail")
        } catch {
            #expect(error.isTemporary)
        }
        #expect(fileNames(dir.path + "/tmp").isEmpty)
        #expect(fileNames(dir.path + "/env") == [id.text])
    }

    @Test("A spool path through a regular file cannot be opened")
    func pathThroughFile() throws {
        let dir = try TemporaryDirectory()
        try Data("x".utf8).write(to: URL(fileURLWithPath: dir.path + "/file"))
        #expect(throws: SpoolError.system(operation: "mkdir", path: dir.path + "/file", errno: ENOTDIR)) {
            try Spool(directory: dir.path + "/file/spool")
        }
    }

    @Test("A full disk is a temporary 452 4.3.1 and leaves no partial entry",
          .enabled(if: TinyFilesystem.canMount, "needs permission to mount a tmpfs"))
    func diskFull() throws {
        let fs = try TinyFilesystem()
        let spool = try Spool(directory: fs.path + "/spool")
        let small = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: Sample.message)
        let huge = [UInt8](repeating: UInt8(ascii: "x"), count: 256 * 1024)
        do {
            _ = try spool.accept(envelope: Sample.envelope(), origin: Sample.origin, message: huge)
            Issue.record("accept should fail")
        } catch {
            #expect(error.isStorageFull)
            #expect(error.isTemporary)
            #expect(error.replyCode == 452)
            #expect(error.enhancedStatus == "4.3.1")
        }
        #expect(fileNames(fs.path + "/spool/tmp").isEmpty)
        #expect(try spool.recover().map(\.id) == [small])
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
