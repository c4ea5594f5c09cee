/* Application lifecycle and the driver's event loop. */
#include "driver/app.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/addr.h"
#include "common/auth.h"
#include "common/conf_keys.h"
#include "common/launcher.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/sock.h"
#include "common/wake.h"
#include "shuffle/client.h"
#include "shuffle/files.h"

#define MS_APP_TICK_MS 100 /* Spark's allocation manager interval */

static volatile sig_atomic_t s_interrupted;

/* The wake-up pipe: an exited child is noticed at once, not a poll
 * timeout later. */
static void s_on_signal(int sig)
{
    if (sig != SIGCHLD) s_interrupted = 1;
    ms_wake_notify();
}

void ms_app_install_signals(void)
{
    ms_wake_fd();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: wake the poll */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
}

bool ms_app_interrupted(void)
{
    return s_interrupted;
}

#define S_MAX_POLLED_WORKERS 62

/* Polls the router, the wake-up pipe and the workers; drains the pipe. */
static int s_poll(ms_app_t *app, int64_t timeout_ms)
{
    zmq_pollitem_t items[2 + S_MAX_POLLED_WORKERS] = {
        {app->router, 0, ZMQ_POLLIN, 0}, {NULL, ms_wake_fd(), ZMQ_POLLIN, 0}};
    int n = 2;
    for (int i = 0; i < app->nworkers && i < S_MAX_POLLED_WORKERS; i++)
        items[n++] = (zmq_pollitem_t){app->workers[i].sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(items, n, (long)timeout_ms);
    if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) ms_wake_drain();
    return rc < 0 ? rc : (items[0].revents & ZMQ_POLLIN) != 0;
}

/* ---- settings ---------------------------------------------------------------
 */

static int s_master(ms_app_t *app, ms_error_t *err)
{
    const char *m = ms_conf_get(app->conf, "spark.master");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (m && strncmp(m, "workers://", 10) == 0)
        return ms_app_connect_workers(app, m, err);
    if (!m || strcmp(m, "local[*]") == 0) {
        app->max_local = cpus > 0 ? (int)cpus : 1;
        return 0;
    }
    if (strcmp(m, "local") == 0) {
        app->max_local = 1;
        return 0;
    }
    char *end;
    long n = strncmp(m, "local[", 6) == 0 ? strtol(m + 6, &end, 10) : 0;
    if (n < 1 || n > 4096 || strcmp(end, "]") != 0)
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid value '%s' for spark.master: expected "
                            "local, local[N], local[*] or "
                            "workers://HOST:PORT[,HOST:PORT...]",
                            m);
    app->max_local = (int)n;
    return 0;
}

static int s_read_settings(ms_app_t *app, ms_error_t *err)
{
    const ms_conf_t *c = app->conf;
    int64_t cores, failures, port, launch_failures, stage_attempts;
    int rc = ms_conf_key_int(c, "spark.executor.cores", &cores, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.task.maxFailures", &failures, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.stage.maxConsecutiveAttempts",
                             &stage_attempts, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.executor.heartbeatInterval",
                             &app->heartbeat_ms, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.network.timeout",
                             &app->network_timeout_ms, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.worker.timeout", &app->worker_timeout_ms,
                             err);
    int64_t weight = 1;
    if (rc == 0) rc = ms_conf_key_int(c, "minispark.app.weight", &weight, err);
    app->weight = (int)weight;
    app->last_share = -1;
    if (rc == 0)
        rc = ms_conf_key_int(c, "minispark.executor.registrationTimeout",
                             &app->register_timeout_ms, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "minispark.test.taskDelay", &app->task_delay_ms,
                             err);
    if (rc == 0)
        rc = ms_conf_key_int_or(c, "minispark.test.reduceTaskDelay",
                                app->task_delay_ms, &app->reduce_delay_ms, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.files.maxPartitionBytes",
                             &app->max_partition_bytes, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.files.openCostInBytes",
                             &app->open_cost_bytes, err);
    if (rc == 0)
        rc = ms_conf_key_bool(c, "spark.shuffle.service.enabled", &app->service,
                              err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.shuffle.service.port", &port, err);
    if (rc == 0)
        rc = ms_conf_key_int(c, "spark.executor.maxNumFailures",
                             &launch_failures, err);
    if (rc < 0) return rc;
    if (app->max_partition_bytes < 1)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.files.maxPartitionBytes must be positive");
    /* Workers take the interval as a 32-bit count of ms. */
    if (app->heartbeat_ms < 1 || app->heartbeat_ms >= MS_CONF_TIMEOUT_LIMIT_MS)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.executor.heartbeatInterval must be "
                            "positive and under 2^31 ms (24.8 days)");
    /* As in Spark: a timeout within one interval would call every executor
     * lost between two beats. */
    if (app->network_timeout_ms <= app->heartbeat_ms)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.network.timeout (%lld ms) must be greater "
                            "than spark.executor.heartbeatInterval (%lld ms)",
                            (long long)app->network_timeout_ms,
                            (long long)app->heartbeat_ms);
    app->cores_per_exec = (int)cores;
    app->max_failures = (int)failures;
    app->max_stage_attempts = (int)stage_attempts;
    app->max_launch_failures = (int)launch_failures;
    snprintf(app->service_ep, sizeof app->service_ep, "tcp://127.0.0.1:%d",
             (int)port);
    const char *dir;
    rc = ms_app_decom_settings(app, err);
    if (rc == 0) rc = ms_conf_local_dir(c, &dir, err);
    snprintf(app->local_dir, sizeof app->local_dir, "%s", rc == 0 ? dir : "");
    return rc;
}

