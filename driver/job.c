/* One job: the map stage, then the reduce stage, then the result. Tasks are
 * handed to executors with free slots in order; a failed attempt is retried
 * (elsewhere when possible) until spark.task.maxFailures. */
#include "driver/job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/console.h"
#include "driver/result.h"
#include "shuffle/block.h"
#include "shuffle/files.h"

typedef enum { S_PENDING, S_RUNNING, S_DONE } s_state_t;

typedef struct {
    s_state_t state;
    int attempts;
    int exec;
    int last_failed_exec;
    int64_t task_id;
    int64_t launch_wall_ms;
} s_task_t;

struct ms_job_run {
    ms_app_t *app;
    const ms_plan_t *plan;
    const ms_job_opts_t *opts;
    char *plan_buf;
    size_t plan_len;
    int stage_id, shuffle_id;
    ms_task_kind_t kind;
    s_task_t *tasks;
    int ntasks, done, running;
    int nsplits;
    int64_t *splits; /* [nsplits + 1] boundaries */
    int *map_exec;   /* [nsplits] executor index that holds each output */
    ms_result_t *result;
    int fatal; /* negative code once the job cannot succeed */
    ms_error_t failure;
};

static const char *s_kind_name(ms_task_kind_t k)
{
    return k == MS_TASK_MAP ? "map" : "reduce";
}

void ms_job_progress(const ms_job_run_t *job, ms_console_line_t *line)
{
    line->stage = job->stage_id;
    line->stage_name = s_kind_name(job->kind);
    line->done = job->done;
    line->running = job->running;
    line->total = job->ntasks;
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
    int64_t size = st.st_size;
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
    job->map_exec = calloc((size_t)n, sizeof *job->map_exec);
    if (!job->splits || !job->map_exec)
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

static void s_on_failure(ms_job_run_t *job, int i, int exec,
                         const ms_task_end_t *e)
{
    s_task_t *t = &job->tasks[i];
    char detail[1400];
    switch (e->status) {
    case MS_TASK_INPUT_ERROR:
        s_fail(job, MS_ERR_INPUT, "%s: %s", e->message, i);
        return;
    case MS_TASK_FETCH_FAILED:
        snprintf(detail, sizeof detail,
                 "shuffle %d, map %d, partition %d from %s: %s",
                 job->shuffle_id, e->fetch_map, i, e->fetch_endpoint,
                 e->message);
        s_fail(job, MS_ERR_FETCH, "%s: fetch failed for %s", detail, i);
        return;
    default:
        break;
    }
    t->state = S_PENDING;
    t->last_failed_exec = exec;
    fprintf(stderr,
            "minispark: stage %d (%s) task %d attempt %d failed on "
            "executor %d: %s\n",
            job->stage_id, s_kind_name(job->kind), i, t->attempts - 1,
            job->app->execs[exec].id, e->message);
    if (t->attempts >= job->app->max_failures) {
        snprintf(detail, sizeof detail, "failed %d times; last cause: %s",
                 t->attempts, e->message);
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
        .stage_name = s_kind_name(job->kind),
        .shuffle = job->kind == MS_TASK_MAP ? job->shuffle_id : -1,
        .task_id = t->task_id,
        .index = i,
        .attempt = t->attempts - 1,
        .launch_ms = t->launch_wall_ms,
        .exec = job->app->execs[t->exec].id,
        .host = "127.0.0.1",
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
        job->map_exec[i] = exec;
    } else if (rows && len) {
        ms_error_t err = {0};
        if (ms_result_add(job->result, rows, len, &err) < 0) {
            s_fail(job, MS_ERR_FAILED, "%s: %s", err.msg, i);
            return;
        }
    }
    t->state = S_DONE;
    job->done++;
}

void ms_job_on_exec_lost(ms_job_run_t *job, int exec, const char *why)
{
    (void)why;
    for (int i = 0; i < job->ntasks; i++) {
        s_task_t *t = &job->tasks[i];
        if (t->state == S_RUNNING && t->exec == exec) {
            t->state = S_PENDING;
            job->running--;
        }
    }
}

/* ---- running a stage
 * ------------------------------------------------------------ */

static int s_launch(ms_job_run_t *job, int i, int exec, ms_task_loc_t *locs)
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
        .fetch_timeout_ms = job->app->fetch_timeout_ms,
        .delay_ms = job->app->task_delay_ms,
        .nlocs = job->kind == MS_TASK_REDUCE ? job->nsplits : 0,
        .locs = locs,
        .plan = job->plan_buf,
        .plan_len = job->plan_len,
    };
    int rc = ms_app_send_task(job->app, exec, &task);
    if (rc < 0) return rc;
    t->task_id = task.task_id;
    t->exec = exec;
    t->attempts++;
    t->state = S_RUNNING;
    t->launch_wall_ms = ms_clock_wall_ms();
    job->running++;
    s_post_task(job, MS_EV_TASK_START, i, NULL);
    return 0;
}

static int s_schedule(ms_job_run_t *job, ms_task_loc_t *locs)
{
    for (int i = 0; i < job->ntasks; i++) {
        if (job->tasks[i].state != S_PENDING) continue;
        int exec = ms_app_free_exec(job->app, job->tasks[i].last_failed_exec);
        if (exec < 0) return 0;
        int rc = s_launch(job, i, exec, locs);
        if (rc < 0) return rc;
    }
    return 0;
}

