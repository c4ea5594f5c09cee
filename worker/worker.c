/* Worker agent: a ROUTER that drivers connect to (one DEALER each). It
 * launches executors as its own children, tracks them by PID, kills them
 * only when their driver asks (or when it stops itself), and tells the
 * driver how each one ended. Executors die with the worker (they watch
 * their parent), as Spark's executors do through their WorkerWatcher, so a
 * lost worker never leaves executors behind. */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "common/launcher.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/worker_msg.h"
#include "shuffle/client.h"
#include "shuffle/files.h"

static const char s_usage[] =
    "usage: minispark worker --bind ENDPOINT [--cores N] [--dir DIR]\n"
    "                        [--shuffle ENDPOINT] [--conf KEY=VALUE]...\n"
    "\n"
    "Starts and stops executors on this host for drivers whose master is\n"
    "workers://HOST:PORT,... until SIGTERM or SIGINT (which stop its\n"
    "executors too). ENDPOINT is where drivers connect, e.g.\n"
    "tcp://0.0.0.0:7078. --cores (default: online CPUs) is what executors\n"
    "may use at once. Without a shuffle service executors write and serve\n"
    "their map outputs under DIR (default <spark.local.dir>, /tmp);\n"
    "--shuffle names this host's `minispark shuffle-server` as the other\n"
    "hosts reach it, for applications with spark.shuffle.service.enabled.\n"
    "With spark.authenticate=true (and spark.authenticate.secret or\n"
    "spark.authenticate.secret.file) only peers with the secret are served,\n"
    "over encrypted connections.\n";

typedef struct {
    char app[64];
    int exec, cores;
    pid_t pid;
    char ident[256]; /* the driver's routing id */
    size_t ident_len;
    char dir[4096];
    bool service; /* its outputs belong to the shuffle server */
} s_exec_t;

typedef struct {
    const char *bind, *dir, *shuffle;
    int cores, used;
    void *zctx, *router;
    char shuffle_dir[4096];
    s_exec_t *execs;
    int nexecs, cap;
} s_worker_t;

static volatile sig_atomic_t s_stop;
static int s_wake[2] = {-1, -1};

static void s_on_signal(int sig)
{
    int saved = errno;
    if (sig != SIGCHLD) s_stop = 1;
    if (write(s_wake[1], "", 1) < 0) {
        /* full pipe: a wake-up is already pending */
    }
    errno = saved;
}

static void s_send(s_worker_t *w, const char *ident, size_t len,
                   ms_msg_builder_t *b)
{
    ms_msg_send(w->router, ident, len, b, NULL, NULL, 0);
}

static void s_report(s_worker_t *w, const char *ident, size_t len,
                     ms_exec_report_t *r)
{
    ms_msg_builder_t b;
    r->free_cores = w->cores - w->used;
    ms_exec_report_pack(r, &b);
    s_send(w, ident, len, &b);
}

/* ---- starting executors ------------------------------------------------- */

static int s_exec_dir(s_worker_t *w, const ms_exec_launch_t *l, char *dir,
                      size_t size, char *why, size_t why_size)
{
    if (!l->service) {
        snprintf(dir, size, "%s/minispark-%s/executor-%d", w->dir, l->app,
                 l->exec);
        return 0;
    }
    if (!w->shuffle) {
        snprintf(why, why_size,
                 "the application uses the shuffle service but this worker "
                 "has none (start it with --shuffle ENDPOINT)");
        return -1;
    }
    /* Asked at each launch until it answers, so that a worker may start
     * before its host's shuffle server. */
    if (!w->shuffle_dir[0] &&
        ms_shuffle_ping(w->zctx, w->shuffle, NULL, 2000, w->shuffle_dir,
                        sizeof w->shuffle_dir) < 0) {
        w->shuffle_dir[0] = '\0';
        snprintf(why, why_size, "this host's shuffle server %s does not answer",
                 w->shuffle);
        return -1;
    }
    snprintf(dir, size, "%s", w->shuffle_dir);
    return 0;
}

static s_exec_t *s_find(s_worker_t *w, const char *ident, size_t len, int exec)
{
    for (int i = 0; i < w->nexecs; i++) {
        s_exec_t *e = &w->execs[i];
        if (e->exec == exec && e->ident_len == len &&
            memcmp(e->ident, ident, len) == 0)
            return e;
    }
    return NULL;
}

