/* Which executors are idle and for how long, as Spark's ExecutorMonitor:
 * an executor is idle from its registration or the end of its last task,
 * and times out after executorIdleTimeout. With shuffle tracking, an
 * executor that holds map output of a shuffle a running job still needs
 * never times out; one that holds only output no running job needs times
 * out after max(idle timeout, shuffleTracking.timeout). Pure bookkeeping
 * with time as a parameter. */
#ifndef MS_EXEC_MONITOR_H
#define MS_EXEC_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"

/* A deadline that never comes (busy, or holding needed shuffle data). */
#define MS_MONITOR_NEVER INT64_MAX

typedef struct ms_exec_monitor ms_exec_monitor_t;

/* shuffle_tracking is on only without an external shuffle service; a
 * timeout of MS_CONF_INFINITE never expires. */
ms_exec_monitor_t *ms_exec_monitor_new(int64_t idle_timeout_ms,
                                       bool shuffle_tracking,
                                       int64_t shuffle_timeout_ms);
void ms_exec_monitor_destroy(ms_exec_monitor_t **self_p);

void ms_exec_monitor_executor_added(ms_exec_monitor_t *self, int id,
                                    int64_t now);
void ms_exec_monitor_executor_removed(ms_exec_monitor_t *self, int id);
/* A task start for an unknown executor creates its tracker (events may
 * arrive out of order). */
void ms_exec_monitor_task_started(ms_exec_monitor_t *self, int id, int64_t now);
/* shuffle: the shuffle whose map output the task wrote there, or -1. */
void ms_exec_monitor_task_ended(ms_exec_monitor_t *self, int id, int shuffle,
                                int64_t now);
/* A job that reads (or writes) these shuffles is running / has ended. */
void ms_exec_monitor_job_started(ms_exec_monitor_t *self, int job,
                                 const int *shuffles, int nshuffles);
void ms_exec_monitor_job_ended(ms_exec_monitor_t *self, int job);
/* The shuffle's files are gone: executors no longer hold it. */
void ms_exec_monitor_shuffle_removed(ms_exec_monitor_t *self, int shuffle);
void ms_exec_monitor_pending_removal(ms_exec_monitor_t *self, int id);
/* Decommissioning migrates shuffle output (tracking is off then): the
 * shuffles an executor holds are still noted, for the reasons given, but
 * never keep it. */
void ms_exec_monitor_migrates(ms_exec_monitor_t *self);

/* Executors past their deadline and not pending removal, sorted by id.
 * Returns the count (at most max copied). */
int ms_exec_monitor_timed_out(const ms_exec_monitor_t *self, int64_t now,
                              int *ids, int max);
/* The executor's removal deadline, or MS_MONITOR_NEVER. */
int64_t ms_exec_monitor_deadline(const ms_exec_monitor_t *self, int id);
/* The earliest deadline of all, or MS_MONITOR_NEVER. */
int64_t ms_exec_monitor_next_deadline(const ms_exec_monitor_t *self);

int ms_exec_monitor_count(const ms_exec_monitor_t *self);
int ms_exec_monitor_pending_removal_count(const ms_exec_monitor_t *self);
bool ms_exec_monitor_is_idle(const ms_exec_monitor_t *self, int id);
/* Executors that hold map output of a shuffle a running job needs but have
 * been idle for the idle timeout: kept only because of that. Sorted. */
int ms_exec_monitor_kept(const ms_exec_monitor_t *self, int64_t now, int *ids,
                         int max);

/* Why the executor may go, or why it stays, in words: "idle 60.0 s, holds
 * no shuffle data a running job needs" or "idle 75.0 s but holds shuffle 0
 * output needed by job 1". */
void ms_exec_monitor_explain(const ms_exec_monitor_t *self, int id, int64_t now,
                             char *buf, size_t size);

#endif
