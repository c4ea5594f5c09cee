/* The application's executors: launching them toward the target (with a
 * backoff after failed launches), registration, stopping idle ones, and
 * reaping. Every executor is a child process tracked by PID. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/launcher.h"
#include "common/mp.h"
#include "common/proto.h"
#include "driver/app.h"
#include "driver/job.h"

#define S_BACKOFF_MAX_MS 30000

ms_exec_t *ms_app_exec_by_id(ms_app_t *app, int id, int *index)
{
    for (int i = 0; i < app->nexecs; i++)
        if (app->execs[i].id == id) {
            if (index) *index = i;
            return &app->execs[i];
        }
    return NULL;
}

void ms_app_send_simple(ms_app_t *app, ms_exec_t *ex, int type)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, (ms_msg_type_t)type, 0);
    ms_msg_send(app->router, ex->ident, strlen(ex->ident), &b, NULL, NULL, 0);
}

int ms_app_alive_execs(const ms_app_t *app)
{
    int n = 0;
    for (int i = 0; i < app->nexecs; i++)
        n += app->execs[i].alive;
    return n;
}

int ms_app_active_execs(const ms_app_t *app)
{
    int n = 0;
    for (int i = 0; i < app->nexecs; i++) {
        const ms_exec_t *ex = &app->execs[i];
        n += ex->alive && ex->registered && !ex->stopping &&
             !ex->decommissioning;
    }
    return n;
}

int ms_app_free_exec(const ms_app_t *app, int avoid)
{
    int best = -1;
    for (int i = 0; i < app->nexecs; i++) {
        const ms_exec_t *ex = &app->execs[i];
        if (!ex->alive || !ex->registered || ex->stopping ||
            ex->decommissioning || ex->running >= ex->cores)
            continue;
        if (best < 0 || (best == avoid && i != avoid) ||
            (i != avoid && ex->running < app->execs[best].running))
            best = i;
    }
    return best;
}

int ms_app_send_task(ms_app_t *app, int exec, const ms_task_t *task)
{
    ms_exec_t *ex = &app->execs[exec];
    ms_msg_builder_t b;
    ms_task_pack(task, &b);
    int rc = ms_msg_send(app->router, ex->ident, strlen(ex->ident), &b, NULL,
                         NULL, 0);
    if (rc == 0) ex->running++;
    return rc;
}

void ms_app_decision(ms_app_t *app, const char *action, int exec,
                     const char *reason)
{
    int target = ms_app_target(app);
    const ms_alloc_t *p =
        app->alloc ? ms_alloc_manager_policy(app->alloc) : NULL;
    ms_event_t ev = {
        .type = MS_EV_ALLOCATION,
        .action = action,
        .exec = exec,
        .old_target = target,
        .new_target = target,
        .pending = p ? ms_alloc_pending_tasks(p) : 0,
        .running = p ? ms_alloc_running_tasks(p) : 0,
        .executors = ms_app_active_execs(app),
        .reason = reason,
    };
    ms_bus_post(&app->bus, &ev);
}

/* ---- launching
 * ---------------------------------------------------------------- */

static ms_exec_t *s_new_exec(ms_app_t *app, ms_error_t *err)
{
    if (app->nexecs == app->cap) {
        int cap = app->cap ? app->cap * 2 : 8;
        ms_exec_t *e = realloc(app->execs, (size_t)cap * sizeof *e);
        if (!e) {
            ms_error_set(err, MS_ERR_NOMEM, "executors");
            return NULL;
        }
        app->execs = e;
        app->cap = cap;
    }
    ms_exec_t *ex = &app->execs[app->nexecs];
    memset(ex, 0, sizeof *ex);
    ex->id = app->nexecs + 1;
    ex->worker = -1;
    if (ms_auth_token_new(ex->token, err) < 0) return NULL;
    snprintf(ex->host, sizeof ex->host, "127.0.0.1");
    if (app->service)
        snprintf(ex->dir, sizeof ex->dir, "%s", app->service_dir);
    else
        snprintf(ex->dir, sizeof ex->dir, "%s/executor-%d", app->app_dir,
                 ex->id);
    return ex;
}

static int s_launch_local(ms_app_t *app, ms_exec_t *ex, ms_error_t *err)
{
    char id[16], cores[16], hb[32];
    snprintf(id, sizeof id, "%d", ex->id);
    snprintf(cores, sizeof cores, "%d", app->cores_per_exec);
    snprintf(hb, sizeof hb, "%lld", (long long)app->heartbeat_ms);
    char *argv[16] = {"executor", "--driver",  app->endpoint,
                      "--app-id", app->app_id, "--executor-id",
                      id,         "--dir",     ex->dir,
                      "--cores",  cores,       "--heartbeat-ms",
                      hb,         NULL};
    if (app->service) {
        argv[13] = "--shuffle-endpoint";
        argv[14] = app->service_ep;
    }
    ex->pid = ms_launch_executor(argv, false, ex->token, err);
    return ex->pid < 0 ? err->code : 0;
}

