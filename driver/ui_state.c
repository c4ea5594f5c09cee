/* The UI's model of the application, kept up to date from bus events under
 * a mutex, and its REST and Prometheus renderings. It holds only what the
 * events say, so a replayed event log gives the same model; it draws
 * nothing (that is ui_render.c) and serves nothing (webui.c). */
#include "driver/ui_state.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

struct ms_ui_state {
    pthread_mutex_t lock;
    ms_ui_snapshot_t s; /* the live model; a snapshot is a copy of it */
    int cap_execs, cap_samples, cap_decisions, cap_stages, cap_jobs;
    int nactive; /* executors registered and not removed */
    int target;  /* the latest decision's new target */
    int running; /* tasks started and not ended (or their stage over) */
};

/* ---- small helpers ------------------------------------------------------- */

/* Byte counters saturate rather than wrap: a replayed log may say
 * anything. */
static int64_t s_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* Room for one more element: the array itself (maybe moved), NULL when
 * out of memory with arr untouched. */
static void *s_reserve(void *arr, int *cap, int n, size_t size)
{
    if (n < *cap) return arr;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(arr, (size_t)ncap * size);
    if (p) *cap = ncap;
    return p;
}

/* Thins a full series in place (see MS_UI_MAX_SAMPLES); the new count. */
static int s_thin(void *arr, int n, size_t size)
{
    char *a = arr;
    int half = n / 2, out = 1;
    for (int i = 1; i < n; i++) {
        if (i < half && i % 2) continue;
        if (out != i)
            memcpy(a + (size_t)out * size, a + (size_t)i * size, size);
        out++;
    }
    return out;
}

typedef bool s_done_fn(const void *elem);

/* Drops the oldest element that is done, to make room in a full table;
 * the new count, or n when nothing is done. */
static int s_evict(void *arr, int n, size_t size, s_done_fn *done)
{
    char *a = arr;
    for (int i = 0; i < n; i++) {
        if (!done(a + (size_t)i * size)) continue;
        memmove(a + (size_t)i * size, a + (size_t)(i + 1) * size,
                (size_t)(n - i - 1) * size);
        return n - 1;
    }
    return n;
}

static bool s_exec_done(const void *e)
{
    return !((const ms_ui_exec_t *)e)->active;
}
static bool s_stage_done(const void *e)
{
    return ((const ms_ui_stage_t *)e)->completed != 0;
}
static bool s_job_done(const void *e)
{
    return ((const ms_ui_job_t *)e)->completed != 0;
}

/* ---- lookups and new entries --------------------------------------------- */

/* Newest first everywhere: the entry an event is about is nearly always
 * one of the last. */
static ms_ui_exec_t *s_find_exec(ms_ui_state_t *self, int id)
{
    for (int i = self->s.nexecs - 1; i >= 0; i--)
        if (self->s.execs[i].id == id) return &self->s.execs[i];
    return NULL;
}

static ms_ui_stage_t *s_find_stage(ms_ui_state_t *self, int id)
{
    for (int i = self->s.nstages - 1; i >= 0; i--)
        if (self->s.stages[i].id == id) return &self->s.stages[i];
    return NULL;
}

static ms_ui_job_t *s_find_job(ms_ui_state_t *self, int id)
{
    for (int i = self->s.njobs - 1; i >= 0; i--)
        if (self->s.jobs[i].id == id) return &self->s.jobs[i];
    return NULL;
}

static ms_ui_exec_t *s_new_exec(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *s = &self->s;
    if (s->nexecs == MS_UI_MAX_EXECS)
        s->nexecs = s_evict(s->execs, s->nexecs, sizeof *s->execs, s_exec_done);
    if (s->nexecs == MS_UI_MAX_EXECS) return NULL;
    ms_ui_exec_t *p =
        s_reserve(s->execs, &self->cap_execs, s->nexecs, sizeof *p);
    if (!p) return NULL;
    s->execs = p;
    memset(&p[s->nexecs], 0, sizeof *p);
    return &p[s->nexecs++];
}

