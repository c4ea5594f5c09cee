/* libFuzzer harness for the control messages an executor, a driver and a
 * worker receive: the envelope, then the launch (and the plan inside it),
 * the task-end report or a driver <-> worker message; the bytes are also tried
 * as a packed plan directly. Any bytes must give a value or an error, never a
 * crash, a leak or a read past the buffer, and a plan that decodes must
 * re-encode to one that decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/plan.h"
#include "common/proto.h"
#include "common/task.h"
#include "common/worker_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check_plan(const char *buf, size_t len)
{
    ms_plan_t *plan = NULL, *again = NULL;
    ms_error_t err;
    if (ms_plan_unpack(&plan, buf, len, &err) < 0) {
        if (plan) __builtin_trap();
        return;
    }
    char *packed, *repacked;
    size_t plen, rlen;
    if (ms_plan_pack(plan, &packed, &plen) < 0) abort();
    if (ms_plan_unpack(&again, packed, plen, &err) < 0) __builtin_trap();
    if (ms_plan_pack(again, &repacked, &rlen) < 0) abort();
    if (plen != rlen || memcmp(packed, repacked, plen) != 0) __builtin_trap();
    free(repacked);
    free(packed);
    ms_plan_destroy(&again);
    ms_plan_destroy(&plan);
}

static void s_check_launch(const ms_msg_t *m)
{
    ms_task_t t;
    ms_error_t err;
    if (ms_task_unpack(m, &t, &err) < 0) {
        if (t.plan || t.locs || t.nlocs) __builtin_trap();
        return;
    }
    s_check_plan(t.plan, t.plan_len);
    ms_task_free(&t);
}

static void s_check_task_end(const ms_msg_t *m)
{
    ms_task_end_t e;
    ms_error_t err;
    if (ms_task_end_unpack(m, &e, &err) < 0) return;
    if (strnlen(e.message, sizeof e.message) == sizeof e.message ||
        strnlen(e.fetch_endpoint, sizeof e.fetch_endpoint) ==
            sizeof e.fetch_endpoint)
        __builtin_trap();
}

/* A decoded string always ends inside its buffer. */
#define S_TERMINATED(s) (strnlen((s), sizeof(s)) < sizeof(s))

static void s_check_worker(const ms_msg_t *m)
{
    ms_exec_launch_t l;
    ms_exec_report_t r;
    ms_worker_state_t st;
    if (ms_exec_launch_unpack(m, &l, NULL) == 0 &&
        (!S_TERMINATED(l.app) || !S_TERMINATED(l.driver) ||
         !S_TERMINATED(l.host) || l.cores < 1))
        __builtin_trap();
    if (ms_exec_report_unpack(m, &r, NULL) == 0 &&
        (!S_TERMINATED(r.message) || !S_TERMINATED(r.dir) ||
         r.state > MS_EXEC_QUEUED))
        __builtin_trap();
    if (ms_worker_state_unpack(m, &st, NULL) == 0 &&
        (!S_TERMINATED(st.shuffle) || st.free_cores > st.cores ||
         st.held > st.cores || st.share > st.cores))
        __builtin_trap();
    ms_exec_release_t rel;
    if (ms_exec_release_unpack(m, &rel, NULL) == 0 &&
        (!S_TERMINATED(rel.reason) || rel.count < 1))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_msg_t m;
    ms_error_t err;
    if (ms_msg_parse(&m, data, size, &err) == 0) {
        if (m.type == MS_MSG_LAUNCH)
            s_check_launch(&m);
        else if (m.type == MS_MSG_TASK_END)
            s_check_task_end(&m);
        else
            s_check_worker(&m);
        ms_msg_free(&m);
    }
    s_check_plan((const char *)data, size);
    return 0;
}