/* 1 when no worker has room for another executor now. */
static int s_launch(ms_app_t *app, int have, ms_error_t *err)
{
    ms_exec_t *ex = s_new_exec(app, err);
    if (!ex) return err->code;
    char why[160];
    int rc = app->nworkers ? ms_app_launch_remote(app, ex, err)
                           : s_launch_local(app, ex, err);
    if (rc == MS_ERR_NOTFOUND) return 1;
    if (rc < 0) return rc;
    ex->alive = true;
    ex->launched_ms = ex->last_seen_ms = ms_clock_now_ms();
    ex->launched_wall_ms = ms_clock_wall_ms();
    app->nexecs++;
    snprintf(why, sizeof why,
             "add executor %d: target %d, %d running or "
             "starting",
             ex->id, ms_app_target(app), have);
    ms_app_decision(app, "add", ex->id, why);
    return 0;
}

/* A lowered target cancels launches that have not registered yet, newest
 * first; it never stops a registered executor (that is the idle timeout's
 * job). */
static void s_cancel_launches(ms_app_t *app, int excess)
{
    char why[160];
    for (int i = app->nexecs - 1; i >= 0 && excess > 0; i--) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive || ex->registered || ex->stopping || ex->decommissioning)
            continue;
        ex->stopping = true;
        snprintf(ex->stop_reason, sizeof ex->stop_reason,
                 "launch cancelled: target lowered to %d", ms_app_target(app));
        ms_app_signal_exec(app, i, SIGTERM);
        snprintf(why, sizeof why, "cancel executor %d: %s", ex->id,
                 ex->stop_reason);
        ms_app_decision(app, "cancel", ex->id, why);
        excess--;
    }
}

/* Executors on their way out (decommissioning) are not counted: the
 * target is met without them, as Spark does not count executors pending
 * removal. */
int ms_app_reconcile(ms_app_t *app, ms_error_t *err)
{
    ms_app_decommissions(app);
    int target = ms_app_target(app), have = 0;
    for (int i = 0; i < app->nexecs; i++)
        have += app->execs[i].alive && !app->execs[i].stopping &&
                !app->execs[i].decommissioning;
    while (have < target && ms_clock_now_ms() >= app->next_launch_ms) {
        int rc = s_launch(app, have, err);
        if (rc < 0) return rc;
        if (rc == 1) break;
        have++;
    }
    if (have > target) s_cancel_launches(app, have - target);
    return 0;
}

/* ---- registration, stopping, reaping
 * --------------------------------------------- */

void ms_app_on_register(ms_app_t *app, int i, const char *endpoint, int cores)
{
    ms_exec_t *ex = &app->execs[i];
    snprintf(ex->endpoint, sizeof ex->endpoint, "%s", endpoint);
    ex->cores = cores;
    ex->registered = true;
    ex->registered_ms = ms_clock_now_ms();
    app->launch_backoff_ms = 0;
    int alive = ms_app_alive_execs(app);
    if (alive > app->peak_execs) app->peak_execs = alive;
    ms_app_send_simple(app, ex, MS_MSG_REGISTERED);
    ms_event_t ev = {.type = MS_EV_EXECUTOR_ADDED,
                     .exec = ex->id,
                     .host = ex->host,
                     .cores = cores,
                     .launch_ms = ex->launched_wall_ms};
    ms_bus_post(&app->bus, &ev);
}

void ms_app_stop_exec(ms_app_t *app, int i, const char *reason)
{
    ms_exec_t *ex = &app->execs[i];
    if (!ex->alive || ex->stopping || ex->running > 0) return;
    ex->stopping = true;
    snprintf(ex->stop_reason, sizeof ex->stop_reason, "%s", reason);
    ms_app_send_simple(app, ex, MS_MSG_STOP);
}

static int s_launch_failed(ms_app_t *app, ms_exec_t *ex, const char *why,
                           ms_error_t *err)
{
    app->launch_failures++;
    app->launch_backoff_ms =
        app->launch_backoff_ms ? app->launch_backoff_ms * 2 : 1000;
    if (app->launch_backoff_ms > S_BACKOFF_MAX_MS)
        app->launch_backoff_ms = S_BACKOFF_MAX_MS;
    app->next_launch_ms = ms_clock_now_ms() + app->launch_backoff_ms;
    fprintf(stderr,
            "minispark: executor %d failed to start (%s); failure %d "
            "of %d, next launch in %.1f s\n",
            ex->id, why, app->launch_failures, app->max_launch_failures,
            (double)app->launch_backoff_ms / 1000.0);
    if (app->launch_failures < app->max_launch_failures) return 0;
    return ms_error_set(err, MS_ERR_FAILED,
                        "executors keep failing to start (%d failures); last: "
                        "executor %d %s",
                        app->launch_failures, ex->id, why);
}

