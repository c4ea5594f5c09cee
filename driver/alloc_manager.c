/* Glue between the bus, the allocation policy and the executor monitor. */
#include "driver/alloc_manager.h"

#include <stdlib.h>
#include <string.h>

#include "common/conf_keys.h"
#include "driver/exec_monitor.h"

#define S_MAX_IDS 4096

struct ms_alloc_manager {
    ms_alloc_t *policy;
    ms_exec_monitor_t *monitor;
    ms_clock_fn *clock;
    void *clock_arg;
    int kept[S_MAX_IDS]; /* executors announced as kept last tick */
    int nkept;
};

static int s_check_shuffle_safety(const ms_conf_t *conf, bool service,
                                  bool migrates, bool *tracking,
                                  ms_error_t *err)
{
    int rc = ms_conf_key_bool(
        conf, "spark.dynamicAllocation.shuffleTracking.enabled", tracking, err);
    if (rc < 0) return rc;
    if (!service && !*tracking && !migrates)
        return ms_error_set(err, MS_ERR_USAGE,
                            "dynamic allocation needs a way to keep shuffle "
                            "data of removed executors: set "
                            "spark.shuffle.service.enabled=true, "
                            "spark.dynamicAllocation.shuffleTracking.enabled="
                            "true or spark.decommission.enabled=true");
    /* Tracking only matters without the service (as in Spark); with
     * decommissioning, an idle executor's outputs move before it goes, so
     * they need not pin it. */
    *tracking = *tracking && !service && !migrates;
    return 0;
}

int ms_alloc_manager_new(ms_alloc_manager_t **out, const ms_conf_t *conf,
                         int capacity, bool shuffle_service, bool migrates,
                         ms_clock_fn *clock, void *clock_arg, ms_error_t *err)
{
    ms_alloc_conf_t ac;
    int64_t idle, shuffle_timeout;
    bool tracking;
    int rc = ms_alloc_conf_read(conf, capacity, &ac, err);
    if (rc == 0)
        rc = ms_conf_key_int(
            conf, "spark.dynamicAllocation.executorIdleTimeout", &idle, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf,
                             "spark.dynamicAllocation.shuffleTracking.timeout",
                             &shuffle_timeout, err);
    if (rc == 0)
        rc = s_check_shuffle_safety(conf, shuffle_service, migrates, &tracking,
                                    err);
    if (rc < 0) return rc;
    ms_alloc_manager_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "allocation manager");
    self->policy = ms_alloc_new(&ac);
    self->monitor = ms_exec_monitor_new(idle, tracking, shuffle_timeout);
    if (self->monitor && migrates && !shuffle_service)
        ms_exec_monitor_migrates(self->monitor);
    self->clock = clock;
    self->clock_arg = clock_arg;
    if (!self->policy || !self->monitor) {
        ms_alloc_manager_destroy(&self);
        return ms_error_set(err, MS_ERR_NOMEM, "allocation manager");
    }
    *out = self;
    return 0;
}

void ms_alloc_manager_destroy(ms_alloc_manager_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_alloc_destroy(&(*self_p)->policy);
    ms_exec_monitor_destroy(&(*self_p)->monitor);
    free(*self_p);
    *self_p = NULL;
}

int64_t ms_alloc_manager_next_deadline(const ms_alloc_manager_t *self)
{
    int64_t add = ms_alloc_add_time(self->policy);
    int64_t idle = ms_exec_monitor_next_deadline(self->monitor);
    return add < idle ? add : idle;
}

int ms_alloc_manager_target(const ms_alloc_manager_t *self)
{
    return ms_alloc_target(self->policy);
}

const ms_alloc_t *ms_alloc_manager_policy(const ms_alloc_manager_t *self)
{
    return self->policy;
}

