/* What the live UI, the REST API, /metrics and `minispark report` show:
 * the application's executors, jobs, stages, allocation decisions and a
 * timeline of executors, target and tasks. It is built only from bus
 * events, so replaying an event log rebuilds exactly what the live UI
 * showed. Thread-safe: the driver thread posts events; web server threads
 * take snapshots (plain data, deep copies) and render those. */
#ifndef MS_UI_STATE_H
#define MS_UI_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "driver/events.h"

typedef struct {
    int id;
    char host[64];
    int cores;
    bool active;
    int active_tasks;
    int64_t completed_tasks, failed_tasks;
    int64_t shuffle_read, shuffle_write; /* bytes */
    int64_t add_time, remove_time;       /* ms since epoch; 0: not yet */
    char remove_reason[320];
} ms_ui_exec_t;

/* One point of the timeline, taken after every event that changes one of
 * its values. */
typedef struct {
    int64_t time;
    int executors; /* registered and not removed */
    int target;
    int running, pending; /* tasks */
} ms_ui_sample_t;

typedef struct {
    int64_t time;
    char action[16]; /* target, add, cancel, remove, keep */
    int exec;        /* 0 when none */
    int old_target, new_target, pending, running, executors;
    char reason[320];
} ms_ui_decision_t;

typedef struct {
    int id, job;
    char name[16]; /* map, reduce */
    int ntasks, succeeded, running, failed;
    int64_t submitted, completed; /* completed 0: active */
} ms_ui_stage_t;

typedef struct {
    int id;
    int stage_ids[2];
    int64_t submitted, completed;
    char status[16]; /* RUNNING, SUCCEEDED, FAILED */
} ms_ui_job_t;

/* The allocation manager's live gauges (Spark's ExecutorAllocationManager
 * metrics source), set by the driver on every allocation tick. */
typedef struct {
    int to_add, pending_remove, all_executors, target, max_needed;
    int fair_share, held_cores; /* on workers (workers:// masters) */
} ms_ui_gauges_t;

typedef struct {
    char app_id[64], app_name[128];
    int64_t start, end; /* ms since epoch; end 0: running */
    ms_ui_exec_t *execs;
    int nexecs;
    ms_ui_sample_t *samples;
    int nsamples;
    ms_ui_decision_t *decisions;
    int ndecisions;
    ms_ui_stage_t *stages;
    int nstages;
    ms_ui_job_t *jobs;
    int njobs;
    ms_ui_gauges_t gauges;
    int64_t tasks_completed, tasks_failed;
    int64_t bytes_read, records_read, shuffle_written, shuffle_fetched;
} ms_ui_snapshot_t;

/* Memory bounds for a long run. A full series of samples or decisions is
 * thinned: the first entry and the newer half stay, the older half keeps
 * every other entry, so the oldest part loses resolution first. A full
 * table of executors, stages or jobs drops its oldest finished entry (as
 * Spark's spark.ui.retained* settings do); with none finished, the new
 * entry is not shown. */
#define MS_UI_MAX_SAMPLES 100000
#define MS_UI_MAX_DECISIONS 10000 /* ~380 bytes each */
#define MS_UI_MAX_EXECS 4096
#define MS_UI_MAX_STAGES 2000
#define MS_UI_MAX_JOBS 1000

typedef struct ms_ui_state ms_ui_state_t;

ms_ui_state_t *ms_ui_state_new(void);
void ms_ui_state_destroy(ms_ui_state_t **self_p);

/* The bus listener (arg: the state). Safe to call from one thread while
 * others take snapshots. */
void ms_ui_state_listener(void *arg, const ms_event_t *ev);
void ms_ui_state_set_gauges(ms_ui_state_t *self, const ms_ui_gauges_t *g);

/* A deep copy of everything; NULL when out of memory. */
ms_ui_snapshot_t *ms_ui_state_snapshot(ms_ui_state_t *self);
void ms_ui_snapshot_free(ms_ui_snapshot_t **snap_p);

/* REST bodies (Spark's shapes where Spark has the endpoint), malloc'ed
 * JSON text the caller frees:
 *   /api/v1/applications                 [ {id, name, attempts:[...]} ]
 *   /api/v1/applications/<id>/executors  ExecutorSummary: id, hostPort,
 *       isActive, totalCores, activeTasks, completedTasks, failedTasks,
 *       totalShuffleRead, totalShuffleWrite, addTime, removeTime,
 *       removeReason (times as ISO-8601 strings, as Spark)
 *       (every executor, removed ones too, as Spark's /allexecutors)
 *   /api/v1/applications/<id>/jobs       jobId, status, stageIds, ...
 *   /api/v1/applications/<id>/stages     stageId, name, status, numTasks,
 *       numCompleteTasks, numActiveTasks, numFailedTasks, ...
 *       (jobs and stages newest first, as Spark lists them)
 *   /api/v1/applications/<id>/allocation the decisions: time, action,
 *       executorId (null for none), oldTarget, newTarget, pendingTasks,
 *       runningTasks, executors, reason
 *   /api/v1/applications/<id>/timeline   the samples: time, executors,
 *       target, running, pending
 *   (allocation and timeline times in ms since the epoch, for charts) */
char *ms_ui_json_applications(const ms_ui_snapshot_t *s);
char *ms_ui_json_executors(const ms_ui_snapshot_t *s);
char *ms_ui_json_jobs(const ms_ui_snapshot_t *s);
char *ms_ui_json_stages(const ms_ui_snapshot_t *s);
char *ms_ui_json_allocation(const ms_ui_snapshot_t *s);
char *ms_ui_json_timeline(const ms_ui_snapshot_t *s);
/* Prometheus text exposition: the gauges as
 * minispark_executor_allocation_<name> plus task, byte and shuffle
 * counters. */
char *ms_ui_metrics_text(const ms_ui_snapshot_t *s);

#endif