static int s_stage_loop(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                        ms_task_loc_t *locs, ms_error_t *err);

static void s_post_stage(ms_job_run_t *job, ms_event_type_t type)
{
    ms_event_t ev = {.type = type,
                     .job = job->opts->index,
                     .stage = job->stage_id,
                     .stage_name = s_kind_name(job->kind),
                     .ntasks = job->ntasks};
    ms_bus_post(&job->app->bus, &ev);
}

static int s_run_stage(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                       ms_task_loc_t *locs, ms_error_t *err)
{
    int rc = s_stage_loop(job, kind, ntasks, locs, err);
    s_post_stage(job, MS_EV_STAGE_COMPLETED);
    return rc;
}

static int s_stage_loop(ms_job_run_t *job, ms_task_kind_t kind, int ntasks,
                        ms_task_loc_t *locs, ms_error_t *err)
{
    job->kind = kind;
    job->ntasks = ntasks;
    job->done = job->running = 0;
    free(job->tasks);
    job->tasks = calloc((size_t)ntasks, sizeof *job->tasks);
    if (!job->tasks) return ms_error_set(err, MS_ERR_NOMEM, "tasks");
    for (int i = 0; i < ntasks; i++)
        job->tasks[i].last_failed_exec = -1;
    s_post_stage(job, MS_EV_STAGE_SUBMITTED);
    while (job->done < job->ntasks) {
        int rc = s_schedule(job, locs);
        if (rc < 0) return ms_error_set(err, rc, "cannot send a task");
        rc = ms_app_pump(job->app, 100, err);
        if (rc < 0) return rc;
        if (job->fatal) {
            *err = job->failure;
            return job->fatal;
        }
    }
    return 0;
}

/* ---- test hook: corrupt a block between the stages
 * ------------------------------ */

static int s_corrupt_hook(ms_job_run_t *job, ms_error_t *err)
{
    const char *spec =
        ms_conf_get(job->app->conf, "minispark.test.corruptBlock");
    int s, m, p;
    uint64_t off, len;
    if (!spec) return 0;
    if (sscanf(spec, "%d:%d:%d", &s, &m, &p) != 3)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: expected S:M:P");
    if (s != job->shuffle_id) return 0;
    if (m < 0 || m >= job->nsplits || p < 0 || p >= job->plan->num_partitions)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: no block %s", spec);
    const char *dir = job->app->execs[job->map_exec[m]].dir;
    int rc =
        ms_shuffle_block_range(dir, job->app->app_id, s, m, p, &off, &len, err);
    if (rc < 0) return rc;
    if (len <= MS_BLOCK_HEADER)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: block %s is empty",
                            spec);
    char path[4200];
    ms_shuffle_path(path, sizeof path, dir, job->app->app_id, s, m, "data");
    int fd = open(path, O_RDWR);
    uint8_t byte;
    off_t at = (off_t)(off + MS_BLOCK_HEADER + (len - MS_BLOCK_HEADER) / 2);
    if (fd < 0 || pread(fd, &byte, 1, at) != 1) goto io;
    byte ^= 0x5a;
    if (pwrite(fd, &byte, 1, at) != 1) goto io;
    close(fd);
    return 0;
io:
    if (fd >= 0) close(fd);
    return ms_error_set(err, MS_ERR_IO, "corrupting %s: %s", path,
                        strerror(errno));
}

/* ---- the job
 * ---------------------------------------------------------------------- */

static int s_reduce(ms_job_run_t *job, ms_error_t *err)
{
    ms_task_loc_t *locs = calloc((size_t)job->nsplits, sizeof *locs);
    if (!locs) return ms_error_set(err, MS_ERR_NOMEM, "locations");
    for (int i = 0; i < job->nsplits; i++)
        locs[i] =
            (ms_task_loc_t){i, job->app->execs[job->map_exec[i]].endpoint};
    job->stage_id++;
    int rc =
        s_run_stage(job, MS_TASK_REDUCE, job->plan->num_partitions, locs, err);
    free(locs);
    return rc;
}

static int s_run(ms_job_run_t *job, ms_error_t *err)
{
    int rc = s_splits(job, err);
    if (rc == 0 && ms_plan_pack(job->plan, &job->plan_buf, &job->plan_len) < 0)
        rc = ms_error_set(err, MS_ERR_NOMEM, "plan");
    if (rc == 0) rc = s_run_stage(job, MS_TASK_MAP, job->nsplits, NULL, err);
    if (rc == 0) rc = s_corrupt_hook(job, err);
    if (rc == 0) rc = s_reduce(job, err);
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
    app->job = &job;
    int rc = s_run(&job, err);
    app->job = NULL;
    if (rc < 0) ms_console_clear(app);
    ms_event_t end = {
        .type = MS_EV_JOB_END, .job = opts->index, .success = rc == 0};
    ms_bus_post(&app->bus, &end);
    /* No later job reads this shuffle: its files can go now, and executors
     * that hold them become idle like any other. */
    ms_app_remove_shuffle(app, job.shuffle_id);
    ms_result_destroy(&job.result);
    free(job.plan_buf);
    free(job.tasks);
    free(job.splits);
    free(job.map_exec);
    return rc;
}