static ms_ui_stage_t *s_new_stage(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *s = &self->s;
    if (s->nstages == MS_UI_MAX_STAGES)
        s->nstages =
            s_evict(s->stages, s->nstages, sizeof *s->stages, s_stage_done);
    if (s->nstages == MS_UI_MAX_STAGES) return NULL;
    ms_ui_stage_t *p =
        s_reserve(s->stages, &self->cap_stages, s->nstages, sizeof *p);
    if (!p) return NULL;
    s->stages = p;
    memset(&p[s->nstages], 0, sizeof *p);
    return &p[s->nstages++];
}

static ms_ui_job_t *s_new_job(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *s = &self->s;
    if (s->njobs == MS_UI_MAX_JOBS)
        s->njobs = s_evict(s->jobs, s->njobs, sizeof *s->jobs, s_job_done);
    if (s->njobs == MS_UI_MAX_JOBS) return NULL;
    ms_ui_job_t *p = s_reserve(s->jobs, &self->cap_jobs, s->njobs, sizeof *p);
    if (!p) return NULL;
    s->jobs = p;
    memset(&p[s->njobs], 0, sizeof *p);
    return &p[s->njobs++];
}

static ms_ui_sample_t *s_new_sample(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *s = &self->s;
    if (s->nsamples == MS_UI_MAX_SAMPLES)
        s->nsamples = s_thin(s->samples, s->nsamples, sizeof *s->samples);
    ms_ui_sample_t *p =
        s_reserve(s->samples, &self->cap_samples, s->nsamples, sizeof *p);
    if (!p) return NULL;
    s->samples = p;
    memset(&p[s->nsamples], 0, sizeof *p);
    return &p[s->nsamples++];
}

static ms_ui_decision_t *s_new_decision(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *s = &self->s;
    if (s->ndecisions == MS_UI_MAX_DECISIONS)
        s->ndecisions =
            s_thin(s->decisions, s->ndecisions, sizeof *s->decisions);
    ms_ui_decision_t *p =
        s_reserve(s->decisions, &self->cap_decisions, s->ndecisions, sizeof *p);
    if (!p) return NULL;
    s->decisions = p;
    memset(&p[s->ndecisions], 0, sizeof *p);
    return &p[s->ndecisions++];
}

/* ---- events -------------------------------------------------------------- */

static void s_on_app_start(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_utf8_copy(self->s.app_id, sizeof self->s.app_id, ev->app_id);
    ms_utf8_copy(self->s.app_name, sizeof self->s.app_name, ev->app_name);
    self->s.start = ev->time_ms;
}

static void s_on_app_end(ms_ui_state_t *self, const ms_event_t *ev)
{
    self->s.end = ev->time_ms;
}

static void s_on_job_start(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_job_t *j = s_new_job(self);
    if (!j) return;
    j->id = ev->job;
    j->stage_ids[0] = ev->stage_ids[0];
    j->stage_ids[1] = ev->stage_ids[1];
    j->submitted = ev->time_ms;
    ms_utf8_copy(j->status, sizeof j->status, "RUNNING");
}

static void s_on_job_end(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_job_t *j = s_find_job(self, ev->job);
    if (!j) return;
    j->completed = ev->time_ms;
    ms_utf8_copy(j->status, sizeof j->status,
                 ev->success ? "SUCCEEDED" : "FAILED");
}

/* The event log does not record a stage's job; the job that listed the
 * stage does, so live and replayed models agree. */
static int s_job_of_stage(ms_ui_state_t *self, int stage, int fallback)
{
    for (int i = self->s.njobs - 1; i >= 0; i--) {
        const ms_ui_job_t *j = &self->s.jobs[i];
        if (j->stage_ids[0] == stage || j->stage_ids[1] == stage) return j->id;
    }
    return fallback;
}

