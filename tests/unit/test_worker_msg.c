/* The driver <-> worker messages survive a round trip through the
 * envelope, and a field of the wrong type, out of range or too long for
 * its buffer is refused rather than cut or trusted. */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <string.h>

#include "common/mp.h"
#include "common/proto.h"
#include "common/worker_msg.h"

/* Parses the envelope as a receiver does. Strings point into the bytes:
 * the builder is freed (s_done) only after the fields are read. */
static void s_parse(ms_msg_builder_t *b, ms_msg_t *m)
{
    cr_assert_eq(ms_msg_parse(m, b->sb.data, b->sb.size, NULL), 0);
}

static void s_done(ms_msg_builder_t *b, ms_msg_t *m)
{
    ms_msg_free(m);
    ms_msg_builder_free(b);
}

#define S_TOKEN "0123456789abcdef0123456789abcdef"

Test(worker_msg, launch_round_trip)
{
    /* Zeroed whole, padding too, so that memcmp compares fields. */
    ms_exec_launch_t l, got;
    memset(&l, 0, sizeof l);
    l.exec = 7;
    l.cores = 2;
    l.heartbeat_ms = 250;
    l.service = true;
    strcpy(l.app, "app-20261122053000-42");
    strcpy(l.driver, "tcp://10.1.0.3:40001");
    strcpy(l.host, "10.1.0.1");
    strcpy(l.token, "0123456789abcdef0123456789abcdef");
    ms_msg_builder_t b;
    ms_msg_t m;
    ms_exec_launch_pack(&l, &b);
    s_parse(&b, &m);
    cr_assert_eq(m.type, MS_MSG_EXEC_LAUNCH);
    cr_assert_eq(ms_exec_launch_unpack(&m, &got, NULL), 0);
    cr_assert_eq(memcmp(&l, &got, sizeof l), 0);
    s_done(&b, &m);
}

Test(worker_msg, report_and_state_round_trip)
{
    ms_exec_report_t r, got;
    memset(&r, 0, sizeof r);
    r.exec = 3;
    r.state = MS_EXEC_EXITED;
    r.pid = 4242;
    r.status = 9;
    r.free_cores = 1;
    strcpy(r.message, "killed by signal 9 (Killed)");
    strcpy(r.dir, "/srv/shuffle");
    ms_msg_builder_t b;
    ms_msg_t m;
    ms_exec_report_pack(&r, &b);
    s_parse(&b, &m);
    cr_assert_eq(ms_exec_report_unpack(&m, &got, NULL), 0);
    cr_assert_eq(memcmp(&r, &got, sizeof r), 0);
    s_done(&b, &m);

    ms_worker_state_t st, sgot;
    memset(&st, 0, sizeof st);
    st.cores = 4;
    st.free_cores = 3;
    st.held = 2;
    st.share = 1;
    st.fair = true;
    st.incarnation = (int64_t)4242 << 32 | 7;
    strcpy(st.shuffle, "tcp://10.1.0.1:7337");
    ms_worker_state_pack(&st, &b);
    s_parse(&b, &m);
    cr_assert_eq(ms_worker_state_unpack(&m, &sgot, NULL), 0);
    cr_assert_eq(memcmp(&st, &sgot, sizeof st), 0);
    /* The wrong decoder for a message refuses it. */
    cr_assert_lt(ms_exec_report_unpack(&m, &got, NULL), 0);
    s_done(&b, &m);

    ms_exec_release_t rel, rgot;
    memset(&rel, 0, sizeof rel);
    rel.count = 2;
    strcpy(rel.reason, "fair shares of its 2 cores: ...");
    ms_exec_release_pack(&rel, &b);
    s_parse(&b, &m);
    cr_assert_eq(ms_exec_release_unpack(&m, &rgot, NULL), 0);
    cr_assert_eq(memcmp(&rel, &rgot, sizeof rel), 0);
    s_done(&b, &m);
}

Test(worker_msg, refuses_bad_fields)
{
    ms_msg_builder_t b;
    ms_msg_t m;
    ms_exec_launch_t l;
    ms_error_t err;
    /* An application id longer than its buffer. */
    char app[100];
    memset(app, 'a', sizeof app - 1);
    app[sizeof app - 1] = '\0';
    ms_msg_begin(&b, MS_MSG_EXEC_LAUNCH, 8);
    ms_mp_pack_str(&b.pk, app);
    msgpack_pack_int(&b.pk, 1);
    msgpack_pack_int(&b.pk, 1);
    ms_mp_pack_str(&b.pk, "tcp://127.0.0.1:1");
    msgpack_pack_int(&b.pk, 1000);
    ms_mp_pack_str(&b.pk, "127.0.0.1");
    msgpack_pack_false(&b.pk);
    ms_mp_pack_str(&b.pk, S_TOKEN);
    s_parse(&b, &m);
    cr_assert_eq(ms_exec_launch_unpack(&m, &l, &err), MS_ERR_PROTO);
    cr_assert(strstr(err.msg, "launch"));
    s_done(&b, &m);
    /* Zero cores, and a string where a number belongs. */
    ms_msg_begin(&b, MS_MSG_EXEC_LAUNCH, 8);
    ms_mp_pack_str(&b.pk, "app-1");
    msgpack_pack_int(&b.pk, 1);
    msgpack_pack_int(&b.pk, 0);
    ms_mp_pack_str(&b.pk, "tcp://127.0.0.1:1");
    ms_mp_pack_str(&b.pk, "1000");
    ms_mp_pack_str(&b.pk, "127.0.0.1");
    msgpack_pack_false(&b.pk);
    ms_mp_pack_str(&b.pk, S_TOKEN);
    s_parse(&b, &m);
    cr_assert_lt(ms_exec_launch_unpack(&m, &l, NULL), 0);
    s_done(&b, &m);
    /* A token that is not 32 hex digits: the executor could never
     * register with it. */
    static const char *const tokens[] = {"", "0123", S_TOKEN "0",
                                         "0123456789abcdef0123456789abcdeX"};
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++) {
        ms_msg_begin(&b, MS_MSG_EXEC_LAUNCH, 8);
        ms_mp_pack_str(&b.pk, "app-1");
        msgpack_pack_int(&b.pk, 1);
        msgpack_pack_int(&b.pk, 1);
        ms_mp_pack_str(&b.pk, "tcp://127.0.0.1:1");
        msgpack_pack_int(&b.pk, 1000);
        ms_mp_pack_str(&b.pk, "127.0.0.1");
        msgpack_pack_false(&b.pk);
        ms_mp_pack_str(&b.pk, tokens[i]);
        s_parse(&b, &m);
        cr_assert_lt(ms_exec_launch_unpack(&m, &l, NULL), 0, "token '%s'",
                     tokens[i]);
        s_done(&b, &m);
    }
    /* More free cores than cores. */
    ms_worker_state_t st;
    ms_msg_begin(&b, MS_MSG_WORKER_STATE, 7);
    msgpack_pack_int(&b.pk, 2);
    msgpack_pack_int(&b.pk, 3);
    ms_mp_pack_str(&b.pk, "");
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_true(&b.pk);
    msgpack_pack_int64(&b.pk, 1);
    s_parse(&b, &m);
    cr_assert_lt(ms_worker_state_unpack(&m, &st, NULL), 0);
    s_done(&b, &m);
}
