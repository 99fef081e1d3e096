// TernSMTP — the SMTP protocol as values.
//
// SECURITY: everything here parses bytes that a remote peer controls. Nothing in
// this target opens a socket or a file; every parser is bounded (line lengths,
// path lengths, parameter counts) and returns a typed error rather than trapping.
// It trusts nothing and touches nothing: callers perform the actions it returns.
//
// Contents: addresses and paths (RFC 5321 §4.1.2, RFC 6531 for UTF-8), replies
// with enhanced status codes (RFC 3463), commands and ESMTP parameters, line
// framing, DATA/BDAT body decoding and the server session state machine.
