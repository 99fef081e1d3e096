// TernAccounts — who is this recipient, and is this password right.
//
// Local domains, users (a Dovecot passwd-file with crypt(3) hashes), aliases
// (/etc/aliases syntax with full-address keys, bare local parts and catch-alls)
// and sub-addressing, answered from one immutable `Accounts` snapshot that an
// `AccountsStore` swaps atomically when the files change.
//
// SECURITY
// - Trusts: the users file and the aliases file, which the administrator
//   writes. They are parsed strictly anyway: every error names the file and
//   line, and a broken file never replaces the last good snapshot.
// - Does not trust: addresses and credentials that SMTP clients send. They are
//   only ever looked up, never interpreted as paths, commands or patterns.
//   Alias targets that would run a program (`|cmd`), write a file (`/path`) or
//   read another file (`:include:`) are refused with a warning.
// - Touches: reads the users and aliases files (open + fstat + read). The
//   `UsersFile` editor, used by `tern user`, rewrites the users file
//   atomically (temporary file in the same folder, fsync, rename, fsync of the
//   folder) under an advisory lock. Nothing else: no sockets, no logging.
// - Secrets: passwords are passed to crypt(3) and never stored, logged or put
//   in an error or warning. Password hashes are never shown by `description`.
//   Plaintext or unknown password schemes are never accepted.
// - CPU: `PasswordHash.verify` and `Accounts.authenticate` run a deliberately
//   slow hash (yescrypt, SHA-crypt, bcrypt). Callers must run them on a thread
//   pool, never on an event loop.
//
// Formats: Dovecot passwd-file (https://doc.dovecot.org/ "Passwd-file"),
// Dovecot password schemes, aliases(5) / Postfix aliases syntax, Postfix
// recipient_delimiter for sub-addressing, RFC 5321 §4.5.1 (postmaster),
// RFC 5233 (sub-address extension).
