/* One job: the map stage, then the reduce stage, then the result. Tasks are
 * handed to executors with free slots in order; a failed attempt is retried
 * (elsewhere when possible) until spark.task.maxFailures.
 *
 * Map outputs can be lost: an executor that serves its own dies, or a
 * reducer cannot fetch a block (gone, corrupt, unreachable). A lost output
 * is unregistered (once: a report from a reducer launched before the
 * output was registered again is stale) and its map task is pending again.
 * If that happens during the reduce stage, no more reduce tasks start; once
 * the running ones have ended and a short wait has let other failures come
 * in, the map stage runs again for the missing outputs only, then the
 * reduce stage for the partitions not yet done, as Spark resubmits stages
 * after a FetchFailed. spark.stage.maxConsecutiveAttempts bounds it, not
 * counting the resubmissions that only executors being decommissioned
 * caused (Spark's spark.stage.ignoreDecommissionFetchFailure).
 *
 * Map outputs can also move: a decommissioned executor migrates its own
 * to another server, and the output's location follows (with a new epoch,
 * so that a failure reported by a reducer that read the old location is
 * stale). Reducers are launched with the locations of their launch. The
 * registry itself is driver/map_outputs.c. */
#include "driver/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "driver/console.h"
#include "driver/hooks.h"
#include "driver/map_outputs.h"
#include "driver/result.h"

typedef enum { S_PENDING, S_RUNNING, S_DONE } s_state_t;

typedef struct {
    s_state_t state;
    int attempts; /* launched */
    int failures; /* attempts that failed by the task's own fault */
    int exec;
    int last_failed_exec;
    int64_t task_id;
    int64_t launch_wall_ms;
    int64_t epoch; /* reduce: the output registry's epoch at launch */
} s_task_t;

/* Wait after a lost output before resubmitting, so that the failures of
 * one event (an executor's death seen by several reducers) are handled
 * together, as Spark's DAGScheduler does. */
#define S_RESUBMIT_WAIT_MS 200
#define S_RESUBMIT 1 /* s_stage_loop: outputs were lost, run the maps again */

struct ms_job_run {
    ms_app_t *app;
    const ms_plan_t *plan;
    const ms_job_opts_t *opts;
    char *plan_buf;
    size_t plan_len;
    int stage_id, shuffle_id;
    ms_task_kind_t kind;
    s_task_t *tasks; /* the current stage's: stage_tasks[kind] */
    int ntasks, done, running;
    s_task_t *stage_tasks[2];
    int stage_attempt[2];
    int nsplits;
    int64_t *splits; /* [nsplits + 1] boundaries */
    ms_map_outputs_t *outputs;
    bool lost;        /* outputs lost in the reduce stage */
    bool lost_counts; /* ...not only by decommissioned executors */
    ms_hooks_state_t hooks;
    char lost_cause[1400];
    ms_result_t *result;
    int fatal; /* negative code once the job cannot succeed */
    ms_error_t failure;
};

static const char *s_kind_name(ms_task_kind_t k)
{
    return k == MS_TASK_MAP ? "map" : "reduce";
}

/* Publishes the stage's progress in the app (the console reads it). */
static void s_publish(ms_job_run_t *job)
{
    job->app->stage = (ms_app_stage_t){job->stage_id, s_kind_name(job->kind),
                                       job->done, job->running, job->ntasks};
}

/* ---- splits
 * ------------------------------------------------------------------ */

/* Spark's FilePartition.maxSplitBytes: no bigger than maxPartitionBytes,
 * but small enough that every slot gets a share of a small input. */
