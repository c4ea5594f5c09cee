/* The aggregation hash table shared by both sides of the shuffle: the map
 * side folds rows into partial states and packs them per reduce partition;
 * the reduce side merges packed partial states and packs final rows. One
 * group per distinct key; keys are hashed once, and the same hash picks the
 * reduce partition, so map and reduce agree by construction. */
#ifndef MS_AGG_H
#define MS_AGG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/plan.h"

typedef struct ms_agg_table ms_agg_table_t;

/* Borrows plan for the table's lifetime. NULL when out of memory. */
ms_agg_table_t *ms_agg_table_new(const ms_plan_t *plan);
void ms_agg_table_destroy(ms_agg_table_t **self_p);
/* Empties the table (after a spill) and gives its memory back. */
void ms_agg_table_clear(ms_agg_table_t *self);

/* Folds one row: keys[nkeys] are the group key values (already derived),
 * inputs[naggs] the aggregate inputs (ignored for count(*)). Rows are
 * folded at once while the table is small; once it is large they are
 * queued (their bytes copied) and folded a few dozen at a time, so that
 * the hash slots of a batch are fetched from memory together instead of
 * each row waiting for its own cache miss. A queued row's error is then
 * reported by a later update or by ms_agg_table_flush. */
int ms_agg_table_update(ms_agg_table_t *self, const ms_value_t *keys,
                        const ms_value_t *inputs, ms_error_t *err);
/* Folds the queued rows. Packing the table needs it done first, and
 * ms_agg_table_groups counts folded rows' groups only. */
int ms_agg_table_flush(ms_agg_table_t *self, ms_error_t *err);

/* For callers that remember which group a row went to: as
 * ms_agg_table_update, and *group is the row's group, or -1 when the row
 * was queued. Group numbers hold until the table is cleared. */
int ms_agg_table_update_group(ms_agg_table_t *self, const ms_value_t *keys,
                              const ms_value_t *inputs, int64_t *group,
                              ms_error_t *err);
/* Folds inputs into group g, as a row with that group's keys. */
int ms_agg_table_fold_group(ms_agg_table_t *self, uint32_t g,
                            const ms_value_t *inputs, ms_error_t *err);

/* Packs every group's partial state as one msgpack array per group into
 * parts[partition of the group], for nparts partitions. */
int ms_agg_table_pack_partials(const ms_agg_table_t *self,
                               msgpack_sbuffer *parts, int nparts);
/* Packs group g's partial state row (the shuffle row) into pk. */
void ms_agg_table_pack_partial_row(const ms_agg_table_t *self, uint32_t g,
                                   msgpack_packer *pk);

/* Merges one packed partial row (untrusted: checked against the plan). */
int ms_agg_table_merge(ms_agg_table_t *self, const msgpack_object *row,
                       ms_error_t *err);
/* Merges rows[0..n), n <= MS_AGG_MERGE_BATCH, as one batch: every row's
 * slot, entry and states are requested before any row is merged, so their
 * cache misses overlap. */
#define MS_AGG_MERGE_BATCH 32
int ms_agg_table_merge_rows(ms_agg_table_t *self, const msgpack_object *rows,
                            int n, ms_error_t *err);

/* Packs the final rows (keys then aggregate results) into out.
 * MS_ERR_OVERFLOW, naming the aggregate and the value, when a result does
 * not fit its type (a sum of int64 beyond 64 bits): no retry can help. */
int ms_agg_table_pack_final(const ms_agg_table_t *self, msgpack_sbuffer *out,
                            uint64_t *nrows, ms_error_t *err);

/* Final values of a table with no rows at all: what a global aggregate
 * returns over empty input (count 0, everything else NULL). */
void ms_agg_empty_result(const ms_plan_t *plan, ms_value_t *out);

/* Whether aggregate a of plan sums (sum, avg) a column read as double
 * although its text is exact decimals too wide for decimal(18) with at
 * most MS_DECIMAL_MAX_SCALE places: then buf gets a sentence saying so,
 * for the driver to warn with at planning. */
bool ms_agg_inexact_note(const ms_plan_t *plan, int a, char *buf, size_t size);

/* Groups are numbered 0..groups-1 in order of first appearance. */
uint32_t ms_agg_table_groups(const ms_agg_table_t *self);
/* Bytes held by the table's arrays (what spilling bounds). */
size_t ms_agg_table_memory(const ms_agg_table_t *self);
/* Group g's key hash, and its canonical key bytes (borrowed: valid until
 * the table changes). Equal keys have equal bytes. */
uint64_t ms_agg_table_hash(const ms_agg_table_t *self, uint32_t g);
const uint8_t *ms_agg_table_key(const ms_agg_table_t *self, uint32_t g,
                                uint32_t *len);

/* The reduce partition of a key hash. */
static inline int ms_agg_partition(uint64_t hash, int nparts)
{
    return (int)(((hash >> 32) * (uint64_t)nparts) >> 32);
}

#endif