/* Static allocation: spark.executor.instances, capped by the master. */
static int s_static_target(ms_app_t *app, ms_error_t *err)
{
    int64_t instances;
    int rc =
        ms_conf_key_int(app->conf, "spark.executor.instances", &instances, err);
    if (rc < 0) return rc;
    /* 0 is a valid bound of dynamic allocation, not a static size. */
    if (instances < 1)
        return ms_error_set(
            err, MS_ERR_USAGE,
            "invalid value '%lld' for spark.executor.instances: "
            "expected at least 1 without dynamic allocation",
            (long long)instances);
    if (instances > app->max_local) {
        if (!app->quiet)
            fprintf(stderr,
                    "minispark: warning: spark.executor.instances=%lld capped "
                    "to %d, the master's capacity\n",
                    (long long)instances, app->max_local);
        instances = app->max_local;
    }
    app->static_target = (int)instances;
    return 0;
}

static int64_t s_clock(void *arg)
{
    (void)arg;
    return ms_clock_now_ms();
}

static int s_settings(ms_app_t *app, ms_error_t *err)
{
    bool dynamic;
    int rc = s_read_settings(app, err);
    if (rc == 0) rc = s_master(app, err);
    if (rc == 0)
        rc = ms_conf_key_bool(app->conf, "spark.dynamicAllocation.enabled",
                              &dynamic, err);
    if (rc < 0) return rc;
    if (!dynamic)
        rc = s_static_target(app, err);
    else
        rc = ms_alloc_manager_new(
            &app->alloc, app->conf, app->max_local, app->service,
            app->decom.enabled && app->decom.migrate, s_clock, NULL, err);
    if (rc < 0) return rc;
    const char *warning =
        app->alloc ? ms_alloc_conf(ms_alloc_manager_policy(app->alloc))->warning
                   : "";
    if (warning[0] && !app->quiet)
        fprintf(stderr, "minispark: warning: %s\n", warning);
    int most =
        app->alloc
            ? ms_alloc_conf(ms_alloc_manager_policy(app->alloc))->max_executors
            : app->static_target;
    /* Spark's default for spark.executor.maxNumFailures. */
    if (!app->max_launch_failures)
        app->max_launch_failures = 2 * most > 3 ? 2 * most : 3;
    return 0;
}

int ms_app_target(const ms_app_t *app)
{
    return app->alloc ? ms_alloc_manager_target(app->alloc)
                      : app->static_target;
}

int ms_app_max_slots(const ms_app_t *app)
{
    int most =
        app->alloc
            ? ms_alloc_conf(ms_alloc_manager_policy(app->alloc))->max_executors
            : app->static_target;
    return most * app->cores_per_exec;
}

/* ---- shuffle service -------------------------------------------------------
 */

static int s_start_service(ms_app_t *app, ms_error_t *err)
{
    if (ms_shuffle_ping(app->zctx, app->service_ep, app->app_id, 500,
                        app->service_dir, sizeof app->service_dir) == 0)
        return 0;
    char dir[4200], log[4300], parent[24];
    snprintf(dir, sizeof dir, "%s/minispark-shuffle-%s", app->local_dir,
             strrchr(app->service_ep, ':') + 1);
    /* It dies with us, and keeps none of our stdio: a pipe reading our
     * stderr must end when we do. What it says goes to the log. */
    snprintf(log, sizeof log, "%s.log", dir);
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    char *argv[] = {"shuffle-server", "--bind", app->service_ep, "--dir", dir,
                    "--parent-pid",   parent,   "--log",         log,     NULL};
    app->service_pid = ms_launch_self(argv, true, err);
    if (app->service_pid < 0) {
        app->service_pid = 0;
        return err->code;
    }
    for (int i = 0; i < 50; i++) {
        if (ms_shuffle_ping(app->zctx, app->service_ep, app->app_id, 100,
                            app->service_dir, sizeof app->service_dir) == 0)
            return 0;
        int status;
        if (ms_reap(app->service_pid, false, &status) == 1) {
            app->service_pid = 0;
            break;
        }
    }
    return ms_error_set(err, MS_ERR_FAILED,
                        "no shuffle service answers on %s and starting one "
                        "failed (is the port taken? see %s)",
                        app->service_ep, log);
}

/* A shuffle server we started that died is started again on the same port
 * and directory, so the outputs still on disk are served as before; this
 * many restarts at most. */
#define S_SERVICE_RESTARTS 4

