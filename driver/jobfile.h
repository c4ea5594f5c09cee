/* The job file (DESIGN.md "Job file"): strict JSON parsing into a job spec
 * that still names columns by their names. Resolving names against the
 * input's schema is the planner's job, not this module's. */
#ifndef MS_JOBFILE_H
#define MS_JOBFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/csv.h"
#include "common/err.h"
#include "common/plan.h"

/* A literal from the job file, kept as text so that a decimal such as 10.05
 * is compared exactly once the column's type is known. */
typedef enum {
    MS_LIT_NULL,
    MS_LIT_NUMBER, /* text is the JSON number's shortest exact form */
    MS_LIT_STRING,
    MS_LIT_BOOL, /* text "true" / "false" */
} ms_lit_kind_t;

typedef struct {
    ms_lit_kind_t kind;
    char *text;
} ms_literal_t;

typedef struct {
    char *column;
    ms_op_t op;
    int nvalues; /* 1 for comparisons, n for "in", 0 for null tests */
    ms_literal_t *values;
} ms_filter_spec_t;

typedef struct {
    ms_key_kind_t kind;
    char *column;
    char *as; /* output name: the column name unless "as" is given */
    ms_trunc_t trunc;
    int64_t mod;
} ms_key_spec_t;

typedef struct {
    ms_agg_fn_t fn;
    char *column; /* NULL only for count(*) */
    char *as;     /* output name; default as Spark: "count(1)", "sum(amount)" */
} ms_agg_spec_t;

typedef struct {
    char *column; /* an output column: a key's or an aggregate's name */
    bool desc;
} ms_order_spec_t;

typedef struct {
    int nfilters;
    ms_filter_spec_t *filters;
    int nkeys;
    ms_key_spec_t *keys;
    int naggs;
    ms_agg_spec_t *aggs;
    int norder;
    ms_order_spec_t *order;
    int64_t limit;          /* -1: no limit */
    int64_t pause_after_ms; /* "jobs" entries only; 0 otherwise */
    char *output_path;      /* NULL: none */
} ms_query_spec_t;

typedef struct {
    char *app_name;
    char *input_path;
    ms_csv_opts_t csv;
    bool infer_schema;
    int64_t shuffle_partitions; /* 0: not set (spark.sql.shuffle.partitions) */
    int nqueries;               /* 1 for "query", n for "jobs" */
    ms_query_spec_t *queries;
    ms_conf_t *conf; /* the job's "conf" object, in file order */
} ms_job_spec_t;

/* Reads and validates path. Errors are MS_ERR_USAGE with a message that
 * names the JSON path of the bad field (e.g. "query.aggregates[1].fn"), or
 * the line and column of malformed JSON; MS_ERR_INPUT when the file cannot
 * be read. */
int ms_job_spec_load(ms_job_spec_t **out, const char *path, ms_error_t *err);
/* The same from a buffer (for tests and fuzzing); name is used in messages. */
int ms_job_spec_parse(ms_job_spec_t **out, const char *text, size_t len,
                      const char *name, ms_error_t *err);
void ms_job_spec_destroy(ms_job_spec_t **self_p);

#endif
