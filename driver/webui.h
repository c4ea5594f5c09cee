/* The live web UI (libmicrohttpd): the page, Spark's REST paths under
 * /api/v1 and Prometheus text at /metrics, all served from snapshots of the
 * UI state. Binds 127.0.0.1 (spark.ui.host to change) on spark.ui.port, or
 * the next free port up to 100 further. Runs on libmicrohttpd's own thread,
 * plus one that closes connections too slow to make a request. */
#ifndef MS_WEBUI_H
#define MS_WEBUI_H

#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "driver/ui_state.h"

typedef struct ms_webui ms_webui_t;

/* What one client may hold, so that a few slow ones cannot take the UI. */
typedef struct {
    int per_address;            /* open connections per client address */
    int64_t request_timeout_ms; /* from a connection's opening, or from its
                                   previous request's end, until its next
                                   request is answered; MS_CONF_INFINITE:
                                   no limit */
} ms_webui_limits_t;

/* minispark.ui.maxConnectionsPerAddress and minispark.ui.requestTimeout;
 * MS_ERR_USAGE naming the key when one is invalid. */
int ms_webui_limits(const ms_conf_t *conf, ms_webui_limits_t *out,
                    ms_error_t *err);

/* Starts serving state (borrowed; it must outlive the UI). */
int ms_webui_start(ms_webui_t **out, ms_ui_state_t *state, const char *host,
                   int port, const ms_webui_limits_t *limits, ms_error_t *err);
void ms_webui_stop(ms_webui_t **self_p);
/* The port actually bound. */
int ms_webui_port(const ms_webui_t *self);

#endif
