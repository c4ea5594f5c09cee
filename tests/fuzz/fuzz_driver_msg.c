/* libFuzzer harness for what a driver receives: messages from executors
 * (registration, heartbeats, task reports, migration reports) and from
 * worker agents (state, executor reports, release requests), through the
 * very functions the driver's event loop hands them to, on an application
 * with executors in every state (one of them migrating its map outputs)
 * and two workers, and no sockets. An input is a sequence of records
 * [who: 1 byte][length: 2 bytes, little-endian][body], so that a message
 * can meet the state earlier ones left. Any bytes must be handled without
 * a crash, a leak or a read past the buffer, and no executor may end up
 * registered unless its launch's token was in the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/task.h"
#include "common/worker_msg.h"
#include "driver/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* pid_max is at most 2^22: no process has these PIDs, so nothing that a
 * message makes the driver signal can be a real process. */
#define S_NO_PID 0x7ffffff0

static const char *const s_peers[] = {"exec-1-0123456789abcdef", "exec-2-bound",
                                      "stranger", "exec-3"};

static void s_exec(ms_exec_t *ex, int id, int worker, bool registered,
                   bool alive)
{
    memset(ex, 0, sizeof *ex);
    ex->id = id;
    ex->worker = worker;
    ex->pid = worker < 0 ? S_NO_PID + id : 0;
    ex->alive = alive;
    ex->registered = registered;
    ex->cores = 1;
    ex->running = registered;
    snprintf(ex->host, sizeof ex->host, "127.0.0.1");
    /* Tokens "1111...", "3333...": the seeds hold the right ones. */
    if (!registered) memset(ex->token, '0' + id, MS_AUTH_TOKEN_LEN);
    if (registered) snprintf(ex->ident, sizeof ex->ident, "exec-2-bound");
}

static void s_app(ms_app_t *app)
{
    memset(app, 0, sizeof *app);
    snprintf(app->app_id, sizeof app->app_id, "app-fuzz");
    app->static_target = 4;
    app->max_local = 8;
    app->cores_per_exec = 1;
    app->heartbeat_ms = 1000;
    app->max_launch_failures = 1000;
    app->register_timeout_ms = 30000;
    app->nexecs = app->cap = 4;
    app->execs = calloc(4, sizeof *app->execs);
    s_exec(&app->execs[0], 1, -1, false, true);
    s_exec(&app->execs[1], 2, -1, true, true);
    s_exec(&app->execs[2], 3, 0, false, true);
    s_exec(&app->execs[3], 4, -1, false, false); /* written off */
    /* the bound one is decommissioning, its outputs under way */
    app->execs[1].decommissioning = app->execs[1].migrating = true;
    app->nworkers = 2;
    app->workers = calloc(2, sizeof *app->workers);
    for (int i = 0; i < 2; i++) {
        ms_worker_t *w = &app->workers[i];
        snprintf(w->endpoint, sizeof w->endpoint, "tcp://127.0.0.1:%d",
                 7078 + i);
        snprintf(w->host, sizeof w->host, "127.0.0.1");
        w->answered = true;
        w->cores = w->free_cores = 4;
        w->inflight = 1;
    }
}

static void s_check(const ms_app_t *app, const uint8_t *data, size_t size)
{
    for (int i = 0; i < app->nexecs; i++) {
        const ms_exec_t *ex = &app->execs[i];
        char token[MS_AUTH_TOKEN_LEN];
        memset(token, '0' + ex->id, sizeof token);
        if (strnlen(ex->ident, sizeof ex->ident) == sizeof ex->ident ||
            ex->running < 0)
            __builtin_trap();
        /* Registered (bound) without its token in the input: forged. */
        if (ex->id != 2 && ex->ident[0] &&
            !memmem(data, size, token, sizeof token))
            __builtin_trap();
        for (int j = 0; j < i; j++)
            if (ex->ident[0] && strcmp(ex->ident, app->execs[j].ident) == 0)
                __builtin_trap();
    }
    for (int i = 0; i < app->nworkers; i++)
        if (app->workers[i].free_cores < 0 ||
            strnlen(app->workers[i].shuffle, sizeof app->workers[i].shuffle) ==
                sizeof app->workers[i].shuffle)
            __builtin_trap();
}

/* A decoded string always ends inside its buffer. */
#define S_TERMINATED(s) (strnlen((s), sizeof(s)) < sizeof(s))

/* What the decoders the handlers use give must be sound on its own. */
static void s_check_decoders(const uint8_t *body, size_t len)
{
    ms_msg_t m;
    ms_task_end_t e;
    ms_exec_report_t r;
    ms_worker_state_t st;
    ms_exec_release_t rel;
    if (ms_msg_parse(&m, body, len, NULL) < 0) return;
    if (ms_task_end_unpack(&m, &e, NULL) == 0 &&
        (!S_TERMINATED(e.message) || !S_TERMINATED(e.fetch_endpoint)))
        __builtin_trap();
    if (ms_exec_report_unpack(&m, &r, NULL) == 0 &&
        (!S_TERMINATED(r.message) || !S_TERMINATED(r.dir) ||
         r.state > MS_EXEC_QUEUED))
        __builtin_trap();
    if (ms_worker_state_unpack(&m, &st, NULL) == 0 &&
        (!S_TERMINATED(st.shuffle) || st.free_cores > st.cores ||
         st.held > st.cores || st.share > st.cores))
        __builtin_trap();
    if (ms_exec_release_unpack(&m, &rel, NULL) == 0 &&
        (!S_TERMINATED(rel.reason) || rel.count < 1))
        __builtin_trap();
    ms_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_app_t app;
    ms_error_t err;
    s_app(&app);
    if (!app.execs || !app.workers) abort();
    for (size_t off = 0; off + 3 <= size;) {
        uint8_t who = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off) len = size - off;
        const uint8_t *body = data + off;
        off += len;
        s_check_decoders(body, len);
        if (who & 1) {
            ms_app_on_worker_msg(&app, (who >> 1) % 2, body, len, &err);
        } else {
            const char *peer = s_peers[(who >> 1) % 4];
            ms_app_on_executor_msg(&app, peer, strlen(peer), body, len, NULL,
                                   0);
        }
        s_check(&app, data, size);
    }
    free(app.execs);
    free(app.workers);
    return 0;
}