static int s_splits(ms_job_run_t *job, ms_error_t *err)
{
    int64_t max_bytes = job->app->max_partition_bytes;
    int64_t open_cost = job->app->open_cost_bytes;
    struct stat st;
    if (stat(job->plan->input_path, &st) < 0)
        return ms_error_set(err, MS_ERR_INPUT, "cannot read %s: %s",
                            job->plan->input_path, strerror(errno));
    /* Splits are of the file as planned (a later job of the application
     * may find it changed since). */
    int rc =
        ms_file_id_check(&job->plan->input_id, &st, job->plan->input_path, err);
    if (rc < 0) return rc;
    int64_t size = job->plan->input_id.size;
    int64_t slots = ms_app_max_slots(job->app);
    int64_t per_core = (size + open_cost + slots - 1) / slots;
    int64_t split = per_core > open_cost ? per_core : open_cost;
    if (split > max_bytes) split = max_bytes;
    int64_t n = size ? (size + split - 1) / split : 1;
    /* Spark's rule leaves the last wave part empty (7 splits on 2 slots
     * take 4 waves with one slot idle in the last); the same number of
     * full waves of smaller splits ends sooner. */
    if (n > slots && n % slots) {
        n += slots - n % slots;
        split = (size + n - 1) / n;
        n = (size + split - 1) / split;
    }
    if (n > 1000000)
        return ms_error_set(
            err, MS_ERR_USAGE,
            "%lld map tasks: raise spark.files.maxPartitionBytes",
            (long long)n);
    job->nsplits = (int)n;
    job->splits = calloc((size_t)n + 1, sizeof *job->splits);
    job->outputs = ms_map_outputs_new((int)n);
    if (!job->splits || !job->outputs)
        return ms_error_set(err, MS_ERR_NOMEM, "splits");
    for (int64_t i = 0; i < n; i++)
        job->splits[i] = i * split;
    job->splits[n] = size;
    return 0;
}

/* ---- task reports
 * ---------------------------------------------------------------- */

static void s_fail(ms_job_run_t *job, int code, const char *fmt,
                   const char *detail, int task)
{
    if (job->fatal) return;
    job->fatal = code;
    char head[128];
    snprintf(head, sizeof head, "stage %d (%s) task %d", job->stage_id,
             s_kind_name(job->kind), task);
    ms_error_set(&job->failure, code, fmt, head, detail);
}

static int s_find_task(const ms_job_run_t *job, int64_t task_id)
{
    for (int i = 0; i < job->ntasks; i++)
        if (job->tasks[i].task_id == task_id &&
            job->tasks[i].state == S_RUNNING)
            return i;
    return -1;
}

static void s_add_metrics(ms_app_t *app, const ms_task_end_t *e)
{
    const ms_task_metrics_t *m = &e->metrics;
    ms_app_totals_t *t = &app->totals;
    t->records_read += m->records_read;
    t->bytes_read += m->bytes_read;
    t->malformed += m->malformed;
    t->dropped += m->dropped;
    t->shuffle_written += m->shuffle_written;
    t->shuffle_fetched += m->shuffle_fetched;
    t->disk_spilled += m->disk_spilled;
    t->tasks++;
    if (m->records_read || m->bytes_read) t->map_ms += m->run_ms;
}

/* Whether the executor at index exec is (or was) decommissioned. */
static bool s_decommissioned(const ms_job_run_t *job, int exec)
{
    return exec >= 0 && job->app->execs[exec].decommissioning &&
           job->app->decom.ignore_fetch_failures;
}

/* Map m's output is gone (cause says why, because of executor exec, -1
 * if none): unless a newer one was registered after the reporter launched
 * (at epoch seen), unregister it and make its task pending again. */
static bool s_lose_output(ms_job_run_t *job, int m, int64_t seen, int exec,
                          const char *cause)
{
    if (!ms_map_outputs_lose(job->outputs, m, seen)) return false;
    s_task_t *t = &job->stage_tasks[MS_TASK_MAP][m];
    if (t->state == S_DONE) {
        t->state = S_PENDING;
        if (job->kind == MS_TASK_MAP) job->done--;
    }
    if (job->kind == MS_TASK_REDUCE) {
        job->lost = true;
        job->lost_counts |= !s_decommissioned(job, exec);
        snprintf(job->lost_cause, sizeof job->lost_cause, "%s", cause);
    }
    return true;
}

/* The live executor whose own server is at endpoint, or else (gone too:
 * who is to blame for a failed fetch) the last one that was; -1. */
static int s_exec_at(const ms_job_run_t *job, const char *endpoint, bool gone)
{
    const ms_app_t *app = job->app;
    int found = -1;
    for (int i = 0; i < app->nexecs; i++) {
        if (strcmp(app->execs[i].endpoint, endpoint) != 0) continue;
        if (app->execs[i].alive) return i;
        if (gone) found = i;
    }
    return found;
}

