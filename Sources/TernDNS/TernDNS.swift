// TernDNS — the program's only resolver.
//
// SECURITY: this target trusts its configuration (the nameservers it is
// given) and nothing it reads from the network. Every reply is parsed by
// libldns into values before any Swift code looks at it; a reply is taken
// only if it comes from the nameserver that was asked, carries the random
// 16-bit ID of the query (sent from a fresh UDP socket with a random source
// port) and repeats the question. A reply that fails those checks is
// ignored as if it had not arrived; one that fails to parse is never
// trusted. Names read from replies are kept in presentation form with every
// byte outside printable ASCII escaped (`\DDD`), so no reply can smuggle
// control characters into a log or an SMTP line.
//
// It touches no files except /etc/resolv.conf (or the path it is given)
// when asked for the system's nameservers, and no sockets except the UDP
// and TCP ones it opens for one query and closes after it. It never calls
// the system resolver (getaddrinfo, res_query) and never blocks an event
// loop: packets are built and parsed in memory, I/O goes through SwiftNIO
// and timeouts are tasks scheduled on the channel's event loop.
//
// Contents: `DNSResolver` (lookups with retry, TCP fallback, CNAME chains
// and a cache), `DNSResolverConfiguration`, the typed results
// (`DNSResult`, `DNSAnswer`, `MXRecord`, `DNSAddress`, `TLSARecord`), and
// internally `DNSWire` (libldns in, values out), `DNSTransport` (one
// exchange over UDP or TCP), `DNSAnswerReader` (what a reply says about a
// question) and `DNSCache`.