static int s_room(s_worker_t *w)
{
    if (w->nexecs < w->cap) return 0;
    int cap = w->cap ? 2 * w->cap : 8;
    s_exec_t *e = realloc(w->execs, (size_t)cap * sizeof *e);
    if (!e) return -1;
    w->execs = e;
    w->cap = cap;
    return 0;
}

static void s_launch(s_worker_t *w, const char *ident, size_t len,
                     const ms_msg_t *m)
{
    ms_exec_launch_t l;
    ms_exec_report_t r = {.state = MS_EXEC_FAILED};
    ms_error_t err = {0};
    if (ms_exec_launch_unpack(m, &l, &err) < 0 ||
        !ms_shuffle_valid_app_id(l.app)) {
        fprintf(stderr, "minispark worker: ignored a malformed launch\n");
        return;
    }
    r.exec = l.exec;
    if (s_find(w, ident, len, l.exec)) {
        snprintf(r.message, sizeof r.message, "executor %d already runs",
                 l.exec);
    } else if (w->used + l.cores > w->cores) {
        snprintf(r.message, sizeof r.message,
                 "worker has %d of %d cores free, executor wants %d",
                 w->cores - w->used, w->cores, l.cores);
    } else if (s_exec_dir(w, &l, r.dir, sizeof r.dir, r.message,
                          sizeof r.message) == 0 &&
               s_room(w) == 0) {
        char id[16], cores[16], hb[32], parent[16];
        snprintf(id, sizeof id, "%d", l.exec);
        snprintf(cores, sizeof cores, "%d", l.cores);
        snprintf(hb, sizeof hb, "%lld", (long long)l.heartbeat_ms);
        snprintf(parent, sizeof parent, "%d", (int)getpid());
        char *argv[] = {"executor",
                        "--driver",
                        l.driver,
                        "--app-id",
                        l.app,
                        "--executor-id",
                        id,
                        "--dir",
                        r.dir,
                        "--cores",
                        cores,
                        "--heartbeat-ms",
                        hb,
                        "--host",
                        l.host,
                        "--parent-pid",
                        parent,
                        l.service ? "--shuffle-endpoint" : NULL,
                        (char *)w->shuffle,
                        NULL};
        pid_t pid = ms_launch_self(argv, true, &err);
        if (pid < 0) {
            snprintf(r.message, sizeof r.message, "%s", err.msg);
        } else {
            s_exec_t *e = &w->execs[w->nexecs++];
            memset(e, 0, sizeof *e);
            snprintf(e->app, sizeof e->app, "%s", l.app);
            e->exec = l.exec;
            e->cores = l.cores;
            e->pid = pid;
            snprintf(e->dir, sizeof e->dir, "%s", r.dir);
            e->service = l.service;
            memcpy(e->ident, ident, len);
            e->ident_len = len;
            w->used += l.cores;
            r.state = MS_EXEC_STARTED;
            r.pid = (int)pid;
            printf("minispark worker: started executor %d of %s (pid %d, %d "
                   "cores)\n",
                   l.exec, l.app, (int)pid, l.cores);
            fflush(stdout);
        }
    }
    if (r.state == MS_EXEC_FAILED && !r.message[0])
        snprintf(r.message, sizeof r.message, "out of memory");
    if (r.state == MS_EXEC_FAILED)
        fprintf(stderr, "minispark worker: executor %d of %s not started: %s\n",
                l.exec, l.app, r.message);
    s_report(w, ident, len, &r);
}

/* A driver may kill only the executors it asked for. */
static void s_kill(s_worker_t *w, const char *ident, size_t len,
                   const ms_msg_t *m)
{
    int64_t exec, sig;
    if (m->nf != 2 || !ms_mp_int(&m->f[0], -1, INT32_MAX, &exec) ||
        !ms_mp_int(&m->f[1], 1, 64, &sig) || (sig != SIGTERM && sig != SIGKILL))
        return;
    for (int i = 0; i < w->nexecs; i++) {
        s_exec_t *e = &w->execs[i];
        if ((exec < 0 || e->exec == exec) && e->ident_len == len &&
            memcmp(e->ident, ident, len) == 0)
            kill(e->pid, (int)sig);
    }
}