static void s_on_stage_submitted(ms_ui_state_t *self, const ms_event_t *ev)
{
    /* A resubmitted stage keeps its counts: only its missing tasks run,
     * and its event counts only those. */
    ms_ui_stage_t *st = s_find_stage(self, ev->stage);
    if (!st) {
        if (!(st = s_new_stage(self))) return;
        st->ntasks = ev->ntasks;
    }
    st->id = ev->stage;
    st->job = s_job_of_stage(self, ev->stage, ev->job);
    ms_utf8_copy(st->name, sizeof st->name, ev->stage_name);
    st->submitted = ev->time_ms;
    st->completed = 0;
}

static void s_on_stage_completed(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_stage_t *st = s_find_stage(self, ev->stage);
    if (!st) return;
    st->completed = ev->time_ms;
    /* Tasks a failed stage left behind will not report: stop counting
     * them as running (Spark's allocation manager does the same). */
    self->running =
        self->running > st->running ? self->running - st->running : 0;
    st->running = 0;
}

static void s_on_task_start(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_exec_t *ex = s_find_exec(self, ev->exec);
    ms_ui_stage_t *st = s_find_stage(self, ev->stage);
    if (ex) ex->active_tasks++;
    if (st) st->running++;
    self->running++;
}

static void s_add_metrics(ms_ui_state_t *self, ms_ui_exec_t *ex,
                          const ms_task_metrics_t *m)
{
    ms_ui_snapshot_t *s = &self->s;
    if (!m) return;
    s->bytes_read = s_add(s->bytes_read, m->bytes_read);
    s->records_read = s_add(s->records_read, m->records_read);
    s->shuffle_written = s_add(s->shuffle_written, m->shuffle_written);
    s->shuffle_fetched = s_add(s->shuffle_fetched, m->shuffle_fetched);
    if (!ex) return;
    ex->shuffle_read = s_add(ex->shuffle_read, m->shuffle_fetched);
    ex->shuffle_write = s_add(ex->shuffle_write, m->shuffle_written);
}

static void s_on_task_end(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_exec_t *ex = s_find_exec(self, ev->exec);
    ms_ui_stage_t *st = s_find_stage(self, ev->stage);
    if (ex) {
        if (ex->active_tasks > 0) ex->active_tasks--;
        if (ev->success)
            ex->completed_tasks++;
        else
            ex->failed_tasks++;
    }
    /* A task of a stage already over was taken off running then. */
    if (st ? st->running > 0 : self->running > 0) self->running--;
    if (st) {
        if (st->running > 0) st->running--;
        if (ev->success)
            st->succeeded++;
        else
            st->failed++;
    }
    if (ev->success)
        self->s.tasks_completed++;
    else
        self->s.tasks_failed++;
    s_add_metrics(self, ex, ev->metrics);
}

static void s_on_executor_added(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_exec_t *ex = s_find_exec(self, ev->exec);
    if (!ex && !(ex = s_new_exec(self))) return;
    if (!ex->active) self->nactive++;
    ex->id = ev->exec;
    ms_utf8_copy(ex->host, sizeof ex->host, ev->host);
    ex->cores = ev->cores;
    ex->active = true;
    ex->add_time = ev->time_ms;
    ex->remove_time = 0;
    ex->remove_reason[0] = '\0';
}

static void s_on_executor_removed(ms_ui_state_t *self, const ms_event_t *ev)
{
    ms_ui_exec_t *ex = s_find_exec(self, ev->exec);
    if (!ex || !ex->active) return;
    self->nactive--;
    ex->active = false;
    ex->remove_time = ev->time_ms;
    ms_utf8_copy(ex->remove_reason, sizeof ex->remove_reason, ev->reason);
}

static void s_on_allocation(ms_ui_state_t *self, const ms_event_t *ev)
{
    self->target = ev->new_target;
    ms_ui_decision_t *d = s_new_decision(self);
    if (!d) return;
    d->time = ev->time_ms;
    ms_utf8_copy(d->action, sizeof d->action, ev->action);
    /* "None" is 0 here; the allocation manager posts -1, the log omits
     * it. */
    d->exec = ev->exec > 0 ? ev->exec : 0;
    d->old_target = ev->old_target;
    d->new_target = ev->new_target;
    d->pending = ev->pending;
    d->running = ev->running;
    d->executors = ev->executors;
    ms_utf8_copy(d->reason, sizeof d->reason, ev->reason);
}

