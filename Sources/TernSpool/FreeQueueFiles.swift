import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Queue files of completed entries, kept in `free/` to be written again
/// by later accepts, so that in steady state the spool neither allocates
/// nor frees an inode or a block per message.
///
/// On ext4 without a journal, creating a file walks the inode bitmap past
/// every inode freed in the last minutes (`recently_deleted()`), so each
/// create costs more the more files were recently deleted; reusing files
/// avoids both the create and the delete.
///
/// **When a file may be rewritten.** `complete` renames `env/<id>` to
/// `free/<id>` without an fsync; the file is handed out again only once an
/// `env/` fsync that started after that rename has succeeded (the next
/// accept's, as a rule), so its removal from `env/` is durable before a
/// single byte of it changes. A crash can therefore never leave a name in
/// `env/` on a file that is being rewritten: an entry that comes back after
/// a crash still has its own, complete content (an at-least-once duplicate).
///
/// Files larger than `maximumSize` are not kept, nor more than `capacity`
/// bytes of them (counted in whole 4 KiB blocks); those are unlinked as
/// before. The defaults keep up to 64 MiB: some 16,000 files of small
/// messages, enough for the backlog of a burst to drain without a delete.
///
/// One pool per spool directory path in this process (`shared`), made on
/// first use from what `free/` holds; a file is handed to one accept at a
/// time.
final class FreeQueueFiles: Sendable {
    /// Bytes of free files kept at most. Default: 64 MiB.
    static let defaultCapacity = 64 << 20
    /// The largest file kept. Default: 256 KiB.
    static let defaultMaximumSize = 256 << 10

    struct File: Hashable, Sendable {
        var name: String
        var size: Int
        /// The `env/` fsync batch that makes its removal from `env/` durable.
        var batch: UInt64
    }

    let directory: String
    let queueSync: DirectorySync
    let capacity: Int
    let maximumSize: Int
    private struct State {
        /// Oldest first from `head` on.
        var files: [File] = []
        var head = 0
        /// Bytes of `files` and of the completions between `reserve` and
        /// `add`/`cancel`, in whole blocks.
        var bytes = 0
    }

    private let state = SleepingMutex(State())

    init(directory: String, queueSync: DirectorySync, capacity: Int = defaultCapacity,
         maximumSize: Int = defaultMaximumSize) {
        self.directory = directory
        self.queueSync = queueSync
        self.capacity = capacity
        self.maximumSize = maximumSize
    }

    /// The pool of the spool whose `free/` is `directory`, listing it on
    /// first use: its files wait for the next `env/` fsync like any other
    /// (a crash may have left their removal from `env/` in the page cache
    /// only). Files past the capacity or size limits are unlinked.
    static func shared(directory: String, queueSync: DirectorySync) -> FreeQueueFiles {
        registry.withLock { table in
            if let pool = table[directory] { return pool }
            let pool = FreeQueueFiles(directory: directory, queueSync: queueSync)
            pool.adoptListing()
            table[directory] = pool
            return pool
        }
    }

    private static let registry = SleepingMutex<[String: FreeQueueFiles]>([:])

    func adoptListing() {
        guard let names = try? FileSystem.list(directory) else { return }
        for name in names.sorted() {
            let path = "\(directory)/\(name)"
            guard case .regular(let size)? = try? FileSystem.kind(of: path) else { continue }
            if reserve(size: size) {
                add(name: name, size: size)
            } else {
                try? FileSystem.remove(path)
            }
        }
    }

    /// Takes the oldest file whose removal from `env/` is durable, or nil.
    func take() -> File? {
        state.withLock { s in
            guard s.head < s.files.count else { return nil }
            let first = s.files[s.head]
            guard queueSync.isDurable(first.batch) else { return nil }
            s.bytes -= FreeQueueFiles.blocks(first.size)
            s.head += 1
            if s.head == s.files.count {
                s.files.removeAll(keepingCapacity: true)
                s.head = 0
            } else if s.head >= 1024 && s.head * 2 >= s.files.count {
                s.files.removeFirst(s.head)
                s.head = 0
            }
            return first
        }
    }

    /// Makes room for one more file of `size` bytes; false when it should
    /// be unlinked instead. Follow with `add` or `cancel` (same size).
    func reserve(size: Int) -> Bool {
        guard size <= maximumSize else { return false }
        return state.withLock { s in
            guard s.bytes + FreeQueueFiles.blocks(size) <= capacity else { return false }
            s.bytes += FreeQueueFiles.blocks(size)
            return true
        }
    }

    /// Adds a file just renamed into `free/`.
    func add(name: String, size: Int) {
        // Read after the rename. Concurrent completions may append out of
        // batch order; `take` looks at the oldest only, which merely delays
        // a file behind it a little.
        let batch = queueSync.nextBatch
        state.withLock { s in
            s.files.append(File(name: name, size: size, batch: batch))
        }
    }

    func cancel(size: Int) {
        state.withLock { $0.bytes -= FreeQueueFiles.blocks(size) }
    }

    /// `size` rounded up to whole 4 KiB blocks, at least one.
    static func blocks(_ size: Int) -> Int { max(1, (size + 4095) / 4096) * 4096 }

    /// Files waiting now (for tests).
    var count: Int { state.withLock { $0.files.count - $0.head } }
}
