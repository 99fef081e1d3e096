// TernSpool — the durable queue.
//
// SECURITY: this target trusts its spool directory and nothing else. It is
// given message bytes and envelopes that a remote peer shaped, stores them
// exactly as given, and never interprets the message. Record files are read
// back through a strict decoder: a record that does not decode, whose name is
// not a queue ID, or whose message file is missing or of the wrong size is
// moved to `corrupt/` and reported, never trusted and never a crash.
//
// It touches only files below the spool directory it is given:
//
//     tmp/      files being written; anything here after a restart is debris
//     msg/<id>  the message bytes, exactly as received (CRLF line endings)
//     env/<id>  the envelope record (JSON); its presence is the commit point
//     corrupt/  records and messages that recovery could not trust
//
// Durability follows RFC 5321 §4.5.4.1 ("the receiver MUST NOT lose the
// message" once it has replied 250): `Spool.accept` returns only after the
// message and its record are fsynced and renamed into place and both
// directories are fsynced. See `Spool` for the exact order of operations
// and why a crash at any moment leaves nothing or a complete entry.
//
// Contents: `QueueID`, `Spool` (accept, recover, load, update, complete),
// the record types (`SpoolEntry`, `RecipientRecord`, `RecipientState`,
// `SpoolReply`, `DeliveryAttempt`), `SpoolError`, `RetrySchedule`, and the
// package-internal POSIX helpers in `FileSystem` that TernDelivery shares.
