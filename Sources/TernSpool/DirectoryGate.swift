import Foundation
import Synchronization

/// Lets one thread of this process at a time create, rename or remove
/// names in one directory, the others sleeping meanwhile.
///
/// Linux serialises those operations on the directory's lock anyway, and a
/// waiter spins on the CPU while the holder runs. Creating a file can hold
/// that lock for long: on ext4 without a journal, inode allocation walks the
/// inode bitmap past every recently deleted inode (`recently_deleted()`),
/// hundreds of microseconds on a busy file system, and on a two-core machine
/// a spinning waiter then takes half the CPU. Waiting here instead, on a
/// mutex that sleeps, leaves that CPU to useful work. It changes nothing
/// about what reaches the disk or in which order.
///
/// One gate per directory path (`forDirectory`), made on first use and kept
/// for the life of the process.
package final class DirectoryGate: @unchecked Sendable {
    package let path: String
    /// NSLock is a plain pthread mutex: a waiter sleeps in the kernel at once.
    private let lock = NSLock()

    package init(path: String) {
        self.path = path
    }

    package static func forDirectory(_ path: String) -> DirectoryGate {
        registry.withLock { table in
            if let existing = table[path] { return existing }
            let made = DirectoryGate(path: path)
            table[path] = made
            return made
        }
    }

    private static let registry = SleepingMutex<[String: DirectoryGate]>([:])

    /// Runs `body` (one system call that changes a name in the directory)
    /// while no other thread of this process passes the gate.
    package func pass<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
