/* One application on the driver: its ROUTER socket, its executors, the
 * shuffle service it uses, and the event loop that everything else runs
 * inside. Jobs (driver/job.c) borrow the app to launch tasks. */
#ifndef MS_APP_H
#define MS_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/task.h"
#include "driver/jobfile.h"

typedef struct {
    int id;
    pid_t pid;
    bool registered, alive, stopping;
    int cores, running;
    char ident[32];
    char endpoint[256]; /* where its map outputs are served */
    char dir[4096];     /* where it writes map outputs */
    int64_t launched_ms, registered_ms, ended_ms, last_seen_ms;
    int64_t completed, failed;
} ms_exec_t;

typedef struct {
    int64_t records_read, bytes_read, malformed, dropped;
    int64_t shuffle_written, shuffle_fetched, map_ms, tasks;
} ms_app_totals_t;

struct ms_job_run;

typedef struct ms_app {
    const ms_conf_t *conf;
    bool quiet, tty;
    char app_id[64];
    void *zctx, *router;
    char endpoint[256];
    ms_exec_t *execs;
    int nexecs, cap;
    int target, max_local;
    int cores_per_exec;
    /* shuffle service */
    bool service;
    char service_ep[256], service_dir[4096];
    pid_t service_pid; /* ours to stop, or 0 */
    char local_dir[4096], app_dir[4096];
    int64_t heartbeat_ms, network_timeout_ms, fetch_timeout_ms;
    int64_t task_delay_ms;
    int64_t max_partition_bytes, open_cost_bytes;
    int max_failures;
    /* accounting */
    int peak_execs;
    int64_t start_ms;
    ms_app_totals_t totals;
    struct ms_job_run *job; /* the job being run, for task reports */
    int64_t last_draw_ms;
} ms_app_t;

/* Sets up sockets, the shuffle service and the executors. */
int ms_app_start(ms_app_t *app, const ms_conf_t *conf, bool quiet,
                 ms_error_t *err);
/* Stops executors (and a shuffle server we started), reaps every child
 * and removes the application's shuffle files. Safe after a failed start. */
void ms_app_stop(ms_app_t *app);
/* Frees what a stopped app still holds (its executor records). */
void ms_app_free(ms_app_t *app);

/* Runs the event loop for at most timeout_ms: handles executor messages,
 * child exits and signals. Returns MS_ERR_INTERRUPTED after SIGINT/SIGTERM,
 * MS_ERR_FAILED (with err) when an executor is lost, else 0. */
int ms_app_pump(ms_app_t *app, int64_t timeout_ms, ms_error_t *err);

/* An executor with a free slot (fewest running tasks first), avoiding
 * `avoid` when another has room; -1 if none. */
int ms_app_free_exec(const ms_app_t *app, int avoid);
int ms_app_send_task(ms_app_t *app, int exec, const ms_task_t *task);
int ms_app_alive_execs(const ms_app_t *app);

int64_t ms_now_ms(void);
/* Installs SIGINT/SIGTERM/SIGCHLD handlers for the driver. */
void ms_app_install_signals(void);
bool ms_app_interrupted(void);

#endif
