/* The live web UI (libmicrohttpd): the page, Spark's REST paths under
 * /api/v1 and Prometheus text at /metrics, all served from snapshots of the
 * UI state. Binds 127.0.0.1 (spark.ui.host to change) on spark.ui.port, or
 * the next free port up to 100 further. Runs on libmicrohttpd's own thread. */
#ifndef MS_WEBUI_H
#define MS_WEBUI_H

#include "common/err.h"
#include "driver/ui_state.h"

typedef struct ms_webui ms_webui_t;

/* Starts serving state (borrowed; it must outlive the UI). */
int ms_webui_start(ms_webui_t **out, ms_ui_state_t *state, const char *host,
                   int port, ms_error_t *err);
void ms_webui_stop(ms_webui_t **self_p);
/* The port actually bound. */
int ms_webui_port(const ms_webui_t *self);

#endif