static void s_on_message(s_worker_t *w)
{
    zmq_msg_t frames[2];
    int n;
    if (ms_frames_recv(w->router, frames, 2, &n, ZMQ_DONTWAIT) < 0) return;
    ms_msg_t m;
    const char *ident = zmq_msg_data(&frames[0]);
    size_t len = zmq_msg_size(&frames[0]);
    if (n == 2 && len <= sizeof w->execs[0].ident &&
        ms_msg_parse(&m, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]),
                     NULL) == 0) {
        if (m.type == MS_MSG_WORKER_HELLO) {
            ms_worker_state_t st = {.cores = w->cores,
                                    .free_cores = w->cores - w->used};
            snprintf(st.shuffle, sizeof st.shuffle, "%s",
                     w->shuffle ? w->shuffle : "");
            ms_msg_builder_t b;
            ms_worker_state_pack(&st, &b);
            s_send(w, ident, len, &b);
        } else if (m.type == MS_MSG_EXEC_LAUNCH) {
            s_launch(w, ident, len, &m);
        } else if (m.type == MS_MSG_EXEC_KILL) {
            s_kill(w, ident, len, &m);
        }
        ms_msg_free(&m);
    }
    ms_frames_close(frames, n);
}

/* ---- reaping ------------------------------------------------------------ */

/* An executor removes its own outputs when it ends well; these are what
 * a killed one left. */
static void s_remove_files(const s_exec_t *e)
{
    int removed;
    char parent[4096];
    ms_shuffle_remove_app(e->dir, e->app, &removed);
    rmdir(e->dir);
    snprintf(parent, sizeof parent, "%s", e->dir);
    rmdir(dirname(parent));
}

static void s_reap(s_worker_t *w, bool block)
{
    for (int i = 0; i < w->nexecs;) {
        s_exec_t *e = &w->execs[i];
        int status;
        if (ms_reap(e->pid, block, &status) != 1) {
            i++;
            continue;
        }
        char how[160];
        ms_describe_exit(status, how, sizeof how);
        printf("minispark worker: executor %d of %s (pid %d) %s\n", e->exec,
               e->app, (int)e->pid, how);
        fflush(stdout);
        w->used -= e->cores;
        if (!e->service) s_remove_files(e);
        ms_exec_report_t r = {.exec = e->exec,
                              .state = MS_EXEC_EXITED,
                              .pid = (int)e->pid,
                              .status = status};
        snprintf(r.message, sizeof r.message, "%s", how);
        s_report(w, e->ident, e->ident_len, &r);
        *e = w->execs[--w->nexecs];
    }
}

/* SIGTERM to every executor, then SIGKILL to what is left after 3 s. */
static void s_stop_all(s_worker_t *w)
{
    for (int i = 0; i < w->nexecs; i++)
        kill(w->execs[i].pid, SIGTERM);
    for (int64_t end = ms_clock_now_ms() + 3000;
         w->nexecs && ms_clock_now_ms() < end;) {
        s_reap(w, false);
        zmq_poll(NULL, 0, 20);
    }
    for (int i = 0; i < w->nexecs; i++)
        kill(w->execs[i].pid, SIGKILL);
    s_reap(w, true);
}

