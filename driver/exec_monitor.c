/* Idle tracking per executor (Spark's ExecutorMonitor with the SPARK-43398
 * rule: an idle executor holding shuffle output no running job needs waits
 * max(idle timeout, shuffle timeout)). Trackers are kept sorted by id, so
 * every list it returns is in a deterministic order (SPARK-38019). */
#include "driver/exec_monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int id;
    int running;
    int64_t idle_start; /* -1 while busy */
    bool pending_removal;
    int *shuffles; /* shuffles whose map output it holds */
    int nshuffles, cap;
} s_tracker_t;

typedef struct {
    int job;
    int *shuffles;
    int n;
} s_job_t;

struct ms_exec_monitor {
    int64_t idle_timeout, shuffle_timeout;
    bool tracking;
    bool migrates; /* decommissioning moves shuffle output: it never pins */
    s_tracker_t *t;
    int n, cap;
    s_job_t *jobs;
    int njobs, jobs_cap;
};

ms_exec_monitor_t *ms_exec_monitor_new(int64_t idle_timeout_ms,
                                       bool shuffle_tracking,
                                       int64_t shuffle_timeout_ms)
{
    ms_exec_monitor_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->idle_timeout = idle_timeout_ms;
    self->shuffle_timeout = shuffle_timeout_ms;
    self->tracking = shuffle_tracking;
    return self;
}

void ms_exec_monitor_destroy(ms_exec_monitor_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_exec_monitor_t *self = *self_p;
    for (int i = 0; i < self->n; i++)
        free(self->t[i].shuffles);
    for (int i = 0; i < self->njobs; i++)
        free(self->jobs[i].shuffles);
    free(self->t);
    free(self->jobs);
    free(self);
    *self_p = NULL;
}

/* ---- trackers
 * ------------------------------------------------------------------ */

static s_tracker_t *s_find(const ms_exec_monitor_t *self, int id)
{
    for (int i = 0; i < self->n; i++)
        if (self->t[i].id == id) return &self->t[i];
    return NULL;
}

