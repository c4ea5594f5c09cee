/* Executor main loop. The DEALER to the driver is used only by the main
 * thread; task threads report back over an inproc PUSH/PULL pipe, handing
 * over a heap-allocated result that the main thread sends and frees. A
 * migration (decommissioning) runs on a thread of its own and reports the
 * same way over a second pipe. */
#include "executor/executor.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "common/launcher.h"
#include "common/mp.h"
#include "common/plan.h"
#include "common/proto.h"
#include "common/sock.h"
#include "common/task.h"
#include "common/wake.h"
#include "executor/tasks.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"
#include "shuffle/server.h"

typedef struct {
    const char *driver, *app, *dir, *shuffle_endpoint, *host;
    int id, cores;
    pid_t parent; /* a worker's executor dies with it */
    int64_t heartbeat_ms;
} s_args_t;

typedef struct {
    s_args_t args;
    void *zctx, *dealer, *results, *migrations;
    char results_ep[64];
    ms_shuffle_server_t *server;
    int running;
    bool migrating;         /* a migration thread runs */
    ms_output_ref_t *moved; /* outputs migrated so far (by that thread) */
    int nmoved;
    int64_t last_driver_ms;
    char token[MS_AUTH_TOKEN_LEN + 1]; /* its launch's, for REGISTER */
    size_t frame_max;                  /* result rows per frame */
} s_executor_t;

typedef struct {
    s_executor_t *ex;
    ms_task_t task;
    ms_task_end_t end;
    msgpack_sbuffer rows;
} s_job_t;

static volatile sig_atomic_t s_stop, s_asked_to_go;

/* The wake-up pipe: the loop sees it at once, whichever thread the
 * signal landed on. */
static void s_on_signal(int sig)
{
    if (sig == SIGPWR)
        s_asked_to_go = 1;
    else
        s_stop = 1;
    ms_wake_notify();
}

/* ---- running a task (on its own thread) -------------------------------- */

