/* Running one query as a job of two stages: map tasks over the input's
 * splits, then reduce tasks over the shuffle partitions, with retries of
 * failed tasks. The result is shown and written here too. */
#ifndef MS_JOB_H
#define MS_JOB_H

#include "common/plan.h"
#include "common/task.h"
#include "driver/app.h"
#include "driver/jobfile.h"

typedef struct ms_job_run ms_job_run_t;

typedef struct {
    int index;          /* job number in the application */
    const char *output; /* CSV path or NULL */
    int64_t show_rows;  /* rows of the table to print */
} ms_job_opts_t;

/* Returns 0, or a negative code with err set: MS_ERR_USAGE, MS_ERR_INPUT
 * (exit 3), MS_ERR_FAILED / MS_ERR_FETCH (exit 4), MS_ERR_INTERRUPTED. */
int ms_job_run(ms_app_t *app, const ms_plan_t *plan, const ms_job_opts_t *opts,
               ms_error_t *err);

/* Called by the app's event loop. rows/len: the result frame (reduce). */
void ms_job_on_task_end(ms_job_run_t *job, int exec, const ms_task_end_t *e,
                        const void *rows, size_t len);
/* An executor died: its running tasks are lost. */
void ms_job_on_exec_lost(ms_job_run_t *job, int exec, const char *why);
/* The server at endpoint (a lost worker's host) no longer serves the map
 * outputs registered there: their maps run again. */
void ms_job_on_outputs_lost(ms_job_run_t *job, const char *endpoint,
                            const char *why);
/* Whether map outputs of this job are on the executor (its own files,
 * without a shuffle service): losing it would mean running them again;
 * and how many. */
bool ms_job_holds_outputs(const ms_job_run_t *job, int exec);
int ms_job_outputs_on(const ms_job_run_t *job, int exec);
/* Executor exec migrated map's output of shuffle to the server at
 * endpoint (decommissioning): the output is registered there from now on.
 * False when that output is not the one registered on exec (an older
 * attempt's copy), which changes nothing. */
bool ms_job_output_moved(ms_job_run_t *job, int exec, int shuffle, int map,
                         const char *endpoint);
/* The registry's epoch, and whether a reduce task launched before epoch
 * runs (it may read an output where it was then). */
int64_t ms_job_epoch(const ms_job_run_t *job);
bool ms_job_reads_before(const ms_job_run_t *job, int64_t epoch);

#endif
