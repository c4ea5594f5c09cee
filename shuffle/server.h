/* The shuffle server: serves map output blocks from one directory over a
 * ZeroMQ ROUTER socket. The same code runs as the standalone `minispark
 * shuffle-server` (the external shuffle service) and inside an executor that
 * serves its own files when there is no service. It only reads files named
 * by validated ids under its directory. */
#ifndef MS_SHUFFLE_SERVER_H
#define MS_SHUFFLE_SERVER_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

typedef struct ms_shuffle_server ms_shuffle_server_t;

/* Binds endpoint (e.g. "tcp://127.0.0.1:7337", or port "*" for any) in the
 * ZeroMQ context zctx (borrowed) and serves files under dir. */
int ms_shuffle_server_new(ms_shuffle_server_t **out, void *zctx,
                          const char *endpoint, const char *dir,
                          ms_error_t *err);
void ms_shuffle_server_destroy(ms_shuffle_server_t **self_p);

/* The endpoint actually bound (with the port filled in). */
const char *ms_shuffle_server_endpoint(const ms_shuffle_server_t *self);

/* As the standalone service: deletes the files of applications not heard
 * from (MS_MSG_APP_ALIVE, or a fetch) for timeout_ms (see app_reaper.h),
 * saying so on log. */
int ms_shuffle_server_reap_apps(ms_shuffle_server_t *self, int64_t timeout_ms,
                                FILE *log);

/* Serves requests until *stop becomes non-zero (checked at least every
 * 100 ms). The socket is used only by the thread that calls this. */
int ms_shuffle_server_run(ms_shuffle_server_t *self,
                          volatile sig_atomic_t *stop);

/* Runs the server on a thread of its own (executors). */
int ms_shuffle_server_start(ms_shuffle_server_t *self);
void ms_shuffle_server_stop(ms_shuffle_server_t *self);

/* `minispark shuffle-server [--bind E] [--dir D] [--conf K=V]...` */
int ms_shuffle_server_main(int argc, char **argv);

#endif
