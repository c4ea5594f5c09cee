/* The `shuffle-server` subcommand: the external shuffle service of one
 * host, serving map outputs after the executors that wrote them are gone. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/conf.h"
#include "common/conf_keys.h"
#include "common/fsutil.h"
#include "common/launcher.h"
#include "shuffle/server.h"

static const char s_usage[] =
    "usage: minispark shuffle-server [--bind ENDPOINT] [--dir DIR]\n"
    "                                [--conf KEY=VALUE]...\n"
    "                                [--parent-pid PID] [--log FILE]\n"
    "\n"
    "Serves shuffle files from DIR (created if missing), of the\n"
    "applications whose drivers registered with it, until SIGTERM or\n"
    "SIGINT. ENDPOINT defaults to tcp://127.0.0.1:PORT with PORT from\n"
    "spark.shuffle.service.port (7337); DIR defaults to\n"
    "<spark.local.dir>/minispark-shuffle-PORT. The files of an application\n"
    "whose driver has not been heard from for minispark.shuffle.appTimeout\n"
    "(120s; 'infinity' keeps them) are deleted. With spark.authenticate=true\n"
    "(and spark.authenticate.secret or spark.authenticate.secret.file) only\n"
    "peers with the secret are served, over encrypted connections.\n"
    "\n"
    "Blocks are handed to the network without a copy, and what is queued\n"
    "for a client that has not read it yet is bounded:\n"
    "minispark.shuffle.maxBytesInFlight (64m) per client and\n"
    "minispark.shuffle.maxBytesInFlightTotal (1g) for all; a fetch that\n"
    "would go over waits until the client reads. A client with 64 fetches\n"
    "waiting, or that has read nothing for\n"
    "minispark.shuffle.clientStallTimeout (10s) while the total is full\n"
    "and others wait, is disconnected, which frees what it held.\n"
    "\n"
    "--parent-pid PID (a driver that starts its own server): the server\n"
    "stops when PID dies, and once no application has been registered for\n"
    "minispark.shuffle.idleTimeout (60s). --log FILE: stdin is /dev/null\n"
    "and stdout and stderr are appended to FILE, so that the server does\n"
    "not hold its starter's terminal or pipes.\n";

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* Points stdin at /dev/null and stdout and stderr at the end of path. */
static int s_redirect(const char *path)
{
    int log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int ok = log >= 0 && null >= 0 && dup2(null, STDIN_FILENO) >= 0 &&
             dup2(log, STDOUT_FILENO) >= 0 && dup2(log, STDERR_FILENO) >= 0;
    int saved = errno;
    if (log >= 0) close(log);
    if (null >= 0) close(null);
    errno = saved;
    return ok ? 0 : -1;
}

typedef struct {
    const char *bind, *dir, *log, *local;
    long parent;
    int64_t port, app_timeout, idle_timeout;
    ms_shuffle_limits_t limits;
} s_args_t;

static int s_positive(int64_t v, const char *key, ms_error_t *err)
{
    return v > 0 ? 0
                 : ms_error_set(err, MS_ERR_USAGE, "%s must be positive", key);
}

static int s_read_conf(const ms_conf_t *conf, s_args_t *a, ms_error_t *err)
{
    int64_t client = 0, total = 0;
    int rc = ms_conf_key_int(conf, "spark.shuffle.service.port", &a->port, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "minispark.shuffle.appTimeout",
                             &a->app_timeout, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "minispark.shuffle.idleTimeout",
                             &a->idle_timeout, err);
    if (rc == 0)
        rc = ms_conf_key_int_or(conf, "minispark.shuffle.clientStallTimeout",
                                MS_SHUFFLE_CLIENT_STALL_MS, &a->limits.stall_ms,
                                err);
    if (rc == 0)
        rc = ms_conf_key_int_or(conf, "minispark.shuffle.maxBytesInFlight",
                                (int64_t)MS_SHUFFLE_MAX_BYTES_IN_FLIGHT,
                                &client, err);
    if (rc == 0)
        rc = ms_conf_key_int_or(conf, "minispark.shuffle.maxBytesInFlightTotal",
                                (int64_t)MS_SHUFFLE_MAX_BYTES_IN_FLIGHT_TOTAL,
                                &total, err);
    if (rc == 0)
        rc = s_positive(client, "minispark.shuffle.maxBytesInFlight", err);
    if (rc == 0)
        rc = s_positive(total, "minispark.shuffle.maxBytesInFlightTotal", err);
    if (rc == 0) rc = ms_auth_conf(conf, err);
    if (rc == 0) rc = ms_conf_local_dir(conf, &a->local, err);
    a->limits.client_bytes = (uint64_t)client;
    a->limits.total_bytes = (uint64_t)total;
    return rc;
}

