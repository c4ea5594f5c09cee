/* The wire protocol: every message body is a msgpack array
 *   [MS_PROTO_VERSION, type, field...]
 * sent as one ZeroMQ frame, optionally followed by raw data frames (shuffle
 * blocks, result rows) that are never copied into msgpack. Senders use the
 * builder; receivers parse the envelope here and check each field with the
 * ms_mp_* accessors in their handler. */
#ifndef MS_PROTO_H
#define MS_PROTO_H

#include <msgpack.h>
#include <stddef.h>

#include "common/err.h"

#define MS_PROTO_VERSION 1
/* A message body larger than this is refused before it is parsed. */
#define MS_PROTO_MAX_BODY (64u << 20)
/* No frame of the protocol is larger: every socket that takes messages
 * from a peer refuses a larger frame on its header (ZMQ_MAXMSGSIZE),
 * before anything is allocated for it. */
#define MS_PROTO_MAX_FRAME MS_PROTO_MAX_BODY
/* What a frame must leave for CURVE's envelope (the MESSAGE command name,
 * nonce and MAC: 33 bytes), which that limit counts too: result rows are
 * cut into frames this much below the limit. */
#define MS_PROTO_FRAME_ENVELOPE 256

/* The frame limit of the driver's ROUTER and of the executors' DEALERs:
 * MS_PROTO_MAX_FRAME, or for tests (MINISPARK_TESTING=1) the
 * MINISPARK_TEST_MAX_FRAME of the environment (at least 4096), so that a
 * test crosses it with little data. */
size_t ms_proto_max_frame(void);

typedef enum {
    /* executor -> driver */
    MS_MSG_REGISTER = 1,        /* exec_id, pid, host, cores, shuffle_endpoint,
                                   the launch's one-time token (common/auth.h) */
    MS_MSG_HEARTBEAT = 2,       /* exec_id, running_tasks */
    MS_MSG_TASK_END = 3,        /* see executor/task.h */
    MS_MSG_OUTPUT_MOVED = 4,    /* exec_id, shuffle, map, where it is served
                                   now, bytes: one map output migrated */
    MS_MSG_DECOMMISSIONED = 5,  /* exec_id: a migration pass is over (after
                                   its OUTPUT_MOVED; the driver counts) */
    MS_MSG_DECOMMISSIONING = 6, /* exec_id: it was asked to go (SIGPWR,
                                   Spark's decommission signal) */
    /* driver -> executor */
    MS_MSG_REGISTERED = 10, /* (none) */
    MS_MSG_HEARTBEAT_ACK = 11,
    MS_MSG_LAUNCH = 12, /* see executor/task.h */
    MS_MSG_STOP = 13,
    MS_MSG_REMOVE_SHUFFLE = 14, /* app, shuffle: delete its map outputs */
    MS_MSG_DECOMMISSION = 15,   /* [endpoint...], fallback folder or "":
                                   take no map output from peers any more,
                                   migrate every one held (to the first
                                   target that takes it), then report */
    /* shuffle client <-> shuffle server */
    MS_MSG_FETCH = 20,      /* req_id, app, shuffle, partition, [map ids] */
    MS_MSG_BLOCKS = 21,     /* req_id, status, message, index of the failed
                               block; then one frame a block */
    MS_MSG_PING = 22,       /* [] or [app], which registers app */
    MS_MSG_PONG = 23,       /* dir */
    MS_MSG_REMOVE_APP = 24, /* app */
    MS_MSG_REMOVED = 25,    /* files removed */
    MS_MSG_APP_ALIVE = 26,  /* app: its driver is alive (no reply) */
    MS_MSG_PUT_OUTPUT = 27, /* req, app, shuffle, map, data length; then
                               the index frame and the data in frames of
                               at most MS_SHUFFLE_PUT_CHUNK bytes */
    MS_MSG_PUT_DONE = 28,   /* req, status (0 or a negative ms_err code),
                               message */
    /* and MS_MSG_REMOVE_SHUFFLE (app, shuffle), answered with REMOVED */
    /* driver -> worker (the driver's DEALER, one per worker) */
    MS_MSG_WORKER_HELLO = 30, /* app, weight: heartbeat, answered with
                                 WORKER_STATE */
    MS_MSG_EXEC_LAUNCH = 31,  /* app, exec, cores, driver ep, heartbeat ms,
                                 host, use the shuffle service (bool),
                                 the launch's one-time token */
    MS_MSG_EXEC_KILL = 32,    /* exec (-1: all of this driver's), signal */
    /* worker -> driver */
    MS_MSG_WORKER_STATE = 33, /* cores, free cores, shuffle endpoint or "",
                                 the app's cores held and fair share, fair,
                                 incarnation */
    MS_MSG_EXEC_STATE = 34,   /* exec, state (ms_exec_state_t), pid, wait
                                 status, message, dir, free cores */
    MS_MSG_EXEC_RELEASE = 35, /* count, reason: give back executors here */
    /* driver -> worker */
    MS_MSG_EXEC_KEPT = 36, /* count, reason: executors a release request
                              asked for that the driver keeps, and why */
} ms_msg_type_t;

typedef enum {
    MS_EXEC_STARTED = 0,
    MS_EXEC_FAILED = 1, /* never started: message says why */
    MS_EXEC_EXITED = 2, /* wait status says how */
    MS_EXEC_QUEUED = 3, /* waits for cores: message says why */
} ms_exec_state_t;

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} ms_msg_builder_t;

/* Starts a message of type with nfields fields to be packed by the caller
 * with msgpack_pack_* on b->pk. */
void ms_msg_begin(ms_msg_builder_t *b, ms_msg_type_t type, int nfields);
void ms_msg_builder_free(ms_msg_builder_t *b);

typedef struct {
    msgpack_unpacked up;
    int type;
    const msgpack_object *f; /* fields after version and type */
    uint32_t nf;
} ms_msg_t;

/* Parses an envelope. On success m must be released with ms_msg_free. */
int ms_msg_parse(ms_msg_t *m, const void *buf, size_t len, ms_error_t *err);
void ms_msg_free(ms_msg_t *m);

/* Sends [identity frame if id] [body] [extra frames...]; frees b. */
int ms_msg_send(void *sock, const void *id, size_t id_len, ms_msg_builder_t *b,
                const void *const *extra, const size_t *extra_len, int nextra);

/* Receives one multipart message into frames (up to max; the rest is
 * drained and the count reported as an error). Each frame must be closed
 * with zmq_msg_close by the caller; ms_frames_close does it. */
int ms_frames_recv(void *sock, void *frames /* zmq_msg_t[max] */, int max,
                   int *n, int flags);
void ms_frames_close(void *frames, int n);

#endif