static int s_restart_service(ms_app_t *app, const char *why, ms_error_t *err)
{
    if (++app->service_restarts > S_SERVICE_RESTARTS)
        return ms_error_set(err, MS_ERR_FAILED,
                            "the shuffle server keeps dying (%d restarts); "
                            "last: %s",
                            S_SERVICE_RESTARTS, why);
    fprintf(stderr,
            "minispark: shuffle server (pid %d) %s; starting it again\n",
            (int)app->service_pid, why);
    app->service_pid = 0;
    return s_start_service(app, err);
}

/* Restarts our shuffle server if it has exited. */
static int s_check_service(ms_app_t *app, ms_error_t *err)
{
    int status;
    if (app->service_pid <= 0 || ms_reap(app->service_pid, false, &status) != 1)
        return 0;
    char why[160], text[200];
    ms_describe_exit(status, why, sizeof why);
    snprintf(text, sizeof text, "exited: %s", why);
    return s_restart_service(app, text, err);
}

int ms_app_revive_service(ms_app_t *app, ms_error_t *err)
{
    char dir[sizeof app->service_dir];
    if (ms_shuffle_ping(app->zctx, app->service_ep, app->app_id, 1000, dir,
                        sizeof dir) == 0)
        return 0;
    if (app->service_pid <= 0)
        return ms_error_set(err, MS_ERR_FETCH,
                            "the shuffle service at %s does not answer",
                            app->service_ep);
    /* Ours, alive but silent: stop it (by PID) and start a fresh one. */
    ms_stop_child(app->service_pid, 1000);
    return s_restart_service(app, "does not answer", err);
}

/* ---- messages from executors ----------------------------------------------
 */

/* Refusals from peers that are not registered executors: one line per
 * interval at most (a forger may retry in a loop), with the count of
 * those not shown. */
#define S_REFUSAL_LOG_MS 10000

static void s_refuse(ms_app_t *app, const char *what, int exec, const char *why)
{
    int64_t now = ms_clock_now_ms();
    /* A forged registration is not drowned by a flood of other messages. */
    int kind = strcmp(what, "a registration") == 0 ? 0 : 1;
    if (now < app->refused[kind].next_ms) {
        app->refused[kind].quiet++;
        return;
    }
    char as[32] = "", more[64] = "";
    if (exec > 0) snprintf(as, sizeof as, " as executor %d", exec);
    if (app->refused[kind].quiet)
        snprintf(more, sizeof more, " [%d more since the last report]",
                 app->refused[kind].quiet);
    fprintf(stderr,
            "minispark: refused %s%s from a peer that is not a registered "
            "executor: %s%s\n",
            what, as, why, more);
    app->refused[kind].quiet = 0;
    app->refused[kind].next_ms = now + S_REFUSAL_LOG_MS;
}

/* The executor bound to routing id peer, or NULL. */
static ms_exec_t *s_find(ms_app_t *app, const void *peer, size_t len,
                         int *index)
{
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (ex->ident[0] && strlen(ex->ident) == len &&
            memcmp(ex->ident, peer, len) == 0) {
            *index = i;
            return ex;
        }
    }
    return NULL;
}

/* Why a REGISTER [exec, pid, host, cores, endpoint, token] must be
 * refused, or NULL. The token is checked before anything that depends on
 * the executor's state, so that a forger learns nothing but "no". */
static const char *s_register_refusal(ms_app_t *app, const ms_msg_t *m,
                                      const void *peer, size_t peer_len,
                                      int *index)
{
    int64_t id, pid, cores;
    const char *p;
    uint32_t len;
    if (m->nf != 6 || !ms_mp_int(&m->f[0], 1, INT32_MAX, &id) ||
        !ms_mp_int(&m->f[1], 1, INT32_MAX, &pid) ||
        !ms_mp_int(&m->f[3], 1, 1024, &cores) ||
        !ms_mp_bytes(&m->f[4], &p, &len) || len == 0 ||
        len >= sizeof app->execs[0].endpoint || memchr(p, '\0', len))
        return "malformed registration";
    ms_exec_t *ex = ms_app_exec_by_id(app, (int)id, index);
    if (!ex) return "no such launch";
    if (!ms_mp_bytes(&m->f[5], &p, &len) ||
        !ms_auth_token_eq(ex->token, p, len))
        return ex->registered ? "already registered" : "wrong token";
    /* A local child is known by PID too; a worker's executor may register
     * before the worker's report of its PID arrives. */
    if (ex->worker < 0 && pid != ex->pid) return "wrong PID";
    /* Its routing id names it from now on: printable, so that it is also
     * a C string. */
    if (peer_len == 0 || peer_len >= sizeof ex->ident ||
        memchr(peer, '\0', peer_len))
        return "unusable routing id";
    return NULL;
}

