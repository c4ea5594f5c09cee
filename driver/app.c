/* Application lifecycle and the driver's event loop. */
#include "driver/app.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"
#include "driver/job.h"
#include "driver/launcher.h"
#include "shuffle/client.h"
#include "shuffle/files.h"

static volatile sig_atomic_t s_interrupted;

static void s_on_signal(int sig)
{
    if (sig != SIGCHLD) s_interrupted = 1;
}

void ms_app_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: wake the poll */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
}

bool ms_app_interrupted(void)
{
    return s_interrupted != 0;
}

int64_t ms_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- settings --------------------------------------------------------------- */

static int s_master(ms_app_t *app, ms_error_t *err)
{
    const char *m = ms_conf_get(app->conf, "spark.master");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
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
                            "local, local[N] or local[*]",
                            m);
    app->max_local = (int)n;
    return 0;
}

static int s_settings(ms_app_t *app, ms_error_t *err)
{
    const ms_conf_t *c = app->conf;
    int64_t instances, cores, failures, port;
    bool dynamic;
    int rc = s_master(app, err);
    if (rc == 0)
        rc = ms_conf_bool(c, "spark.dynamicAllocation.enabled", false, &dynamic,
                          err);
    if (rc == 0 && dynamic)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "spark.dynamicAllocation.enabled=true is not "
                          "supported by this version: executors are "
                          "allocated statically (spark.executor.instances)");
    if (rc == 0)
        rc = ms_conf_int(c, "spark.executor.instances", 2, 1, 4096, &instances,
                         err);
    if (rc == 0)
        rc = ms_conf_int(c, "spark.executor.cores", 1, 1, 1024, &cores, err);
    if (rc == 0)
        rc = ms_conf_int(c, "spark.task.maxFailures", 4, 1, 1000, &failures,
                         err);
    if (rc == 0)
        rc = ms_conf_duration_ms(c, "spark.executor.heartbeatInterval", 1, 1000,
                                 &app->heartbeat_ms, err);
    if (rc == 0)
        rc = ms_conf_duration_ms(c, "spark.network.timeout", 1000, 120000,
                                 &app->network_timeout_ms, err);
    if (rc == 0)
        rc = ms_conf_duration_ms(c, "minispark.test.taskDelay", 1, 0,
                                 &app->task_delay_ms, err);
    if (rc == 0)
        rc = ms_conf_size(c, "spark.files.maxPartitionBytes", 1, 128 << 20,
                          &app->max_partition_bytes, err);
    if (rc == 0)
        rc = ms_conf_size(c, "spark.files.openCostInBytes", 1, 4 << 20,
                          &app->open_cost_bytes, err);
    if (rc == 0 && app->max_partition_bytes < 1)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "spark.files.maxPartitionBytes must be positive");
    if (rc == 0)
        rc = ms_conf_bool(c, "spark.shuffle.service.enabled", false,
                          &app->service, err);
    if (rc == 0)
        rc = ms_conf_int(c, "spark.shuffle.service.port", 7337, 1, 65535,
                         &port, err);
    if (rc < 0) return rc;
    if (app->heartbeat_ms < 1 || app->heartbeat_ms == MS_CONF_INFINITE)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.executor.heartbeatInterval must be finite "
                            "and positive");
    if (instances > app->max_local) {
        fprintf(stderr,
                "minispark: warning: spark.executor.instances=%lld capped to "
                "%d by master %s\n",
                (long long)instances, app->max_local,
                ms_conf_get(c, "spark.master") ? ms_conf_get(c, "spark.master")
                                               : "local[*]");
        instances = app->max_local;
    }
    app->target = (int)instances;
    app->cores_per_exec = (int)cores;
    app->max_failures = (int)failures;
    app->fetch_timeout_ms = app->network_timeout_ms == MS_CONF_INFINITE
                                ? INT32_MAX
                                : app->network_timeout_ms;
    snprintf(app->service_ep, sizeof app->service_ep, "tcp://127.0.0.1:%d",
             (int)port);
    const char *dir = ms_conf_get(c, "spark.local.dir");
    snprintf(app->local_dir, sizeof app->local_dir, "%s", dir ? dir : "/tmp");
    return 0;
}

/* ---- shuffle service ------------------------------------------------------- */