typedef void s_handler_fn(ms_ui_state_t *self, const ms_event_t *ev);

/* MS_EV_SHUFFLE_REMOVED is not logged, so it must change nothing here. */
static s_handler_fn *const s_handlers[] = {
    [MS_EV_APP_START] = s_on_app_start,
    [MS_EV_APP_END] = s_on_app_end,
    [MS_EV_JOB_START] = s_on_job_start,
    [MS_EV_JOB_END] = s_on_job_end,
    [MS_EV_STAGE_SUBMITTED] = s_on_stage_submitted,
    [MS_EV_STAGE_COMPLETED] = s_on_stage_completed,
    [MS_EV_TASK_START] = s_on_task_start,
    [MS_EV_TASK_END] = s_on_task_end,
    [MS_EV_EXECUTOR_ADDED] = s_on_executor_added,
    [MS_EV_EXECUTOR_REMOVED] = s_on_executor_removed,
    [MS_EV_ALLOCATION] = s_on_allocation,
};

/* Tasks of active stages that are neither running nor done. */
static int s_pending(const ms_ui_state_t *self)
{
    int64_t pending = 0;
    for (int i = 0; i < self->s.nstages; i++) {
        const ms_ui_stage_t *st = &self->s.stages[i];
        if (st->completed) continue;
        int64_t left = (int64_t)st->ntasks - st->succeeded - st->running;
        if (left > 0) pending += left;
    }
    return pending > INT_MAX ? INT_MAX : (int)pending;
}

/* The first event starts the timeline; later ones add a point only when
 * one of its values moved. */
static void s_sample(ms_ui_state_t *self, int64_t time)
{
    ms_ui_sample_t now = {.time = time,
                          .executors = self->nactive,
                          .target = self->target,
                          .running = self->running,
                          .pending = s_pending(self)};
    int n = self->s.nsamples;
    if (n > 0) {
        const ms_ui_sample_t *last = &self->s.samples[n - 1];
        if (last->executors == now.executors && last->target == now.target &&
            last->running == now.running && last->pending == now.pending)
            return;
    }
    ms_ui_sample_t *p = s_new_sample(self);
    if (p) *p = now;
}

void ms_ui_state_listener(void *arg, const ms_event_t *ev)
{
    ms_ui_state_t *self = arg;
    size_t type = (size_t)ev->type;
    if (type >= sizeof s_handlers / sizeof *s_handlers || !s_handlers[type])
        return;
    pthread_mutex_lock(&self->lock);
    s_handlers[type](self, ev);
    s_sample(self, ev->time_ms);
    pthread_mutex_unlock(&self->lock);
}

/* ---- lifecycle and snapshots --------------------------------------------- */

