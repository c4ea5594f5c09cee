/* The two kinds of task an executor runs. Each is a plain function over a
 * decoded plan: no sockets except the reduce side's fetch client. */
#ifndef MS_EXECUTOR_TASKS_H
#define MS_EXECUTOR_TASKS_H

#include <msgpack.h>

#include "common/err.h"
#include "common/plan.h"
#include "common/task.h"
#include "shuffle/fetch.h"

/* Scans the task's split, filters, aggregates (spilling to dir a table
 * larger than plan->agg_memory) and writes one map output for shuffle
 * t->shuffle_id into dir. FAILFAST returns MS_ERR_MALFORMED with
 * "FILE:LINE: ..." in err. */
int ms_map_task_run(const ms_task_t *t, const ms_plan_t *plan, const char *app,
                    const char *dir, ms_task_metrics_t *m, ms_error_t *err);

/* Fetches partition t->partition from every map output in t->locs, merges
 * and packs the final rows into rows. MS_ERR_FETCH fills *fail. A table
 * larger than plan->agg_memory spills to dir. */
int ms_reduce_task_run(void *zctx, const ms_task_t *t, const ms_plan_t *plan,
                       const char *app, const char *dir, msgpack_sbuffer *rows,
                       ms_task_metrics_t *m, ms_fetch_failure_t *fail,
                       ms_error_t *err);

#endif