static int s_start_service(ms_app_t *app, ms_error_t *err)
{
    if (ms_shuffle_ping(app->zctx, app->service_ep, 500, app->service_dir,
                        sizeof app->service_dir) == 0)
        return 0;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/minispark-shuffle-%s", app->local_dir,
             strrchr(app->service_ep, ':') + 1);
    char *argv[] = {"shuffle-server", "--bind", app->service_ep, "--dir", dir,
                    NULL};
    app->service_pid = ms_launch_self(argv, true, err);
    if (app->service_pid < 0) {
        app->service_pid = 0;
        return err->code;
    }
    for (int i = 0; i < 50; i++) {
        if (ms_shuffle_ping(app->zctx, app->service_ep, 100, app->service_dir,
                            sizeof app->service_dir) == 0)
            return 0;
        int status;
        if (ms_reap(app->service_pid, false, &status) == 1) {
            app->service_pid = 0;
            break;
        }
    }
    return ms_error_set(err, MS_ERR_FAILED,
                        "no shuffle service answers on %s and starting one "
                        "failed (is the port taken?)",
                        app->service_ep);
}

/* ---- executors ---------------------------------------------------------------- */

static int s_launch_exec(ms_app_t *app, ms_error_t *err)
{
    if (app->nexecs == app->cap) {
        int cap = app->cap ? app->cap * 2 : 8;
        ms_exec_t *e = realloc(app->execs, (size_t)cap * sizeof *e);
        if (!e) return ms_error_set(err, MS_ERR_NOMEM, "executors");
        app->execs = e;
        app->cap = cap;
    }
    ms_exec_t *ex = &app->execs[app->nexecs];
    memset(ex, 0, sizeof *ex);
    ex->id = app->nexecs + 1;
    snprintf(ex->ident, sizeof ex->ident, "exec-%d", ex->id);
    if (app->service)
        snprintf(ex->dir, sizeof ex->dir, "%s", app->service_dir);
    else
        snprintf(ex->dir, sizeof ex->dir, "%s/executor-%d", app->app_dir,
                 ex->id);
    char id[16], cores[16], hb[32];
    snprintf(id, sizeof id, "%d", ex->id);
    snprintf(cores, sizeof cores, "%d", app->cores_per_exec);
    snprintf(hb, sizeof hb, "%lld", (long long)app->heartbeat_ms);
    char *argv[16] = {"executor", "--driver", app->endpoint, "--app-id",
                      app->app_id, "--executor-id", id, "--dir", ex->dir,
                      "--cores", cores, "--heartbeat-ms", hb, NULL};
    if (app->service) {
        argv[13] = "--shuffle-endpoint";
        argv[14] = app->service_ep;
    }
    ex->pid = ms_launch_self(argv, false, err);
    if (ex->pid < 0) return err->code;
    ex->alive = true;
    ex->launched_ms = ex->last_seen_ms = ms_now_ms();
    app->nexecs++;
    return 0;
}

int ms_app_alive_execs(const ms_app_t *app)
{
    int n = 0;
    for (int i = 0; i < app->nexecs; i++) n += app->execs[i].alive;
    return n;
}

int ms_app_free_exec(const ms_app_t *app, int avoid)
{
    int best = -1;
    for (int i = 0; i < app->nexecs; i++) {
        const ms_exec_t *ex = &app->execs[i];
        if (!ex->alive || !ex->registered || ex->stopping ||
            ex->running >= ex->cores)
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

static void s_reply(ms_app_t *app, ms_exec_t *ex, ms_msg_type_t type)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, type, 0);
    ms_msg_send(app->router, ex->ident, strlen(ex->ident), &b, NULL, NULL, 0);
}

/* ---- messages from executors ---------------------------------------------- */

static ms_exec_t *s_find(ms_app_t *app, zmq_msg_t *id, int *index)
{
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (strlen(ex->ident) == zmq_msg_size(id) &&
            memcmp(ex->ident, zmq_msg_data(id), zmq_msg_size(id)) == 0) {
            *index = i;
            return ex;
        }
    }
    return NULL;
}

