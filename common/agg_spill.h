/* Bounded memory for aggregation tables. A table that holds more than its
 * budget is written out as a run sorted by (key hash, key bytes) and
 * emptied; at the end the runs are merged in that order and each key's
 * partial states are combined, so the result is the one an unbounded table
 * would give. The order is also the reduce partitions' order (a partition
 * is a range of hashes), so a map task can write its output partition by
 * partition while merging. All runs of a table share one temporary file,
 * unlinked as soon as it is created: nothing outlives the process. */
#ifndef MS_AGG_SPILL_H
#define MS_AGG_SPILL_H

#include <stdint.h>

#include "common/agg.h"
#include "common/err.h"
#include "common/plan.h"

typedef struct ms_agg_spill ms_agg_spill_t;

/* Runs go to a temporary file in dir, created at the first spill. budget
 * is in bytes; 0 means no bound (nothing ever spills). */
ms_agg_spill_t *ms_agg_spill_new(const ms_plan_t *plan, const char *dir,
                                 int64_t budget);
void ms_agg_spill_destroy(ms_agg_spill_t **self_p);

/* Spills table when it holds more than the budget. Callers check every
 * MS_AGG_SPILL_EVERY rows: the table's size is a few loads to add up, but
 * rows cost tens of nanoseconds. */
#define MS_AGG_SPILL_EVERY 64
int ms_agg_spill_check(ms_agg_spill_t *self, ms_agg_table_t *table,
                       ms_error_t *err);

/* Runs written so far, and what they took: the tables' bytes when spilled
 * (Spark's "memory bytes spilled") and the bytes written to disk. */
int ms_agg_spill_runs(const ms_agg_spill_t *self);
int64_t ms_agg_spill_memory_bytes(const ms_agg_spill_t *self);
int64_t ms_agg_spill_disk_bytes(const ms_agg_spill_t *self);

/* Receives the merged groups, a few thousand at a time, in (hash, key)
 * order: within batch, group 0 first; across batches, in call order. */
typedef int (*ms_agg_spill_emit_fn)(void *arg, const ms_agg_table_t *batch,
                                    ms_error_t *err);

/* After at least one spill: spills what table still holds, then merges
 * every run, handing the combined groups to emit. */
int ms_agg_spill_merge(ms_agg_spill_t *self, ms_agg_table_t *table,
                       ms_agg_spill_emit_fn emit, void *arg, ms_error_t *err);

#endif
