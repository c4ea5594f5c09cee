/* Starting executors as the worker's children, reaping them and stopping
 * them all. Each is tracked and signalled by PID only. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/launcher.h"
#include "shuffle/client.h"
#include "shuffle/files.h"
#include "worker/agent.h"

int ms_agent_grow(void *items, int n, int *cap, size_t size)
{
    void **p = items;
    if (n < *cap) return 0;
    int more = *cap ? 2 * *cap : 8;
    void *grown = realloc(*p, (size_t)more * size);
    if (!grown) return -1;
    *p = grown;
    *cap = more;
    return 0;
}

bool ms_peer_eq(const ms_peer_t *a, const ms_peer_t *b)
{
    return a->len == b->len && memcmp(a->id, b->id, a->len) == 0;
}

void ms_agent_send(ms_agent_t *a, const ms_peer_t *to, ms_msg_builder_t *b)
{
    ms_msg_send(a->router, to->id, to->len, b, NULL, NULL, 0);
}

void ms_agent_report(ms_agent_t *a, const ms_peer_t *to, ms_exec_report_t *r)
{
    ms_msg_builder_t b;
    r->free_cores = a->cores - a->used;
    ms_exec_report_pack(r, &b);
    ms_agent_send(a, to, &b);
}

static int s_exec_dir(ms_agent_t *a, const ms_exec_launch_t *l, char *dir,
                      size_t size, char *why, size_t why_size)
{
    if (!l->service) {
        snprintf(dir, size, "%s/minispark-%s/executor-%d", a->dir, l->app,
                 l->exec);
        return 0;
    }
    if (!a->shuffle) {
        snprintf(why, why_size,
                 "the application uses the shuffle service but this worker "
                 "has none (start it with --shuffle ENDPOINT)");
        return -1;
    }
    /* Asked at each launch until it answers, so that a worker may start
     * before its host's shuffle server. */
    if (!a->shuffle_dir[0] &&
        ms_shuffle_ping(a->zctx, a->shuffle, NULL, 2000, a->shuffle_dir,
                        sizeof a->shuffle_dir) < 0) {
        a->shuffle_dir[0] = '\0';
        snprintf(why, why_size, "this host's shuffle server %s does not answer",
                 a->shuffle);
        return -1;
    }
    snprintf(dir, size, "%s", a->shuffle_dir);
    return 0;
}

static pid_t s_spawn(ms_agent_t *a, const ms_exec_launch_t *l, const char *dir,
                     ms_error_t *err)
{
    char id[16], cores[16], hb[32], parent[16];
    snprintf(id, sizeof id, "%d", l->exec);
    snprintf(cores, sizeof cores, "%d", l->cores);
    snprintf(hb, sizeof hb, "%lld", (long long)l->heartbeat_ms);
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    char *argv[] = {"executor",
                    "--driver",
                    (char *)l->driver,
                    "--app-id",
                    (char *)l->app,
                    "--executor-id",
                    id,
                    "--dir",
                    (char *)dir,
                    "--cores",
                    cores,
                    "--heartbeat-ms",
                    hb,
                    "--host",
                    (char *)l->host,
                    "--parent-pid",
                    parent,
                    l->service ? "--shuffle-endpoint" : NULL,
                    (char *)a->shuffle,
                    NULL};
    /* The driver's one-time token for this launch: the executor's REGISTER
     * presents it. */
    return ms_launch_executor(argv, true, l->token, err);
}

void ms_agent_start(ms_agent_t *a, const ms_agent_request_t *q)
{
    const ms_exec_launch_t *l = &q->launch;
    ms_exec_report_t r = {.exec = l->exec, .state = MS_EXEC_FAILED};
    ms_error_t err = {0};
    pid_t pid = -1;
    if (s_exec_dir(a, l, r.dir, sizeof r.dir, r.message, sizeof r.message) ==
        0) {
        if (ms_agent_grow(&a->execs, a->nexecs, &a->execs_cap,
                          sizeof *a->execs) < 0)
            snprintf(r.message, sizeof r.message, "out of memory");
        else if ((pid = s_spawn(a, l, r.dir, &err)) < 0)
            snprintf(r.message, sizeof r.message, "%s", err.msg);
    }
    if (pid > 0) {
        ms_agent_exec_t *e = &a->execs[a->nexecs++];
        memset(e, 0, sizeof *e);
        e->driver = q->driver;
        snprintf(e->app, sizeof e->app, "%s", l->app);
        e->exec = l->exec;
        e->cores = l->cores;
        e->pid = pid;
        snprintf(e->dir, sizeof e->dir, "%s", r.dir);
        e->service = l->service;
        a->used += l->cores;
        r.state = MS_EXEC_STARTED;
        r.pid = (int)pid;
        printf("minispark worker: started executor %d of %s (pid %d, %d "
               "cores)\n",
               l->exec, l->app, (int)pid, l->cores);
        fflush(stdout);
    } else {
        fprintf(stderr, "minispark worker: executor %d of %s not started: %s\n",
                l->exec, l->app, r.message);
    }
    ms_agent_report(a, &q->driver, &r);
}

/* An executor removes its own outputs when it ends well; these are what
 * a killed one left. */
static void s_remove_files(const ms_agent_exec_t *e)
{
    ms_shuffle_remove_dir(e->dir, e->app, true);
}

bool ms_agent_reap(ms_agent_t *a, bool block)
{
    bool any = false;
    for (int i = 0; i < a->nexecs;) {
        ms_agent_exec_t *e = &a->execs[i];
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
        a->used -= e->cores;
        if (!e->service) s_remove_files(e);
        ms_exec_report_t r = {.exec = e->exec,
                              .state = MS_EXEC_EXITED,
                              .pid = (int)e->pid,
                              .status = status};
        snprintf(r.message, sizeof r.message, "%s", how);
        ms_agent_report(a, &e->driver, &r);
        ms_agent_released(a, &e->driver);
        *e = a->execs[--a->nexecs];
        any = true;
    }
    return any;
}

void ms_agent_stop_all(ms_agent_t *a)
{
    for (int i = 0; i < a->nexecs; i++)
        kill(a->execs[i].pid, SIGTERM);
    for (int64_t end = ms_clock_now_ms() + 3000;
         a->nexecs && ms_clock_now_ms() < end;) {
        ms_agent_reap(a, false);
        zmq_poll(NULL, 0, 20);
    }
    for (int i = 0; i < a->nexecs; i++)
        kill(a->execs[i].pid, SIGKILL);
    ms_agent_reap(a, true);
}
