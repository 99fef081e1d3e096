// libldns (NLnet Labs): builds and parses DNS packets for TernDNS. Only the
// packet functions are used; ldns_resolver and its blocking network calls
// are not.
//
// <stdbool.h> must come first: ldns's headers use `bool` without including
// it, and without it every ldns `bool` is imported into Swift as Int8.
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <ldns/ldns.h>
