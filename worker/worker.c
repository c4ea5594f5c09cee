/* Worker agent: a ROUTER that drivers connect to (one DEALER each). It
 * launches executors as its own children, tracks them by PID, kills them
 * only when their driver asks (or when it stops itself), and tells the
 * driver how each one ended. Executors end with the worker (they watch
 * their parent), as Spark's executors do through their WorkerWatcher, so a
 * lost worker never leaves executors behind. This file is the command,
 * its loop and the messages; launch.c starts and reaps executors, sched.c
 * decides which waiting launch runs next and reclaims cores for fairness. */
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/conf_keys.h"
#include "common/fsutil.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/sock.h"
#include "common/wake.h"
#include "shuffle/files.h"
#include "worker/agent.h"

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
    "Cores are shared among applications by weighted max-min fairness\n"
    "(each driver's minispark.app.weight): an application below its share\n"
    "that waits gets executors back from those above it, at task\n"
    "boundaries; --conf spark.scheduler.mode=FIFO serves launches first\n"
    "come, first served instead. With spark.authenticate=true (and\n"
    "spark.authenticate.secret or spark.authenticate.secret.file) only\n"
    "peers with the secret are served, over encrypted connections.\n";

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    if (sig != SIGCHLD) s_stop = 1;
    ms_wake_notify();
}

/* ---- messages ------------------------------------------------------------ */

static bool s_known(const ms_agent_t *a, const ms_peer_t *driver, int exec)
{
    for (int i = 0; i < a->nexecs; i++)
        if (a->execs[i].exec == exec && ms_peer_eq(&a->execs[i].driver, driver))
            return true;
    for (int i = 0; i < a->nqueued; i++)
        if (a->queue[i].launch.exec == exec &&
            ms_peer_eq(&a->queue[i].driver, driver))
            return true;
    return false;
}

static void s_launch(ms_agent_t *a, const ms_peer_t *driver, const ms_msg_t *m)
{
    ms_exec_launch_t l;
    if (ms_exec_launch_unpack(m, &l, NULL) < 0 ||
        !ms_shuffle_valid_app_id(l.app)) {
        fprintf(stderr, "minispark worker: ignored a malformed launch\n");
        return;
    }
    ms_exec_report_t r = {.exec = l.exec, .state = MS_EXEC_FAILED};
    if (s_known(a, driver, l.exec))
        snprintf(r.message, sizeof r.message, "executor %d already exists",
                 l.exec);
    else if (l.cores > a->cores)
        snprintf(r.message, sizeof r.message,
                 "executor wants %d cores, worker has %d", l.cores, a->cores);
    else if (ms_agent_enqueue(a, driver, &l, ms_clock_now_ms()) < 0)
        snprintf(r.message, sizeof r.message, "out of memory");
    else {
        ms_agent_schedule(a, ms_clock_now_ms());
        ms_agent_waiting(a, driver, l.exec);
        return;
    }
    ms_agent_report(a, driver, &r);
}

static void s_hello(ms_agent_t *a, const ms_peer_t *driver, const ms_msg_t *m)
{
    char app[64];
    int64_t weight;
    if (m->nf != 2 || !ms_mp_str(&m->f[0], app, sizeof app) ||
        !ms_mp_int(&m->f[1], 1, 1000, &weight))
        return;
    ms_agent_app_t *p = ms_agent_app(a, driver, app, ms_clock_now_ms());
    if (p) {
        p->weight = (int)weight;
        p->heard_ms = ms_clock_now_ms();
    }
    ms_worker_state_t st = {.cores = a->cores,
                            .free_cores = a->cores - a->used,
                            .fair = a->fair,
                            .incarnation = a->incarnation};
    snprintf(st.shuffle, sizeof st.shuffle, "%s", a->shuffle ? a->shuffle : "");
    ms_agent_share(a, driver, &st.held, &st.share);
    ms_msg_builder_t b;
    ms_worker_state_pack(&st, &b);
    ms_agent_send(a, driver, &b);
}

/* A driver may kill only the executors it asked for; a queued one is
 * simply dropped. */
static void s_kill(ms_agent_t *a, const ms_peer_t *driver, const ms_msg_t *m)
{
    int64_t exec, sig;
    if (m->nf != 2 || !ms_mp_int(&m->f[0], -1, INT32_MAX, &exec) ||
        !ms_mp_int(&m->f[1], 1, 64, &sig) || (sig != SIGTERM && sig != SIGKILL))
        return;
    ms_agent_cancel(a, driver, (int)exec);
    for (int i = 0; i < a->nexecs; i++) {
        ms_agent_exec_t *e = &a->execs[i];
        if ((exec < 0 || e->exec == exec) && ms_peer_eq(&e->driver, driver))
            kill(e->pid, (int)sig);
    }
}

static void s_kept(ms_agent_t *a, const ms_peer_t *driver, const ms_msg_t *m)
{
    ms_exec_release_t r;
    if (ms_exec_release_unpack(m, &r, NULL) == 0 && r.kept)
        ms_agent_kept(a, driver, r.count, r.reason);
}

