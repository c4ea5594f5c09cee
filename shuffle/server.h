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

#include <zmq.h>

#include "common/err.h"

typedef struct ms_shuffle_server ms_shuffle_server_t;

/* What ZeroMQ may hold for clients that have not read it yet, and how long
 * a client may take nothing before it is dropped when the total is full. */
#define MS_SHUFFLE_MAX_BYTES_IN_FLIGHT (64ull << 20)
#define MS_SHUFFLE_MAX_BYTES_IN_FLIGHT_TOTAL (1024ull << 20)
#define MS_SHUFFLE_CLIENT_STALL_MS 10000
typedef struct {
    uint64_t client_bytes; /* minispark.shuffle.maxBytesInFlight */
    uint64_t total_bytes;  /* minispark.shuffle.maxBytesInFlightTotal */
    int64_t stall_ms;      /* minispark.shuffle.clientStallTimeout */
} ms_shuffle_limits_t;
extern const ms_shuffle_limits_t ms_shuffle_limits_default;

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

/* Sets the bounds on bytes in flight (the defaults above otherwise); the
 * clients dropped are named on log (borrowed; NULL: quiet). A fetch of a
 * client holding client_bytes or more, or when all hold total_bytes, waits
 * until they go down; a client with 64 fetches waiting, or that has read
 * nothing for stall_ms while the total is full and fetches wait, is
 * disconnected, and ZeroMQ frees what it held for it. */
void ms_shuffle_server_limit(ms_shuffle_server_t *self,
                             const ms_shuffle_limits_t *limits, FILE *log);

/* Makes ms_shuffle_server_run return once no application has been
 * registered for idle_ms (0, the default: never), counted from the start. */
void ms_shuffle_server_exit_when_idle(ms_shuffle_server_t *self,
                                      int64_t idle_ms);

/* From now on every PUT_OUTPUT is refused: this server's executor is
 * decommissioning, and an output sent to it would only have to move again.
 * Safe from any thread. */
void ms_shuffle_server_refuse_puts(ms_shuffle_server_t *self);

/* Applications registered (standalone service), and bytes in flight. */
int ms_shuffle_server_apps(const ms_shuffle_server_t *self);
uint64_t ms_shuffle_server_in_flight(const ms_shuffle_server_t *self);

/* A reply: to the client with routing id peer, frames[0] the message, then
 * one frame per block (hint NULL: heap bytes; else an in-flight ticket). */
typedef struct {
    void *data;
    size_t len;
    void *hint;
} ms_shuffle_frame_t;

typedef struct {
    uint8_t peer[256];
    size_t peer_len;
    ms_shuffle_frame_t *frames;
    uint32_t n;
} ms_shuffle_reply_t;

/* Frees a reply's frames, which releases their bytes in flight. */
void ms_shuffle_reply_release(ms_shuffle_reply_t *reply);

/* What the serving loop does with one request, without the socket (tests
 * and fuzzing use it): frames[0] is the client's routing id, frames[1]
 * the message, as a ROUTER receives them; a PUT_OUTPUT, and no other
 * message, has more: its index frame and its data frames (n >= 3), whose
 * bytes are borrowed for the call. Returns 1 with *reply to send
 * (the caller's: send or release it), or 0 with none now (APP_ALIVE, a
 * fetch that waits, a dropped client). */
int ms_shuffle_server_handle(ms_shuffle_server_t *self, zmq_msg_t *frames,
                             int n, int64_t now_ms, ms_shuffle_reply_t *reply);
/* The reply to the oldest waiting fetch that may go now (1), or 0 when
 * none may. Also drops stalled clients (see ms_shuffle_server_limit). */
int ms_shuffle_server_next(ms_shuffle_server_t *self, int64_t now_ms,
                           ms_shuffle_reply_t *reply);

/* Serves requests until *stop becomes non-zero (checked at least every
 * 100 ms). The socket is used only by the thread that calls this. */
int ms_shuffle_server_run(ms_shuffle_server_t *self,
                          volatile sig_atomic_t *stop);

/* Runs the server on a thread of its own (executors). */
int ms_shuffle_server_start(ms_shuffle_server_t *self);
void ms_shuffle_server_stop(ms_shuffle_server_t *self);

/* `minispark shuffle-server [--bind E] [--dir D] [--conf K=V]...
 *  [--parent-pid PID] [--log FILE]` */
int ms_shuffle_server_main(int argc, char **argv);

#endif
