// TernInbound — listeners and the NIO handlers that run SMTP sessions.
//
// SECURITY: this is the code that faces the internet. It trusts nothing a
// peer sends: bytes go to TernSMTP's bounded parsers and state machine, and
// this target only performs the actions they return. It touches sockets,
// the TLS certificate and key files (read at start and on reload), and hands
// complete messages to the queue. Blocking work (password hashing, fsync) runs
// on a thread pool, never on an event loop. Passwords never reach a log.