static void s_on_register(ms_app_t *app, const void *peer, size_t peer_len,
                          const ms_msg_t *m)
{
    int i, exec = 0;
    int64_t id;
    if (m->nf >= 1 && ms_mp_int(&m->f[0], 1, INT32_MAX, &id)) exec = (int)id;
    const char *why = s_register_refusal(app, m, peer, peer_len, &i);
    if (why) {
        s_refuse(app, "a registration", exec, why);
        return;
    }
    ms_exec_t *ex = &app->execs[i];
    /* One-time: the token is spent, the routing id is bound. */
    sodium_memzero(ex->token, sizeof ex->token);
    memcpy(ex->ident, peer, peer_len);
    ex->ident[peer_len] = '\0';
    if (!ex->alive) {
        /* Written off before it registered: it must not work for us. */
        ms_app_send_simple(app, ex, MS_MSG_STOP);
        return;
    }
    int64_t pid, cores;
    const char *ep;
    uint32_t len;
    char endpoint[256];
    ms_mp_int(&m->f[1], 1, INT32_MAX, &pid);
    ms_mp_int(&m->f[3], 1, 1024, &cores);
    ms_mp_bytes(&m->f[4], &ep, &len);
    snprintf(endpoint, sizeof endpoint, "%.*s", (int)len, ep);
    ex->pid = (pid_t)pid;
    ex->last_seen_ms = ms_clock_now_ms();
    ms_app_on_register(app, i, endpoint, (int)cores);
}

static void s_on_task_end(ms_app_t *app, int i, const ms_msg_t *m,
                          const void *rows, size_t rows_len)
{
    ms_exec_t *ex = &app->execs[i];
    ms_task_end_t e;
    if (ms_task_end_unpack(m, &e, NULL) < 0 || ex->running <= 0) return;
    ex->running--;
    if (e.status == MS_TASK_OK)
        ex->completed++;
    else
        ex->failed++;
    if (app->job) app->job_task_end(app->job, i, &e, rows, rows_len);
}

void ms_app_on_executor_msg(ms_app_t *app, const void *peer, size_t peer_len,
                            const void *body, size_t len, const void *rows,
                            size_t rows_len)
{
    int i;
    ms_msg_t m;
    if (ms_msg_parse(&m, body, len, NULL) < 0) {
        if (!s_find(app, peer, peer_len, &i))
            s_refuse(app, "a malformed message", 0, "not our protocol");
        return;
    }
    ms_exec_t *ex = s_find(app, peer, peer_len, &i);
    if (!ex && m.type == MS_MSG_REGISTER) {
        s_on_register(app, peer, peer_len, &m);
    } else if (!ex) {
        char what[48];
        snprintf(what, sizeof what, "a message of type %d", m.type);
        s_refuse(app, what, 0, "it must register first, with its token");
    } else if (!ex->alive) {
        /* Written off (its worker was lost): it must not work for us. */
        ms_app_send_simple(app, ex, MS_MSG_STOP);
    } else {
        ex->last_seen_ms = ms_clock_now_ms();
        if (m.type == MS_MSG_HEARTBEAT)
            ms_app_send_simple(app, ex, MS_MSG_HEARTBEAT_ACK);
        else if (m.type == MS_MSG_TASK_END)
            s_on_task_end(app, i, &m, rows, rows_len);
        else if (m.type == MS_MSG_OUTPUT_MOVED ||
                 m.type == MS_MSG_DECOMMISSIONED ||
                 m.type == MS_MSG_DECOMMISSIONING)
            ms_app_on_migration_msg(app, i, &m);
    }
    ms_msg_free(&m);
}

/* Result rows come cut into frames below ms_proto_max_frame() (the ROUTER
 * refuses larger ones): one frame is used where it lies, more
 * are joined. Only a registered executor's are kept; anyone else's frames
 * are dropped one by one as they come, so that a stranger never makes the
 * driver hold more than one frame. */
typedef struct {
    zmq_msg_t first;
    char *joined; /* from the second frame on */
    size_t len;
    int frames;
} s_rows_t;

static int s_rows_add(s_rows_t *r, zmq_msg_t *f)
{
    if (r->frames == 0) {
        zmq_msg_init(&r->first);
        zmq_msg_move(&r->first, f);
        r->frames = 1;
        return 0;
    }
    size_t have = r->frames == 1 ? zmq_msg_size(&r->first) : r->len;
    size_t add = zmq_msg_size(f);
    char *grown = realloc(r->joined, have + add + 1);
    if (!grown) return MS_ERR_NOMEM;
    if (r->frames == 1) memcpy(grown, zmq_msg_data(&r->first), have);
    memcpy(grown + have, zmq_msg_data(f), add);
    r->joined = grown;
    r->len = have + add;
    r->frames++;
    return 0;
}

static const void *s_rows_data(s_rows_t *r, size_t *len)
{
    *len = r->frames == 1 ? zmq_msg_size(&r->first) : r->len;
    return r->frames == 0   ? NULL
           : r->frames == 1 ? zmq_msg_data(&r->first)
                            : r->joined;
}

static void s_rows_free(s_rows_t *r)
{
    if (r->frames > 0) zmq_msg_close(&r->first);
    free(r->joined);
}