static int s_serve(const s_args_t *a)
{
    ms_error_t err = {0};
    int rc = 4;
    void *zctx = zmq_ctx_new();
    ms_shuffle_server_t *server = NULL;
    if (ms_shuffle_server_new(&server, zctx, a->bind, a->dir, &err) < 0 ||
        (ms_shuffle_server_reap_apps(server, a->app_timeout, stderr) < 0 &&
         ms_error_set(&err, MS_ERR_NOMEM, "out of memory") < 0)) {
        fprintf(stderr, "minispark shuffle-server: %s\n", err.msg);
    } else {
        ms_shuffle_server_limit(server, &a->limits, stderr);
        if (a->parent)
            ms_shuffle_server_exit_when_idle(server, a->idle_timeout);
        if (!ms_auth_enabled() && strncmp(a->bind, "tcp://127.", 10) != 0)
            fprintf(stderr,
                    "minispark shuffle-server: warning: spark.authenticate is "
                    "off: anyone who can reach %s can read shuffle data\n",
                    a->bind);
        printf("minispark shuffle-server: serving %s on %s\n", a->dir,
               ms_shuffle_server_endpoint(server));
        fflush(stdout);
        rc = ms_shuffle_server_run(server, &s_stop) < 0 ? 4 : 0;
        if (rc == 0 && !s_stop)
            fprintf(stderr,
                    "minispark shuffle-server: no application registered for "
                    "%.0f s (minispark.shuffle.idleTimeout): exiting\n",
                    (double)a->idle_timeout / 1000.0);
    }
    ms_shuffle_server_destroy(&server);
    zmq_ctx_term(zctx);
    return rc;
}

int ms_shuffle_server_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"bind", required_argument, 0, 'b'},
        {"dir", required_argument, 0, 'd'},
        {"conf", required_argument, 0, 'c'},
        {"parent-pid", required_argument, 0, 'P'},
        {"log", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    s_args_t a = {0};
    ms_conf_t *conf = ms_conf_new();
    ms_error_t err = {0};
    int c, rc = 2;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b')
            a.bind = optarg;
        else if (c == 'd')
            a.dir = optarg;
        else if (c == 'l')
            a.log = optarg;
        else if (c == 'P' && (a.parent = strtol(optarg, &end, 10)) > 1 && !*end)
            continue;
        else if (c == 'c' && ms_conf_set_pair(conf, optarg, &err) == 0)
            continue;
        else if (c == 'h') {
            fputs(s_usage, stdout);
            rc = 0;
            goto done;
        } else {
            goto usage;
        }
    }
    if (optind != argc ||
        ms_conf_check(conf, ms_conf_warn_stderr, "minispark shuffle-server",
                      &err) < 0 ||
        s_read_conf(conf, &a, &err) < 0)
        goto usage;
    if (a.log && s_redirect(a.log) < 0) {
        fprintf(stderr, "minispark shuffle-server: cannot open log %s: %s\n",
                a.log, strerror(errno));
        rc = 3;
        goto done;
    }
    if (ms_follow_parent((pid_t)a.parent) < 0) {
        fprintf(stderr, "minispark shuffle-server: parent %ld is gone\n",
                a.parent);
        rc = 0;
        goto done;
    }
    char bind_buf[64], dir_buf[4200];
    snprintf(bind_buf, sizeof bind_buf, "tcp://127.0.0.1:%d", (int)a.port);
    snprintf(dir_buf, sizeof dir_buf, "%s/minispark-shuffle-%d", a.local,
             (int)a.port);
    if (!a.bind) a.bind = bind_buf;
    if (!a.dir) a.dir = dir_buf;
    if (ms_mkdirs(a.dir) < 0) {
        fprintf(stderr, "minispark shuffle-server: cannot create %s: %s\n",
                a.dir, strerror(errno));
        rc = 3;
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    rc = s_serve(&a);
    goto done;
usage:
    if (err.msg[0]) fprintf(stderr, "minispark shuffle-server: %s\n", err.msg);
    fputs(s_usage, stderr);
done:
    ms_conf_destroy(&conf);
    return rc;
}