static void s_on_failure(ms_job_run_t *job, int i, int exec,
                         const ms_task_end_t *e)
{
    s_task_t *t = &job->tasks[i];
    char detail[1400];
    switch (e->status) {
    case MS_TASK_NOT_RETRYABLE:
        /* The same input gives the same error anywhere: fail now, with the
         * task's code (bad input is exit 3, a result too big exit 4). */
        s_fail(job, e->code, "%s: %s", e->message, i);
        return;
    case MS_TASK_FETCH_FAILED:
        /* Not the task's fault: it runs again once the output is back,
         * and the attempt does not count toward spark.task.maxFailures. */
        t->state = S_PENDING;
        if (e->fetch_unreachable && job->app->service && !job->app->nworkers) {
            /* The service's files outlive it: bring it back and fetch
             * again; what is really gone then fails as missing. (A
             * worker's host that does not answer has lost its outputs.) */
            ms_error_t serr = {0};
            if (ms_app_revive_service(job->app, &serr) < 0)
                s_fail(job, serr.code, "%s: %s", serr.msg, i);
            return;
        }
        snprintf(detail, sizeof detail,
                 "fetch failed for stage %d (reduce) task %d: shuffle %d, "
                 "map %d, partition %d from %s: %s",
                 job->stage_id, i, job->shuffle_id, e->fetch_map, i,
                 e->fetch_endpoint, e->message);
        if (s_lose_output(job, e->fetch_map, t->epoch,
                          s_exec_at(job, e->fetch_endpoint, true), detail))
            fprintf(stderr, "minispark: map output %d lost: %s\n", e->fetch_map,
                    detail);
        return;
    default:
        break;
    }
    t->state = S_PENDING;
    t->last_failed_exec = exec;
    t->failures++;
    const ms_exec_t *ex = &job->app->execs[exec];
    fprintf(stderr,
            "minispark: stage %d (%s) task %d attempt %d failed on "
            "executor %d (host %s): %s\n",
            job->stage_id, s_kind_name(job->kind), i, t->attempts - 1, ex->id,
            ex->host, e->message);
    if (t->failures >= job->app->max_failures) {
        snprintf(detail, sizeof detail,
                 "failed %d times; last cause: %s (on host %s)", t->failures,
                 e->message, ex->host);
        s_fail(job, MS_ERR_FAILED, "%s %s", detail, i);
    }
}

static void s_post_task(ms_job_run_t *job, ms_event_type_t type, int i,
                        const ms_task_end_t *e)
{
    const s_task_t *t = &job->tasks[i];
    ms_event_t ev = {
        .type = type,
        .stage = job->stage_id,
        .stage_attempt = job->stage_attempt[job->kind],
        .stage_name = s_kind_name(job->kind),
        .shuffle = job->kind == MS_TASK_MAP ? job->shuffle_id : -1,
        .task_id = t->task_id,
        .index = i,
        .attempt = t->attempts - 1,
        .launch_ms = t->launch_wall_ms,
        .exec = job->app->execs[t->exec].id,
        .host = job->app->execs[t->exec].host,
        .success = !e || e->status == MS_TASK_OK,
        .failure = e ? e->message : NULL,
        .metrics = e ? &e->metrics : NULL,
    };
    ms_bus_post(&job->app->bus, &ev);
}

void ms_job_on_task_end(ms_job_run_t *job, int exec, const ms_task_end_t *e,
                        const void *rows, size_t len)
{
    int i = s_find_task(job, e->task_id);
    if (i < 0) return; /* a stale report from an attempt we gave up on */
    s_task_t *t = &job->tasks[i];
    job->running--;
    s_add_metrics(job->app, e);
    s_post_task(job, MS_EV_TASK_END, i, e);
    if (e->status != MS_TASK_OK) {
        s_on_failure(job, i, exec, e);
        return;
    }
    if (job->kind == MS_TASK_MAP) {
        if (!ms_map_outputs_register(job->outputs, i,
                                     job->app->execs[exec].endpoint, exec)) {
            s_fail(job, MS_ERR_NOMEM, "%s: %s", "out of memory", i);
            return;
        }
    } else if (rows && len) {
        ms_error_t err = {0};
        if (ms_result_add(job->result, rows, len, &err) < 0) {
            s_fail(job, MS_ERR_FAILED, "%s: %s", err.msg, i);
            return;
        }
    }
    t->state = S_DONE;
    job->done++;
    ms_hooks_task_ended(job->app, exec, job->stage_id, job->done);
}

