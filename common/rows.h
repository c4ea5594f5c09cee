/* Result rows (the keys, then the aggregates' final values, as the reduce
 * side packs them) in the query's order: the driver sorts by it, and each
 * reduce task keeps only its first `limit` rows by it, since no row after
 * those can be among the first `limit` of all (Spark's per-partition
 * take-ordered). */
#ifndef MS_ROWS_H
#define MS_ROWS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/plan.h"
#include "common/value.h"

/* The type of output column c. */
ms_coltype_t ms_rows_type(const ms_plan_t *plan, int c);
/* Whether output column c may hold wide decimals (sum and avg of a decimal
 * column); decode it with ms_mp_wide_value. */
bool ms_rows_wide(const ms_plan_t *plan, int c);
/* Decodes output column c's value (borrowing, as ms_mp_value). */
bool ms_rows_value(const ms_plan_t *plan, int c, const msgpack_object *o,
                   ms_value_t *out);

/* Orders rows by the plan's order_by columns, then by every column
 * ascending, so the order is total; NULLs first ascending and last
 * descending, as Spark. */
int ms_rows_cmp(const ms_plan_t *plan, const ms_value_t *x,
                const ms_value_t *y);

/* With a limit, rewrites the packed rows in *rows to hold only the first
 * plan->limit of them in that order (any order within), and sets *nrows. */
int ms_rows_keep_first(const ms_plan_t *plan, msgpack_sbuffer *rows,
                       uint64_t *nrows, ms_error_t *err);

#endif