int ms_app_exec_ended(ms_app_t *app, int i, const char *why, ms_error_t *err)
{
    ms_exec_t *ex = &app->execs[i];
    char reason[800];
    ex->alive = false;
    ex->ended_ms = ms_clock_now_ms();
    bool lost = !ex->stopping || ex->lost;
    if (ex->registered) {
        if (lost && ex->lost)
            snprintf(reason, sizeof reason, "lost: %s (%s)", ex->stop_reason,
                     why);
        else if (lost)
            snprintf(reason, sizeof reason, "exited: %s", why);
        else
            snprintf(reason, sizeof reason, "%s (%s)", ex->stop_reason, why);
        ms_event_t ev = {
            .type = MS_EV_EXECUTOR_REMOVED, .exec = ex->id, .reason = reason};
        ms_bus_post(&app->bus, &ev);
    }
    if (!lost) {
        /* Outputs still registered on it (not migrated) are gone. */
        if (ex->registered && app->job)
            ms_job_on_exec_lost(app->job, i, reason);
        return 0;
    }
    if (!ex->registered) return s_launch_failed(app, ex, why, err);
    /* A lost executor is replaced (the target has not changed) and its
     * tasks, and without a shuffle service its map outputs, are redone. */
    fprintf(stderr, "minispark: executor %d %s; its tasks run elsewhere\n",
            ex->id, reason);
    if (app->job) ms_job_on_exec_lost(app->job, i, reason);
    return 0;
}

static int s_on_exit(ms_app_t *app, int i, int status, ms_error_t *err)
{
    char how[160];
    ms_describe_exit(status, how, sizeof how);
    return ms_app_exec_ended(app, i, how, err);
}

int ms_app_check_execs(ms_app_t *app, ms_error_t *err)
{
    int64_t now = ms_clock_now_ms();
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        int status, rc;
        if (ex->alive && ex->worker < 0 &&
            ms_reap(ex->pid, false, &status) == 1 &&
            (rc = s_on_exit(app, i, status, err)) < 0)
            return rc;
        if (!ex->alive || ex->stopping) continue;
        if (!ex->registered && !ex->queued &&
            now - ex->launched_ms > app->register_timeout_ms) {
            char why[96];
            snprintf(why, sizeof why, "did not register within %.1f s",
                     (double)app->register_timeout_ms / 1000.0);
            ex->stopping = true;
            snprintf(ex->stop_reason, sizeof ex->stop_reason, "%s", why);
            ms_app_signal_exec(app, i, SIGKILL);
            if ((rc = s_launch_failed(app, ex, why, err)) < 0) return rc;
        } else if (ex->registered &&
                   app->network_timeout_ms != MS_CONF_INFINITE &&
                   now - ex->last_seen_ms > app->network_timeout_ms) {
            /* Silent too long: stop it for good (by PID) and treat it as
             * lost once it is reaped. */
            ex->stopping = ex->lost = true;
            snprintf(ex->stop_reason, sizeof ex->stop_reason,
                     "no heartbeat for %lld ms",
                     (long long)(now - ex->last_seen_ms));
            ms_app_signal_exec(app, i, SIGKILL);
        }
    }
    return 0;
}

/* Waits (on the poll, woken by SIGCHLD) for stopping executors to exit,
 * then kills by PID whatever is left. */
void ms_app_stop_all_execs(ms_app_t *app)
{
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive) continue;
        if (!ex->stopping && ex->registered)
            ms_app_send_simple(app, ex, MS_MSG_STOP);
        else if (!ex->registered)
            ms_app_signal_exec(app, i, SIGTERM);
        if (!ex->stopping)
            snprintf(ex->stop_reason, sizeof ex->stop_reason,
                     "application finished");
        ex->stopping = true;
    }
    int64_t deadline = ms_clock_now_ms() + 3000;
    ms_error_t err;
    for (;;) {
        ms_app_drain_workers(app, &err);
        ms_app_check_execs(app, &err);
        if (!ms_app_alive_execs(app) || ms_clock_now_ms() >= deadline) break;
        zmq_poll(NULL, 0, 20);
    }
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive) continue;
        if (ex->worker >= 0) {
            /* Its worker kills it when closed (ms_app_close_workers). */
            ms_app_exec_ended(app, i, "no exit report from its worker", &err);
            continue;
        }
        int status = ms_stop_child(ex->pid, 0);
        s_on_exit(app, i, status, &err);
    }
}
