/* libFuzzer harness for the control messages an executor receives: the
 * envelope, then the launch (and the plan inside it); the bytes are also
 * tried as a packed plan directly. What a driver and a worker receive has
 * harnesses of its own (fuzz_driver_msg.c, fuzz_worker_msg.c). Any bytes must
 * give a value or an error, never a crash, a leak or a read past the buffer,
 * and a plan that decodes must re-encode to one that decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/plan.h"
#include "common/proto.h"
#include "common/task.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_msg_t m;
    ms_error_t err;
    if (ms_msg_parse(&m, data, size, &err) == 0) {
        if (m.type == MS_MSG_LAUNCH) s_check_launch(&m);
        ms_msg_free(&m);
    }
    s_check_plan((const char *)data, size);
    return 0;
}