void ms_job_on_exec_lost(ms_job_run_t *job, int exec, const char *why)
{
    for (int i = 0; i < job->ntasks; i++) {
        s_task_t *t = &job->tasks[i];
        if (t->state == S_RUNNING && t->exec == exec) {
            t->state = S_PENDING;
            job->running--;
        }
    }
    /* Outputs in the shuffle service outlive their executor. */
    if (job->app->service) return;
    char cause[400];
    snprintf(cause, sizeof cause, "executor %d %s", job->app->execs[exec].id,
             why);
    int lost = 0;
    int64_t now = ms_map_outputs_epoch(job->outputs);
    for (int m = 0; m < job->nsplits; m++)
        if (ms_map_outputs_exec(job->outputs, m) == exec)
            lost += s_lose_output(job, m, now, exec, cause);
    if (lost)
        fprintf(stderr,
                "minispark: %d map outputs of shuffle %d lost with executor "
                "%d; their maps run again\n",
                lost, job->shuffle_id, job->app->execs[exec].id);
}

int ms_job_outputs_on(const ms_job_run_t *job, int exec)
{
    return job->outputs ? ms_map_outputs_on(job->outputs, exec) : 0;
}

bool ms_job_holds_outputs(const ms_job_run_t *job, int exec)
{
    return ms_job_outputs_on(job, exec) > 0;
}

bool ms_job_output_moved(ms_job_run_t *job, int exec, int shuffle, int map,
                         const char *endpoint)
{
    if (shuffle != job->shuffle_id) return false;
    int to = s_exec_at(job, endpoint, false);
    int rc = ms_map_outputs_move(job->outputs, map, exec, endpoint,
                                 to == exec ? -1 : to);
    if (rc < 0)
        s_lose_output(job, map, ms_map_outputs_epoch(job->outputs), exec,
                      "out of memory");
    return rc > 0;
}

bool ms_job_reads_before(const ms_job_run_t *job, int64_t epoch)
{
    if (job->kind != MS_TASK_REDUCE) return false;
    for (int i = 0; i < job->ntasks; i++)
        if (job->tasks[i].state == S_RUNNING && job->tasks[i].epoch < epoch)
            return true;
    return false;
}

int64_t ms_job_epoch(const ms_job_run_t *job)
{
    return ms_map_outputs_epoch(job->outputs);
}

void ms_job_on_outputs_lost(ms_job_run_t *job, const char *endpoint,
                            const char *why)
{
    int lost = 0;
    int64_t now = ms_map_outputs_epoch(job->outputs);
    for (int m = 0; m < job->nsplits; m++) {
        const char *where = ms_map_outputs_where(job->outputs, m);
        if (where && strcmp(where, endpoint) == 0)
            lost += s_lose_output(job, m, now, -1, why);
    }
    if (lost)
        fprintf(stderr,
                "minispark: %d map outputs of shuffle %d served by %s lost; "
                "their maps run again\n",
                lost, job->shuffle_id, endpoint);
}

/* ---- running a stage
 * ------------------------------------------------------------ */