void ms_alloc_manager_listener(void *arg, const ms_event_t *ev)
{
    ms_alloc_manager_t *self = arg;
    int64_t now = self->clock(self->clock_arg);
    switch (ev->type) {
    case MS_EV_STAGE_SUBMITTED:
        ms_alloc_stage_submitted(self->policy, ev->stage, ev->ntasks, now);
        break;
    case MS_EV_STAGE_COMPLETED:
        ms_alloc_stage_completed(self->policy, ev->stage, now);
        break;
    case MS_EV_TASK_START:
        ms_alloc_task_started(self->policy, ev->stage, now);
        ms_exec_monitor_task_started(self->monitor, ev->exec, now);
        break;
    case MS_EV_TASK_END:
        ms_alloc_task_ended(self->policy, ev->stage, ev->success, now);
        ms_exec_monitor_task_ended(self->monitor, ev->exec,
                                   ev->success ? ev->shuffle : -1, now);
        break;
    case MS_EV_JOB_START:
        ms_exec_monitor_job_started(self->monitor, ev->job, &ev->shuffle, 1);
        break;
    case MS_EV_JOB_END:
        ms_exec_monitor_job_ended(self->monitor, ev->job);
        break;
    case MS_EV_SHUFFLE_REMOVED:
        ms_exec_monitor_shuffle_removed(self->monitor, ev->shuffle);
        break;
    case MS_EV_EXECUTOR_ADDED:
        ms_exec_monitor_executor_added(self->monitor, ev->exec, now);
        break;
    case MS_EV_EXECUTOR_REMOVED:
        ms_exec_monitor_executor_removed(self->monitor, ev->exec);
        break;
    default:
        break;
    }
}

static void s_post(ms_alloc_manager_t *self, ms_bus_t *bus, const char *action,
                   int exec, int old_target, const char *reason, int executors)
{
    ms_event_t ev = {
        .type = MS_EV_ALLOCATION,
        .action = action,
        .exec = exec,
        .old_target = old_target,
        .new_target = ms_alloc_target(self->policy),
        .pending = ms_alloc_pending_tasks(self->policy),
        .running = ms_alloc_running_tasks(self->policy),
        .executors = executors,
        .reason = reason,
    };
    ms_bus_post(bus, &ev);
}

/* Announces executors kept only for shuffle data, once per stretch. */
static void s_keeps(ms_alloc_manager_t *self, int64_t now, ms_bus_t *bus,
                    int registered)
{
    int ids[S_MAX_IDS];
    char why[256], line[320];
    int n = ms_exec_monitor_kept(self->monitor, now, ids, S_MAX_IDS);
    if (n > S_MAX_IDS) n = S_MAX_IDS;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int k = 0; k < self->nkept && !seen; k++)
            seen = self->kept[k] == ids[i];
        if (seen) continue;
        ms_exec_monitor_explain(self->monitor, ids[i], now, why, sizeof why);
        snprintf(line, sizeof line, "keep executor %d: %s", ids[i], why);
        s_post(self, bus, "keep", ids[i], ms_alloc_target(self->policy), line,
               registered);
    }
    memcpy(self->kept, ids, (size_t)n * sizeof *ids);
    self->nkept = n;
}

int ms_alloc_manager_tick(ms_alloc_manager_t *self, int registered,
                          ms_bus_t *bus, ms_alloc_removal_t *remove, int max)
{
    int64_t now = self->clock(self->clock_arg);
    int ids[S_MAX_IDS], ok[S_MAX_IDS];
    int n = ms_exec_monitor_timed_out(self->monitor, now, ids, S_MAX_IDS);
    if (n > S_MAX_IDS) n = S_MAX_IDS;
    if (n > 0) ms_alloc_idle_timeout(self->policy);
    ms_alloc_change_t change;
    if (ms_alloc_update(self->policy, now, registered, &change))
        s_post(self, bus, "target", -1, change.old_target, change.reason,
               registered);
    int k =
        n > 0 ? ms_alloc_removable(self->policy, ids, n, registered, ok) : 0;
    if (k > max) k = max;
    char line[320];
    for (int i = 0; i < k; i++) {
        ms_alloc_removal_t *r = &remove[i];
        r->exec = ok[i];
        ms_exec_monitor_explain(self->monitor, ok[i], now, r->why,
                                sizeof r->why);
        ms_exec_monitor_pending_removal(self->monitor, ok[i]);
        snprintf(line, sizeof line, "remove executor %d: %s", ok[i], r->why);
        s_post(self, bus, "remove", ok[i], ms_alloc_target(self->policy), line,
               registered);
    }
    s_keeps(self, now, bus, registered);
    return k;
}