static void s_on_register(ms_app_t *app, int i, const ms_msg_t *m)
{
    ms_exec_t *ex = &app->execs[i];
    int64_t id, pid, cores;
    const char *ep;
    uint32_t len;
    if (m->nf != 5 || !ms_mp_int(&m->f[0], ex->id, ex->id, &id) ||
        !ms_mp_int(&m->f[1], ex->pid, ex->pid, &pid) ||
        !ms_mp_int(&m->f[3], 1, 1024, &cores) ||
        !ms_mp_bytes(&m->f[4], &ep, &len) || len == 0 ||
        len >= sizeof ex->endpoint)
        return;
    snprintf(ex->endpoint, sizeof ex->endpoint, "%.*s", (int)len, ep);
    ex->cores = (int)cores;
    ex->registered = true;
    ex->registered_ms = ms_now_ms();
    int alive = ms_app_alive_execs(app);
    if (alive > app->peak_execs) app->peak_execs = alive;
    s_reply(app, ex, MS_MSG_REGISTERED);
}

static void s_on_message(ms_app_t *app, zmq_msg_t *frames, int n)
{
    int i;
    ms_exec_t *ex = n >= 2 ? s_find(app, &frames[0], &i) : NULL;
    ms_msg_t m;
    ms_error_t err = {0};
    if (!ex || ms_msg_parse(&m, zmq_msg_data(&frames[1]),
                            zmq_msg_size(&frames[1]), &err) < 0)
        return;
    ex->last_seen_ms = ms_now_ms();
    if (m.type == MS_MSG_REGISTER) {
        s_on_register(app, i, &m);
    } else if (m.type == MS_MSG_HEARTBEAT) {
        s_reply(app, ex, MS_MSG_HEARTBEAT_ACK);
    } else if (m.type == MS_MSG_TASK_END) {
        ms_task_end_t e;
        if (ms_task_end_unpack(&m, &e, &err) == 0 && ex->running > 0) {
            ex->running--;
            if (e.status == MS_TASK_OK) ex->completed++;
            else ex->failed++;
            if (app->job)
                ms_job_on_task_end(app->job, i, &e,
                                   n >= 3 ? zmq_msg_data(&frames[2]) : NULL,
                                   n >= 3 ? zmq_msg_size(&frames[2]) : 0);
        }
    }
    ms_msg_free(&m);
}

/* ---- children and the loop ------------------------------------------------- */

static int s_check_children(ms_app_t *app, ms_error_t *err)
{
    int status;
    char why[128];
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive || ms_reap(ex->pid, false, &status) != 1) continue;
        ex->alive = false;
        ex->ended_ms = ms_now_ms();
        if (ex->stopping) continue;
        ms_describe_exit(status, why, sizeof why);
        if (app->job) ms_job_on_exec_lost(app->job, i, why);
        return ms_error_set(err, MS_ERR_FAILED, "executor %d %s", ex->id, why);
    }
    int64_t now = ms_now_ms();
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        int64_t limit = ex->registered ? app->network_timeout_ms : 30000;
        if (ex->alive && limit != MS_CONF_INFINITE &&
            now - ex->last_seen_ms > limit)
            return ms_error_set(err, MS_ERR_FAILED,
                                "executor %d %s for %lld ms", ex->id,
                                ex->registered ? "missed its heartbeats"
                                               : "did not register",
                                (long long)(now - ex->last_seen_ms));
    }
    return 0;
}

static void s_draw_progress(ms_app_t *app)
{
    int64_t now = ms_now_ms();
    if (!app->tty || app->quiet || !app->job || now - app->last_draw_ms < 200)
        return;
    char stage[128];
    ms_job_progress(app->job, stage, sizeof stage);
    fprintf(stderr, "\r\033[K%s executors %d (target %d, max %d)", stage,
            ms_app_alive_execs(app), app->target, app->max_local);
    fflush(stderr);
    app->last_draw_ms = now;
}

int ms_app_pump(ms_app_t *app, int64_t timeout_ms, ms_error_t *err)
{
    if (s_interrupted) return ms_error_set(err, MS_ERR_INTERRUPTED, "interrupted");
    zmq_pollitem_t item = {app->router, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, (long)timeout_ms);
    if (rc < 0 && errno != EINTR)
        return ms_error_set(err, MS_ERR_IO, "poll: %s", zmq_strerror(errno));
    while (rc > 0) {
        zmq_msg_t frames[4];
        int n;
        if (ms_frames_recv(app->router, frames, 4, &n, ZMQ_DONTWAIT) < 0) break;
        s_on_message(app, frames, n);
        ms_frames_close(frames, n);
    }
    s_draw_progress(app);
    if (s_interrupted) return ms_error_set(err, MS_ERR_INTERRUPTED, "interrupted");
    return s_check_children(app, err);
}