static int s_launch(ms_job_run_t *job, int i, int exec)
{
    static int64_t next_task_id = 1;
    s_task_t *t = &job->tasks[i];
    ms_task_t task = {
        .task_id = next_task_id++,
        .stage_id = job->stage_id,
        .attempt = t->attempts,
        .kind = job->kind,
        .shuffle_id = job->shuffle_id,
        .partition = i,
        .split_start = job->kind == MS_TASK_MAP ? job->splits[i] : 0,
        .split_end = job->kind == MS_TASK_MAP ? job->splits[i + 1] : 0,
        .fetch_timeout_ms = job->app->network_timeout_ms,
        .delay_ms = job->kind == MS_TASK_MAP ? job->app->task_delay_ms
                                             : job->app->reduce_delay_ms,
        .nlocs = job->kind == MS_TASK_REDUCE ? job->nsplits : 0,
        /* reduce tasks read the outputs where they are now */
        .locs = job->kind == MS_TASK_REDUCE ? ms_map_outputs_locs(job->outputs)
                                            : NULL,
        .plan = job->plan_buf,
        .plan_len = job->plan_len,
        .inject = ms_hooks_inject(job->app->conf, job->stage_id, i, t->attempts,
                                  job->kind),
    };
    int rc = ms_app_send_task(job->app, exec, &task);
    if (rc < 0) return rc;
    t->task_id = task.task_id;
    t->exec = exec;
    t->epoch = ms_map_outputs_epoch(job->outputs);
    t->attempts++;
    t->state = S_RUNNING;
    t->launch_wall_ms = ms_clock_wall_ms();
    job->running++;
    s_post_task(job, MS_EV_TASK_START, i, NULL);
    return 0;
}

/* Whether an executor other than exec is up or starting. */
static bool s_other_exec(const ms_app_t *app, int exec)
{
    for (int i = 0; i < app->nexecs; i++)
        if (i != exec && app->execs[i].alive && !app->execs[i].stopping)
            return true;
    return false;
}

static int s_schedule(ms_job_run_t *job)
{
    for (int i = 0; i < job->ntasks; i++) {
        if (job->tasks[i].state != S_PENDING) continue;
        int failed_on = job->tasks[i].last_failed_exec;
        int exec = ms_app_free_exec(job->app, failed_on);
        if (exec < 0) return 0;
        /* A failed task waits for another executor while one exists. */
        if (exec == failed_on && s_other_exec(job->app, failed_on)) continue;
        int rc = s_launch(job, i, exec);
        if (rc < 0) return rc;
    }
    return 0;
}

static int s_stage_loop(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                        ms_error_t *err);

/* A resubmission counts only the tasks it runs, as Spark's stage attempts
 * do: the allocation manager sizes the backlog from it. */
static void s_post_stage(ms_job_run_t *job, ms_event_type_t type)
{
    ms_event_t ev = {.type = type,
                     .job = job->opts->index,
                     .stage = job->stage_id,
                     .stage_attempt = job->stage_attempt[job->kind],
                     .stage_name = s_kind_name(job->kind),
                     .ntasks = type == MS_EV_STAGE_SUBMITTED
                                   ? job->ntasks - job->done
                                   : job->ntasks};
    ms_bus_post(&job->app->bus, &ev);
}

static int s_run_stage(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                       ms_error_t *err)
{
    int rc = s_stage_loop(job, kind, ntasks, err);
    s_post_stage(job, MS_EV_STAGE_COMPLETED);
    return rc;
}

/* Runs the stage's tasks that are not done (all of them the first time).
 * Returns S_RESUBMIT when map outputs were lost during a reduce stage and
 * its running tasks have ended. */
static int s_stage_loop(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                        ms_error_t *err)
{
    job->kind = kind;
    job->stage_id = 2 * job->opts->index + (kind == MS_TASK_REDUCE);
    job->ntasks = ntasks;
    job->running = 0;
    job->lost = job->lost_counts = false;
    if (!job->stage_tasks[kind]) {
        job->stage_tasks[kind] = calloc((size_t)ntasks, sizeof(s_task_t));
        if (!job->stage_tasks[kind])
            return ms_error_set(err, MS_ERR_NOMEM, "tasks");
        for (int i = 0; i < ntasks; i++)
            job->stage_tasks[kind][i].last_failed_exec = -1;
    } else {
        job->stage_attempt[kind]++;
    }
    job->tasks = job->stage_tasks[kind];
    job->done = 0;
    for (int i = 0; i < ntasks; i++)
        job->done += job->tasks[i].state == S_DONE;
    s_post_stage(job, MS_EV_STAGE_SUBMITTED);
    while (job->done < job->ntasks && !(job->lost && job->running == 0)) {
        int rc = job->lost ? 0 : s_schedule(job);
        if (rc < 0) return ms_error_set(err, rc, "cannot send a task");
        s_publish(job);
        rc = ms_app_pump(job->app, 100, err);
        if (rc < 0) return rc;
        if (job->fatal) {
            *err = job->failure;
            return job->fatal;
        }
    }
    return job->done < job->ntasks ? S_RESUBMIT : 0;
}

