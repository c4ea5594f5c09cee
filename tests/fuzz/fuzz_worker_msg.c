/* libFuzzer harness for what a worker agent receives from drivers (hellos,
 * executor launches, kills, executors kept), through the function its event
 * loop hands them to, with no sockets. An input is a sequence of records
 * [driver: 1 byte][length: 2 bytes, little-endian][body], so that a message
 * meets the state earlier ones left (applications known, launches queued). The
 * agent's cores are all in use, so a launch is queued and never started:
 * no process is ever made. Any bytes must be handled without a crash, a
 * leak or a read past the buffer, and what is queued must be sound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "worker/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const s_drivers[] = {"app-a", "app-b", "app-c"};

#define S_TERMINATED(s) (strnlen((s), sizeof(s)) < sizeof(s))

static void s_check(const ms_agent_t *a)
{
    if (a->nexecs != 0 || a->used != a->cores) __builtin_trap();
    for (int i = 0; i < a->nqueued; i++) {
        const ms_exec_launch_t *l = &a->queue[i].launch;
        if (!S_TERMINATED(l->app) || !S_TERMINATED(l->driver) ||
            !S_TERMINATED(l->host) || strlen(l->token) != MS_AUTH_TOKEN_LEN ||
            l->cores < 1 || l->cores > a->cores)
            __builtin_trap();
    }
    for (int i = 0; i < a->napps; i++)
        if (!S_TERMINATED(a->apps[i].app) || a->apps[i].weight < 0)
            __builtin_trap();
}

/* The launch decoder's output must be sound on its own. */
static void s_check_launch(const uint8_t *body, size_t len)
{
    ms_msg_t m;
    ms_exec_launch_t l;
    if (ms_msg_parse(&m, body, len, NULL) < 0) return;
    if (ms_exec_launch_unpack(&m, &l, NULL) == 0 &&
        (!S_TERMINATED(l.app) || !S_TERMINATED(l.driver) ||
         !S_TERMINATED(l.host) || l.cores < 1 ||
         strspn(l.token, "0123456789abcdef") != MS_AUTH_TOKEN_LEN))
        __builtin_trap();
    ms_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_agent_t a;
    memset(&a, 0, sizeof a);
    a.bind = "tcp://127.0.0.1:7078";
    a.dir = "/nonexistent/minispark-fuzz";
    a.cores = a.used = 4;
    a.fair = true;
    a.incarnation = 1;
    for (size_t off = 0; off + 3 <= size;) {
        uint8_t who = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off) len = size - off;
        s_check_launch(data + off, len);
        const char *driver = s_drivers[who % 3];
        ms_agent_on_message(&a, driver, strlen(driver), data + off, len);
        off += len;
        s_check(&a);
    }
    free(a.execs);
    free(a.apps);
    free(a.queue);
    return 0;
}