static void s_run_task(s_job_t *job)
{
    s_executor_t *ex = job->ex;
    ms_task_end_t *e = &job->end;
    ms_error_t err = {0};
    ms_plan_t *plan = NULL;
    ms_fetch_failure_t fail = {.map = -1};
    int64_t start = ms_clock_now_ms();
    if (job->task.delay_ms > 0) {
        struct timespec ts = {job->task.delay_ms / 1000,
                              (job->task.delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    int rc = ms_plan_unpack(&plan, job->task.plan, job->task.plan_len, &err);
    if (rc == 0 && job->task.inject == MS_INJECT_FAIL)
        rc = ms_error_set(&err, MS_ERR_FAILED,
                          "injected failure (minispark.test.failTask)");
    else if (rc == 0 && job->task.kind == MS_TASK_MAP)
        rc = ms_map_task_run(&job->task, plan, ex->args.app, ex->args.dir,
                             &e->metrics, &err);
    else if (rc == 0)
        rc = ms_reduce_task_run(ex->zctx, &job->task, plan, ex->args.app,
                                ex->args.dir, &job->rows, &e->metrics, &fail,
                                &err);
    ms_plan_destroy(&plan);
    e->task_id = job->task.task_id;
    e->attempt = job->task.attempt;
    e->metrics.run_ms = ms_clock_now_ms() - start;
    e->fetch_map = fail.map;
    e->fetch_unreachable = fail.unreachable;
    snprintf(e->fetch_endpoint, sizeof e->fetch_endpoint, "%s", fail.endpoint);
    e->status = ms_task_status_for(rc);
    e->code = rc;
    if (rc < 0) snprintf(e->message, sizeof e->message, "%s", err.msg);
}

static void *s_task_thread(void *arg)
{
    s_job_t *job = arg;
    s_run_task(job);
    void *push = zmq_socket(job->ex->zctx, ZMQ_PUSH);
    zmq_connect(push, job->ex->results_ep);
    zmq_send(push, &job, sizeof job, 0);
    zmq_close(push);
    return NULL;
}

/* ---- migrating map outputs (decommissioning) ------------------------------
 */

#define S_MIGRATIONS_EP "inproc://migrations"

typedef struct {
    s_executor_t *ex;
    char **targets; /* endpoints, best first; NULL once one failed */
    int ntargets;
    char fallback[4096]; /* "" for none */
    int64_t timeout_ms;
} s_migration_t;

/* One report of the migration thread: an output moved (where set), or
 * the end of the pass (done). */
typedef struct {
    bool done;
    int shuffle, map;
    uint64_t bytes;
    char where[4200];
} s_migrated_t;

static void s_migration_free(s_migration_t *mg)
{
    for (int i = 0; i < mg->ntargets; i++)
        free(mg->targets[i]);
    free(mg->targets);
    free(mg);
}

static bool s_already_moved(const s_executor_t *ex, ms_output_ref_t o)
{
    for (int i = 0; i < ex->nmoved; i++)
        if (ex->moved[i].shuffle == o.shuffle && ex->moved[i].map == o.map)
            return true;
    return false;
}

/* Moves output o to the first target that takes it, else the fallback
 * folder; fills r. A target that failed once (gone, refusing: itself
 * decommissioning, full) is not tried again in this pass: a dead one
 * would cost the whole timeout for every output. */
static int s_move_one(s_migration_t *mg, ms_output_ref_t o, s_migrated_t *r)
{
    s_executor_t *ex = mg->ex;
    ms_error_t err = {0};
    char index[4200];
    /* Removed since it was listed (its shuffle is over): nothing to move,
     * and no target's fault. */
    ms_shuffle_path(index, sizeof index, ex->args.dir, ex->args.app, o.shuffle,
                    o.map, "index");
    if (access(index, F_OK) < 0) return -1;
    for (int t = 0; t < mg->ntargets; t++) {
        if (!mg->targets[t]) continue;
        if (ms_shuffle_put_remote(ex->zctx, mg->targets[t], ex->args.dir,
                                  ex->args.app, o.shuffle, o.map,
                                  mg->timeout_ms, &r->bytes, &err) == 0) {
            snprintf(r->where, sizeof r->where, "%s", mg->targets[t]);
            return 0;
        }
        fprintf(stderr, "executor %d: migration target %s dropped: %s\n",
                ex->args.id, mg->targets[t], err.msg);
        free(mg->targets[t]);
        mg->targets[t] = NULL;
    }
    if (mg->fallback[0] &&
        ms_shuffle_put_fallback(ex->args.dir, ex->args.app, o.shuffle, o.map,
                                mg->fallback, &r->bytes, &err) == 0) {
        ms_shuffle_fallback_location(r->where, sizeof r->where, mg->fallback,
                                     ex->args.app);
        return 0;
    }
    fprintf(stderr,
            "executor %d: map output %d of shuffle %d not migrated: "
            "%s\n",
            ex->args.id, o.map, o.shuffle, err.msg[0] ? err.msg : "no target");
    return -1;
}

static void s_report(void *push, s_migrated_t *r)
{
    s_migrated_t *copy = malloc(sizeof *copy);
    if (!copy) return;
    *copy = *r;
    if (zmq_send(push, &copy, sizeof copy, 0) != sizeof copy) free(copy);
}

static void *s_migration_thread(void *arg)
{
    s_migration_t *mg = arg;
    s_executor_t *ex = mg->ex;
    s_migrated_t done = {.done = true};
    ms_output_ref_t *outs = NULL;
    int n = 0;
    ms_error_t err = {0};
    void *push = zmq_socket(ex->zctx, ZMQ_PUSH);
    zmq_connect(push, S_MIGRATIONS_EP);
    if (ms_shuffle_list_outputs(ex->args.dir, ex->args.app, &outs, &n, &err) <
        0)
        fprintf(stderr, "executor %d: %s\n", ex->args.id, err.msg);
    for (int i = 0; i < n; i++) {
        if (s_already_moved(ex, outs[i])) continue;
        s_migrated_t r = {.shuffle = outs[i].shuffle, .map = outs[i].map};
        if (s_move_one(mg, outs[i], &r) < 0) continue;
        /* Not remembered (out of memory): moved again by a later pass,
         * which changes nothing. */
        ms_output_ref_t *grown =
            realloc(ex->moved, (size_t)(ex->nmoved + 1) * sizeof *grown);
        if (grown) {
            ex->moved = grown;
            ex->moved[ex->nmoved++] = outs[i];
        }
        s_report(push, &r);
    }
    s_report(push, &done);
    zmq_close(push);
    free(outs);
    s_migration_free(mg);
    return NULL;
}

/* ---- talking to the driver ---------------------------------------------- */

static void s_send_simple(s_executor_t *ex, ms_msg_type_t type)
{
    ms_msg_builder_t b;
    if (type == MS_MSG_HEARTBEAT) {
        ms_msg_begin(&b, type, 2);
        msgpack_pack_int(&b.pk, ex->args.id);
        msgpack_pack_int(&b.pk, ex->running);
    } else if (type == MS_MSG_DECOMMISSIONING) {
        ms_msg_begin(&b, type, 1);
        msgpack_pack_int(&b.pk, ex->args.id);
    } else {
        const char *ep = ex->server ? ms_shuffle_server_endpoint(ex->server)
                                    : ex->args.shuffle_endpoint;
        ms_msg_begin(&b, MS_MSG_REGISTER, 6);
        msgpack_pack_int(&b.pk, ex->args.id);
        msgpack_pack_int(&b.pk, (int)getpid());
        ms_mp_pack_str(&b.pk, ex->args.host);
        msgpack_pack_int(&b.pk, ex->args.cores);
        ms_mp_pack_str(&b.pk, ep);
        ms_mp_pack_str(&b.pk, ex->token);
    }
    ms_msg_send(ex->dealer, NULL, 0, &b, NULL, NULL, 0);
}

static void s_launch(s_executor_t *ex, const ms_msg_t *m)
{
    s_job_t *job = calloc(1, sizeof *job);
    ms_error_t err = {0};
    if (!job || ms_task_unpack(m, &job->task, &err) < 0) {
        fprintf(stderr, "executor %d: %s\n", ex->args.id,
                job ? err.msg : "out of memory");
        free(job);
        return;
    }
    job->ex = ex;
    msgpack_sbuffer_init(&job->rows);
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, s_task_thread, job) == 0) ex->running++;
    pthread_attr_destroy(&attr);
}

/* The report, then the rows cut into frames of at most ex->frame_max
 * bytes (the driver refuses larger frames, their CURVE envelope counted);
 * always at least one. */
static void s_send_task_end(s_executor_t *ex, const ms_task_end_t *e,
                            const char *rows, size_t len)
{
    static const char none[1];
    size_t n = len ? (len + ex->frame_max - 1) / ex->frame_max : 1;
    const void **extra = calloc(n, sizeof *extra);
    size_t *extra_len = calloc(n, sizeof *extra_len);
    ms_msg_builder_t b;
    if (!extra || !extra_len) {
        /* Rows that cannot be sent must not read as no rows. */
        ms_task_end_t failed = *e;
        failed.status = MS_TASK_FAILED;
        snprintf(failed.message, sizeof failed.message,
                 "out of memory sending %zu bytes of result rows", len);
        ms_task_end_pack(&failed, &b);
        ms_msg_send(ex->dealer, NULL, 0, &b, (const void *const[]){none},
                    (const size_t[]){0}, 1);
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t off = i * ex->frame_max;
            extra[i] = len ? rows + off : none;
            extra_len[i] =
                len - off < ex->frame_max ? len - off : ex->frame_max;
        }
        ms_task_end_pack(e, &b);
        ms_msg_send(ex->dealer, NULL, 0, &b, extra, extra_len, (int)n);
    }
    free(extra);
    free(extra_len);
}

