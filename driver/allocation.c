/* Spark's ExecutorAllocationManager target arithmetic (see
 * updateAndSyncNumExecutorsTarget, addExecutors and removeExecutors in the
 * reference). Differences: one resource profile, no speculation, and every
 * change is explained in words. */
#include "driver/allocation.h"
#include "common/conf_keys.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int id;
    int pending, running;
    bool active; /* submitted and not completed */
} s_stage_t;

struct ms_alloc {
    ms_alloc_conf_t conf;
    int target, step;
    int64_t add_time;
    int64_t backlog_since; /* start of the current backlog, for reasons */
    bool initializing;
    s_stage_t *stages;
    int nstages, cap;
};

/* ---- configuration ----------------------------------------------------------
 */

static int s_read_counts(const ms_conf_t *c, int capacity, ms_alloc_conf_t *o,
                         ms_error_t *err)
{
    int64_t min, max, initial, instances = 0;
    const char *kmin = "spark.dynamicAllocation.minExecutors";
    const char *kmax = "spark.dynamicAllocation.maxExecutors";
    int rc = ms_conf_key_int(c, kmin, &min, err);
    if (rc == 0) rc = ms_conf_key_int(c, kmax, &max, err);
    if (rc == 0)
        rc = ms_conf_key_int_or(c, "spark.dynamicAllocation.initialExecutors",
                                min, &initial, err);
    if (rc == 0 && ms_conf_get(c, "spark.executor.instances"))
        rc = ms_conf_key_int_or(c, "spark.executor.instances", 0, &instances,
                                err);
    if (rc < 0) return rc;
    if (max == 0)
        return ms_error_set(err, MS_ERR_USAGE, "%s must be positive", kmax);
    if (min > max)
        return ms_error_set(err, MS_ERR_USAGE,
                            "%s (%lld) must not exceed %s (%lld)", kmin,
                            (long long)min, kmax, (long long)max);
    if (max > capacity) {
        if (max != MS_CONF_INFINITE)
            snprintf(o->warning, sizeof o->warning,
                     "%s=%lld capped to %d, the master's capacity", kmax,
                     (long long)max, capacity);
        max = capacity;
    }
    if (min > max) {
        snprintf(o->warning, sizeof o->warning,
                 "%s=%lld capped to %d, the master's capacity", kmin,
                 (long long)min, capacity);
        min = max;
    }
    if (initial < instances) initial = instances;
    if (initial < min) initial = min;
    if (initial > max) initial = max;
    o->min_executors = (int)min;
    o->max_executors = (int)max;
    o->initial_executors = (int)initial;
    return 0;
}

static int s_read_timing(const ms_conf_t *c, ms_alloc_conf_t *o,
                         ms_error_t *err)
{
    const char *kb = "spark.dynamicAllocation.schedulerBacklogTimeout";
    const char *ks = "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout";
    const char *kr = "spark.dynamicAllocation.executorAllocationRatio";
    int64_t cores, cpus;
    int rc = ms_conf_key_int(c, kb, &o->backlog_timeout_ms, err);
    if (rc == 0)
        rc = ms_conf_key_int_or(c, ks, o->backlog_timeout_ms,
                                &o->sustained_timeout_ms, err);
    if (rc == 0) rc = ms_conf_key_fraction(c, kr, &o->ratio, err);
    if (rc == 0) rc = ms_conf_key_int(c, "spark.executor.cores", &cores, err);
    if (rc == 0) rc = ms_conf_key_int(c, "spark.task.cpus", &cpus, err);
    if (rc < 0) return rc;
    if (o->backlog_timeout_ms <= 0)
        return ms_error_set(err, MS_ERR_USAGE, "%s must be positive", kb);
    if (o->sustained_timeout_ms <= 0)
        return ms_error_set(err, MS_ERR_USAGE, "%s must be positive", ks);
    if (cores < cpus)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.executor.cores (%lld) must be at least "
                            "spark.task.cpus (%lld)",
                            (long long)cores, (long long)cpus);
    o->tasks_per_executor = (int)(cores / cpus);
    return 0;
}

