/* What the driver and executors say about tasks: the launch description
 * (MS_MSG_LAUNCH) and the end report (MS_MSG_TASK_END), with their codecs.
 * Both sides share only this and the plan. */
#ifndef MS_TASK_H
#define MS_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/proto.h"

typedef enum { MS_TASK_MAP = 0, MS_TASK_REDUCE = 1 } ms_task_kind_t;

/* Test hooks carried by a launch (minispark.test.failTask, stallFetch). */
typedef enum {
    MS_INJECT_NONE = 0,
    MS_INJECT_FAIL = 1,        /* the attempt fails at once */
    MS_INJECT_STALL_FETCH = 2, /* its fetch gets no answer in time */
} ms_inject_t;

typedef struct {
    int map;
    char *endpoint;
} ms_task_loc_t;

typedef struct {
    int64_t task_id;
    int stage_id;
    int attempt;
    ms_task_kind_t kind;
    int shuffle_id;
    int partition; /* map: split index; reduce: reduce partition */
    int64_t split_start, split_end;
    int64_t fetch_timeout_ms;
    int64_t delay_ms; /* test hook: sleep before running */
    ms_inject_t inject;
    int nlocs; /* reduce: where each map output is served */
    ms_task_loc_t *locs;
    char *plan; /* packed ms_plan_t */
    size_t plan_len;
} ms_task_t;

typedef enum {
    MS_TASK_OK = 0,
    MS_TASK_FAILED = 1,       /* retryable */
    MS_TASK_FETCH_FAILED = 2, /* a map output could not be read */
    /* Retrying cannot help (a FAILFAST malformed row, a result that does
     * not fit its type): the job fails at once with the report's code. */
    MS_TASK_NOT_RETRYABLE = 3,
} ms_task_status_t;

typedef struct {
    int64_t records_read, bytes_read, malformed, dropped;
    int64_t rows_out, shuffle_written, shuffle_fetched, run_ms;
    /* aggregation state spilled: its size in memory, and on disk */
    int64_t memory_spilled, disk_spilled;
} ms_task_metrics_t;

typedef struct {
    int64_t task_id;
    int attempt;
    ms_task_status_t status;
    int code; /* the MS_ERR_ code of a failure, 0 when it went well */
    char message[1024];
    ms_task_metrics_t metrics;
    int fetch_map; /* MS_TASK_FETCH_FAILED only */
    char fetch_endpoint[256];
    bool fetch_unreachable; /* the location did not answer at all */
} ms_task_end_t;

/* Packs a launch message into b (the builder is started here). */
void ms_task_pack(const ms_task_t *t, ms_msg_builder_t *b);
/* Decodes the fields of a launch message into t (strings copied). */
int ms_task_unpack(const ms_msg_t *m, ms_task_t *t, ms_error_t *err);
void ms_task_free(ms_task_t *t);

/* The status that reports a task's return code rc: which errors a retry
 * could fix. */
ms_task_status_t ms_task_status_for(int rc);

/* Task end: the result rows, if any, travel as a separate frame. */
void ms_task_end_pack(const ms_task_end_t *e, ms_msg_builder_t *b);
int ms_task_end_unpack(const ms_msg_t *m, ms_task_end_t *e, ms_error_t *err);

#endif