/* OUTPUT_MOVED [exec, shuffle, map, where, bytes] or DECOMMISSIONED
 * [exec]. */
static void s_send_migrated(s_executor_t *ex, const s_migrated_t *r)
{
    ms_msg_builder_t b;
    if (r->done) {
        ms_msg_begin(&b, MS_MSG_DECOMMISSIONED, 1);
        msgpack_pack_int(&b.pk, ex->args.id);
    } else {
        ms_msg_begin(&b, MS_MSG_OUTPUT_MOVED, 5);
        msgpack_pack_int(&b.pk, ex->args.id);
        msgpack_pack_int(&b.pk, r->shuffle);
        msgpack_pack_int(&b.pk, r->map);
        ms_mp_pack_str(&b.pk, r->where);
        msgpack_pack_uint64(&b.pk, r->bytes);
    }
    ms_msg_send(ex->dealer, NULL, 0, &b, NULL, NULL, 0);
}

static void s_on_migrated(s_executor_t *ex)
{
    s_migrated_t *r;
    if (zmq_recv(ex->migrations, &r, sizeof r, ZMQ_DONTWAIT) != sizeof r)
        return;
    if (r->done) ex->migrating = false;
    s_send_migrated(ex, r);
    free(r);
}

static void s_on_result(s_executor_t *ex)
{
    s_job_t *job;
    if (zmq_recv(ex->results, &job, sizeof job, ZMQ_DONTWAIT) != sizeof job)
        return;
    ex->running--;
    s_send_task_end(ex, &job->end, job->rows.data, job->rows.size);
    msgpack_sbuffer_destroy(&job->rows);
    ms_task_free(&job->task);
    free(job);
}

