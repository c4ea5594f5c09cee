/* Host names to addresses: ZeroMQ binds addresses only (it connects to
 * names too), so a name given for a bind is resolved first. */
#ifndef MS_ADDR_H
#define MS_ADDR_H

#include <stddef.h>

#include "common/err.h"

/* The first IPv4 address of name (which may already be one) as text;
 * MS_ERR_USAGE naming it when it does not resolve. */
int ms_addr_ipv4(const char *name, char *out, size_t size, ms_error_t *err);

#endif
