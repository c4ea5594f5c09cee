/* Every ZeroMQ socket that talks to another process is made here, so that
 * none misses linger 0 (closing never waits for a peer), its frame limit
 * or CURVE when spark.authenticate is on. In-process pipes (inproc) are
 * not made here. */
#ifndef MS_SOCK_H
#define MS_SOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

typedef struct {
    int64_t max_frame;      /* ZMQ_MAXMSGSIZE: larger frames are refused on
                               their header; 0: no limit */
    const char *routing_id; /* NULL: ZeroMQ's */
    int sndhwm;             /* messages queued for a peer; 0: ZeroMQ's */
    bool never_block;       /* a send that would wait fails at once */
    int rcvbuf;             /* the kernel's receive buffer; 0: its own */
    bool handover;          /* ROUTER: a peer that reconnects with the same
                               routing id takes it over */
} ms_sock_opts_t;

/* A socket of type (ZMQ_DEALER...) with o (NULL: none of them), a CURVE
 * client when on, not connected yet (so that a monitor can be attached
 * first). NULL with err set. */
void *ms_sock_client(void *zctx, int type, const ms_sock_opts_t *o,
                     ms_error_t *err);
/* The same, connected to endpoint. */
void *ms_sock_connect(void *zctx, int type, const ms_sock_opts_t *o,
                      const char *endpoint, ms_error_t *err);
/* A socket of type (ZMQ_ROUTER) with o, a CURVE server when on, whose
 * refused connections are logged as what's ("driver", "worker"), bound to
 * endpoint. NULL with err set ("what cannot bind ENDPOINT: why"). */
void *ms_sock_server(void *zctx, int type, const ms_sock_opts_t *o,
                     const char *what, const char *endpoint, ms_error_t *err);

#endif