/* Drops a finished shuffle's map outputs, unless a shuffle service owns
 * them (the driver asks the service then). */
static void s_remove_shuffle(s_executor_t *ex, const ms_msg_t *m)
{
    int64_t shuffle;
    int removed;
    if (ex->args.shuffle_endpoint || m->nf != 1 ||
        !ms_mp_int(&m->f[0], 0, INT32_MAX, &shuffle))
        return;
    ms_shuffle_remove_shuffle(ex->args.dir, ex->args.app, (int)shuffle,
                              &removed);
}

/* DECOMMISSION [[endpoint...], fallback, timeout ms]: from now on this
 * executor takes no output from others; a migration pass starts (after
 * the one under way, if any, which the driver waits for anyway). */
static void s_decommission(s_executor_t *ex, const ms_msg_t *m)
{
    const msgpack_object *eps;
    uint32_t n;
    int64_t timeout;
    s_migration_t *mg = calloc(1, sizeof *mg);
    if (!mg || m->nf != 3 || !ms_mp_array(&m->f[0], -1, &eps, &n) || n > 64 ||
        !ms_mp_str(&m->f[1], mg->fallback, sizeof mg->fallback) ||
        !ms_mp_int(&m->f[2], 1, INT32_MAX, &timeout) || ex->migrating)
        goto fail;
    mg->ex = ex;
    mg->timeout_ms = timeout;
    mg->targets = calloc(n ? n : 1, sizeof *mg->targets);
    if (!mg->targets) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        char ep[256];
        if (!ms_mp_str(&eps[i], ep, sizeof ep) ||
            !(mg->targets[mg->ntargets++] = strdup(ep)))
            goto fail;
    }
    if (ex->server) ms_shuffle_server_refuse_puts(ex->server);
    /* With a shuffle service nothing here is ours to move. */
    if (ex->args.shuffle_endpoint) {
        s_migration_free(mg);
        s_migrated_t none = {.done = true};
        s_send_migrated(ex, &none);
        return;
    }
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    ex->migrating = pthread_create(&th, &attr, s_migration_thread, mg) == 0;
    pthread_attr_destroy(&attr);
    if (ex->migrating) return;
fail:
    if (mg) s_migration_free(mg);
    fprintf(stderr, "executor %d: unusable decommission request\n",
            ex->args.id);
}

/* Returns 1 when the driver says stop. */
static int s_on_driver(s_executor_t *ex)
{
    zmq_msg_t frames[2];
    int n, stop = 0;
    if (ms_frames_recv(ex->dealer, frames, 2, &n, ZMQ_DONTWAIT) < 0) return 0;
    ms_msg_t m;
    ex->last_driver_ms = ms_clock_now_ms();
    if (n >= 1 && ms_msg_parse(&m, zmq_msg_data(&frames[0]),
                               zmq_msg_size(&frames[0]), NULL) == 0) {
        if (m.type == MS_MSG_LAUNCH)
            s_launch(ex, &m);
        else if (m.type == MS_MSG_STOP)
            stop = 1;
        else if (m.type == MS_MSG_REMOVE_SHUFFLE)
            s_remove_shuffle(ex, &m);
        else if (m.type == MS_MSG_DECOMMISSION)
            s_decommission(ex, &m);
        ms_msg_free(&m);
    }
    ms_frames_close(frames, n);
    return stop;
}

