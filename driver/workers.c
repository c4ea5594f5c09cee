/* The driver's side of a workers:// master: one DEALER per worker agent
 * (its routing id the application id, so the worker knows whose executors
 * are whose across reconnects), hellos every heartbeat interval that the
 * workers answer with their free cores and our fair share, launches on the
 * least loaded worker (or, when all are full, queued where we have the
 * fewest executors), executors given back when a worker reclaims them,
 * and the loss of a worker that stops answering. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/addr.h"
#include "common/auth.h"
#include "common/clock.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/worker_msg.h"
#include "driver/app.h"
#include "driver/job.h"
#include "shuffle/client.h"

#define S_CONNECT_WAIT_MS 10000

/* "HOST:PORT" -> w->host, w->endpoint; false if it is not that. */
static bool s_parse_one(const char *item, size_t len, ms_worker_t *w)
{
    const char *colon = memrchr(item, ':', len);
    size_t hlen = colon ? (size_t)(colon - item) : 0;
    char port[8];
    if (!colon || hlen == 0 || hlen >= sizeof w->host || len - hlen - 1 == 0 ||
        len - hlen - 1 >= sizeof port)
        return false;
    for (size_t i = 0; i < hlen; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789.-_",
                    item[i]))
            return false;
    memcpy(port, colon + 1, len - hlen - 1);
    port[len - hlen - 1] = '\0';
    char *end;
    long p = strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535) return false;
    snprintf(w->host, sizeof w->host, "%.*s", (int)hlen, item);
    snprintf(w->endpoint, sizeof w->endpoint, "tcp://%s:%ld", w->host, p);
    return true;
}

static int s_parse(ms_app_t *app, const char *master, ms_error_t *err)
{
    const char *list = master + strlen("workers://");
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        ms_worker_t w;
        memset(&w, 0, sizeof w);
        if (!s_parse_one(p, len, &w))
            return ms_error_set(err, MS_ERR_USAGE,
                                "invalid value '%s' for spark.master: expected "
                                "workers://HOST:PORT[,HOST:PORT...]",
                                master);
        /* An executor binds its shuffle server on its worker's address:
         * a host name is resolved here, once. */
        int rc = ms_addr_ipv4(w.host, w.host, sizeof w.host, err);
        if (rc < 0) return ms_error_prefix(err, "worker %s", w.endpoint);
        ms_worker_t *ws =
            realloc(app->workers, (size_t)(app->nworkers + 1) * sizeof *ws);
        if (!ws) return ms_error_set(err, MS_ERR_NOMEM, "workers");
        app->workers = ws;
        app->workers[app->nworkers++] = w;
        p += len;
        if (*p == ',') p++;
    }
    if (!app->nworkers)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.master workers:// names no worker");
    return 0;
}

static void s_hello(ms_app_t *app, ms_worker_t *w, int64_t now)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_WORKER_HELLO, 2);
    ms_mp_pack_str(&b.pk, app->app_id);
    msgpack_pack_int(&b.pk, app->weight);
    ms_msg_send(w->sock, NULL, 0, &b, NULL, NULL, 0);
    w->next_hello_ms = now + app->heartbeat_ms;
}

/* Free cores as the worker counted them, less our launches it had not
 * seen yet when it answered (replies come in the order of requests). */
static void s_set_free(ms_app_t *app, ms_worker_t *w, int reported)
{
    w->free_cores = reported - w->inflight * app->cores_per_exec;
    if (w->free_cores < 0) w->free_cores = 0;
}