/* ---- the job
 * ---------------------------------------------------------------------- */

/* The map stage (again for lost outputs), then the reduce stage, until
 * the reduce stage ends without losing outputs. */
static int s_stages(ms_job_run_t *job, ms_error_t *err)
{
    for (int failures = 0;;) {
        int rc = s_run_stage(job, MS_TASK_MAP, job->nsplits, err);
        if (rc == 0)
            rc = ms_hooks_after_map_stage(
                job->app, job->shuffle_id, job->outputs, job->nsplits,
                job->plan->num_partitions, &job->hooks, err);
        if (rc == 0)
            rc = s_run_stage(job, MS_TASK_REDUCE, job->plan->num_partitions,
                             err);
        if (rc != S_RESUBMIT) return rc;
        failures += job->lost_counts;
        if (failures >= job->app->max_stage_attempts)
            return ms_error_set(err, MS_ERR_FETCH,
                                "stage %d (reduce) failed %d times in a row; "
                                "last: %s",
                                job->stage_id, failures, job->lost_cause);
        /* Let the rest of the same loss come in before resubmitting. */
        int64_t until = ms_clock_now_ms() + S_RESUBMIT_WAIT_MS;
        for (int64_t now; (now = ms_clock_now_ms()) < until;)
            if ((rc = ms_app_pump(job->app, until - now, err)) < 0) return rc;
    }
}

static int s_run(ms_job_run_t *job, ms_error_t *err)
{
    int rc = 0;
    if (ms_plan_pack(job->plan, &job->plan_buf, &job->plan_len) < 0)
        rc = ms_error_set(err, MS_ERR_NOMEM, "plan");
    if (rc == 0) rc = s_stages(job, err);
    if (rc == 0) rc = ms_result_finish(job->result, err);
    if (rc < 0) return rc;
    ms_console_clear(job->app);
    if (!job->app->quiet)
        ms_result_show(job->result, stdout, job->opts->show_rows);
    if (job->opts->output)
        rc = ms_result_write_csv(job->result, job->opts->output, err);
    return rc;
}

int ms_job_run(ms_app_t *app, const ms_plan_t *plan, const ms_job_opts_t *opts,
               ms_error_t *err)
{
    ms_job_run_t job = {
        .app = app,
        .plan = plan,
        .opts = opts,
        .stage_id = 2 * opts->index,
        .shuffle_id = opts->index,
        .result = ms_result_new(plan),
    };
    if (!job.result) return ms_error_set(err, MS_ERR_NOMEM, "result");
    ms_event_t start = {.type = MS_EV_JOB_START,
                        .job = opts->index,
                        .stage_ids = {job.stage_id, job.stage_id + 1},
                        .shuffle = job.shuffle_id};
    ms_bus_post(&app->bus, &start);
    /* The registry exists before anyone can tell the job of an executor's
     * outputs (app->job). */
    int rc = s_splits(&job, err);
    app->job = &job;
    app->job_task_end = ms_job_on_task_end;
    if (rc == 0) rc = s_run(&job, err);
    app->job = NULL;
    app->stage = (ms_app_stage_t){0};
    if (rc < 0) ms_console_clear(app);
    ms_event_t end = {
        .type = MS_EV_JOB_END, .job = opts->index, .success = rc == 0};
    ms_bus_post(&app->bus, &end);
    /* No later job reads this shuffle: its files can go now, and executors
     * that hold them become idle like any other. */
    ms_app_remove_shuffle(app, job.shuffle_id);
    ms_result_destroy(&job.result);
    free(job.plan_buf);
    free(job.stage_tasks[MS_TASK_MAP]);
    free(job.stage_tasks[MS_TASK_REDUCE]);
    free(job.splits);
    ms_map_outputs_destroy(&job.outputs);
    return rc;
}
