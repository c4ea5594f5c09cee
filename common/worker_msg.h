/* What a driver and a worker agent say to each other (messages 30-34 in
 * common/proto.h), with their codecs. The worker starts and kills
 * executors for drivers; the driver decides where and how many. */
#ifndef MS_WORKER_MSG_H
#define MS_WORKER_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/err.h"
#include "common/proto.h"

/* MS_MSG_EXEC_LAUNCH: start executor `exec` of application `app`. */
typedef struct {
    char app[64];
    int exec, cores;
    char driver[256]; /* the driver's endpoint, as the executor reaches it */
    int64_t heartbeat_ms;
    char host[256]; /* this worker's address as the driver reached it */
    bool service;   /* write into the worker's shuffle server's directory */
    char token[MS_AUTH_TOKEN_LEN + 1]; /* what its REGISTER must present */
} ms_exec_launch_t;

/* MS_MSG_EXEC_STATE: what became of an executor the worker was asked for. */
typedef struct {
    int exec;
    ms_exec_state_t state;
    int pid;
    int status; /* wait status, for MS_EXEC_EXITED */
    char message[512];
    char dir[4096]; /* where it writes map outputs */
    int free_cores; /* the worker's, after this change */
} ms_exec_report_t;

/* MS_MSG_WORKER_STATE: the answer to every hello. */
typedef struct {
    int cores, free_cores;
    char shuffle[256];   /* this host's shuffle server, "" if none */
    int held, share;     /* the asking application's cores and fair share */
    bool fair;           /* false: first come, first served */
    int64_t incarnation; /* another value: the worker was restarted */
} ms_worker_state_t;

/* MS_MSG_EXEC_RELEASE: the worker asks a driver to give back `count` of
 * its executors there, at task boundaries, for another application. */
/* EXEC_RELEASE (worker -> driver) or, kept, EXEC_KEPT (driver -> worker:
 * the executors asked for that it keeps, and why). */
typedef struct {
    int count;
    char reason[512];
    bool kept;
} ms_exec_release_t;

void ms_exec_launch_pack(const ms_exec_launch_t *l, ms_msg_builder_t *b);
int ms_exec_launch_unpack(const ms_msg_t *m, ms_exec_launch_t *l,
                          ms_error_t *err);
void ms_exec_report_pack(const ms_exec_report_t *r, ms_msg_builder_t *b);
int ms_exec_report_unpack(const ms_msg_t *m, ms_exec_report_t *r,
                          ms_error_t *err);
void ms_worker_state_pack(const ms_worker_state_t *s, ms_msg_builder_t *b);
int ms_worker_state_unpack(const ms_msg_t *m, ms_worker_state_t *s,
                           ms_error_t *err);
void ms_exec_release_pack(const ms_exec_release_t *r, ms_msg_builder_t *b);
int ms_exec_release_unpack(const ms_msg_t *m, ms_exec_release_t *r,
                           ms_error_t *err);

#endif