void ms_agent_on_message(ms_agent_t *a, const void *peer, size_t peer_len,
                         const void *body, size_t len)
{
    ms_msg_t m;
    ms_peer_t driver = {.len = peer_len};
    if (peer_len > sizeof driver.id || ms_msg_parse(&m, body, len, NULL) < 0)
        return;
    memcpy(driver.id, peer, peer_len);
    if (m.type == MS_MSG_WORKER_HELLO)
        s_hello(a, &driver, &m);
    else if (m.type == MS_MSG_EXEC_LAUNCH)
        s_launch(a, &driver, &m);
    else if (m.type == MS_MSG_EXEC_KILL)
        s_kill(a, &driver, &m);
    else if (m.type == MS_MSG_EXEC_KEPT)
        s_kept(a, &driver, &m);
    ms_msg_free(&m);
}

static void s_on_message(ms_agent_t *a)
{
    zmq_msg_t frames[2];
    int n;
    if (ms_frames_recv(a->router, frames, 2, &n, ZMQ_DONTWAIT) < 0) return;
    if (n == 2)
        ms_agent_on_message(a, zmq_msg_data(&frames[0]),
                            zmq_msg_size(&frames[0]), zmq_msg_data(&frames[1]),
                            zmq_msg_size(&frames[1]));
    ms_frames_close(frames, n);
}

static int s_run(ms_agent_t *w)
{
    while (!s_stop) {
        zmq_pollitem_t items[] = {{w->router, 0, ZMQ_POLLIN, 0},
                                  {NULL, ms_wake_fd(), ZMQ_POLLIN, 0}};
        /* Woken every second too, so that waiting launches of drivers
         * that went silent are dropped (ms_agent_schedule). */
        int rc = zmq_poll(items, 2, 1000);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "minispark worker: poll: %s\n",
                    zmq_strerror(errno));
            return -1;
        }
        if (items[1].revents & ZMQ_POLLIN) ms_wake_drain();
        ms_agent_reap(w, false);
        ms_agent_schedule(w, ms_clock_now_ms());
        while (zmq_poll(items, 1, 0) > 0 && !s_stop)
            s_on_message(w);
    }
    return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int s_parse(int argc, char **argv, ms_agent_t *w, ms_conf_t *conf,
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
    if (ms_conf_check(conf, ms_conf_warn_stderr, "minispark worker", err) < 0)
        return err->code;
    if (!w->dir && ms_conf_local_dir(conf, &w->dir, err) < 0) return err->code;
    const char *mode = ms_conf_get(conf, "spark.scheduler.mode");
    w->fair = !mode || strcasecmp(mode, "FAIR") == 0;
    if (mode && !w->fair && strcasecmp(mode, "FIFO") != 0)
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid value '%s' for spark.scheduler.mode: "
                            "expected FAIR or FIFO",
                            mode);
    return 0;
}

static int s_setup(ms_agent_t *w, ms_error_t *err)
{
    if (ms_mkdirs(w->dir) < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot create %s: %s", w->dir,
                            strerror(errno));
    if (ms_wake_fd() < 0)
        return ms_error_set(err, MS_ERR_IO, "pipe: %s", strerror(errno));
    w->zctx = zmq_ctx_new();
    if (!w->zctx) return ms_error_set(err, MS_ERR_NOMEM, "zmq context");
    /* Only small requests come here: a peer sending more is dropped
     * before anything is allocated for it. A driver that reconnects (same
     * routing id: its application id) takes over at once instead of being
     * refused as a duplicate. */
    w->router = ms_sock_server(
        w->zctx, ZMQ_ROUTER,
        &(ms_sock_opts_t){.max_frame = MS_PROTO_MAX_BODY, .handover = true},
        "worker", w->bind, err);
    if (!w->router) return err->code;
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
    ms_agent_t w;
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
        /* Drivers tell a restarted worker (whose executors died with the
         * old one) from one that was only slow to answer. */
        w.incarnation =
            (int64_t)getpid() << 32 | (ms_clock_wall_ms() & 0xffffffff) | 1;
        if (!ms_auth_enabled() && strncmp(w.bind, "tcp://127.", 10) != 0)
            fprintf(stderr,
                    "minispark worker: warning: spark.authenticate is off: "
                    "anyone who can reach %s can run executors here\n",
                    w.bind);
        printf("minispark worker: %d cores on %s (%s), executors in %s%s%s\n",
               w.cores, w.bind,
               w.fair ? "fair sharing" : "first come, first served", w.dir,
               w.shuffle ? ", shuffle server " : "",
               w.shuffle ? w.shuffle : "");
        fflush(stdout);
        status = s_run(&w) < 0 ? 4 : 0;
        ms_agent_stop_all(&w);
    }
    if (err.msg[0]) fprintf(stderr, "minispark worker: %s\n", err.msg);
    free(w.execs);
    free(w.apps);
    free(w.queue);
    if (w.router) zmq_close(w.router);
    if (w.zctx) zmq_ctx_term(w.zctx);
    ms_conf_destroy(&conf);
    return status;
}