/* The first frame of a message may not be there (-1); the others are. */
static int s_recv_frame(void *sock, zmq_msg_t *f, bool first)
{
    zmq_msg_init(f);
    while (zmq_msg_recv(f, sock, first ? ZMQ_DONTWAIT : 0) < 0) {
        if (errno == EINTR && !first) continue;
        zmq_msg_close(f);
        return -1;
    }
    return 0;
}

/* Reads one message [routing id, body, rows...] from the ROUTER and
 * handles it; -1 when none was waiting. */
static int s_recv_executor_msg(ms_app_t *app)
{
    zmq_msg_t peer, body, f;
    s_rows_t rows = {0};
    int i;
    if (s_recv_frame(app->router, &peer, true) < 0) return -1;
    if (!zmq_msg_more(&peer) || s_recv_frame(app->router, &body, false) < 0) {
        zmq_msg_close(&peer);
        return 0;
    }
    bool keep = s_find(app, zmq_msg_data(&peer), zmq_msg_size(&peer), &i);
    bool whole = true, more = zmq_msg_more(&body);
    while (more) {
        if (s_recv_frame(app->router, &f, false) < 0) {
            whole = false; /* the context is going away */
            break;
        }
        more = zmq_msg_more(&f);
        if (keep && whole && s_rows_add(&rows, &f) < 0) whole = false;
        zmq_msg_close(&f);
    }
    size_t len;
    const void *data = s_rows_data(&rows, &len);
    /* Rows cut short would be a wrong answer: a report whose rows could
     * not all be kept is dropped (out of memory, the task never ends). */
    if (whole)
        ms_app_on_executor_msg(app, zmq_msg_data(&peer), zmq_msg_size(&peer),
                               zmq_msg_data(&body), zmq_msg_size(&body), data,
                               len);
    else
        fprintf(stderr, "minispark: a task report's result rows could not "
                        "all be received; the report is dropped\n");
    s_rows_free(&rows);
    zmq_msg_close(&body);
    zmq_msg_close(&peer);
    return 0;
}

/* ---- the loop
 * ---------------------------------------------------------------- */

/* Every 100 ms as Spark's manager, and at once when a timer falls due. A
 * deadline that had passed at the last tick was dealt with then (it may
 * stay in the past, e.g. a backlog timer at maxExecutors): waking for it
 * again would spin. */
static int64_t s_next_wake(const ms_app_t *app)
{
    int64_t due = ms_alloc_manager_next_deadline(app->alloc);
    if (due <= app->last_tick_ms) return app->next_tick_ms;
    return due < app->next_tick_ms ? due : app->next_tick_ms;
}

/* The allocation manager's gauges, for /metrics. */
static void s_publish_gauges(ms_app_t *app)
{
    ms_ui_gauges_t g = {.all_executors = ms_app_active_execs(app),
                        .target = ms_app_target(app)};
    for (int i = 0; i < app->nexecs; i++)
        g.pending_remove += app->execs[i].alive && app->execs[i].stopping &&
                            app->execs[i].registered;
    if (app->alloc) {
        const ms_alloc_t *p = ms_alloc_manager_policy(app->alloc);
        g.to_add = ms_alloc_step(p);
        g.max_needed = ms_alloc_max_needed(p);
    }
    for (int i = 0; i < app->nworkers; i++) {
        const ms_worker_t *w = &app->workers[i];
        if (!w->answered || w->lost) continue;
        g.fair_share += w->share;
        g.held_cores += w->held;
    }
    ms_ui_state_set_gauges(app->ui, &g);
}

/* The driver's DEALERs to workers and shuffle servers: a peer that is
 * down must not block the event loop. */
void *ms_app_dealer(ms_app_t *app, const char *endpoint, bool named)
{
    ms_sock_opts_t o = {.max_frame = MS_PROTO_MAX_FRAME,
                        .sndhwm = 64,
                        .never_block = true,
                        .routing_id = named ? app->app_id : NULL};
    return ms_sock_connect(app->zctx, ZMQ_DEALER, &o, endpoint, NULL);
}

/* Tells the shuffle service, every heartbeat interval, that this
 * application's driver lives: a standalone service deletes the files of an
 * application it has not heard from for a while (a driver killed without
 * its cleanup). One-way: nothing waits for an answer. */
void ms_app_say_alive(ms_app_t *app, void **sock, const char *endpoint,
                      int64_t *next_ms, int64_t now)
{
    if (now < *next_ms) return;
    *next_ms = now + app->heartbeat_ms;
    if (!*sock && !(*sock = ms_app_dealer(app, endpoint, false))) return;
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_APP_ALIVE, 1);
    ms_mp_pack_str(&b.pk, app->app_id);
    ms_msg_send(*sock, NULL, 0, &b, NULL, NULL, 0);
}

