/* One application on the driver: its ROUTER socket, its executors, the
 * shuffle service it uses, its listener bus, and the event loop that
 * everything else runs inside. Jobs (driver/job.c) borrow the app to launch
 * tasks; driver/executors.c keeps the executor set at its target. */
#ifndef MS_APP_H
#define MS_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/err.h"
#include "common/proto.h"
#include "common/task.h"
#include "driver/alloc_manager.h"
#include "driver/eventlog.h"
#include "driver/events.h"
#include "driver/jobfile.h"
#include "driver/ui_state.h"
#include "driver/webui.h"

typedef struct {
    int id;
    int worker; /* index in app->workers, or -1: a child of the driver */
    pid_t pid;  /* on the worker's host when remote */
    bool registered, alive, stopping;
    bool lost;   /* stopping because it went silent: its work is redone */
    bool queued; /* its worker waits for cores to start it */
    /* Chosen to go (driver/decommission.c): no new tasks; once its running
     * ones end, it migrates its map outputs, then stops. For good: it is
     * how a failed fetch from it is known not to be the stage's fault. */
    bool decommissioning;
    bool migrating; /* a migration pass is under way */
    int passes;     /* migration passes done */
    int pass_moved; /* outputs the last pass moved */
    int moved, unmoved;
    int64_t moved_bytes, decom_start_ms, migrate_start_ms, migrate_ms;
    int64_t moved_epoch; /* the registry's epoch after its last move */
    char moved_to[256];  /* where its outputs went, in words */
    int cores, running;
    /* Its routing id on the driver's ROUTER: "" until it registers with
     * the launch's token, then bound to it (other peers are not it). */
    char ident[64];
    char token[MS_AUTH_TOKEN_LEN + 1]; /* the launch's; wiped once used */
    char host[256];                    /* where it runs */
    char endpoint[256];                /* where its map outputs are served */
    char dir[4096];                    /* where it writes map outputs */
    char stop_reason[320];
    int64_t launched_ms, registered_ms, ended_ms, last_seen_ms;
    int64_t launched_wall_ms;
    int64_t completed, failed;
} ms_exec_t;

/* Graceful decommissioning's settings (Spark's keys). */
typedef struct {
    bool enabled; /* spark.decommission.enabled */
    bool migrate; /* spark.storage.decommission(.shuffleBlocks).enabled */
    char fallback[4096];        /* ...fallbackStorage.path, "" for none */
    bool cleanup;               /* ...fallbackStorage.cleanUp */
    bool ignore_fetch_failures; /* spark.stage.ignoreDecommissionFetchFailure */
    int64_t force_kill_ms; /* spark.executor.decommission.forceKillTimeout */
} ms_decom_conf_t;

typedef struct {
    int64_t records_read, bytes_read, malformed, dropped;
    int64_t shuffle_written, shuffle_fetched, map_ms, tasks;
    int64_t disk_spilled;
} ms_app_totals_t;

struct ms_job_run;
struct ms_app;

/* The stage the running job is in, as the job last published it (for the
 * console's live line). */
typedef struct {
    int stage;
    const char *name; /* "map", "reduce"; NULL: no job runs */
    int done, running, total;
} ms_app_stage_t;

/* What watches the application from outside it (the console), so that
 * the application knows nothing of it: a bus listener (arg: the app),
 * subscribed before anything is posted, and a call after each turn of the
 * event loop. */
typedef struct {
    ms_listener_fn *listener;
    void (*after_pump)(struct ms_app *app);
} ms_app_watcher_t;

/* How the event loop hands a task report to the job that runs (job.c sets
 * it with app->job), so that the application does not call into the job. */
typedef void ms_app_task_end_fn(struct ms_job_run *job, int exec,
                                const ms_task_end_t *e, const void *rows,
                                size_t len);

/* A `minispark worker` agent of a workers:// master (driver/workers.c). */
typedef struct {
    char endpoint[256]; /* as the master names it: tcp://HOST:PORT */
    char host[256];     /* its IPv4 address */
    void *sock;         /* DEALER: hellos, launches, kills */
    void *alive_sock;   /* DEALER to its shuffle server: APP_ALIVE */
    bool answered, lost, fair;
    int cores, free_cores, inflight;
    int held, share; /* our cores there and our fair share of them */
    int64_t incarnation;
    char shuffle[256]; /* its host's shuffle server, "" if none */
    int64_t last_seen_ms, next_hello_ms, next_alive_ms;
} ms_worker_t;

