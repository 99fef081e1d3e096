// TernSpool — the durable queue.
//
// SECURITY: this target trusts its spool directory and nothing else. It is
// given message bytes and envelopes that a remote peer shaped, stores them
// exactly as given, and never interprets the message. Queue and state files
// are read back through a strict decoder: a queue file whose header does not
// decode, whose name is not a queue ID, or whose size disagrees with its
// header is moved to `corrupt/` and reported, never trusted and never a
// crash; so is a state file that does not decode or does not fit its entry.
//
// It touches only files below the spool directory it is given:
//
//     tmp/        files being written; anything here after a restart is debris
//     env/<id>    the queue file: a `tern-spool 1 <length>` line, the envelope
//                 header (JSON), then the message exactly as received (CRLF);
//                 its presence is the commit point
//     state/<id>  recipient states and history (JSON), only for entries an
//                 attempt left unfinished
//     free/       queue files of completed entries, written again by later
//                 accepts (no inode is made or freed per message)
//     corrupt/    files that recovery could not trust
//
// Durability follows RFC 5321 §4.5.4.1 ("the receiver MUST NOT lose the
// message" once it has replied 250): `Spool.accept` returns only after the
// queue file is fsynced, renamed into `env/` and `env/` is fsynced (one
// directory fsync shared by concurrent accepts, `DirectorySync`). See
// `Spool` for the exact order of operations and why a crash at any moment
// leaves nothing or a complete entry.
//
// Contents: `QueueID`, `Spool` (accept, recover, load, update, complete),
// `SpoolFiles` (the two file formats), `FreeQueueFiles` (the reuse pool),
// the record types (`SpoolEntry`, `RecipientRecord`, `RecipientState`,
// `SpoolReply`, `DeliveryAttempt`),
// `SpoolError`, `RetrySchedule`, and the package-internal POSIX helpers that
// TernDelivery shares: `FileSystem` and `DirectorySync` (group commit of
// directory fsyncs).
