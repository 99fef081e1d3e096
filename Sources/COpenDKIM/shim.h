// libopendkim (The Trusted Domain Project, Debian libopendkim-dev): verifies
// DKIM signatures for TernMailAuth. It never queries DNS here: keys are
// fetched ahead through TernDNS and served with dkim_set_key_lookup.
//
// dkim.h uses u_char/u_int/u_long and _Bool without including their headers.
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <dkim.h>

// DKIM_SIG_CHECK is a function-like macro, which Swift does not import.
static inline bool tern_dkim_sig_check(DKIM_SIGINFO *sig) {
    return (dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) != 0
        && dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH;
}
