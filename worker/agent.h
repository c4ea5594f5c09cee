/* The worker agent's state, shared by its parts: worker.c (the command,
 * its loop and the messages), launch.c (starting, reaping and stopping
 * executors) and sched.c (which queued launch runs next, and reclaiming
 * executors for applications below their fair share). Internal to
 * worker/. */
#ifndef MS_AGENT_H
#define MS_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/worker_msg.h"

/* A driver, by its routing id (its application id). */
typedef struct {
    char id[256];
    size_t len;
} ms_peer_t;

typedef struct {
    ms_peer_t driver;
    char app[64];
    int exec, cores;
    pid_t pid;
    char dir[4096];
    bool service; /* its outputs belong to the shuffle server */
} ms_agent_exec_t;

typedef struct {
    ms_peer_t driver;
    char app[64];
    int weight; /* minispark.app.weight of its driver */
    int asked;  /* executors it was asked to release, not yet gone */
    int kept;   /* of those, the ones it said it keeps, and why */
    char kept_reason[256];
    int64_t asked_ms, heard_ms;
} ms_agent_app_t;

typedef struct {
    ms_peer_t driver;
    ms_exec_launch_t launch;
} ms_agent_request_t;

typedef struct {
    const char *bind, *dir, *shuffle;
    int cores, used;
    bool fair;           /* spark.scheduler.mode FAIR (default) or FIFO */
    int64_t incarnation; /* this run of the worker: pid and start time */
    void *zctx, *router;
    char shuffle_dir[4096];
    ms_agent_exec_t *execs;
    int nexecs, execs_cap;
    ms_agent_app_t *apps;
    int napps, apps_cap;
    ms_agent_request_t *queue; /* launches waiting for cores, oldest first */
    int nqueued, queue_cap;
} ms_agent_t;

/* Makes room for one more of n items of size bytes in *items. */
int ms_agent_grow(void *items, int n, int *cap, size_t size);

bool ms_peer_eq(const ms_peer_t *a, const ms_peer_t *b);
void ms_agent_send(ms_agent_t *a, const ms_peer_t *to, ms_msg_builder_t *b);
/* Sends r (with the free cores filled in) to its driver. */
void ms_agent_report(ms_agent_t *a, const ms_peer_t *to, ms_exec_report_t *r);

/* Handles one message from driver peer (worker.c): a hello, a launch or
 * a kill. No socket is read here: the fuzz harness calls it too. */
void ms_agent_on_message(ms_agent_t *a, const void *peer, size_t peer_len,
                         const void *body, size_t len);

/* ---- launch.c ----------------------------------------------------------- */

/* Starts the request's executor now (there are cores) and reports it
 * started, or failed with the reason. */
void ms_agent_start(ms_agent_t *a, const ms_agent_request_t *q);
/* Reaps ended executors and reports each end; true if any ended. */
bool ms_agent_reap(ms_agent_t *a, bool block);
/* SIGTERM to every executor, SIGKILL to what is left after 3 s. */
void ms_agent_stop_all(ms_agent_t *a);

/* ---- sched.c ------------------------------------------------------------ */

/* These take the time as a parameter (the caller reads the clock), so
 * that tests drive the policy's timers by hand. */

/* The record of an application (found or added); NULL when out of memory. */
ms_agent_app_t *ms_agent_app(ms_agent_t *a, const ms_peer_t *driver,
                             const char *app, int64_t now);
/* Queues a launch; ms_agent_schedule then starts it or says why it waits. */
int ms_agent_enqueue(ms_agent_t *a, const ms_peer_t *driver,
                     const ms_exec_launch_t *l, int64_t now);
/* Drops a driver's queued launch (exec, or all with -1), reporting each
 * as not started. */
void ms_agent_cancel(ms_agent_t *a, const ms_peer_t *driver, int exec);
/* Starts queued launches while cores allow (fair: the application with
 * the smallest share per weight first; FIFO: the oldest); then, when fair,
 * asks applications above their share to release executors for those
 * below it that wait. */
void ms_agent_schedule(ms_agent_t *a, int64_t now);
/* Tells the driver why its launch exec waits, if it is still queued. */
void ms_agent_waiting(ms_agent_t *a, const ms_peer_t *driver, int exec);
/* One of the driver's executors ended: one fewer to release. */
void ms_agent_released(ms_agent_t *a, const ms_peer_t *driver);
/* The driver keeps count of the executors it was asked for (why says
 * why): the launches that wait are told again why they wait. */
void ms_agent_kept(ms_agent_t *a, const ms_peer_t *driver, int count,
                   const char *why);
/* The driver's cores held here and its fair share of them now. */
void ms_agent_share(ms_agent_t *a, const ms_peer_t *driver, int *held,
                    int *share);

#endif
