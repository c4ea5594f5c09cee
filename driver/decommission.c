/* Graceful decommissioning, as Spark 3.1+ does it: an executor chosen to go
 * (idle timeout, reclaim by its worker, SIGPWR) gets no new task and finishes
 * the ones it runs. Then, if it serves map outputs the running job still needs
 * (no shuffle service), it migrates them (to its host's shuffle server, a
 * peer executor or the fallback folder, in that order), and the driver
 * moves each output's location as the executor reports it. It is stopped
 * once nothing is registered on it any more and no reducer launched before
 * the last move still runs (such a reducer may read the old location). An
 * output that could not be moved is lost when the executor goes, and its
 * map runs again, without counting against the stage. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf_keys.h"
#include "common/mp.h"
#include "driver/app.h"
#include "driver/console.h"
#include "driver/hooks.h"
#include "driver/job.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"

/* How long one output may take to reach a target before the next is
 * tried. */
#define S_PUT_TIMEOUT_MS 30000

int ms_app_decom_settings(ms_app_t *app, ms_error_t *err)
{
    const ms_conf_t *c = app->conf;
    ms_decom_conf_t *d = &app->decom;
    bool storage, shuffle;
    int rc =
        ms_conf_key_bool(c, "spark.decommission.enabled", &d->enabled, err);
    if (rc == 0)
        rc = ms_conf_key_bool(c, "spark.storage.decommission.enabled", &storage,
                              err);
    if (rc == 0)
        rc = ms_conf_key_bool(
            c, "spark.storage.decommission.shuffleBlocks.enabled", &shuffle,
            err);
    if (rc == 0)
        rc = ms_conf_key_bool(
            c, "spark.storage.decommission.fallbackStorage.cleanUp",
            &d->cleanup, err);
    if (rc == 0)
        rc = ms_conf_key_bool(c, "spark.stage.ignoreDecommissionFetchFailure",
                              &d->ignore_fetch_failures, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.executor.decommission.forceKillTimeout",
                             &d->force_kill_ms, err);
    if (rc < 0) return rc;
    d->migrate = storage && shuffle;
    const char *path =
        ms_conf_get(c, "spark.storage.decommission.fallbackStorage.path");
    if (path && strlen(path) >= sizeof d->fallback - MS_APP_ID_MAX - 2)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.storage.decommission.fallbackStorage.path "
                            "is too long");
    snprintf(d->fallback, sizeof d->fallback, "%s", path ? path : "");
    return 0;
}

bool ms_app_holds_outputs(const ms_app_t *app, int i)
{
    return !app->service && app->job && ms_job_holds_outputs(app->job, i);
}

/* Whether peer k may take outputs from executor i. */
static bool s_peer(const ms_app_t *app, int i, int k)
{
    const ms_exec_t *p = &app->execs[k];
    return k != i && p->alive && p->registered && !p->stopping &&
           !p->decommissioning && p->endpoint[0];
}

/* Where executor i's outputs may go, best first: its host's shuffle
 * server (it outlives executors), then its peers (starting after it, so
 * that several leaving executors spread their outputs). */
static int s_targets(const ms_app_t *app, int i, const char **eps, int max)
{
    int n = 0, w = app->execs[i].worker;
    if (w >= 0 && app->workers[w].shuffle[0] && !app->workers[w].lost)
        eps[n++] = app->workers[w].shuffle;
    for (int step = 1; step < app->nexecs && n < max; step++) {
        int k = (i + step) % app->nexecs;
        if (s_peer(app, i, k)) eps[n++] = app->execs[k].endpoint;
    }
    return n;
}

bool ms_app_can_migrate(const ms_app_t *app, int i)
{
    const char *eps[1];
    return app->decom.enabled && app->decom.migrate &&
           (app->decom.fallback[0] || s_targets(app, i, eps, 1) > 0);
}

void ms_app_decommission_exec(ms_app_t *app, int i, const char *reason)
{
    ms_exec_t *ex = &app->execs[i];
    if (!ex->alive || ex->stopping || ex->decommissioning) return;
    ex->decommissioning = true;
    ex->decom_start_ms = ms_clock_now_ms();
    snprintf(ex->stop_reason, sizeof ex->stop_reason, "%s", reason);
}

/* ---- a migration pass -------------------------------------------------- */

/* Names the place where in words: an executor, a host's shuffle server
 * or the fallback folder. */
static void s_place(const ms_app_t *app, const char *where, char *buf,
                    size_t size)
{
    for (int k = 0; k < app->nexecs; k++)
        if (app->execs[k].alive && strcmp(app->execs[k].endpoint, where) == 0) {
            snprintf(buf, size, "executor %d", app->execs[k].id);
            return;
        }
    if (strncmp(where, MS_SHUFFLE_FILE_SCHEME,
                strlen(MS_SHUFFLE_FILE_SCHEME)) == 0)
        snprintf(buf, size, "the fallback folder");
    else
        snprintf(buf, size, "shuffle server %s", where);
}