static int s_on_report(ms_app_t *app, int wi, const ms_msg_t *m,
                       ms_error_t *err)
{
    ms_worker_t *w = &app->workers[wi];
    ms_exec_report_t r;
    int i;
    if (ms_exec_report_unpack(m, &r, NULL) < 0) return 0;
    ms_exec_t *ex = ms_app_exec_by_id(app, r.exec, &i);
    if (!ex || ex->worker != wi || !ex->alive) return 0;
    /* The first answer to a launch: queued, started or failed. */
    if (r.state != MS_EXEC_EXITED && !ex->queued && w->inflight > 0)
        w->inflight--;
    s_set_free(app, w, r.free_cores);
    char why[600];
    if (r.state == MS_EXEC_QUEUED) {
        /* It waits for cores there: no registration deadline meanwhile. */
        ex->queued = true;
        snprintf(why, sizeof why, "executor %d waits on worker %s: %s", ex->id,
                 w->endpoint, r.message);
        ms_app_decision(app, "queued", ex->id, why);
        return 0;
    }
    if (r.state == MS_EXEC_STARTED) {
        ex->pid = (pid_t)r.pid;
        snprintf(ex->dir, sizeof ex->dir, "%s", r.dir);
        if (ex->queued) ex->launched_ms = ms_clock_now_ms();
        ex->queued = false;
        return 0;
    }
    /* A launch that waits for cores is queued, not refused: a failure is
     * a real one (a cancelled launch is already stopping, not counted). */
    char how[320];
    if (r.state == MS_EXEC_FAILED)
        snprintf(how, sizeof how, "not started by worker %s: %s", w->endpoint,
                 r.message);
    else
        snprintf(how, sizeof how, "%s", r.message);
    return ms_app_exec_ended(app, i, how, err);
}

/* Its executors are gone with it (they end with their worker); when the
 * host is gone (host_gone), so are the map outputs its shuffle server
 * holds: Spark unregisters the outputs of a lost worker's host too. */
static int s_lose(ms_app_t *app, int wi, bool host_gone, const char *cause,
                  ms_error_t *err)
{
    ms_worker_t *w = &app->workers[wi];
    w->lost = host_gone;
    w->free_cores = w->inflight = 0;
    fprintf(stderr, "minispark: %s\n", cause);
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive || ex->worker != wi) continue;
        /* One that never registered did not fail to start. */
        ex->lost = ex->registered;
        ex->stopping = true;
        snprintf(ex->stop_reason, sizeof ex->stop_reason, "%s", cause);
        int rc = ms_app_exec_ended(app, i, "its worker is gone", err);
        if (rc < 0) return rc;
    }
    if (host_gone && app->job && app->service && w->shuffle[0])
        ms_job_on_outputs_lost(app->job, w->shuffle, cause);
    return 0;
}

/* Our fair share across the workers, as a decision whenever it changes
 * (so the UI and the event log show it); once a heartbeat interval, when
 * the workers have all answered the last hellos, not at every answer. */
static void s_share_news(ms_app_t *app)
{
    int share = 0, held = 0, cores = 0, n = 0;
    bool fair = false;
    for (int wi = 0; wi < app->nworkers; wi++) {
        const ms_worker_t *w = &app->workers[wi];
        if (!w->answered || w->lost) continue;
        share += w->share;
        held += w->held;
        cores += w->cores;
        fair |= w->fair;
        n++;
    }
    if (share == app->last_share || !fair) return;
    char why[320];
    snprintf(why, sizeof why,
             "fair share %d -> %d of %d cores on %d workers (holding %d, "
             "weight %d)",
             app->last_share < 0 ? 0 : app->last_share, share, cores, n, held,
             app->weight);
    app->last_share = share;
    ms_app_decision(app, "share", 0, why);
}

/* Without a shuffle service an executor's map outputs live and die with
 * it: while a job runs, one that holds outputs, or runs tasks that may
 * write some, is kept whatever the worker asks (Spark's shuffle tracking;
 * giving it back would make the job lose them, and lose them again on
 * every such request), unless decommissioning can migrate them first. The
 * worker asks again within 30 s. */
static bool s_must_keep(const ms_app_t *app, int i)
{
    return !app->service && app->job && !ms_app_can_migrate(app, i) &&
           (app->execs[i].running > 0 || ms_app_holds_outputs(app, i));
}

/* Says so here and to the worker, which tells the applications that wait
 * for those cores. */
static void s_say_kept(ms_app_t *app, int wi, int kept)
{
    ms_exec_release_t r = {.count = kept, .kept = true};
    char why[600];
    snprintf(r.reason, sizeof r.reason,
             "they hold (or are writing) map output its running job needs, "
             "there is no shuffle service%s",
             app->decom.enabled ? " and no place to migrate it to"
                                : " and spark.decommission.enabled is false");
    snprintf(why, sizeof why, "keep %d executor%s worker %s asked back: %s",
             kept, kept == 1 ? "" : "s", app->workers[wi].endpoint, r.reason);
    ms_app_decision(app, "keep", 0, why);
    ms_msg_builder_t b;
    ms_exec_release_pack(&r, &b);
    ms_msg_send(app->workers[wi].sock, NULL, 0, &b, NULL, NULL, 0);
}