/* ---- start and stop ----------------------------------------------------------- */

static int s_bind(ms_app_t *app, ms_error_t *err)
{
    int linger = 0;
    size_t len = sizeof app->endpoint;
    app->zctx = zmq_ctx_new();
    app->router = app->zctx ? zmq_socket(app->zctx, ZMQ_ROUTER) : NULL;
    if (!app->router) return ms_error_set(err, MS_ERR_NOMEM, "zmq socket");
    zmq_setsockopt(app->router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(app->router, "tcp://127.0.0.1:*") < 0)
        return ms_error_set(err, MS_ERR_IO, "driver cannot bind: %s",
                            zmq_strerror(errno));
    zmq_getsockopt(app->router, ZMQ_LAST_ENDPOINT, app->endpoint, &len);
    return 0;
}

static void s_app_id(ms_app_t *app)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(app->app_id, sizeof app->app_id,
             "app-%04d%02d%02d%02d%02d%02d-%d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)getpid());
}

int ms_app_start(ms_app_t *app, const ms_conf_t *conf, bool quiet,
                 ms_error_t *err)
{
    memset(app, 0, sizeof *app);
    app->conf = conf;
    app->quiet = quiet;
    app->tty = isatty(STDERR_FILENO);
    app->start_ms = ms_now_ms();
    s_app_id(app);
    int rc = s_settings(app, err);
    if (rc < 0) return rc;
    snprintf(app->app_dir, sizeof app->app_dir, "%s/minispark-%s",
             app->local_dir, app->app_id);
    if ((rc = s_bind(app, err)) < 0) return rc;
    if (app->service && (rc = s_start_service(app, err)) < 0) return rc;
    if (!app->service && mkdir(app->app_dir, 0755) < 0 && errno != EEXIST)
        return ms_error_set(err, MS_ERR_IO, "cannot create %s: %s",
                            app->app_dir, strerror(errno));
    for (int i = 0; i < app->target; i++)
        if ((rc = s_launch_exec(app, err)) < 0) return rc;
    return 0;
}

/* Waits (on the poll, woken by SIGCHLD) for stopping executors to exit. */
static void s_reap_all(ms_app_t *app, int64_t grace_ms)
{
    int64_t deadline = ms_now_ms() + grace_ms;
    for (;;) {
        int left = 0, status;
        for (int i = 0; i < app->nexecs; i++) {
            ms_exec_t *ex = &app->execs[i];
            if (ex->alive && ms_reap(ex->pid, false, &status) == 1) {
                ex->alive = false;
                ex->ended_ms = ms_now_ms();
            }
            left += ex->alive;
        }
        if (!left || ms_now_ms() >= deadline) break;
        zmq_poll(NULL, 0, 20);
    }
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive) continue;
        ms_stop_child(ex->pid, 0);
        ex->alive = false;
        ex->ended_ms = ms_now_ms();
    }
}

static void s_remove_tree_files(const char *dir, const char *app_id)
{
    int removed;
    ms_shuffle_remove_app(dir, app_id, &removed);
    rmdir(dir);
}

void ms_app_stop(ms_app_t *app)
{
    for (int i = 0; i < app->nexecs; i++) {
        ms_exec_t *ex = &app->execs[i];
        if (!ex->alive) continue;
        ex->stopping = true;
        if (ex->registered) s_reply(app, ex, MS_MSG_STOP);
        else kill(ex->pid, SIGTERM);
    }
    s_reap_all(app, 3000);
    if (app->service) {
        int removed = 0;
        if (app->zctx && app->service_dir[0])
            ms_shuffle_remove_app_remote(app->zctx, app->service_ep,
                                         app->app_id, 2000, &removed);
        if (app->service_pid > 0) {
            ms_stop_child(app->service_pid, 3000);
            s_remove_tree_files(app->service_dir, app->app_id);
        }
    } else {
        for (int i = 0; i < app->nexecs; i++)
            s_remove_tree_files(app->execs[i].dir, app->app_id);
        rmdir(app->app_dir);
    }
    if (app->router) zmq_close(app->router);
    if (app->zctx) zmq_ctx_term(app->zctx);
    app->router = app->zctx = NULL;
}

void ms_app_free(ms_app_t *app)
{
    free(app->execs);
    app->execs = NULL;
    app->nexecs = app->cap = 0;
}