static int s_tick(ms_app_t *app, ms_error_t *err)
{
    int64_t now = ms_clock_now_ms();
    if (app->alloc && now >= s_next_wake(app)) {
        ms_alloc_removal_t removals[64];
        int n = ms_alloc_manager_tick(app->alloc, ms_app_active_execs(app),
                                      &app->bus, removals, 64);
        for (int i = 0; i < n; i++) {
            int index;
            char reason[320];
            if (!ms_app_exec_by_id(app, removals[i].exec, &index)) continue;
            snprintf(reason, sizeof reason, "removed by dynamic allocation: %s",
                     removals[i].why);
            ms_app_decommission_exec(app, index, reason);
        }
        app->last_tick_ms = now;
        app->next_tick_ms = now + MS_APP_TICK_MS;
    }
    if (app->service && !app->nworkers)
        ms_app_say_alive(app, &app->service_sock, app->service_ep,
                         &app->next_alive_ms, now);
    int rc = ms_app_tick_workers(app, now, err);
    if (rc == 0) rc = ms_app_reconcile(app, err);
    s_publish_gauges(app);
    return rc;
}

/* The allocation tick comes first: the caller has just launched what it
 * could, so running and pending tasks are counted as they really are. */
int ms_app_pump(ms_app_t *app, int64_t timeout_ms, ms_error_t *err)
{
    if (s_interrupted)
        return ms_error_set(err, MS_ERR_INTERRUPTED, "interrupted");
    int rc = s_tick(app, err);
    if (rc < 0) return rc;
    if (app->alloc) {
        int64_t to_tick = s_next_wake(app) - ms_clock_now_ms();
        if (to_tick < timeout_ms) timeout_ms = to_tick > 0 ? to_tick : 0;
    }
    /* Hellos to workers and APP_ALIVE are due every heartbeat. */
    if ((app->service || app->nworkers) && timeout_ms > app->heartbeat_ms)
        timeout_ms = app->heartbeat_ms;
    rc = s_poll(app, timeout_ms);
    if (rc < 0 && errno != EINTR)
        return ms_error_set(err, MS_ERR_IO, "poll: %s", zmq_strerror(errno));
    while (rc > 0 && s_recv_executor_msg(app) == 0) {
    }
    if ((rc = ms_app_drain_workers(app, err)) < 0) return rc;
    if (app->watcher.after_pump) app->watcher.after_pump(app);
    if (s_interrupted)
        return ms_error_set(err, MS_ERR_INTERRUPTED, "interrupted");
    if ((rc = s_check_service(app, err)) < 0) return rc;
    return ms_app_check_execs(app, err);
}

/* ---- start and stop
 * ----------------------------------------------------------- */

/* Where executors reach the driver. Local executors are children on this
 * machine: loopback. Executors on workers need an address they can reach:
 * spark.driver.host, else loopback when every worker is on loopback, else
 * (as Spark's Utils.findLocalInetAddress) the first non-loopback IPv4
 * address of an interface that is up. */
static bool s_workers_on_loopback(const ms_app_t *app)
{
    bool loopback = true;
    for (int i = 0; i < app->nworkers; i++)
        loopback &= strncmp(app->workers[i].host, "127.", 4) == 0 ||
                    strcmp(app->workers[i].host, "localhost") == 0;
    return loopback;
}

static int s_driver_host(ms_app_t *app, char *host, size_t size,
                         ms_error_t *err)
{
    const char *set = ms_conf_get(app->conf, "spark.driver.host");
    if (!app->nworkers || (!set && s_workers_on_loopback(app))) {
        snprintf(host, size, "127.0.0.1");
        return 0;
    }
    if (set) {
        snprintf(host, size, "%s", set);
        return 0;
    }
    struct ifaddrs *ifs, *i;
    if (getifaddrs(&ifs) < 0)
        return ms_error_set(err, MS_ERR_IO, "getifaddrs: %s", strerror(errno));
    host[0] = '\0';
    for (i = ifs; i && !host[0]; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK))
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
                      host, (socklen_t)size);
    freeifaddrs(ifs);
    if (!host[0])
        return ms_error_set(err, MS_ERR_USAGE,
                            "no address for executors to reach the driver: "
                            "set spark.driver.host");
    if (!app->quiet)
        fprintf(stderr,
                "minispark: spark.driver.host not set; executors reach the "
                "driver at %s\n",
                host);
    return 0;
}

static int s_bind(ms_app_t *app, ms_error_t *err)
{
    int64_t port;
    char host[256], bind[300];
    int rc = ms_conf_key_int(app->conf, "spark.driver.port", &port, err);
    if (rc == 0) rc = s_driver_host(app, host, sizeof host, err);
    if (rc < 0) return rc;
    const char *name = ms_conf_get(app->conf, "spark.driver.bindAddress");
    char addr[64];
    if ((rc = ms_addr_ipv4(name && app->nworkers ? name : host, addr,
                           sizeof addr, err)) < 0)
        return rc;
    if (port)
        snprintf(bind, sizeof bind, "tcp://%s:%d", addr, (int)port);
    else
        snprintf(bind, sizeof bind, "tcp://%s:*", addr);
    /* Anyone who reaches the port can send before registering: a larger
     * frame is refused on its header, before anything is allocated for
     * it. No valid frame is larger (result rows come cut to it). */
    app->router = ms_sock_server(
        app->zctx, ZMQ_ROUTER,
        &(ms_sock_opts_t){.max_frame = (int64_t)ms_proto_max_frame()}, "driver",
        bind, err);
    if (!app->router) return err->code;
    /* The port the system chose, at the address executors use. */
    char last[300];
    size_t len = sizeof last;
    zmq_getsockopt(app->router, ZMQ_LAST_ENDPOINT, last, &len);
    const char *colon = strrchr(last, ':');
    snprintf(app->endpoint, sizeof app->endpoint, "tcp://%s%s", host,
             colon ? colon : ":0");
    return 0;
}