static s_tracker_t *s_get(ms_exec_monitor_t *self, int id, int64_t now)
{
    s_tracker_t *t = s_find(self, id);
    if (t) return t;
    if (self->n == self->cap) {
        int cap = self->cap ? self->cap * 2 : 16;
        s_tracker_t *grown = realloc(self->t, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        self->t = grown;
        self->cap = cap;
    }
    int pos = self->n;
    while (pos > 0 && self->t[pos - 1].id > id)
        pos--;
    memmove(&self->t[pos + 1], &self->t[pos],
            (size_t)(self->n - pos) * sizeof *self->t);
    self->n++;
    t = &self->t[pos];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->idle_start = now;
    return t;
}

void ms_exec_monitor_executor_added(ms_exec_monitor_t *self, int id,
                                    int64_t now)
{
    s_get(self, id, now);
}

void ms_exec_monitor_executor_removed(ms_exec_monitor_t *self, int id)
{
    s_tracker_t *t = s_find(self, id);
    if (!t) return;
    free(t->shuffles);
    int pos = (int)(t - self->t);
    memmove(t, t + 1, (size_t)(self->n - pos - 1) * sizeof *t);
    self->n--;
}

void ms_exec_monitor_task_started(ms_exec_monitor_t *self, int id, int64_t now)
{
    s_tracker_t *t = s_get(self, id, now);
    if (!t) return;
    t->running++;
    t->idle_start = -1;
}

static void s_add_shuffle(s_tracker_t *t, int shuffle)
{
    for (int i = 0; i < t->nshuffles; i++)
        if (t->shuffles[i] == shuffle) return;
    if (t->nshuffles == t->cap) {
        int cap = t->cap ? t->cap * 2 : 4;
        int *s = realloc(t->shuffles, (size_t)cap * sizeof *s);
        if (!s) return;
        t->shuffles = s;
        t->cap = cap;
    }
    t->shuffles[t->nshuffles++] = shuffle;
}

void ms_exec_monitor_task_ended(ms_exec_monitor_t *self, int id, int shuffle,
                                int64_t now)
{
    /* A late task end must not bring a removed executor back. */
    s_tracker_t *t = s_find(self, id);
    if (!t) return;
    if (t->running > 0) t->running--;
    if (t->running == 0) t->idle_start = now;
    if (shuffle >= 0 && (self->tracking || self->migrates))
        s_add_shuffle(t, shuffle);
}

void ms_exec_monitor_migrates(ms_exec_monitor_t *self)
{
    self->migrates = true;
}

void ms_exec_monitor_pending_removal(ms_exec_monitor_t *self, int id)
{
    s_tracker_t *t = s_find(self, id);
    if (t) t->pending_removal = true;
}

/* ---- jobs and shuffles
 * ------------------------------------------------------------ */

void ms_exec_monitor_job_started(ms_exec_monitor_t *self, int job,
                                 const int *shuffles, int nshuffles)
{
    if (self->njobs == self->jobs_cap) {
        int cap = self->jobs_cap ? self->jobs_cap * 2 : 4;
        s_job_t *j = realloc(self->jobs, (size_t)cap * sizeof *j);
        if (!j) return;
        self->jobs = j;
        self->jobs_cap = cap;
    }
    s_job_t *j = &self->jobs[self->njobs];
    j->shuffles = malloc((size_t)(nshuffles ? nshuffles : 1) * sizeof(int));
    if (!j->shuffles) return;
    memcpy(j->shuffles, shuffles, (size_t)nshuffles * sizeof(int));
    j->n = nshuffles;
    j->job = job;
    self->njobs++;
}

void ms_exec_monitor_job_ended(ms_exec_monitor_t *self, int job)
{
    for (int i = 0; i < self->njobs; i++) {
        if (self->jobs[i].job != job) continue;
        free(self->jobs[i].shuffles);
        self->jobs[i] = self->jobs[--self->njobs];
        return;
    }
}

void ms_exec_monitor_shuffle_removed(ms_exec_monitor_t *self, int shuffle)
{
    for (int i = 0; i < self->n; i++) {
        s_tracker_t *t = &self->t[i];
        for (int k = 0; k < t->nshuffles; k++)
            if (t->shuffles[k] == shuffle)
                t->shuffles[k--] = t->shuffles[--t->nshuffles];
    }
}

/* A running job that needs one of the executor's shuffles, or -1. */
static int s_needing_job(const ms_exec_monitor_t *self, const s_tracker_t *t,
                         int *shuffle)
{
    for (int k = 0; k < t->nshuffles; k++)
        for (int j = 0; j < self->njobs; j++)
            for (int s = 0; s < self->jobs[j].n; s++)
                if (self->jobs[j].shuffles[s] == t->shuffles[k]) {
                    if (shuffle) *shuffle = t->shuffles[k];
                    return self->jobs[j].job;
                }
    return -1;
}

/* ---- deadlines
 * ----------------------------------------------------------------------- */

static int64_t s_deadline(const ms_exec_monitor_t *self, const s_tracker_t *t)
{
    if (t->running > 0 || t->idle_start < 0) return MS_MONITOR_NEVER;
    int64_t timeout = self->idle_timeout;
    if (self->tracking && t->nshuffles > 0) {
        if (s_needing_job(self, t, NULL) >= 0) return MS_MONITOR_NEVER;
        if (self->shuffle_timeout > timeout) timeout = self->shuffle_timeout;
    }
    /* Overflow-safe (SPARK-28455): an infinite or huge timeout never fires. */
    if (timeout == MS_CONF_INFINITE || timeout > INT64_MAX - t->idle_start)
        return MS_MONITOR_NEVER;
    return t->idle_start + timeout;
}

int64_t ms_exec_monitor_deadline(const ms_exec_monitor_t *self, int id)
{
    const s_tracker_t *t = s_find(self, id);
    return t ? s_deadline(self, t) : MS_MONITOR_NEVER;
}

int64_t ms_exec_monitor_next_deadline(const ms_exec_monitor_t *self)
{
    int64_t next = MS_MONITOR_NEVER;
    for (int i = 0; i < self->n; i++) {
        if (self->t[i].pending_removal) continue;
        int64_t d = s_deadline(self, &self->t[i]);
        if (d < next) next = d;
    }
    return next;
}

int ms_exec_monitor_timed_out(const ms_exec_monitor_t *self, int64_t now,
                              int *ids, int max)
{
    int n = 0;
    for (int i = 0; i < self->n; i++) {
        const s_tracker_t *t = &self->t[i];
        if (t->pending_removal || s_deadline(self, t) > now) continue;
        if (n < max) ids[n] = t->id;
        n++;
    }
    return n;
}

int ms_exec_monitor_kept(const ms_exec_monitor_t *self, int64_t now, int *ids,
                         int max)
{
    int n = 0;
    for (int i = 0; i < self->n; i++) {
        const s_tracker_t *t = &self->t[i];
        if (!self->tracking || t->pending_removal || t->idle_start < 0 ||
            t->running > 0 || now - t->idle_start < self->idle_timeout ||
            s_needing_job(self, t, NULL) < 0)
            continue;
        if (n < max) ids[n] = t->id;
        n++;
    }
    return n;
}

int ms_exec_monitor_count(const ms_exec_monitor_t *self)
{
    return self->n;
}

int ms_exec_monitor_pending_removal_count(const ms_exec_monitor_t *self)
{
    int n = 0;
    for (int i = 0; i < self->n; i++)
        n += self->t[i].pending_removal;
    return n;
}

bool ms_exec_monitor_is_idle(const ms_exec_monitor_t *self, int id)
{
    const s_tracker_t *t = s_find(self, id);
    return t && t->running == 0 && t->idle_start >= 0;
}

void ms_exec_monitor_explain(const ms_exec_monitor_t *self, int id, int64_t now,
                             char *buf, size_t size)
{
    const s_tracker_t *t = s_find(self, id);
    int shuffle = -1;
    if (!t) {
        snprintf(buf, size, "unknown executor");
        return;
    }
    if (t->running > 0) {
        snprintf(buf, size, "running %d tasks", t->running);
        return;
    }
    double idle = (double)(now - t->idle_start) / 1000.0;
    int job = self->tracking || self->migrates
                  ? s_needing_job(self, t, &shuffle)
                  : -1;
    if (job >= 0 && self->migrates)
        snprintf(buf, size,
                 "idle %.1f s; the shuffle %d output job %d needs that it "
                 "holds migrates before it goes",
                 idle, shuffle, job);
    else if (job >= 0)
        snprintf(buf, size,
                 "idle %.1f s but holds shuffle %d output needed by "
                 "job %d",
                 idle, shuffle, job);
    else if (self->tracking && t->nshuffles > 0)
        snprintf(buf, size,
                 "idle %.1f s, holds shuffle output no running job "
                 "needs",
                 idle);
    else
        snprintf(buf, size,
                 "idle %.1f s, holds no shuffle data a running job "
                 "needs",
                 idle);
}
