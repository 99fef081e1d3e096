// TernDelivery — from the spool to mailboxes.
//
// SECURITY: this target trusts the spool (records and messages that
// TernSpool wrote), the router it is given, and its configuration. It does
// not trust the values it puts into file names: a recipient's local part
// comes from a users file that mirrors what peers may address, so every
// value substituted into the Maildir path template is lowercased and
// escaped until it cannot name another directory (`MailboxPathTemplate`).
//
// It touches:
//   - the spool, through `Spool` only: recover at startup, load, update and
//     complete records, read message files, and accept the bounces and
//     delay notices it writes (`Notices`);
//   - Maildirs below the configured template: it creates missing
//     directories (mode 0700) and adds new files through `tmp/` → `new/`,
//     never changing or removing a file it did not create; when the
//     process is root, as the mailbox's owner (the delivering thread's
//     file system uid and gid, `MailboxOwners`), so that what it makes is
//     theirs and a user's symbolic link never leads root astray;
//   - the log, one line per delivery attempt.
// It never talks to the network; remote delivery plugs in later through
// `RemoteTransport`.
//
// Contents: `DeliveryScheduler` (a swift-service-lifecycle `Service`) and
// its in-memory `DueQueue`; the `RecipientRouter` and `RemoteTransport`
// protocols it is given; `MaildirDelivery` with `MaildirName`,
// `MailboxPathTemplate` and `LineEndingConverter`; `DeliveryError` and
// `DeliveryOutcome`; `DeliveryConfiguration`; under Bounce/, the bounce
// stage `Notices` and the pure DSN renderer `DSNMessage` (RFC 3464, RFC
// 6533) with `DeliveryReport` and `ReturnedOriginal`. Text in a notice that
// came from a peer (a remote reply, an address) is cleaned of control
// characters so that it cannot add header lines.