static void s_app_id(ms_app_t *app)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(app->app_id, sizeof app->app_id, "app-%04d%02d%02d%02d%02d%02d-%d",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)getpid());
}

static int s_event_log(ms_app_t *app, ms_error_t *err)
{
    bool enabled;
    int rc =
        ms_conf_key_bool(app->conf, "spark.eventLog.enabled", &enabled, err);
    if (rc < 0 || !enabled) return rc;
    const char *dir = ms_conf_get(app->conf, "spark.eventLog.dir");
    rc = ms_eventlog_open(&app->eventlog, dir ? dir : "events", app->app_id,
                          err);
    if (rc == 0)
        ms_bus_subscribe(&app->bus, ms_eventlog_listener, app->eventlog);
    return rc;
}

static int s_web_ui(ms_app_t *app, ms_error_t *err)
{
    bool enabled;
    int64_t port;
    ms_webui_limits_t limits;
    const char *host = ms_conf_get(app->conf, "spark.ui.host");
    int rc = ms_conf_key_bool(app->conf, "spark.ui.enabled", &enabled, err);
    if (rc == 0) rc = ms_conf_key_int(app->conf, "spark.ui.port", &port, err);
    if (rc == 0)
        rc = ms_conf_key_int(app->conf, "minispark.ui.lingerAfterEnd",
                             &app->ui_linger_ms, err);
    if (rc == 0) rc = ms_webui_limits(app->conf, &limits, err);
    if (rc < 0 || !enabled) return rc;
    rc = ms_webui_start(&app->webui, app->ui, host ? host : "127.0.0.1",
                        (int)port, &limits, err);
    if (rc == 0 && !app->quiet)
        fprintf(stderr, "minispark: web UI at http://%s:%d/\n",
                host ? host : "127.0.0.1", ms_webui_port(app->webui));
    return rc;
}

/* The first decision: where the target starts, and why. */
static void s_initial_target(ms_app_t *app)
{
    char why[256];
    int target = ms_app_target(app);
    if (app->alloc) {
        const ms_alloc_conf_t *c =
            ms_alloc_conf(ms_alloc_manager_policy(app->alloc));
        snprintf(why, sizeof why,
                 "initial target %d: max(minExecutors, initialExecutors, "
                 "spark.executor.instances) within [%d, %d]",
                 target, c->min_executors, c->max_executors);
    } else {
        snprintf(why, sizeof why,
                 "initial target %d: static allocation (spark.executor."
                 "instances)",
                 target);
    }
    ms_event_t ev = {.type = MS_EV_ALLOCATION,
                     .action = "target",
                     .new_target = target,
                     .reason = why};
    ms_bus_post(&app->bus, &ev);
}

int ms_app_linger(ms_app_t *app, ms_error_t *err)
{
    if (!app->webui || app->ui_linger_ms <= 0) return 0;
    int rc = 0;
    for (int64_t end = ms_clock_now_ms() + app->ui_linger_ms;
         rc == 0 && ms_clock_now_ms() < end;)
        rc = ms_app_pump(app, end - ms_clock_now_ms(), err);
    return rc;
}

/* Local mode without spark.authenticate still speaks CURVE, with a secret
 * made for this application alone and handed to its executors the way
 * spark.authenticate's is (in the environment), so that no other local
 * user can connect to the driver or to an executor's shuffle socket. Not
 * with a shuffle service, which may be a standalone one that does not
 * know the secret; not when minispark.local.curve is false. */
static int s_local_curve(ms_app_t *app, ms_error_t *err)
{
    bool on;
    int rc = ms_conf_key_bool(app->conf, "minispark.local.curve", &on, err);
    if (rc < 0 || !on || ms_auth_enabled() || app->nworkers || app->service)
        return rc;
    char secret[MS_AUTH_TOKEN_LEN + 1];
    rc = ms_auth_token_new(secret, err);
    if (rc == 0) rc = ms_auth_set_secret(secret, err);
    if (rc == 0 && setenv(MS_AUTH_ENV, secret, 1) < 0)
        rc = ms_error_set(err, MS_ERR_NOMEM, "cannot set %s", MS_AUTH_ENV);
    sodium_memzero(secret, sizeof secret);
    return rc;
}

