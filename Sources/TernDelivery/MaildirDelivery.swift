import Foundation
import TernSMTP
import TernSpool
#if canImport(Glibc)
import Glibc
#endif

/// Delivers one message into one Maildir, the way qmail-local, Postfix's
/// local(8) and Dovecot's LDA do.
///
/// 1. Create the Maildir and its `cur/`, `new/`, `tmp/` (mode 0700, and
///    missing parents too) if they are not there; existing directories are
///    left as they are.
/// 2. Write `tmp/<unique>`: a `Return-Path:` field with the envelope sender
///    (RFC 5322 §3.6.7, RFC 5321 §4.4) and a `Delivered-To:` field with the
///    recipient, then the message with CRLF turned into LF; fsync it.
/// 3. Hard-link it as `new/<unique>,S=<size>`, fsync `new/` (one fsync
///    shared by concurrent deliveries into the same Maildir, see
///    `DirectorySync`), remove the `tmp/` name. `link(2)` fails rather than replace an existing file, so
///    no file already in the Maildir is ever touched; on file systems
///    without hard links it falls back to `rename(2)`.
///
/// When the process runs as root, all of it is done as the mailbox's
/// owner (see `MailboxOwners`): what it creates belongs to them.
///
/// Blocking: run it on a thread pool. If the process dies after step 3 but
/// before the spool records the delivery, the message is delivered again
/// after the restart: delivery is at least once, never lost.
public struct MaildirDelivery: Sendable {
    /// The host part of unique names (normally the configured hostname).
    public var hostname: String
    /// Who owns each Maildir. Default: the process's table.
    public var owners: MailboxOwners = .shared

    public init(hostname: String) {
        self.hostname = hostname
    }

    /// What a successful delivery made.
    public struct Delivered: Hashable, Sendable {
        /// The new file, `<maildir>/new/<unique>,S=<size>`.
        public var path: String
        /// Its size in bytes.
        public var size: Int
    }

    /// Delivers the message file at `messagePath` (a plain file holding
    /// only the message, CRLF as spooled) into the Maildir at `maildir`.
    public func deliver(messageAt messagePath: String, to maildir: String, returnPath: ReversePath,
                        deliveredTo: Mailbox, now: Date = Date()) throws(DeliveryError) -> Delivered {
        let reader: SpoolMessageReader
        do {
            reader = try SpoolMessageReader(plainFile: messagePath)
        } catch {
            throw mapped(.source(error), maildir: maildir)
        }
        return try deliver(message: reader, to: maildir, returnPath: returnPath, deliveredTo: deliveredTo, now: now)
    }

    /// Delivers a spooled message (`Spool.openMessage`), read from where
    /// `message` stands to its end, into the Maildir at `maildir`.
    public func deliver(message: SpoolMessageReader, to maildir: String, returnPath: ReversePath,
                        deliveredTo: Mailbox, now: Date = Date()) throws(DeliveryError) -> Delivered {
        try owners.actingAsOwner(of: maildir) { () throws(DeliveryError) -> Delivered in
            try deliverAsOwner(message: message, to: maildir, returnPath: returnPath, deliveredTo: deliveredTo, now: now)
        }
    }

    private func deliverAsOwner(message: SpoolMessageReader, to maildir: String, returnPath: ReversePath,
                                deliveredTo: Mailbox, now: Date) throws(DeliveryError) -> Delivered {
        try prepare(maildir)
        let name = MaildirName.next(host: hostname, now: now)
        let tmpPath = "\(maildir)/tmp/\(name.base)"
        // Names in tmp/ change through its gate (see `DirectoryGate`).
        let gate = DirectoryGate.forDirectory("\(maildir)/tmp")
        let size: Int
        do {
            size = try write(message, to: tmpPath, gate: gate, returnPath: returnPath, deliveredTo: deliveredTo)
        } catch {
            throw mapped(error, maildir: maildir)
        }
        let newDirectory = "\(maildir)/new"
        let finalPath = "\(newDirectory)/\(name.final(size: size))"
        do {
            try place(tmpPath, at: finalPath, gate: gate)
            try DirectorySync.forDirectory(newDirectory).syncAfterChange()
        } catch {
            try? FileSystem.remove(tmpPath, gate: gate)
            throw DeliveryError.fromSystem(error, mailbox: maildir)
        }
        try? FileSystem.remove(tmpPath, gate: gate)
        return Delivered(path: finalPath, size: size)
    }