static void s_send_decommission(ms_app_t *app, int i)
{
    ms_exec_t *ex = &app->execs[i];
    const char *eps[64];
    int n = s_targets(app, i, eps, 64);
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_DECOMMISSION, 3);
    msgpack_pack_array(&b.pk, (uint32_t)n);
    for (int k = 0; k < n; k++)
        ms_mp_pack_str(&b.pk, eps[k]);
    ms_mp_pack_str(&b.pk, app->decom.fallback);
    msgpack_pack_int64(&b.pk, S_PUT_TIMEOUT_MS);
    if (ms_msg_send(app->router, ex->ident, strlen(ex->ident), &b, NULL, NULL,
                    0) < 0)
        return; /* tried again on the next round */
    ex->migrating = true;
    if (!ex->passes) ex->migrate_start_ms = ms_clock_now_ms();
    char why[700], first[300];
    int held = ms_job_outputs_on(app->job, i);
    s_place(app, n ? eps[0] : "", first, sizeof first);
    snprintf(why, sizeof why,
             "decommission executor %d: migrate its %d map output%s to %s%s%s; "
             "%s",
             ex->id, held, held == 1 ? "" : "s",
             n ? first : "the fallback folder",
             n > 1 ? " (else another executor)" : "",
             n && app->decom.fallback[0] ? " (else the fallback folder)" : "",
             ex->stop_reason);
    ms_app_decision(app, "decommission", ex->id, why);
}

/* What an executor's migration did, in words. */
static void s_summary(const ms_exec_t *ex, char *buf, size_t size)
{
    char bytes[32];
    ms_console_bytes(bytes, sizeof bytes, (double)ex->moved_bytes);
    snprintf(buf, size, "%d map output%s (%s) migrated%s%s in %lld ms, %d not",
             ex->moved, ex->moved == 1 ? "" : "s", bytes,
             ex->moved_to[0] ? " to " : "", ex->moved_to,
             (long long)ex->migrate_ms, ex->unmoved);
}

/* Adds where to the places ex->moved_to names, once. */
static void s_note_destination(const ms_app_t *app, ms_exec_t *ex,
                               const char *where)
{
    char name[300];
    s_place(app, where, name, sizeof name);
    /* a whole item of the list: "executor 1" is not in "executor 12" */
    for (const char *p = ex->moved_to; (p = strstr(p, name)); p++)
        if ((p == ex->moved_to || p[-1] == ' ') &&
            (p[strlen(name)] == ',' || !p[strlen(name)]))
            return;
    size_t len = strlen(ex->moved_to);
    snprintf(ex->moved_to + len, sizeof ex->moved_to - len, "%s%s",
             len ? ", " : "", name);
}

/* Whether where is somewhere the driver offered or could have offered:
 * a live executor's server, a worker's shuffle server, the fallback. */
static bool s_known_destination(const ms_app_t *app, const char *where)
{
    for (int k = 0; k < app->nexecs; k++)
        if (app->execs[k].alive && app->execs[k].endpoint[0] &&
            strcmp(app->execs[k].endpoint, where) == 0)
            return true;
    for (int w = 0; w < app->nworkers; w++)
        if (app->workers[w].shuffle[0] &&
            strcmp(app->workers[w].shuffle, where) == 0)
            return true;
    char fallback[sizeof app->decom.fallback + 16];
    if (!app->decom.fallback[0]) return false;
    ms_shuffle_fallback_location(fallback, sizeof fallback, app->decom.fallback,
                                 app->app_id);
    return strcmp(fallback, where) == 0;
}

/* OUTPUT_MOVED [exec, shuffle, map, endpoint, bytes] */
static void s_on_moved(ms_app_t *app, int i, const ms_msg_t *m)
{
    ms_exec_t *ex = &app->execs[i];
    int64_t shuffle, map, bytes;
    char where[4200];
    if (m->nf != 5 || !ms_mp_int(&m->f[1], 0, INT32_MAX, &shuffle) ||
        !ms_mp_int(&m->f[2], 0, INT32_MAX, &map) ||
        !ms_mp_str(&m->f[3], where, sizeof where) ||
        !ms_mp_int(&m->f[4], 0, INT64_MAX, &bytes) || !ex->migrating ||
        !app->job || !s_known_destination(app, where))
        return;
    if (!ms_job_output_moved(app->job, i, (int)shuffle, (int)map, where))
        return;
    ex->moved++;
    ex->moved_bytes += bytes;
    ex->pass_moved++;
    ex->moved_epoch = ms_job_epoch(app->job);
    for (int w = 0; w < app->nworkers; w++)
        app->host_servers_used |= !strcmp(app->workers[w].shuffle, where);
    s_note_destination(app, ex, where);
    ms_hooks_output_moved(app, i, ex->moved);
}

/* DECOMMISSIONED [exec]: the figures are the driver's own (only moves it
 * registered count). */
