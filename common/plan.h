/* The resolved query plan that every task runs: the input and its schema,
 * filters with typed literals, group keys and aggregates by column index,
 * and the shuffle layout. The driver builds it (driver/planner.c) and sends
 * it to executors packed with msgpack; this module owns that codec. */
#ifndef MS_PLAN_H
#define MS_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/csv.h"
#include "common/err.h"
#include "common/value.h"

/* What a plan may hold: the job file is checked against these at planning,
 * and an executor refuses a plan beyond them as malformed. */
#define MS_PLAN_MAX_PARTITIONS 100000 /* also spark.sql.shuffle.partitions */
#define MS_PLAN_MAX_ITEMS 4096        /* filters, keys, aggregates, order */
#define MS_PLAN_MAX_VALUES 100000     /* literals of one "in" filter */

typedef enum {
    MS_OP_EQ,
    MS_OP_NE,
    MS_OP_LT,
    MS_OP_LE,
    MS_OP_GT,
    MS_OP_GE,
    MS_OP_IN,
    MS_OP_IS_NULL,
    MS_OP_NOT_NULL,
} ms_op_t;

typedef enum {
    MS_KEY_COLUMN,
    MS_KEY_TRUNC, /* timestamp truncated to hour, day or month */
    MS_KEY_MOD,   /* int64 column modulo a positive constant */
} ms_key_kind_t;

typedef enum { MS_TRUNC_HOUR, MS_TRUNC_DAY, MS_TRUNC_MONTH } ms_trunc_t;

typedef enum {
    MS_AGG_COUNT,
    MS_AGG_SUM,
    MS_AGG_MIN,
    MS_AGG_MAX,
    MS_AGG_AVG,
    MS_AGG_COUNT_DISTINCT,
} ms_agg_fn_t;

typedef enum {
    MS_CODEC_NONE = 0,
    MS_CODEC_ZLIB = 1,
    MS_CODEC_LZ4 = 2
} ms_codec_t;

typedef struct {
    int col;
    ms_op_t op;
    int nvalues;
    ms_value_t *values; /* strings point into the plan's own storage */
} ms_filter_t;

typedef struct {
    ms_key_kind_t kind;
    int col;
    ms_trunc_t trunc;
    int64_t mod;
    ms_coltype_t type; /* the key's output type */
    char *name;
} ms_key_t;

typedef struct {
    ms_agg_fn_t fn;
    int col;           /* -1 for count(*) */
    ms_coltype_t in;   /* input column type (NULL type for count(*)) */
    ms_coltype_t type; /* result type */
    char *name;
} ms_agg_t;

/* One order_by column of the result: an output column (the keys, then the
 * aggregates). */
typedef struct {
    int col;
    bool desc;
} ms_order_t;

typedef struct {
    char *input_path;
    ms_file_id_t input_id; /* the input as planned: tasks check it */
    ms_csv_opts_t csv;
    ms_schema_t schema;
    bool *referenced; /* [schema.ncols]: parsed and checked per row */
    int nfilters;
    ms_filter_t *filters;
    int nkeys;
    ms_key_t *keys;
    int naggs;
    ms_agg_t *aggs;
    int num_partitions;
    ms_codec_t codec;
    int zlib_level;
    /* Bytes one task's aggregation table may hold before it spills (0:
     * no bound). */
    int64_t agg_memory;
    int norder;
    ms_order_t *order;
    int64_t limit; /* -1: every row */
} ms_plan_t;

/* An empty plan; fill it, then call ms_plan_finish. String values of filter
 * literals and all names are malloc'ed and owned by the plan. */
ms_plan_t *ms_plan_new(void);
/* Frees everything the plan owns. */
void ms_plan_destroy(ms_plan_t **self_p);

/* Marks referenced columns from filters, keys and aggregates. */
int ms_plan_finish(ms_plan_t *self, ms_error_t *err);

/* The type an aggregate returns for an input column of type in, as Spark
 * types it: count and count_distinct int64; avg double, or of a decimal a
 * decimal with 4 more digits of scale; the others keep the input's type.
 * sum and avg of decimals have up to MS_DECIMAL_RESULT_DIGITS digits
 * (Spark's decimal(min(38, p + 10), s) and decimal(min(38, p + 4),
 * s + 4)), so their values may be wide (ms_value_t). */
ms_coltype_t ms_agg_result_type(ms_agg_fn_t fn, ms_coltype_t in);

/* Packs the plan into a malloc'ed buffer the caller frees. */
int ms_plan_pack(const ms_plan_t *self, char **out, size_t *len);
/* Decodes a packed plan, checking every field's type and range. */
int ms_plan_unpack(ms_plan_t **out, const char *buf, size_t len,
                   ms_error_t *err);

#endif