typedef struct ms_app {
    const ms_conf_t *conf;
    bool quiet, tty;
    char app_id[64];
    const char *app_name;
    void *zctx, *router;
    char endpoint[256];
    ms_bus_t bus;
    ms_eventlog_t *eventlog;
    ms_ui_state_t *ui;
    ms_webui_t *webui;
    int64_t ui_linger_ms; /* keep the UI up this long after the last job */
    /* executors, and the workers that run them (none: local master) */
    ms_worker_t *workers;
    int nworkers;
    int64_t worker_timeout_ms;
    int weight;     /* minispark.app.weight: for the workers' fair shares */
    int last_share; /* the sum of the workers' last shares, -1 at first */
    ms_exec_t *execs;
    int nexecs, cap;
    int static_target, max_local, cores_per_exec;
    ms_alloc_manager_t *alloc; /* NULL: static allocation */
    int64_t next_tick_ms, last_tick_ms;
    int64_t register_timeout_ms;
    int launch_failures, max_launch_failures;
    int64_t next_launch_ms, launch_backoff_ms;
    /* shuffle service */
    bool service;
    char service_ep[256], service_dir[4096];
    pid_t service_pid;  /* ours to stop, or 0 */
    void *service_sock; /* DEALER saying the application is alive */
    int64_t next_alive_ms;
    int service_restarts;
    char local_dir[4096], app_dir[4096];
    int64_t heartbeat_ms, network_timeout_ms; /* the latter, fetches' too */
    int64_t task_delay_ms, reduce_delay_ms;   /* test hooks */
    int64_t max_partition_bytes, open_cost_bytes;
    int max_failures;
    int max_stage_attempts; /* spark.stage.maxConsecutiveAttempts */
    ms_decom_conf_t decom;
    bool host_servers_used; /* outputs were migrated to workers' servers */
    /* accounting */
    int peak_execs;
    int64_t start_ms;
    ms_app_totals_t totals;
    struct ms_job_run *job; /* the job being run, for task reports */
    ms_app_task_end_fn *job_task_end;
    ms_app_stage_t stage;
    ms_app_watcher_t watcher;
    int64_t last_draw_ms;
    /* refused registrations [0] and other messages [1] from peers that
     * are not registered executors: at most one line of each per
     * interval, with the count of those not shown */
    struct {
        int64_t next_ms;
        int quiet;
    } refused[2];
} ms_app_t;

/* Sets up sockets, the event log, the shuffle service and the first
 * executors. */
int ms_app_start(ms_app_t *app, const ms_conf_t *conf, const char *app_name,
                 bool quiet, const ms_app_watcher_t *watcher, ms_error_t *err);
/* Stops executors (and a shuffle server we started), reaps every child
 * and removes the application's shuffle files. Safe after a failed start. */
void ms_app_stop(ms_app_t *app, bool ok);
/* Frees what a stopped app still holds (its executor records). */
void ms_app_free(ms_app_t *app);

/* Runs the event loop for at most timeout_ms: handles executor messages,
 * child exits, signals and allocation ticks. Returns MS_ERR_INTERRUPTED
 * after SIGINT/SIGTERM, MS_ERR_FAILED (with err) when an executor is lost,
 * else 0. */
int ms_app_pump(ms_app_t *app, int64_t timeout_ms, ms_error_t *err);

/* Keeps the event loop (and so the UI and idle timeouts) running for
 * minispark.ui.lingerAfterEnd when the web UI is up. */
int ms_app_linger(ms_app_t *app, ms_error_t *err);

/* Deletes a finished job's shuffle files wherever they are served. */
void ms_app_remove_shuffle(ms_app_t *app, int shuffle);

/* The number of executors wanted now. */
int ms_app_target(const ms_app_t *app);
/* Task slots when every executor the app may have is up (split sizing). */
int ms_app_max_slots(const ms_app_t *app);

/* Handles one message that arrived on the ROUTER from routing id peer:
 * its body and its result rows (NULL when it had none). Only a REGISTER
 * carrying the token of one of our launches binds a peer to an executor;
 * anything else from a peer that is not bound is refused (and logged,
 * throttled). No socket is read here: the fuzz harness calls it too. */
void ms_app_on_executor_msg(ms_app_t *app, const void *peer, size_t peer_len,
                            const void *body, size_t len, const void *rows,
                            size_t rows_len);

/* Installs SIGINT/SIGTERM/SIGCHLD handlers for the driver. */
void ms_app_install_signals(void);
/* Whether SIGINT or SIGTERM has arrived since. */
bool ms_app_interrupted(void);

/* ---- executors (driver/executors.c) ------------------------------------- */

/* An executor with a free slot (fewest running tasks first), avoiding
 * `avoid` when another has room; -1 if none. */
int ms_app_free_exec(const ms_app_t *app, int avoid);
int ms_app_send_task(ms_app_t *app, int exec, const ms_task_t *task);
int ms_app_alive_execs(const ms_app_t *app);
/* Registered executors not being stopped. */
int ms_app_active_execs(const ms_app_t *app);
/* Launches or cancels launches until the executors match the target. */
int ms_app_reconcile(ms_app_t *app, ms_error_t *err);
/* Asks an idle executor to stop (never one running a task). */
void ms_app_stop_exec(ms_app_t *app, int exec, const char *reason);
/* Reaps ended executors; a lost one fails the app (MS_ERR_FAILED). */
int ms_app_check_execs(ms_app_t *app, ms_error_t *err);
/* The shuffle service did not answer a reducer: returns once it answers
 * again, restarting it if it is ours; MS_ERR_FETCH if it is not ours. */