ms_ui_state_t *ms_ui_state_new(void)
{
    ms_ui_state_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    if (pthread_mutex_init(&self->lock, NULL) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

static void s_free_arrays(ms_ui_snapshot_t *s)
{
    free(s->execs);
    free(s->samples);
    free(s->decisions);
    free(s->stages);
    free(s->jobs);
}

void ms_ui_state_destroy(ms_ui_state_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_ui_state_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    s_free_arrays(&self->s);
    free(self);
    *self_p = NULL;
}

void ms_ui_state_set_gauges(ms_ui_state_t *self, const ms_ui_gauges_t *g)
{
    pthread_mutex_lock(&self->lock);
    self->s.gauges = *g;
    pthread_mutex_unlock(&self->lock);
}

/* A copy of n elements (NULL for none); sets *ok false when out of
 * memory. */
static void *s_dup(const void *src, int n, size_t size, bool *ok)
{
    if (n <= 0) return NULL;
    void *p = malloc((size_t)n * size);
    if (p)
        memcpy(p, src, (size_t)n * size);
    else
        *ok = false;
    return p;
}

ms_ui_snapshot_t *ms_ui_state_snapshot(ms_ui_state_t *self)
{
    ms_ui_snapshot_t *snap = malloc(sizeof *snap);
    if (!snap) return NULL;
    bool ok = true;
    pthread_mutex_lock(&self->lock);
    const ms_ui_snapshot_t *s = &self->s;
    *snap = *s;
    snap->execs = s_dup(s->execs, s->nexecs, sizeof *s->execs, &ok);
    snap->samples = s_dup(s->samples, s->nsamples, sizeof *s->samples, &ok);
    snap->decisions =
        s_dup(s->decisions, s->ndecisions, sizeof *s->decisions, &ok);
    snap->stages = s_dup(s->stages, s->nstages, sizeof *s->stages, &ok);
    snap->jobs = s_dup(s->jobs, s->njobs, sizeof *s->jobs, &ok);
    pthread_mutex_unlock(&self->lock);
    if (!ok) ms_ui_snapshot_free(&snap);
    return snap;
}

void ms_ui_snapshot_free(ms_ui_snapshot_t **snap_p)
{
    if (!snap_p || !*snap_p) return;
    s_free_arrays(*snap_p);
    free(*snap_p);
    *snap_p = NULL;
}

/* ---- REST bodies --------------------------------------------------------- */

/* Spark's REST date format, "2026-11-22T01:02:03.456GMT". */
static const char *s_iso(int64_t ms, char *buf, size_t size)
{
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0)
        frac += 1000, sec--; /* -1 ms is 23:59:59.999 the day before */
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000GMT");
        return buf;
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, size - n, ".%03dGMT", (int)frac);
    return buf;
}

/* Takes body; the compact text, NULL when anything failed. */
static char *s_dump(json_t *body)
{
    char *text =
        body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    return text;
}

/* Appends item (taken) to arr: arr, or NULL (both released) when either
 * is missing or the append fails, so a failed build ends as NULL. */
static json_t *s_append(json_t *arr, json_t *item)
{
    if (arr && item && json_array_append_new(arr, item) == 0) return arr;
    if (!arr) json_decref(item);
    json_decref(arr);
    return NULL;
}

static json_t *s_exec_id(int id)
{
    char buf[16];
    snprintf(buf, sizeof buf, "%d", id);
    return json_string(buf);
}

char *ms_ui_json_applications(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    if (!arr || !s->app_id[0]) return s_dump(arr);
    /* A running attempt looks as in Spark: end -1 ms, duration 0. */
    bool done = s->end != 0;
    int64_t end = done ? s->end : -1;
    int64_t duration = done && s->end > s->start ? s->end - s->start : 0;
    char start_iso[48], end_iso[48];
    json_t *app =
        json_pack("{s:s, s:s, s:[{s:s, s:s, s:I, s:b, s:I, s:I}]}", "id",
                  s->app_id, "name", s->app_name, "attempts", "startTime",
                  s_iso(s->start, start_iso, sizeof start_iso), "endTime",
                  s_iso(end, end_iso, sizeof end_iso), "duration",
                  (json_int_t)duration, "completed", done, "startTimeEpoch",
                  (json_int_t)s->start, "endTimeEpoch", (json_int_t)end);
    arr = s_append(arr, app);
    return s_dump(arr);
}

static json_t *s_exec_json(const ms_ui_exec_t *e)
{
    char add[48], rm[48];
    return json_pack(
        "{s:o, s:s, s:b, s:i, s:i, s:I, s:I, s:I, s:I, s:s, s:s*, s:s*}", "id",
        s_exec_id(e->id), "hostPort", e->host, "isActive", e->active,
        "totalCores", e->cores, "activeTasks", e->active_tasks,
        "completedTasks", (json_int_t)e->completed_tasks, "failedTasks",
        (json_int_t)e->failed_tasks, "totalShuffleRead",
        (json_int_t)e->shuffle_read, "totalShuffleWrite",
        (json_int_t)e->shuffle_write, "addTime",
        s_iso(e->add_time, add, sizeof add), "removeTime",
        e->active ? NULL : s_iso(e->remove_time, rm, sizeof rm), "removeReason",
        e->active ? NULL : e->remove_reason);
}

