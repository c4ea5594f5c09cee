/* The allocation policy of dynamic allocation, as Spark's
 * ExecutorAllocationManager: how many executors the application should
 * have (the target), when to raise it on a task backlog and by how much.
 * Pure bookkeeping: it never launches or stops anything, and time is always
 * a parameter, so tests drive it with a hand-made clock. */
#ifndef MS_ALLOCATION_H
#define MS_ALLOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"

/* "No backlog timer running" (Spark's NOT_SET). */
#define MS_ALLOC_NOT_SET INT64_MAX

typedef struct {
    int min_executors;
    int max_executors;     /* already capped by the master's capacity */
    int initial_executors; /* max(min, initialExecutors, instances) */
    double ratio;          /* executorAllocationRatio, in (0, 1] */
    int tasks_per_executor;
    int64_t backlog_timeout_ms;
    int64_t sustained_timeout_ms;
    char warning[256]; /* set when the capacity capped a setting */
} ms_alloc_conf_t;

typedef struct {
    int old_target, new_target;
    char reason[320];
} ms_alloc_change_t;

typedef struct ms_alloc ms_alloc_t;

/* Reads and validates the spark.dynamicAllocation.* keys as Spark does
 * (min <= max, max > 0, timeouts > 0, ratio in (0, 1]); capacity caps max
 * and min, saying so in out->warning. MS_ERR_USAGE names the key. */
int ms_alloc_conf_read(const ms_conf_t *conf, int capacity,
                       ms_alloc_conf_t *out, ms_error_t *err);

/* Starts with target = initial_executors, step 1, no backlog timer, and
 * "initializing": the target is not lowered until the first stage is
 * submitted or the first executor idles out. */
ms_alloc_t *ms_alloc_new(const ms_alloc_conf_t *conf);
void ms_alloc_destroy(ms_alloc_t **self_p);

/* What the scheduler tells the policy (Spark's allocation listener). A
 * failed task counts as pending again. */
void ms_alloc_stage_submitted(ms_alloc_t *self, int stage, int ntasks,
                              int64_t now);
void ms_alloc_task_started(ms_alloc_t *self, int stage, int64_t now);
void ms_alloc_task_ended(ms_alloc_t *self, int stage, bool success,
                         int64_t now);
void ms_alloc_stage_completed(ms_alloc_t *self, int stage, int64_t now);

/* The first idle timeout ends the initializing phase. */
void ms_alloc_idle_timeout(ms_alloc_t *self);

/* One round of Spark's updateAndSyncNumExecutorsTarget: lowers the target
 * at once to what the tasks need (never below min), or, when the backlog
 * timer has expired, raises it by the current step (from max(target,
 * executors), capped by need and max) and doubles the step only if the
 * whole step was granted. executors: the registered executors. Returns
 * true and fills *change (with the reason in words) when the target moved. */
bool ms_alloc_update(ms_alloc_t *self, int64_t now, int executors,
                     ms_alloc_change_t *change);

/* Spark's removeExecutors: of the timed-out executors ids[0..n) (sorted),
 * the ones that may go without leaving fewer than max(min, target);
 * remaining = registered executors not already pending removal. Returns
 * how many were copied to out. */
int ms_alloc_removable(const ms_alloc_t *self, const int *ids, int n,
                       int remaining, int *out);

int ms_alloc_target(const ms_alloc_t *self);
int ms_alloc_step(const ms_alloc_t *self);
int64_t ms_alloc_add_time(const ms_alloc_t *self);
bool ms_alloc_initializing(const ms_alloc_t *self);
int ms_alloc_pending_tasks(const ms_alloc_t *self);
int ms_alloc_running_tasks(const ms_alloc_t *self);
/* ceil((pending + running) * ratio / tasks_per_executor) */
int ms_alloc_max_needed(const ms_alloc_t *self);
const ms_alloc_conf_t *ms_alloc_conf(const ms_alloc_t *self);

#endif