static void s_on_pass_done(ms_app_t *app, int i, const ms_msg_t *m)
{
    ms_exec_t *ex = &app->execs[i];
    if (m->nf != 1 || !ex->migrating) return;
    ex->migrating = false;
    ex->passes++;
    ex->migrate_ms = ms_clock_now_ms() - ex->migrate_start_ms;
    ex->unmoved = app->job ? ms_job_outputs_on(app->job, i) : 0;
    char why[700], summary[400];
    s_summary(ex, summary, sizeof summary);
    snprintf(why, sizeof why, "executor %d decommissioned: %s", ex->id,
             summary);
    ms_app_decision(app, "migrated", ex->id, why);
}

/* DECOMMISSIONING [exec]: it was asked to go (SIGPWR), as Spark's
 * executor-initiated decommissioning; ignored, saying so, when off. */
static void s_on_asked_to_go(ms_app_t *app, int i)
{
    ms_exec_t *ex = &app->execs[i];
    char why[200];
    if (!app->decom.enabled) {
        fprintf(stderr,
                "minispark: executor %d asks to be decommissioned (SIGPWR); "
                "ignored: spark.decommission.enabled is false\n",
                ex->id);
        return;
    }
    if (ex->decommissioning || ex->stopping) return;
    snprintf(why, sizeof why,
             "decommission executor %d: it was asked to go (SIGPWR); it "
             "gets no new task",
             ex->id);
    ms_app_decision(app, "decommission", ex->id, why);
    ms_app_decommission_exec(app, i, "asked to go (SIGPWR)");
}

void ms_app_on_migration_msg(ms_app_t *app, int i, const ms_msg_t *m)
{
    int64_t id;
    if (m->nf < 1 || !ms_mp_int(&m->f[0], 0, INT32_MAX, &id) ||
        id != app->execs[i].id)
        return;
    if (m->type == MS_MSG_OUTPUT_MOVED)
        s_on_moved(app, i, m);
    else if (m->type == MS_MSG_DECOMMISSIONED)
        s_on_pass_done(app, i, m);
    else if (m->nf == 1)
        s_on_asked_to_go(app, i);
}

/* ---- moving executors on ------------------------------------------------ */

static void s_stop(ms_app_t *app, int i)
{
    ms_exec_t *ex = &app->execs[i];
    char reason[sizeof ex->stop_reason], summary[400];
    if (ex->passes) {
        s_summary(ex, summary, sizeof summary);
        snprintf(reason, sizeof reason, "%s; decommissioned: %s",
                 ex->stop_reason, summary);
    } else {
        snprintf(reason, sizeof reason, "%s", ex->stop_reason);
    }
    ms_app_stop_exec(app, i, reason);
}

/* spark.executor.decommission.forceKillTimeout: an executor still
 * decommissioning after it is killed, and lost as if it had crashed. */
static bool s_overdue(ms_app_t *app, int i, int64_t now)
{
    ms_exec_t *ex = &app->execs[i];
    if (app->decom.force_kill_ms == MS_CONF_INFINITE ||
        now - ex->decom_start_ms < app->decom.force_kill_ms)
        return false;
    ex->stopping = ex->lost = true;
    snprintf(ex->stop_reason, sizeof ex->stop_reason,
             "still decommissioning after "
             "spark.executor.decommission.forceKillTimeout (%lld ms)",
             (long long)app->decom.force_kill_ms);
    ms_app_signal_exec(app, i, SIGKILL);
    return true;
}

static void s_advance(ms_app_t *app, int i, int64_t now)
{
    ms_exec_t *ex = &app->execs[i];
    if (s_overdue(app, i, now) || ex->running > 0 || ex->migrating) return;
    bool holds = ms_app_holds_outputs(app, i);
    if (!holds || !app->decom.enabled || !app->decom.migrate) {
        /* Reducers launched before its last move may read it still. */
        if (!app->job || !ex->passes ||
            !ms_job_reads_before(app->job, ex->moved_epoch))
            s_stop(app, i);
        return;
    }
    /* A pass that moved nothing will not do better next time: what is
     * left goes with it, and runs again. */
    if (ex->passes && ex->pass_moved == 0) {
        s_stop(app, i);
        return;
    }
    /* Nowhere to go yet: it keeps serving until a peer registers or the
     * job no longer needs its outputs. */
    if (!ms_app_can_migrate(app, i)) return;
    ex->pass_moved = 0;
    s_send_decommission(app, i);
}

void ms_app_decommissions(ms_app_t *app)
{
    int64_t now = ms_clock_now_ms();
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (ex->decommissioning && ex->alive && !ex->stopping)
            s_advance(app, i, now);
    }
}

void ms_app_remove_fallback(ms_app_t *app, int shuffle)
{
    char dir[sizeof app->decom.fallback + MS_APP_ID_MAX + 2];
    int removed;
    if (!app->decom.fallback[0] || !app->decom.cleanup) return;
    snprintf(dir, sizeof dir, "%s/%s", app->decom.fallback, app->app_id);
    if (shuffle >= 0)
        ms_shuffle_remove_shuffle(dir, app->app_id, shuffle, &removed);
    else
        ms_shuffle_remove_dir(dir, app->app_id, false);
}