    /// Step 1: the Maildir and its three subdirectories.
    func prepare(_ maildir: String) throws(DeliveryError) {
        do {
            // A Maildir may be a symbolic link to one (say, into /home).
            switch try FileSystem.kind(of: maildir, followLinks: true) {
            case .directory:
                break
            case .missing:
                try FileSystem.makeDirectories(maildir)
            case .regular:
                throw DeliveryError.notAMaildir(maildir, "it is a regular file")
            case .other:
                throw DeliveryError.notAMaildir(maildir, "it is not a directory")
            }
            for sub in ["tmp", "new", "cur"] {
                let path = "\(maildir)/\(sub)"
                switch try FileSystem.kind(of: path, followLinks: true) {
                case .directory: continue
                case .missing:
                    try FileSystem.makeDirectory(path)
                    try FileSystem.syncDirectory(maildir)
                case .regular, .other:
                    throw DeliveryError.notAMaildir(maildir, "\(sub) is not a directory")
                }
            }
        } catch let error as DeliveryError {
            throw error
        } catch let error as SystemCallError {
            throw DeliveryError.fromSystem(error, mailbox: maildir)
        } catch {
            throw DeliveryError(code: 451, status: "4.3.0", text: "\(error)")
        }
    }

    /// The Maildir++ folder `folder` of the Maildir at `maildir` (`Junk`
    /// → `<maildir>/.Junk`), made as Dovecot makes one when missing: the
    /// Maildir itself first, then the folder's cur/new/tmp and an empty
    /// `maildirfolder` file.
    public func folder(_ folder: String, of maildir: String) throws(DeliveryError) -> String {
        guard !folder.isEmpty, !folder.contains("/"), folder != ".", folder != ".." else {
            throw DeliveryError.notAMaildir(maildir, "bad folder name \(folder)")
        }
        return try owners.actingAsOwner(of: maildir) { () throws(DeliveryError) -> String in
            try makeFolder(folder, of: maildir)
        }
    }

    private func makeFolder(_ folder: String, of maildir: String) throws(DeliveryError) -> String {
        try prepare(maildir)
        let path = "\(maildir)/.\(folder)"
        try prepare(path)
        let marker = "\(path)/maildirfolder"
        do {
            if try FileSystem.kind(of: marker) == .missing {
                try FileSystem.writeFile(marker, parts: [], mode: 0o600, exclusive: false)
                try FileSystem.syncDirectory(path)
            }
        } catch {
            throw DeliveryError.fromSystem(error, mailbox: path)
        }
        return path
    }

    enum WriteFailure: Error {
        case source(SystemCallError)
        case target(SystemCallError)
    }

    /// Step 2: returns the size of the file written.
    private func write(_ source: SpoolMessageReader, to target: String, gate: DirectoryGate, returnPath: ReversePath,
                       deliveredTo: Mailbox) throws(WriteFailure) -> Int {
        let (output, openErrno) = gate.pass { () -> (Int32, Int32) in
            let fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            return (fd, fd < 0 ? errno : 0)
        }
        guard output >= 0 else { throw .target(SystemCallError("open", path: target, errno: openErrno)) }
        var size = 0
        var isOpen = true
        do throws(WriteFailure) {
            let header = "Return-Path: \(returnPath)\nDelivered-To: \(deliveredTo.text)\n"
            size += try writeOut(Array(header.utf8), output, target)
            var converter = LineEndingConverter()
            var chunk = [UInt8](repeating: 0, count: 65536)
            var converted: [UInt8] = []
            while true {
                let n = try chunk.withUnsafeMutableBytes { b in
                    Result { () throws(SystemCallError) -> Int in try source.readChunk(into: b) }
                }.mapError { WriteFailure.source($0) }.get()
                converted.removeAll(keepingCapacity: true)
                if n == 0 {
                    converter.finish(into: &converted)
                } else {
                    chunk.withUnsafeBytes { converter.convert(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &converted) }
                }
                size += try writeOut(converted, output, target)
                if n == 0 { break }
            }
            if fsync(output) != 0 { throw .target(SystemCallError("fsync", path: target, errno: errno)) }
            isOpen = false
            if close(output) != 0 { throw .target(SystemCallError("close", path: target, errno: errno)) }
        } catch {
            // Never close twice: another thread may already own the number.
            if isOpen { close(output) }
            gate.pass { _ = unlink(target) }
            throw error
        }
        return size
    }

    private func writeOut(_ bytes: [UInt8], _ fd: Int32, _ path: String) throws(WriteFailure) -> Int {
        try bytes.withUnsafeBytes { b in
            Result { () throws(SystemCallError) in try FileSystem.writeAll(fd, b, path: path) }
        }.mapError { WriteFailure.target($0) }.get()
        return bytes.count
    }

    /// Step 3: link, or rename where hard links are not supported.
    private func place(_ tmp: String, at final: String, gate: DirectoryGate) throws(SystemCallError) {
        do {
            try FileSystem.link(tmp, to: final)
        } catch {
            guard error.errno == EPERM || error.errno == EOPNOTSUPP || error.errno == EXDEV else { throw error }
            guard try FileSystem.kind(of: final) == .missing else { throw error }
            try FileSystem.rename(tmp, to: final, gate: gate)
        }
    }

    private func mapped(_ failure: WriteFailure, maildir: String) -> DeliveryError {
        switch failure {
        case .target(let error):
            return .fromSystem(error, mailbox: maildir)
        case .source(let error):
            // The spooled message could not be read: the spool's problem, not the mailbox's.
            return DeliveryError(code: 451, status: "4.3.0", text: "cannot read the queued message: \(error)")
        }
    }
}