static int s_run(s_worker_t *w)
{
    while (!s_stop) {
        zmq_pollitem_t items[] = {{w->router, 0, ZMQ_POLLIN, 0},
                                  {NULL, s_wake[0], ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, 2, -1);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "minispark worker: poll: %s\n",
                    zmq_strerror(errno));
            return -1;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            char buf[64];
            while (read(s_wake[0], buf, sizeof buf) > 0) {
            }
        }
        s_reap(w, false);
        while (zmq_poll(items, 1, 0) > 0 && !s_stop)
            s_on_message(w);
    }
    return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int s_parse(int argc, char **argv, s_worker_t *w, ms_conf_t *conf,
                   ms_error_t *err)
{
    static const struct option opts[] = {{"bind", required_argument, 0, 'b'},
                                         {"cores", required_argument, 0, 'c'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"shuffle", required_argument, 0, 's'},
                                         {"conf", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    char *end;
    int c;
    w->cores = cpus > 0 ? (int)cpus : 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b') {
            w->bind = optarg;
        } else if (c == 'c') {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 4096)
                return ms_error_set(err, MS_ERR_USAGE,
                                    "--cores: expected 1..4096, got '%s'",
                                    optarg);
            w->cores = (int)n;
        } else if (c == 'd') {
            w->dir = optarg;
        } else if (c == 's') {
            w->shuffle = optarg;
        } else if (c == 'C') {
            if (ms_conf_set_pair(conf, optarg, err) < 0) return err->code;
        } else if (c == 'h') {
            return 1;
        } else {
            return ms_error_set(err, MS_ERR_USAGE, "unknown option");
        }
    }
    if (optind != argc)
        return ms_error_set(err, MS_ERR_USAGE, "unexpected argument '%s'",
                            argv[optind]);
    if (!w->bind)
        return ms_error_set(err, MS_ERR_USAGE, "--bind ENDPOINT is required");
    if (!w->dir) {
        const char *local = ms_conf_get(conf, "spark.local.dir");
        w->dir = local ? local : "/tmp";
    }
    return 0;
}

static int s_setup(s_worker_t *w, ms_error_t *err)
{
    int linger = 0;
    if (ms_mkdirs(w->dir) < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot create %s: %s", w->dir,
                            strerror(errno));
    if (pipe2(s_wake, O_NONBLOCK | O_CLOEXEC) < 0)
        return ms_error_set(err, MS_ERR_IO, "pipe: %s", strerror(errno));
    w->zctx = zmq_ctx_new();
    w->router = w->zctx ? zmq_socket(w->zctx, ZMQ_ROUTER) : NULL;
    if (!w->router) return ms_error_set(err, MS_ERR_NOMEM, "zmq socket");
    zmq_setsockopt(w->router, ZMQ_LINGER, &linger, sizeof linger);
    /* Only small requests come here: a peer sending more is dropped
     * before anything is allocated for it. */
    int64_t most = MS_PROTO_MAX_BODY;
    zmq_setsockopt(w->router, ZMQ_MAXMSGSIZE, &most, sizeof most);
    /* A driver that reconnects (same routing id: its application id)
     * takes over at once instead of being refused as a duplicate. */
    int handover = 1;
    zmq_setsockopt(w->router, ZMQ_ROUTER_HANDOVER, &handover, sizeof handover);
    int rc = ms_auth_server(w->router, err);
    if (rc == 0) rc = ms_auth_guard(w->zctx, w->router, "worker", err);
    if (rc < 0) return rc;
    if (zmq_bind(w->router, w->bind) < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot bind %s: %s", w->bind,
                            zmq_strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: wake the poll */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    return 0;
}

int ms_worker_main(int argc, char **argv)
{
    s_worker_t w;
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    memset(&w, 0, sizeof w);
    int rc = conf ? s_parse(argc, argv, &w, conf, &err) : MS_ERR_NOMEM;
    if (rc == 1) {
        fputs(s_usage, stdout);
        ms_conf_destroy(&conf);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "minispark worker: %s\n\n%s", err.msg, s_usage);
        ms_conf_destroy(&conf);
        return 2;
    }
    int status = 4;
    if ((rc = ms_auth_conf(conf, &err)) < 0) {
        status = 2;
    } else if (s_setup(&w, &err) == 0) {
        if (!ms_auth_enabled() && strncmp(w.bind, "tcp://127.", 10) != 0)
            fprintf(stderr,
                    "minispark worker: warning: spark.authenticate is off: "
                    "anyone who can reach %s can run executors here\n",
                    w.bind);
        printf("minispark worker: %d cores on %s, executors in %s%s%s\n",
               w.cores, w.bind, w.dir, w.shuffle ? ", shuffle server " : "",
               w.shuffle ? w.shuffle : "");
        fflush(stdout);
        status = s_run(&w) < 0 ? 4 : 0;
        s_stop_all(&w);
    }
    if (err.msg[0]) fprintf(stderr, "minispark worker: %s\n", err.msg);
    free(w.execs);
    if (w.router) zmq_close(w.router);
    if (w.zctx) zmq_ctx_term(w.zctx);
    ms_conf_destroy(&conf);
    return status;
}
