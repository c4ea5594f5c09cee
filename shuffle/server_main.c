/* The `shuffle-server` subcommand: the external shuffle service of one
 * host, serving map outputs after the executors that wrote them are gone. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/conf.h"
#include "common/fsutil.h"
#include "shuffle/server.h"

static const char s_usage[] =
    "usage: minispark shuffle-server [--bind ENDPOINT] [--dir DIR]\n"
    "                                [--conf KEY=VALUE]...\n"
    "\n"
    "Serves shuffle files from DIR (created if missing), of the\n"
    "applications whose drivers registered with it, until SIGTERM or\n"
    "SIGINT. ENDPOINT defaults to tcp://127.0.0.1:PORT with PORT from\n"
    "spark.shuffle.service.port (7337); DIR defaults to\n"
    "<spark.local.dir>/minispark-shuffle-PORT. The files of an application\n"
    "whose driver has not been heard from for minispark.shuffle.appTimeout\n"
    "(120s; 'infinity' keeps them) are deleted. With spark.authenticate=true\n"
    "(and spark.authenticate.secret or spark.authenticate.secret.file) only\n"
    "peers with the secret are served, over encrypted connections.\n";

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int ms_shuffle_server_main(int argc, char **argv)
{
    static const struct option opts[] = {{"bind", required_argument, 0, 'b'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"conf", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *bind = NULL, *dir = NULL, *local;
    ms_conf_t *conf = ms_conf_new();
    ms_error_t err = {0};
    int c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'b')
            bind = optarg;
        else if (c == 'd')
            dir = optarg;
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
    int64_t port, app_timeout;
    if (optind != argc ||
        ms_conf_int(conf, "spark.shuffle.service.port", 7337, 1, 65535, &port,
                    &err) < 0 ||
        ms_conf_duration_ms(conf, "minispark.shuffle.appTimeout", 1000, 120000,
                            &app_timeout, &err) < 0 ||
        ms_auth_conf(conf, &err) < 0 ||
        ms_conf_local_dir(conf, &local, &err) < 0)
        goto usage;
    char bind_buf[64], dir_buf[4200];
    snprintf(bind_buf, sizeof bind_buf, "tcp://127.0.0.1:%d", (int)port);
    snprintf(dir_buf, sizeof dir_buf, "%s/minispark-shuffle-%d", local,
             (int)port);
    if (!bind) bind = bind_buf;
    if (!dir) dir = dir_buf;
    if (ms_mkdirs(dir) < 0) {
        fprintf(stderr, "minispark shuffle-server: cannot create %s: %s\n", dir,
                strerror(errno));
        rc = 3;
        goto done;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    void *zctx = zmq_ctx_new();
    ms_shuffle_server_t *server = NULL;
    if (ms_shuffle_server_new(&server, zctx, bind, dir, &err) < 0 ||
        (ms_shuffle_server_reap_apps(server, app_timeout, stderr) < 0 &&
         ms_error_set(&err, MS_ERR_NOMEM, "out of memory") < 0)) {
        fprintf(stderr, "minispark shuffle-server: %s\n", err.msg);
        rc = 4;
    } else {
        if (!ms_auth_enabled() && strncmp(bind, "tcp://127.", 10) != 0)
            fprintf(stderr,
                    "minispark shuffle-server: warning: spark.authenticate is "
                    "off: anyone who can reach %s can read shuffle data\n",
                    bind);
        printf("minispark shuffle-server: serving %s on %s\n", dir,
               ms_shuffle_server_endpoint(server));
        fflush(stdout);
        rc = ms_shuffle_server_run(server, &s_stop) < 0 ? 4 : 0;
    }
    ms_shuffle_server_destroy(&server);
    zmq_ctx_term(zctx);
    goto done;
usage:
    if (err.msg[0]) fprintf(stderr, "minispark shuffle-server: %s\n", err.msg);
    fputs(s_usage, stderr);
done:
    ms_conf_destroy(&conf);
    return rc;
}
