// libspf2 (Debian libspf2-dev 1.2.10): evaluates SPF policies for
// TernMailAuth. Its own resolver is never used: TernMailAuth installs a DNS
// layer that answers from TernDNS. No .pc file ships, so the module map links
// "spf2" directly.
//
// spf.h uses types from these headers without including them.
#ifndef TERN_CSPF2_SHIM_H
#define TERN_CSPF2_SHIM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>

// Swift 6 refuses to touch mutable C globals; these setters stand in for
// assignments to libspf2's log hooks.
typedef void (*tern_spf_log_handler_t)(const char *file, int line, const char *message);

static inline void tern_spf_set_error_handler(tern_spf_log_handler_t handler) {
    SPF_error_handler = (void (*)(const char *, int, const char *))handler;
}
static inline void tern_spf_set_warning_handler(tern_spf_log_handler_t handler) {
    SPF_warning_handler = handler;
}
static inline void tern_spf_set_info_handler(tern_spf_log_handler_t handler) {
    SPF_info_handler = handler;
}
static inline void tern_spf_set_debug_handler(tern_spf_log_handler_t handler) {
    SPF_debug_handler = handler;
}

// Appends one answer of `len` bytes (a NUL-terminated name or text, or an
// in_addr / in6_addr) to `rr`; libspf2 owns and frees the buffer with `rr`.
// Returns 0, or -1 when memory ran out (rr is then left as it was).
static inline int tern_spf_rr_append(SPF_dns_rr_t *rr, const void *data, size_t len) {
    int idx = rr->num_rr;
    if (SPF_dns_rr_buf_realloc(rr, idx, len) != SPF_E_SUCCESS) return -1;
    memcpy((void *)rr->rr[idx], data, len);
    rr->num_rr = idx + 1;
    return 0;
}

#endif