int ms_app_start(ms_app_t *app, const ms_conf_t *conf, const char *app_name,
                 bool quiet, const ms_app_watcher_t *watcher, ms_error_t *err)
{
    memset(app, 0, sizeof *app);
    if (watcher) app->watcher = *watcher;
    app->conf = conf;
    app->app_name = app_name;
    app->quiet = quiet;
    app->tty = isatty(STDERR_FILENO);
    app->start_ms = ms_clock_now_ms();
    s_app_id(app);
    int rc = ms_auth_conf(conf, err);
    if (rc < 0) return rc;
    if (!(app->zctx = zmq_ctx_new()))
        return ms_error_set(err, MS_ERR_NOMEM, "zmq context");
    if ((rc = s_settings(app, err)) < 0 || (rc = s_local_curve(app, err)) < 0)
        return rc;
    if (!s_workers_on_loopback(app) && !ms_auth_enabled() && !quiet)
        fprintf(stderr,
                "minispark: warning: spark.authenticate is off: the cluster "
                "is open to anyone who can reach the driver and the "
                "workers\n");
    if (app->alloc)
        ms_bus_subscribe(&app->bus, ms_alloc_manager_listener, app->alloc);
    if (app->watcher.listener)
        ms_bus_subscribe(&app->bus, app->watcher.listener, app);
    if (!(app->ui = ms_ui_state_new()))
        return ms_error_set(err, MS_ERR_NOMEM, "UI state");
    ms_bus_subscribe(&app->bus, ms_ui_state_listener, app->ui);
    if ((rc = s_event_log(app, err)) < 0) return rc;
    ms_event_t start = {
        .type = MS_EV_APP_START, .app_id = app->app_id, .app_name = app_name};
    ms_bus_post(&app->bus, &start);
    s_initial_target(app);
    if ((rc = s_web_ui(app, err)) < 0) return rc;
    snprintf(app->app_dir, sizeof app->app_dir, "%s/minispark-%s",
             app->local_dir, app->app_id);
    if ((rc = s_bind(app, err)) < 0) return rc;
    if (app->service && !app->nworkers && (rc = s_start_service(app, err)) < 0)
        return rc;
    if (!app->service && !app->nworkers && mkdir(app->app_dir, 0755) < 0 &&
        errno != EEXIST)
        return ms_error_set(err, MS_ERR_IO, "cannot create %s: %s",
                            app->app_dir, strerror(errno));
    return ms_app_reconcile(app, err);
}

void ms_app_remove_shuffle(ms_app_t *app, int shuffle)
{
    int removed;
    ms_app_remove_fallback(app, shuffle);
    if (app->host_servers_used && !app->service)
        ms_app_remove_remote(app, shuffle);
    if (app->service && app->nworkers) {
        ms_app_remove_remote(app, shuffle);
    } else if (app->service) {
        ms_shuffle_remove_shuffle_remote(app->zctx, app->service_ep,
                                         app->app_id, shuffle, 2000, &removed);
    } else {
        for (int i = 0; i < app->nexecs; i++) {
            ms_exec_t *ex = &app->execs[i];
            if (!ex->alive || !ex->registered) continue;
            ms_msg_builder_t b;
            ms_msg_begin(&b, MS_MSG_REMOVE_SHUFFLE, 1);
            msgpack_pack_int(&b.pk, shuffle);
            ms_msg_send(app->router, ex->ident, strlen(ex->ident), &b, NULL,
                        NULL, 0);
        }
    }
    ms_event_t ev = {.type = MS_EV_SHUFFLE_REMOVED, .shuffle = shuffle};
    ms_bus_post(&app->bus, &ev);
}

void ms_app_stop(ms_app_t *app, bool ok)
{
    (void)ok;
    ms_app_stop_all_execs(app);
    ms_app_remove_fallback(app, -1);
    if (app->nworkers) {
        /* Executors on workers remove their own files (the worker those
         * of executors that died); the shuffle servers are asked (for
         * outputs migrated there too). */
        if (app->service || app->host_servers_used)
            ms_app_remove_remote(app, -1);
        ms_app_close_workers(app);
    } else if (app->service) {
        int removed = 0;
        if (app->zctx && app->service_dir[0])
            ms_shuffle_remove_app_remote(app->zctx, app->service_ep,
                                         app->app_id, 2000, &removed);
        if (app->service_pid > 0) {
            ms_stop_child(app->service_pid, 3000);
            ms_shuffle_remove_dir(app->service_dir, app->app_id, false);
        }
    } else {
        for (int i = 0; i < app->nexecs; i++)
            ms_shuffle_remove_dir(app->execs[i].dir, app->app_id, false);
        rmdir(app->app_dir);
    }
    if (app->service_sock) zmq_close(app->service_sock);
    if (app->router) zmq_close(app->router);
    if (app->zctx) zmq_ctx_term(app->zctx);
    app->router = app->zctx = app->service_sock = NULL;
    ms_event_t end = {.type = MS_EV_APP_END};
    ms_bus_post(&app->bus, &end);
    ms_webui_stop(&app->webui);
}

void ms_app_free(ms_app_t *app)
{
    ms_eventlog_close(&app->eventlog);
    ms_alloc_manager_destroy(&app->alloc);
    ms_ui_state_destroy(&app->ui);
    free(app->execs);
    free(app->workers);
    app->workers = NULL;
    app->nworkers = 0;
    app->execs = NULL;
    app->nexecs = app->cap = 0;
}