int ms_alloc_conf_read(const ms_conf_t *conf, int capacity,
                       ms_alloc_conf_t *out, ms_error_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = s_read_counts(conf, capacity, out, err);
    return rc < 0 ? rc : s_read_timing(conf, out, err);
}

/* ---- lifetime
 * --------------------------------------------------------------------- */

ms_alloc_t *ms_alloc_new(const ms_alloc_conf_t *conf)
{
    ms_alloc_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->conf = *conf;
    self->target = conf->initial_executors;
    self->step = 1;
    self->add_time = MS_ALLOC_NOT_SET;
    self->backlog_since = MS_ALLOC_NOT_SET;
    self->initializing = true;
    return self;
}

void ms_alloc_destroy(ms_alloc_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->stages);
    free(*self_p);
    *self_p = NULL;
}

/* ---- task counts
 * -------------------------------------------------------------------- */

static s_stage_t *s_stage(ms_alloc_t *self, int id, bool create)
{
    for (int i = 0; i < self->nstages; i++)
        if (self->stages[i].id == id) return &self->stages[i];
    if (!create) return NULL;
    if (self->nstages == self->cap) {
        int cap = self->cap ? self->cap * 2 : 8;
        s_stage_t *s = realloc(self->stages, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        self->stages = s;
        self->cap = cap;
    }
    s_stage_t *s = &self->stages[self->nstages++];
    memset(s, 0, sizeof *s);
    s->id = id;
    return s;
}

/* A stage with nothing pending or running is forgotten. */
static void s_forget_done(ms_alloc_t *self)
{
    int n = 0;
    for (int i = 0; i < self->nstages; i++) {
        s_stage_t *s = &self->stages[i];
        if (s->active || s->pending || s->running) self->stages[n++] = *s;
    }
    self->nstages = n;
}

int ms_alloc_pending_tasks(const ms_alloc_t *self)
{
    int n = 0;
    for (int i = 0; i < self->nstages; i++)
        n += self->stages[i].pending;
    return n;
}

int ms_alloc_running_tasks(const ms_alloc_t *self)
{
    int n = 0;
    for (int i = 0; i < self->nstages; i++)
        n += self->stages[i].running;
    return n;
}

int ms_alloc_max_needed(const ms_alloc_t *self)
{
    int tasks = ms_alloc_pending_tasks(self) + ms_alloc_running_tasks(self);
    return (int)ceil((double)tasks * self->conf.ratio /
                     self->conf.tasks_per_executor);
}

/* Spark's onSchedulerBacklogged: starts the timer unless it runs. */
static void s_backlogged(ms_alloc_t *self, int64_t now)
{
    if (self->add_time != MS_ALLOC_NOT_SET) return;
    self->add_time = now + self->conf.backlog_timeout_ms;
    self->backlog_since = now;
}

/* Spark's onSchedulerQueueEmpty. */
static void s_queue_empty(ms_alloc_t *self)
{
    self->add_time = MS_ALLOC_NOT_SET;
    self->backlog_since = MS_ALLOC_NOT_SET;
    self->step = 1;
}

void ms_alloc_stage_submitted(ms_alloc_t *self, int stage, int ntasks,
                              int64_t now)
{
    self->initializing = false;
    s_stage_t *s = s_stage(self, stage, true);
    if (!s) return;
    s->active = true;
    s->pending += ntasks;
    if (s->pending > 0) s_backlogged(self, now);
}

void ms_alloc_task_started(ms_alloc_t *self, int stage, int64_t now)
{
    (void)now;
    s_stage_t *s = s_stage(self, stage, true);
    if (!s) return;
    if (s->pending > 0) s->pending--;
    s->running++;
    if (ms_alloc_pending_tasks(self) == 0) s_queue_empty(self);
}

void ms_alloc_task_ended(ms_alloc_t *self, int stage, bool success, int64_t now)
{
    s_stage_t *s = s_stage(self, stage, false);
    if (!s) return;
    if (s->running > 0) s->running--;
    if (!success && s->active) {
        /* The task will run again (SPARK-8366): it is pending once more. */
        bool was_empty = ms_alloc_pending_tasks(self) == 0;
        s->pending++;
        if (was_empty) s_backlogged(self, now);
    }
    s_forget_done(self);
}

void ms_alloc_stage_completed(ms_alloc_t *self, int stage, int64_t now)
{
    (void)now;
    s_stage_t *s = s_stage(self, stage, false);
    if (s) {
        s->active = false;
        s->pending = 0;
    }
    s_forget_done(self);
    if (ms_alloc_pending_tasks(self) == 0) s_queue_empty(self);
}

void ms_alloc_idle_timeout(ms_alloc_t *self)
{
    self->initializing = false;
}

/* ---- the target
 * ----------------------------------------------------------------------- */

static int s_clamp(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void s_need_text(const ms_alloc_t *self, char *buf, size_t size)
{
    snprintf(buf, size, "%d pending + %d running tasks need %d",
             ms_alloc_pending_tasks(self), ms_alloc_running_tasks(self),
             ms_alloc_max_needed(self));
}

static void s_duration(char *buf, size_t size, int64_t ms)
{
    if (ms < 1000)
        snprintf(buf, size, "%lld ms", (long long)ms);
    else
        snprintf(buf, size, "%.1f s", (double)ms / 1000.0);
}

static bool s_decrease(ms_alloc_t *self, int need, ms_alloc_change_t *c)
{
    char why[128];
    int old = self->target;
    self->target =
        need > self->conf.min_executors ? need : self->conf.min_executors;
    self->step = 1;
    if (self->target == old) return false;
    s_need_text(self, why, sizeof why);
    c->old_target = old;
    c->new_target = self->target;
    snprintf(c->reason, sizeof c->reason, "target %d -> %d: %s%s", old,
             self->target, why,
             need < self->conf.min_executors ? "; minExecutors keeps it up"
                                             : "");
    return true;
}

static bool s_increase(ms_alloc_t *self, int64_t now, int executors, int need,
                       ms_alloc_change_t *c)
{
    const ms_alloc_conf_t *cf = &self->conf;
    int old = self->target, step = self->step;
    if (old >= cf->max_executors) {
        self->step = 1;
        return false;
    }
    int from = old > executors ? old : executors;
    int t = from + step < need ? from + step : need;
    t = s_clamp(t, cf->min_executors, cf->max_executors);
    int delta = t - old;
    self->target = t;
    if (delta <= 0) {
        self->step = 1;
        return false;
    }
    /* The step doubles only when the whole step was granted. */
    self->step = delta == step ? step * 2 : 1;
    self->add_time = now + cf->sustained_timeout_ms;
    char why[128], since[32];
    s_need_text(self, why, sizeof why);
    s_duration(since, sizeof since, now - self->backlog_since);
    const char *cap = t == cf->max_executors && from + step > t
                          ? "; capped at maxExecutors"
                      : t == need && from + step > t ? "; capped by need"
                                                     : "";
    c->old_target = old;
    c->new_target = t;
    snprintf(c->reason, sizeof c->reason,
             "target %d -> %d: %s; backlog for %s; step %d%s", old, t, why,
             since, step, cap);
    return true;
}

bool ms_alloc_update(ms_alloc_t *self, int64_t now, int executors,
                     ms_alloc_change_t *change)
{
    if (self->initializing) return false;
    int need = ms_alloc_max_needed(self);
    if (need < self->target) return s_decrease(self, need, change);
    if (self->add_time != MS_ALLOC_NOT_SET && now >= self->add_time)
        return s_increase(self, now, executors, need, change);
    return false;
}

int ms_alloc_removable(const ms_alloc_t *self, const int *ids, int n,
                       int remaining, int *out)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (remaining - 1 < self->conf.min_executors) continue;
        if (remaining - 1 < self->target) continue;
        out[k++] = ids[i];
        remaining--;
    }
    return k;
}

int ms_alloc_target(const ms_alloc_t *self)
{
    return self->target;
}

int ms_alloc_step(const ms_alloc_t *self)
{
    return self->step;
}

int64_t ms_alloc_add_time(const ms_alloc_t *self)
{
    return self->add_time;
}

bool ms_alloc_initializing(const ms_alloc_t *self)
{
    return self->initializing;
}

const ms_alloc_conf_t *ms_alloc_conf(const ms_alloc_t *self)
{
    return &self->conf;
}