static int s_loop(s_executor_t *ex)
{
    int64_t next_beat = 0;
    ex->last_driver_ms = ms_clock_now_ms();
    while (!s_stop) {
        int64_t now = ms_clock_now_ms();
        if (now - ex->last_driver_ms > 3 * ex->args.heartbeat_ms) {
            fprintf(stderr, "executor %d: driver silent for %lld ms, exiting\n",
                    ex->args.id, (long long)(now - ex->last_driver_ms));
            return 1;
        }
        if (now >= next_beat) {
            s_send_simple(ex, MS_MSG_HEARTBEAT);
            next_beat = now + ex->args.heartbeat_ms;
        }
        if (s_asked_to_go) {
            s_asked_to_go = 0;
            s_send_simple(ex, MS_MSG_DECOMMISSIONING);
        }
        zmq_pollitem_t items[] = {{ex->dealer, 0, ZMQ_POLLIN, 0},
                                  {ex->results, 0, ZMQ_POLLIN, 0},
                                  {ex->migrations, 0, ZMQ_POLLIN, 0},
                                  {NULL, ms_wake_fd(), ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 4, (long)(next_beat - now));
        if (rc < 0 && errno != EINTR) return 1;
        if (rc <= 0) continue;
        if ((items[0].revents & ZMQ_POLLIN) && s_on_driver(ex)) return 0;
        if (items[1].revents & ZMQ_POLLIN) s_on_result(ex);
        if (items[2].revents & ZMQ_POLLIN) s_on_migrated(ex);
        if (items[3].revents & ZMQ_POLLIN) ms_wake_drain();
    }
    return 0;
}

/* ---- setup ----------------------------------------------------------------
 */

static int s_parse_args(int argc, char **argv, s_args_t *a)
{
    static const struct option opts[] = {
        {"driver", required_argument, 0, 'd'},
        {"app-id", required_argument, 0, 'a'},
        {"executor-id", required_argument, 0, 'i'},
        {"dir", required_argument, 0, 'D'},
        {"cores", required_argument, 0, 'c'},
        {"heartbeat-ms", required_argument, 0, 'h'},
        {"shuffle-endpoint", required_argument, 0, 's'},
        {"host", required_argument, 0, 'H'},
        {"parent-pid", required_argument, 0, 'P'},
        {0, 0, 0, 0}};
    *a = (s_args_t){
        .id = -1, .cores = 1, .heartbeat_ms = 1000, .host = "127.0.0.1"};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->driver = optarg;
            break;
        case 'a':
            a->app = optarg;
            break;
        case 'i':
            a->id = atoi(optarg);
            break;
        case 'D':
            a->dir = optarg;
            break;
        case 'c':
            a->cores = atoi(optarg);
            break;
        case 'h':
            a->heartbeat_ms = atoll(optarg);
            break;
        case 's':
            a->shuffle_endpoint = optarg;
            break;
        case 'H':
            a->host = optarg;
            break;
        case 'P':
            a->parent = (pid_t)atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    if (!a->driver || !a->app || !a->dir || a->id < 0 || a->cores < 1 ||
        a->heartbeat_ms < 1 || !ms_shuffle_valid_app_id(a->app))
        return -1;
    return 0;
}

static int s_setup(s_executor_t *ex)
{
    int linger = 0;
    int64_t most = (int64_t)ms_proto_max_frame();
    char ident[64], ep[300];
    ms_error_t err = {0};
    /* Stopped with the worker that started it, as Spark's WorkerWatcher
     * ends an executor whose worker is gone: executors of a lost worker
     * must not keep running unseen. SIGTERM, so that it still removes its
     * map outputs on the way out (nobody else is left on the host to do
     * it). A parent that died before this line is seen by the check that
     * follows. */
    if (ms_follow_parent(ex->args.parent) < 0) return -1;
    /* A routing id nobody can guess, kept across reconnects: one that
     * could be predicted could be taken on the driver's ROUTER before this
     * executor connects (the driver binds it to us when we register). */
    uint8_t raw[8];
    char hex[2 * sizeof raw + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    snprintf(ident, sizeof ident, "exec-%d-%s", ex->args.id, hex);
    ex->zctx = zmq_ctx_new();
    ex->dealer = ms_sock_connect(
        ex->zctx, ZMQ_DEALER,
        &(ms_sock_opts_t){.routing_id = ident, .max_frame = most},
        ex->args.driver, &err);
    if (!ex->dealer) {
        fprintf(stderr, "executor %d: %s\n", ex->args.id, err.msg);
        return -1;
    }
    ex->results = zmq_socket(ex->zctx, ZMQ_PULL);
    ex->migrations = zmq_socket(ex->zctx, ZMQ_PULL);
    if (!ex->results || !ex->migrations) return -1;
    zmq_setsockopt(ex->results, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(ex->migrations, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(ex->results_ep, sizeof ex->results_ep, "inproc://results");
    if (zmq_bind(ex->results, ex->results_ep) < 0 ||
        zmq_bind(ex->migrations, S_MIGRATIONS_EP) < 0)
        return -1;
    /* With parents: the application's folder goes when its last executor
     * does, and a later executor may find it gone. */
    if (ms_mkdirs(ex->args.dir) < 0) {
        fprintf(stderr, "executor %d: cannot create %s: %s\n", ex->args.id,
                ex->args.dir, strerror(errno));
        return -1;
    }
    if (ex->args.shuffle_endpoint) return 0;
    snprintf(ep, sizeof ep, "tcp://%s:*", ex->args.host);
    if (ms_shuffle_server_new(&ex->server, ex->zctx, ep, ex->args.dir, &err) <
            0 ||
        ms_shuffle_server_start(ex->server) < 0) {
        fprintf(stderr, "executor %d: %s\n", ex->args.id, err.msg);
        return -1;
    }
    return 0;
}

static void s_teardown(s_executor_t *ex)
{
    ms_shuffle_server_destroy(&ex->server);
    /* Without a shuffle service this executor's outputs die with it, the
     * ones its running tasks are still writing included. */
    if (!ex->args.shuffle_endpoint) {
        ms_shuffle_outputs_close();
        /* The application's folder too, once its last executor is gone: a
         * driver that was killed cannot remove it. */
        ms_shuffle_remove_dir(ex->args.dir, ex->args.app, true);
    }
    if (ex->results) zmq_close(ex->results);
    if (ex->migrations) zmq_close(ex->migrations);
    if (ex->dealer) zmq_close(ex->dealer);
    /* Task threads may still hold sockets; exiting the process ends them, so
     * the context is not terminated (that would wait for them). */
}

int ms_executor_main(int argc, char **argv)
{
    s_executor_t ex;
    memset(&ex, 0, sizeof ex);
    if (s_parse_args(argc, argv, &ex.args) < 0) {
        fprintf(stderr, "minispark executor: internal command, started by the "
                        "driver; bad arguments\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    ms_wake_fd();
    sigaction(SIGTERM, &sa, NULL);
    /* As spark.executor.decommission.signal: the driver decides. */
    sigaction(SIGPWR, &sa, NULL);
    /* Ctrl-C reaches the whole process group; the driver decides. */
    signal(SIGINT, SIG_IGN);
    int rc = 1;
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    /* The secret comes from the environment its launcher set. */
    if (!conf || ms_auth_conf(conf, &err) < 0) {
        fprintf(stderr, "executor %d: %s\n", ex.args.id,
                conf ? err.msg : "out of memory");
        ms_conf_destroy(&conf);
        return 1;
    }
    ms_conf_destroy(&conf);
    if (!ms_auth_token_take(ex.token)) {
        fprintf(stderr,
                "executor %d: no launch token in %s: executors are started "
                "by the driver or a worker\n",
                ex.args.id, MS_AUTH_TOKEN_ENV);
        return 2;
    }
    ex.frame_max = ms_proto_max_frame() - MS_PROTO_FRAME_ENVELOPE;
    if (s_setup(&ex) == 0) {
        s_send_simple(&ex, MS_MSG_REGISTER);
        rc = s_loop(&ex);
    }
    s_teardown(&ex);
    return rc;
}
