// TernMailAuth — who sent this message: SPF, DKIM, DMARC and the
// Authentication-Results field that records the verdicts.
//
// SECURITY: everything here reads what a remote peer controls — DNS TXT
// records published by anyone, header fields written by the sender — and
// trusts none of it. Parsers work on bytes, are bounded (record lengths,
// macro digits, header sizes) and return typed results (`permerror`,
// `.notDMARC`, …) instead of trapping. Values rendered into header fields are
// quoted and stripped of control characters so no peer can inject a line.
// Files read: the public suffix list
// (/usr/share/publicsuffix/public_suffix_list.dat, Debian `publicsuffix`),
// once, when first needed; DKIM private keys under the configured keys
// folder (`DKIMKeyStore`, which also writes new keys with mode 0600).
// DNS goes through an injected lookup — in the
// server `TernDNS.DNSResolver`, never the system resolver.
//
// Blocking C calls (libspf2) run only on the checker's own threads
// (`BlockingThreadPool`), never on an event loop; libspf2's DNS layer is
// Tern's (`LibSPF2Layer`) and answers from the injected `SPFLookup`.
//
// C: libopendkim (COpenDKIM) verifies DKIM signatures on the thread pool
// the verifier is given, never on an event loop; it reads keys only from a
// per-message table filled through TernDNS beforehand.
//
// Contents so far:
// - DMARC (RFC 7489): `DMARCRecord` (§6.3 parsing), `PublicSuffixList` and
//   `DomainAlignment` (organizational domain, §3.1–3.2), `AuthorDomains`
//   (the RFC5322.From domains, §6.6.1), `DMARCPolicyDiscovery` (§6.6.3) and
//   `DMARCEvaluator` (§6.6.2, §6.6.4).
// - SPF (RFC 7208): `SPFRecordGuard`, a parser of a record by the ABNF of
//   §4.6.1, §5, §6 and §7.1 that runs before any SPF engine sees the record;
//   `SPFChecker` (HELO and MAIL FROM checks with libspf2 through `CSPF2`,
//   every record — include and redirect targets too — guarded and rewritten
//   by `SPFEngineRecord` where libspf2 departs from the RFC, lookup and void
//   limits and explanations enforced in Swift by `SPFCheckContext` and
//   `SPFMacroExpander`); `SPFResult` with `ReceivedSPF` (§9.1) and its
//   Authentication-Results entry.
// - Authentication-Results (RFC 8601): `AuthenticationResults` (rendering)
//   and `AuthenticationResultsFilter` (finding forged fields, §5).
// - DKIM (RFC 6376, RFC 8463, RFC 8301): `DKIMVerifier` (libopendkim, keys
//   prefetched, RFC 8301 rules on top; results → `DKIMSignatureResult`,
//   Authentication-Results and DMARC), `DKIMSigner` (Swift, swift-crypto;
//   relaxed/relaxed, RSA-2048 + Ed25519), `DKIMKeyStore` (keys on disk,
//   rotation by newest file, keygen) and `DKIMCanonicalizer`.
// - `HeaderFields`: the fields of a message's header section as byte ranges.