/* Whether executor i is a candidate in pass of a release: idle ones that
 * hold no map output first, then idle ones whose outputs can migrate at
 * once, then the ones running tasks. */
static bool s_release_pass(const ms_app_t *app, int i, int pass)
{
    const ms_exec_t *ex = &app->execs[i];
    bool holds = ms_app_holds_outputs(app, i);
    if (pass == 0) return !ex->running && !holds;
    if (pass == 1) return !ex->running && holds;
    return ex->running > 0;
}

/* The worker asks for executors back; each one chosen is decommissioned:
 * no new task, its running tasks finish, its outputs migrate. */
static void s_on_release(ms_app_t *app, int wi, const ms_msg_t *m)
{
    ms_exec_release_t r;
    int kept = 0;
    if (ms_exec_release_unpack(m, &r, NULL) < 0) return;
    for (int pass = 0; pass < 3 && r.count > 0; pass++)
        for (int i = 0; i < app->nexecs && r.count > 0; i++) {
            ms_exec_t *ex = &app->execs[i];
            if (ex->worker != wi || !ex->alive || !ex->registered ||
                ex->stopping || ex->decommissioning ||
                !s_release_pass(app, i, pass))
                continue;
            if (s_must_keep(app, i)) {
                kept++;
                continue;
            }
            char reason[sizeof ex->stop_reason], why[700];
            snprintf(reason, sizeof reason,
                     "reclaimed by worker %s for fair sharing: %s",
                     app->workers[wi].endpoint, r.reason);
            ms_app_decommission_exec(app, i, reason);
            r.count--;
            snprintf(why, sizeof why, "release executor %d%s: %s", ex->id,
                     ex->running ? " when its running tasks end" : "", reason);
            ms_app_decision(app, "reclaim", ex->id, why);
        }
    if (kept && r.count > 0) s_say_kept(app, wi, kept);
}

int ms_app_on_worker_msg(ms_app_t *app, int wi, const void *body, size_t len,
                         ms_error_t *err)
{
    ms_worker_t *w = &app->workers[wi];
    int rc = 0;
    ms_msg_t m;
    ms_worker_state_t st;
    if (ms_msg_parse(&m, body, len, NULL) == 0) {
        w->last_seen_ms = ms_clock_now_ms();
        if (w->lost)
            fprintf(stderr, "minispark: worker %s answers again\n",
                    w->endpoint);
        w->lost = false;
        if (m.type == MS_MSG_WORKER_STATE &&
            ms_worker_state_unpack(&m, &st, NULL) == 0) {
            if (w->incarnation && st.incarnation != w->incarnation) {
                /* Restarted: its executors ended with the old one (but
                 * its host's shuffle server still serves our outputs). */
                char cause[400];
                snprintf(cause, sizeof cause, "worker %s restarted",
                         w->endpoint);
                rc = s_lose(app, wi, false, cause, err);
            }
            w->incarnation = st.incarnation;
            w->answered = true;
            w->cores = st.cores;
            w->held = st.held;
            w->share = st.share;
            w->fair = st.fair;
            snprintf(w->shuffle, sizeof w->shuffle, "%s", st.shuffle);
            s_set_free(app, w, st.free_cores);
        } else if (m.type == MS_MSG_EXEC_STATE) {
            rc = s_on_report(app, wi, &m, err);
        } else if (m.type == MS_MSG_EXEC_RELEASE) {
            s_on_release(app, wi, &m);
        }
        ms_msg_free(&m);
    }
    return rc;
}

/* 1 when there was nothing to read. */
static int s_on_message(ms_app_t *app, int wi, ms_error_t *err)
{
    zmq_msg_t frames[2];
    int n, rc = 0;
    if (ms_frames_recv(app->workers[wi].sock, frames, 2, &n, ZMQ_DONTWAIT) < 0)
        return 1;
    if (n >= 1)
        rc = ms_app_on_worker_msg(app, wi, zmq_msg_data(&frames[0]),
                                  zmq_msg_size(&frames[0]), err);
    ms_frames_close(frames, n);
    return rc;
}