/* Every executor, removed ones too (Spark's /allexecutors), in the order
 * they registered. */
char *ms_ui_json_executors(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < s->nexecs; i++)
        arr = s_append(arr, s_exec_json(&s->execs[i]));
    return s_dump(arr);
}

/* Task counts of a job, summed over its stages. */
static void s_job_tasks(const ms_ui_snapshot_t *s, int job, int64_t c[4])
{
    memset(c, 0, 4 * sizeof *c);
    for (int i = 0; i < s->nstages; i++) {
        const ms_ui_stage_t *st = &s->stages[i];
        if (st->job != job) continue;
        c[0] += st->ntasks;
        c[1] += st->running;
        c[2] += st->succeeded;
        c[3] += st->failed;
    }
}

static json_t *s_job_json(const ms_ui_snapshot_t *s, const ms_ui_job_t *j)
{
    char sub[48], done[48];
    int64_t c[4];
    s_job_tasks(s, j->id, c);
    return json_pack("{s:i, s:s, s:s*, s:[i,i], s:s, s:I, s:I, s:I, s:I}",
                     "jobId", j->id, "submissionTime",
                     s_iso(j->submitted, sub, sizeof sub), "completionTime",
                     j->completed ? s_iso(j->completed, done, sizeof done)
                                  : NULL,
                     "stageIds", j->stage_ids[0], j->stage_ids[1], "status",
                     j->status, "numTasks", (json_int_t)c[0], "numActiveTasks",
                     (json_int_t)c[1], "numCompletedTasks", (json_int_t)c[2],
                     "numFailedTasks", (json_int_t)c[3]);
}

/* Newest first, as Spark lists jobs and stages. */
char *ms_ui_json_jobs(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    for (int i = s->njobs - 1; arr && i >= 0; i--)
        arr = s_append(arr, s_job_json(s, &s->jobs[i]));
    return s_dump(arr);
}

static json_t *s_stage_json(const ms_ui_stage_t *st)
{
    char sub[48], done[48];
    return json_pack(
        "{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:s*, s:s}", "status",
        st->completed ? "COMPLETE" : "ACTIVE", "stageId", st->id, "attemptId",
        0, "numTasks", st->ntasks, "numActiveTasks", st->running,
        "numCompleteTasks", st->succeeded, "numFailedTasks", st->failed,
        "submissionTime", s_iso(st->submitted, sub, sizeof sub),
        "completionTime",
        st->completed ? s_iso(st->completed, done, sizeof done) : NULL, "name",
        st->name);
}

char *ms_ui_json_stages(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    for (int i = s->nstages - 1; arr && i >= 0; i--)
        arr = s_append(arr, s_stage_json(&s->stages[i]));
    return s_dump(arr);
}

static json_t *s_decision_json(const ms_ui_decision_t *d)
{
    return json_pack("{s:I, s:s, s:o, s:i, s:i, s:i, s:i, s:i, s:s}", "time",
                     (json_int_t)d->time, "action", d->action, "executorId",
                     d->exec > 0 ? s_exec_id(d->exec) : json_null(),
                     "oldTarget", d->old_target, "newTarget", d->new_target,
                     "pendingTasks", d->pending, "runningTasks", d->running,
                     "executors", d->executors, "reason", d->reason);
}

char *ms_ui_json_allocation(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < s->ndecisions; i++)
        arr = s_append(arr, s_decision_json(&s->decisions[i]));
    return s_dump(arr);
}

char *ms_ui_json_timeline(const ms_ui_snapshot_t *s)
{
    json_t *arr = json_array();
    for (int i = 0; arr && i < s->nsamples; i++) {
        const ms_ui_sample_t *p = &s->samples[i];
        json_t *o =
            json_pack("{s:I, s:i, s:i, s:i, s:i}", "time", (json_int_t)p->time,
                      "executors", p->executors, "target", p->target, "running",
                      p->running, "pending", p->pending);
        arr = s_append(arr, o);
    }
    return s_dump(arr);
}