int ms_app_revive_service(ms_app_t *app, ms_error_t *err);
void ms_app_on_register(ms_app_t *app, int exec, const char *endpoint,
                        int cores);
/* Stops every executor and waits for all of them. */
void ms_app_stop_all_execs(ms_app_t *app);
ms_exec_t *ms_app_exec_by_id(ms_app_t *app, int id, int *index);
void ms_app_send_simple(ms_app_t *app, ms_exec_t *ex, int type);
/* A DEALER for the event loop (sends never block), CURVE when
 * spark.authenticate is on; named: its routing id is the application id. */
void *ms_app_dealer(ms_app_t *app, const char *endpoint, bool named);
/* Tells the shuffle server at endpoint, once a heartbeat interval (kept in
 * *next_ms), that this application lives (APP_ALIVE, over *sock). */
void ms_app_say_alive(ms_app_t *app, void **sock, const char *endpoint,
                      int64_t *next_ms, int64_t now);
/* Posts a MinisparkAllocationDecision (action, executor, reason). */
void ms_app_decision(ms_app_t *app, const char *action, int exec,
                     const char *reason);
/* An executor has ended (how: "exited with code 1", ...); a lost one is
 * replaced and its work redone; a launch that never registered counts
 * toward spark.executor.maxNumFailures (MS_ERR_FAILED past it). */
int ms_app_exec_ended(ms_app_t *app, int exec, const char *how,
                      ms_error_t *err);
/* SIGTERM or SIGKILL to an executor, by PID, here or through its worker. */
void ms_app_signal_exec(ms_app_t *app, int exec, int sig);

/* ---- decommissioning (driver/decommission.c) ----------------------------- */

/* Reads the decommissioning keys into app->decom. */
int ms_app_decom_settings(ms_app_t *app, ms_error_t *err);
/* Chooses executor exec to go (reason says why): it gets no new task,
 * and ms_app_decommissions takes it from there. */
void ms_app_decommission_exec(ms_app_t *app, int exec, const char *reason);
/* Moves every decommissioning executor on: once its running tasks have
 * ended, a migration pass if it holds map outputs the job needs, then a
 * stop once none is left there and no reducer may still read from it. */
void ms_app_decommissions(ms_app_t *app);
/* Whether executor exec serves map outputs of the running job (its own
 * files, without a shuffle service: they go with it). */
bool ms_app_holds_outputs(const ms_app_t *app, int exec);
/* Whether executor exec's map outputs have somewhere to go: its host's
 * shuffle server, another executor, or the fallback folder. */
bool ms_app_can_migrate(const ms_app_t *app, int exec);
/* OUTPUT_MOVED, DECOMMISSIONED and DECOMMISSIONING from executor exec. */
void ms_app_on_migration_msg(ms_app_t *app, int exec, const ms_msg_t *m);
/* Removes the fallback folder's files of one shuffle (or all, -1). */
void ms_app_remove_fallback(ms_app_t *app, int shuffle);

/* ---- workers (driver/workers.c) ------------------------------------------ */

/* Connects to the workers of a workers:// master and waits for their
 * first answer; sets the capacity (app->max_local) from their cores. */
int ms_app_connect_workers(ms_app_t *app, const char *master, ms_error_t *err);
/* Asks the least loaded worker with room to start ex; MS_ERR_NOTFOUND when
 * none has room now. */
int ms_app_launch_remote(ms_app_t *app, ms_exec_t *ex, ms_error_t *err);
/* Hellos every heartbeat interval, APP_ALIVE to their shuffle servers, and
 * a worker silent past spark.worker.timeout is lost with its executors
 * and the map outputs its host serves. */
int ms_app_tick_workers(ms_app_t *app, int64_t now, ms_error_t *err);
/* Handles one message from worker wi (body of len bytes). No socket is
 * read here: the fuzz harness calls it too. */
int ms_app_on_worker_msg(ms_app_t *app, int wi, const void *body, size_t len,
                         ms_error_t *err);
/* Handles what the workers sent (non-blocking). */
int ms_app_drain_workers(ms_app_t *app, ms_error_t *err);
/* Deletes the application's (or one shuffle's, shuffle >= 0) files on
 * every worker's shuffle server. */
void ms_app_remove_remote(ms_app_t *app, int shuffle);
/* Kills whatever executors of ours the workers still run; closes. */
void ms_app_close_workers(ms_app_t *app);

#endif
