/* Turns one query of a job spec into an executable plan: resolves column
 * names against the input's schema, checks that each function fits its
 * column's type, converts filter literals to the column's type and fixes
 * every result type. All errors are MS_ERR_USAGE and name the JSON path. */
#ifndef MS_PLANNER_H
#define MS_PLANNER_H

#include "common/csv.h"
#include "common/plan.h"
#include "driver/jobfile.h"

typedef struct {
    int num_partitions;
    ms_codec_t codec;
    int zlib_level;
    int64_t agg_memory;
    ms_file_id_t input_id; /* the input as its schema was read */
} ms_planner_opts_t;

/* schema->ncols == 0 means an empty input: every named column is accepted
 * with an unknown type, since no row will ever be read. */
int ms_planner_build(const ms_job_spec_t *spec, int query,
                     const ms_schema_t *schema, const ms_planner_opts_t *opts,
                     ms_plan_t **out, ms_error_t *err);

#endif