/* ---- Prometheus ---------------------------------------------------------- */

/* A metric and where its value lives (an int in the gauges, an int64_t
 * in the snapshot). */
typedef struct {
    const char *name, *help;
    size_t off;
} s_metric_t;

static const s_metric_t s_gauges[] = {
    {"executor_allocation_number_executors_to_add",
     "Executors the allocation manager will request on its next step",
     offsetof(ms_ui_gauges_t, to_add)},
    {"executor_allocation_number_executors_pending_to_remove",
     "Executors asked to stop that have not exited yet",
     offsetof(ms_ui_gauges_t, pending_remove)},
    {"executor_allocation_number_all_executors",
     "Executors registered with the driver",
     offsetof(ms_ui_gauges_t, all_executors)},
    {"executor_allocation_number_target_executors",
     "Executors the allocation manager wants",
     offsetof(ms_ui_gauges_t, target)},
    {"executor_allocation_number_max_needed_executors",
     "Executors needed to run every pending and running task at once",
     offsetof(ms_ui_gauges_t, max_needed)},
    {"fair_share_cores",
     "This application's fair share of the workers' cores (workers:// only)",
     offsetof(ms_ui_gauges_t, fair_share)},
    {"held_cores", "Workers' cores this application's executors hold",
     offsetof(ms_ui_gauges_t, held_cores)},
};

static const s_metric_t s_counters[] = {
    {"tasks_completed_total", "Tasks that finished successfully",
     offsetof(ms_ui_snapshot_t, tasks_completed)},
    {"tasks_failed_total", "Task attempts that failed",
     offsetof(ms_ui_snapshot_t, tasks_failed)},
    {"input_bytes_total", "Bytes of input read by tasks",
     offsetof(ms_ui_snapshot_t, bytes_read)},
    {"input_records_total", "Records of input read by tasks",
     offsetof(ms_ui_snapshot_t, records_read)},
    {"shuffle_written_bytes_total", "Shuffle bytes written by map tasks",
     offsetof(ms_ui_snapshot_t, shuffle_written)},
    {"shuffle_fetched_bytes_total", "Shuffle bytes fetched by reduce tasks",
     offsetof(ms_ui_snapshot_t, shuffle_fetched)},
};

/* A label value as the text format wants it: \, " and newline escaped. */
static void s_label(char *dst, size_t size, const char *src)
{
    size_t o = 0;
    for (; *src && o + 3 < size; src++) {
        char c = *src;
        if (c == '\\' || c == '"' || c == '\n') dst[o++] = '\\';
        dst[o++] = c == '\n' ? 'n' : c;
    }
    dst[o] = '\0';
}

static void s_put(FILE *f, const char *name, const char *help, const char *type,
                  const char *app, int64_t value)
{
    fprintf(f, "# HELP minispark_%s %s\n# TYPE minispark_%s %s\n", name, help,
            name, type);
    fprintf(f, "minispark_%s{app_id=\"%s\"} %lld\n", name, app,
            (long long)value);
}

char *ms_ui_metrics_text(const ms_ui_snapshot_t *s)
{
    char *text = NULL, app[2 * sizeof s->app_id + 1];
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    s_label(app, sizeof app, s->app_id);
    for (size_t i = 0; i < sizeof s_gauges / sizeof *s_gauges; i++) {
        const int *v =
            (const int *)((const char *)&s->gauges + s_gauges[i].off);
        s_put(f, s_gauges[i].name, s_gauges[i].help, "gauge", app, *v);
    }
    int active = 0;
    for (int i = 0; i < s->nexecs; i++)
        active += s->execs[i].active;
    s_put(f, "executors_active", "Executors registered and not removed",
          "gauge", app, active);
    for (size_t i = 0; i < sizeof s_counters / sizeof *s_counters; i++) {
        const int64_t *v =
            (const int64_t *)((const char *)s + s_counters[i].off);
        s_put(f, s_counters[i].name, s_counters[i].help, "counter", app, *v);
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