int ms_app_drain_workers(ms_app_t *app, ms_error_t *err)
{
    for (int wi = 0; wi < app->nworkers; wi++) {
        int rc;
        while ((rc = s_on_message(app, wi, err)) == 0) {
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- connecting ------------------------------------------------------- */

/* Whether the application's outputs are (or may be migrated) on worker
 * w's shuffle server: then it must know the application lives. */
static bool s_uses_host_server(const ms_app_t *app, const ms_worker_t *w)
{
    return w->shuffle[0] &&
           (app->service || (app->decom.enabled && app->decom.migrate));
}

static int s_capacity(ms_app_t *app, ms_error_t *err)
{
    int slots = 0;
    for (int wi = 0; wi < app->nworkers; wi++) {
        ms_worker_t *w = &app->workers[wi];
        if (!w->answered) {
            fprintf(stderr,
                    "minispark: warning: worker %s does not answer; going on "
                    "without it until it does\n",
                    w->endpoint);
            continue;
        }
        if (app->service && !w->shuffle[0])
            return ms_error_set(err, MS_ERR_USAGE,
                                "spark.shuffle.service.enabled is true but "
                                "worker %s has no shuffle server (start it "
                                "with --shuffle ENDPOINT)",
                                w->endpoint);
        /* Registers the application there before any fetch (or any
         * output migrated there: a server that does not answer is then
         * only a target less, dropped by the first migration to fail). */
        char dir[4096];
        if (s_uses_host_server(app, w) &&
            ms_shuffle_ping(app->zctx, w->shuffle, app->app_id, 2000, dir,
                            sizeof dir) < 0 &&
            app->service)
            return ms_error_set(err, MS_ERR_FAILED,
                                "worker %s's shuffle server %s does not answer",
                                w->endpoint, w->shuffle);
        slots += w->cores / app->cores_per_exec;
    }
    if (slots == 0)
        return ms_error_set(
            err, MS_ERR_FAILED,
            "no worker can run an executor of %d cores: none of %s answered "
            "with enough cores (is `minispark worker` running there, with "
            "the same spark.authenticate setting and secret?)",
            app->cores_per_exec, app->workers[0].endpoint);
    app->max_local = slots;
    return 0;
}

int ms_app_connect_workers(ms_app_t *app, const char *master, ms_error_t *err)
{
    int rc = s_parse(app, master, err);
    if (rc < 0) return rc;
    int64_t now = ms_clock_now_ms(), wait = app->worker_timeout_ms;
    if (wait > S_CONNECT_WAIT_MS) wait = S_CONNECT_WAIT_MS;
    for (int wi = 0; wi < app->nworkers; wi++) {
        ms_worker_t *w = &app->workers[wi];
        if (!(w->sock = ms_app_dealer(app, w->endpoint, true)))
            return ms_error_set(err, MS_ERR_IO, "cannot connect to worker %s",
                                w->endpoint);
        s_hello(app, w, now);
    }
    for (int64_t end = now + wait; ms_clock_now_ms() < end;) {
        int answered = 0;
        for (int wi = 0; wi < app->nworkers; wi++)
            answered += app->workers[wi].answered;
        if (answered == app->nworkers) break;
        zmq_pollitem_t items[64];
        int n = app->nworkers < 64 ? app->nworkers : 64;
        for (int wi = 0; wi < n; wi++)
            items[wi] =
                (zmq_pollitem_t){app->workers[wi].sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(items, n, 50);
        if ((rc = ms_app_drain_workers(app, err)) < 0) return rc;
    }
    return s_capacity(app, err);
}

/* ---- launching, signalling -------------------------------------------- */

/* Our executors (running or waiting) on worker wi. */
static int s_ours(const ms_app_t *app, int wi)
{
    int n = 0;
    for (int i = 0; i < app->nexecs; i++)
        n += app->execs[i].alive && !app->execs[i].stopping &&
             app->execs[i].worker == wi;
    return n;
}

/* The worker with the most free cores; when none has room, the one where
 * we have the fewest executors, which queues the launch (and, sharing
 * fairly, reclaims cores for it): waiting launches spread over the
 * workers, so that each worker's fair share adds up to ours. */
static int s_place(const ms_app_t *app)
{
    int best = -1, fewest = -1;
    for (int wi = 0; wi < app->nworkers; wi++) {
        const ms_worker_t *w = &app->workers[wi];
        if (w->lost || !w->answered || (app->service && !w->shuffle[0]) ||
            w->cores < app->cores_per_exec)
            continue;
        if (w->free_cores >= app->cores_per_exec &&
            (best < 0 || w->free_cores > app->workers[best].free_cores))
            best = wi;
        if (fewest < 0 || s_ours(app, wi) < s_ours(app, fewest)) fewest = wi;
    }
    return best >= 0 ? best : fewest;
}

int ms_app_launch_remote(ms_app_t *app, ms_exec_t *ex, ms_error_t *err)
{
    int best = s_place(app);
    if (best < 0) return MS_ERR_NOTFOUND;
    ms_worker_t *w = &app->workers[best];
    ms_exec_launch_t l = {.exec = ex->id,
                          .cores = app->cores_per_exec,
                          .heartbeat_ms = app->heartbeat_ms,
                          .service = app->service};
    snprintf(l.app, sizeof l.app, "%s", app->app_id);
    snprintf(l.driver, sizeof l.driver, "%s", app->endpoint);
    snprintf(l.host, sizeof l.host, "%s", w->host);
    snprintf(l.token, sizeof l.token, "%s", ex->token);
    ms_msg_builder_t b;
    ms_exec_launch_pack(&l, &b);
    if (ms_msg_send(w->sock, NULL, 0, &b, NULL, NULL, 0) < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot reach worker %s",
                            w->endpoint);
    w->inflight++;
    w->free_cores -= app->cores_per_exec;
    ex->worker = best;
    snprintf(ex->host, sizeof ex->host, "%s", w->host);
    return 0;
}

static void s_kill(ms_worker_t *w, int exec, int sig)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_EXEC_KILL, 2);
    msgpack_pack_int(&b.pk, exec);
    msgpack_pack_int(&b.pk, sig);
    ms_msg_send(w->sock, NULL, 0, &b, NULL, NULL, 0);
}

void ms_app_signal_exec(ms_app_t *app, int i, int sig)
{
    ms_exec_t *ex = &app->execs[i];
    if (ex->worker < 0)
        kill(ex->pid, sig);
    else
        s_kill(&app->workers[ex->worker], ex->id, sig);
}

/* ---- heartbeats and loss ---------------------------------------------- */

int ms_app_tick_workers(ms_app_t *app, int64_t now, ms_error_t *err)
{
    for (int wi = 0; wi < app->nworkers; wi++) {
        ms_worker_t *w = &app->workers[wi];
        if (now >= w->next_hello_ms) {
            if (wi == 0) s_share_news(app);
            s_hello(app, w, now);
        }
        if (s_uses_host_server(app, w))
            ms_app_say_alive(app, &w->alive_sock, w->shuffle, &w->next_alive_ms,
                             now);
        int64_t silent = now - w->last_seen_ms;
        if (w->answered && !w->lost && silent > app->worker_timeout_ms) {
            char cause[400];
            snprintf(cause, sizeof cause,
                     "worker %s lost: no answer for %lld ms", w->endpoint,
                     (long long)silent);
            int rc = s_lose(app, wi, true, cause, err);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* ---- the end ---------------------------------------------------------- */

void ms_app_remove_remote(ms_app_t *app, int shuffle)
{
    for (int wi = 0; wi < app->nworkers; wi++) {
        const ms_worker_t *w = &app->workers[wi];
        int removed;
        if (!w->shuffle[0] || (w->lost && shuffle >= 0)) continue;
        if (shuffle >= 0)
            ms_shuffle_remove_shuffle_remote(app->zctx, w->shuffle, app->app_id,
                                             shuffle, 2000, &removed);
        else
            ms_shuffle_remove_app_remote(app->zctx, w->shuffle, app->app_id,
                                         w->lost ? 500 : 2000, &removed);
    }
}

void ms_app_close_workers(ms_app_t *app)
{
    int linger = 200;
    for (int wi = 0; wi < app->nworkers; wi++) {
        ms_worker_t *w = &app->workers[wi];
        if (w->sock) {
            /* Anything of ours it still runs (stop missed them). */
            s_kill(w, -1, SIGKILL);
            zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof linger);
            zmq_close(w->sock);
        }
        if (w->alive_sock) zmq_close(w->alive_sock);
        w->sock = w->alive_sock = NULL;
    }
}
