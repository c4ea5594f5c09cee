/* Behaviour of the message envelope and the task codecs: launch and task-end
 * messages survive a round trip through ms_msg_parse, and every envelope or
 * field that is not what the protocol says is refused, not trusted. Bad
 * messages are made by editing the msgpack tree of a good one. */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "common/task.h"

/* ---- fixtures ------------------------------------------------------------ */

static const char s_plan_bytes[] = {'p', 0, 'l', (char)0xff, 'a', 'n'};

static ms_task_t s_reduce_task(void)
{
    static ms_task_loc_t locs[3] = {{0, "tcp://10.0.0.1:7337"},
                                    {1, "tcp://10.0.0.2:7337"},
                                    {7, "ipc:///tmp/exec-3"}};
    return (ms_task_t){.task_id = 1234567890123LL,
                       .stage_id = 1,
                       .attempt = 2,
                       .kind = MS_TASK_REDUCE,
                       .shuffle_id = 5,
                       .partition = 31,
                       .split_start = 0,
                       .split_end = -1,
                       .fetch_timeout_ms = 30000,
                       .delay_ms = 0,
                       .nlocs = 3,
                       .locs = locs,
                       .plan = (char *)s_plan_bytes,
                       .plan_len = sizeof s_plan_bytes};
}

static ms_task_end_t s_task_end(void)
{
    ms_task_end_t e = {.task_id = 42,
                       .attempt = 3,
                       .status = MS_TASK_FETCH_FAILED,
                       .metrics = {1, 2, 3, 4, 5, 6, 7, INT64_MAX, 8, 9},
                       .fetch_map = 9};
    snprintf(e.message, sizeof e.message, "fetch of map 9 failed: \"timeout\"");
    snprintf(e.fetch_endpoint, sizeof e.fetch_endpoint, "tcp://host:7337");
    return e;
}

static void s_parse_ok(ms_msg_t *m, const ms_msg_builder_t *b, int type)
{
    ms_error_t err = {0};
    cr_assert_eq(ms_msg_parse(m, b->sb.data, b->sb.size, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(m->type, type);
}

/* ---- round trips ------------------------------------------------------------
 */

static void s_expect_task_round_trip(const ms_task_t *t)
{
    ms_msg_builder_t b;
    ms_task_pack(t, &b);
    ms_msg_t m;
    s_parse_ok(&m, &b, MS_MSG_LAUNCH);
    ms_task_t u;
    ms_error_t err = {0};
    cr_assert_eq(ms_task_unpack(&m, &u, &err), 0, "%s", err.msg);
    /* The task owns copies: the message can go. */
    ms_msg_free(&m);
    ms_msg_builder_free(&b);
    cr_assert_eq(u.task_id, t->task_id);
    cr_assert_eq(u.stage_id, t->stage_id);
    cr_assert_eq(u.attempt, t->attempt);
    cr_assert_eq(u.kind, t->kind);
    cr_assert_eq(u.shuffle_id, t->shuffle_id);
    cr_assert_eq(u.partition, t->partition);
    cr_assert_eq(u.split_start, t->split_start);
    cr_assert_eq(u.split_end, t->split_end);
    cr_assert_eq(u.fetch_timeout_ms, t->fetch_timeout_ms);
    cr_assert_eq(u.delay_ms, t->delay_ms);
    cr_assert_eq(u.inject, t->inject);
    cr_assert_eq(u.nlocs, t->nlocs);
    for (int i = 0; i < t->nlocs; i++) {
        cr_assert_eq(u.locs[i].map, t->locs[i].map);
        cr_assert_str_eq(u.locs[i].endpoint, t->locs[i].endpoint);
    }
    cr_assert_eq(u.plan_len, t->plan_len);
    cr_assert_eq(memcmp(u.plan, t->plan, t->plan_len), 0);
    ms_task_free(&u);
    cr_assert_null(u.plan);
    cr_assert_null(u.locs);
}

Test(task, launch_of_a_reduce_task_round_trips)
{
    ms_task_t t = s_reduce_task();
    s_expect_task_round_trip(&t);
}

Test(task, launch_of_a_map_task_round_trips)
{
    ms_task_t t = s_reduce_task();
    t.kind = MS_TASK_MAP;
    t.nlocs = 0;
    t.split_start = 128LL << 20;
    t.split_end = 256LL << 20;
    t.delay_ms = 1500;
    t.inject = MS_INJECT_STALL_FETCH;
    t.task_id = 0;
    t.attempt = 0;
    s_expect_task_round_trip(&t);
}

Test(task, launch_with_extreme_values_round_trips)
{
    ms_task_t t = s_reduce_task();
    t.task_id = INT64_MAX;
    t.stage_id = INT32_MAX;
    t.attempt = INT32_MAX;
    t.partition = INT32_MAX;
    t.split_end = INT64_MAX;
    t.fetch_timeout_ms = 1;
    t.delay_ms = INT64_MAX;
    s_expect_task_round_trip(&t);
}

Test(task, task_end_round_trips_for_every_status)
{
    for (int s = MS_TASK_OK; s <= MS_TASK_NOT_RETRYABLE; s++) {
        ms_task_end_t e = s_task_end();
        e.status = (ms_task_status_t)s;
        e.fetch_map = s == MS_TASK_FETCH_FAILED ? 9 : -1;
        e.fetch_unreachable = s == MS_TASK_FETCH_FAILED;
        e.code = s == MS_TASK_OK ? 0 : MS_ERR_OVERFLOW;
        ms_msg_builder_t b;
        ms_task_end_pack(&e, &b);
        ms_msg_t m;
        s_parse_ok(&m, &b, MS_MSG_TASK_END);
        ms_task_end_t u;
        ms_error_t err = {0};
        cr_assert_eq(ms_task_end_unpack(&m, &u, &err), 0, "%s", err.msg);
        ms_msg_free(&m);
        ms_msg_builder_free(&b);
        cr_assert_eq(u.task_id, e.task_id);
        cr_assert_eq(u.attempt, e.attempt);
        cr_assert_eq(u.status, e.status);
        cr_assert_eq(u.code, e.code);
        cr_assert_str_eq(u.message, e.message);
        cr_assert_eq(memcmp(&u.metrics, &e.metrics, sizeof u.metrics), 0);
        cr_assert_eq(u.fetch_map, e.fetch_map);
        cr_assert_str_eq(u.fetch_endpoint, e.fetch_endpoint);
        cr_assert_eq(u.fetch_unreachable, e.fetch_unreachable);
    }
}

Test(task, task_end_message_too_long_for_the_report_is_cut_not_overrun)
{
    /* A peer may send a longer message than we would: build one by hand. */
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_TASK_END, 9);
    char msg[3000];
    memset(msg, 'm', sizeof msg);
    msgpack_pack_int64(&b.pk, 1);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_int(&b.pk, MS_TASK_FAILED);
    msgpack_pack_str(&b.pk, sizeof msg);
    msgpack_pack_str_body(&b.pk, msg, sizeof msg);
    msgpack_pack_array(&b.pk, 10);
    for (int i = 0; i < 10; i++)
        msgpack_pack_int(&b.pk, i);
    msgpack_pack_int(&b.pk, -1);
    msgpack_pack_str(&b.pk, 0);
    msgpack_pack_false(&b.pk);
    msgpack_pack_int(&b.pk, MS_ERR_FAILED);
    ms_msg_t m;
    s_parse_ok(&m, &b, MS_MSG_TASK_END);
    ms_task_end_t u;
    ms_error_t err = {0};
    cr_assert_eq(ms_task_end_unpack(&m, &u, &err), 0, "%s", err.msg);
    cr_assert_eq(strlen(u.message), sizeof u.message - 1);
    cr_assert_str_eq(u.fetch_endpoint, "");
    ms_msg_free(&m);
    ms_msg_builder_free(&b);
}

/* Errors that the same input gives anywhere are not retried; the report
 * carries the code, so the driver fails the job with the right exit. */
Test(task, deterministic_errors_are_not_retryable)
{
    cr_assert_eq(ms_task_status_for(0), MS_TASK_OK);
    cr_assert_eq(ms_task_status_for(MS_ERR_FETCH), MS_TASK_FETCH_FAILED);
    cr_assert_eq(ms_task_status_for(MS_ERR_OVERFLOW), MS_TASK_NOT_RETRYABLE);
    cr_assert_eq(ms_task_status_for(MS_ERR_INPUT), MS_TASK_NOT_RETRYABLE);
    cr_assert_eq(ms_task_status_for(MS_ERR_MALFORMED), MS_TASK_NOT_RETRYABLE);
    const int retryable[] = {MS_ERR_NOMEM,   MS_ERR_IO,     MS_ERR_CORRUPT,
                             MS_ERR_TIMEOUT, MS_ERR_FAILED, MS_ERR_PROTO};
    for (size_t i = 0; i < sizeof retryable / sizeof retryable[0]; i++)
        cr_assert_eq(ms_task_status_for(retryable[i]), MS_TASK_FAILED);
}

/* The code of a report must agree with its status and be one of ours: a
 * code from outside the table is sent as a plain failure. */
static int s_end_with(int status, int code, ms_task_end_t *u)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_TASK_END, 9);
    msgpack_pack_int64(&b.pk, 1);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_int(&b.pk, status);
    msgpack_pack_str(&b.pk, 0);
    msgpack_pack_array(&b.pk, 10);
    for (int i = 0; i < 10; i++)
        msgpack_pack_int(&b.pk, i);
    msgpack_pack_int(&b.pk, -1);
    msgpack_pack_str(&b.pk, 0);
    msgpack_pack_false(&b.pk);
    msgpack_pack_int(&b.pk, code);
    ms_msg_t m;
    s_parse_ok(&m, &b, MS_MSG_TASK_END);
    ms_error_t err = {0};
    int rc = ms_task_end_unpack(&m, u, &err);
    ms_msg_free(&m);
    ms_msg_builder_free(&b);
    return rc;
}

Test(task, task_end_code_must_agree_with_the_status)
{
    ms_task_end_t u;
    cr_assert_eq(s_end_with(MS_TASK_NOT_RETRYABLE, MS_ERR_OVERFLOW, &u), 0);
    cr_assert_eq(u.code, MS_ERR_OVERFLOW);
    cr_assert_eq(s_end_with(MS_TASK_OK, 0, &u), 0);
    cr_assert_eq(s_end_with(MS_TASK_OK, MS_ERR_FAILED, &u), MS_ERR_PROTO);
    cr_assert_eq(s_end_with(MS_TASK_FAILED, 0, &u), MS_ERR_PROTO);
    cr_assert_eq(s_end_with(MS_TASK_FAILED, 1, &u), MS_ERR_PROTO);
    cr_assert_eq(s_end_with(MS_TASK_FAILED, -1000, &u), MS_ERR_PROTO);
    cr_assert_eq(s_end_with(4, MS_ERR_FAILED, &u), MS_ERR_PROTO);

    ms_task_end_t e = s_task_end();
    e.status = MS_TASK_FAILED;
    e.code = -1000;
    ms_msg_builder_t b;
    ms_task_end_pack(&e, &b);
    ms_msg_t m;
    s_parse_ok(&m, &b, MS_MSG_TASK_END);
    ms_error_t err = {0};
    cr_assert_eq(ms_task_end_unpack(&m, &u, &err), 0, "%s", err.msg);
    cr_assert_eq(u.code, MS_ERR_FAILED);
    ms_msg_free(&m);
    ms_msg_builder_free(&b);
}

/* ---- the envelope
 * -------------------------------------------------------------- */

static int s_parse(const void *buf, size_t len, ms_error_t *err)
{
    ms_msg_t m;
    int rc = ms_msg_parse(&m, buf, len, err);
    if (rc == 0) ms_msg_free(&m);
    return rc;
}

/* Packs one envelope-shaped value with a packer callback. */
typedef void s_pack_fn(msgpack_packer *pk);

static int s_parse_packed(s_pack_fn *fn, ms_error_t *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk);
    int rc = s_parse(sb.data ? sb.data : "", sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void s_env(msgpack_packer *pk, int64_t version, int64_t type)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_int64(pk, version);
    msgpack_pack_int64(pk, type);
    msgpack_pack_int(pk, 0);
}

static void s_v0(msgpack_packer *pk)
{
    s_env(pk, 0, MS_MSG_HEARTBEAT);
}
static void s_v2(msgpack_packer *pk)
{
    s_env(pk, 2, MS_MSG_HEARTBEAT);
}
static void s_v255(msgpack_packer *pk)
{
    s_env(pk, 255, MS_MSG_HEARTBEAT);
}
static void s_v1(msgpack_packer *pk)
{
    s_env(pk, 1, MS_MSG_HEARTBEAT);
}

Test(task, parse_accepts_any_type_of_the_current_version)
{
    ms_error_t err = {0};
    cr_assert_eq(s_parse_packed(s_v1, &err), 0, "%s", err.msg);
    /* A type we do not know is the handler's business, not the parser's. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, MS_PROTO_VERSION);
    msgpack_pack_int(&pk, 200);
    ms_msg_t m;
    cr_assert_eq(ms_msg_parse(&m, sb.data, sb.size, &err), 0);
    cr_assert_eq(m.type, 200);
    cr_assert_eq(m.nf, 0);
    ms_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);
}

Test(task, parse_rejects_other_protocol_versions)
{
    s_pack_fn *fns[] = {s_v0, s_v2, s_v255};
    for (int i = 0; i < 3; i++) {
        ms_error_t err = {0};
        cr_assert_eq(s_parse_packed(fns[i], &err), MS_ERR_PROTO, "case %d", i);
        cr_assert(strstr(err.msg, "version"), "%s", err.msg);
    }
}

static void s_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void s_int(msgpack_packer *pk)
{
    msgpack_pack_int(pk, 1);
}
static void s_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void s_str(msgpack_packer *pk)
{
    msgpack_pack_str(pk, 2);
    msgpack_pack_str_body(pk, "[]", 2);
}
static void s_bin(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "\x92\x01", 2);
}
static void s_empty(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void s_one(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
}
static void s_str_version(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    s_str(pk);
    msgpack_pack_int(pk, 2);
}
static void s_neg_version(msgpack_packer *pk)
{
    s_env(pk, -1, 2);
}
static void s_big_version(msgpack_packer *pk)
{
    s_env(pk, 257, 2);
}
static void s_neg_type(msgpack_packer *pk)
{
    s_env(pk, 1, -2);
}
static void s_big_type(msgpack_packer *pk)
{
    s_env(pk, 1, 256);
}
static void s_dbl_type(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 1);
    msgpack_pack_double(pk, 2.0);
}
static void s_nothing(msgpack_packer *pk)
{
    (void)pk;
}

Test(task, parse_rejects_envelopes_that_are_not_version_type_arrays)
{
    s_pack_fn *fns[] = {s_map,         s_int,         s_nil,      s_str,
                        s_bin,         s_empty,       s_one,      s_str_version,
                        s_neg_version, s_big_version, s_neg_type, s_big_type,
                        s_dbl_type,    s_nothing};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        ms_error_t err = {0};
        cr_assert_eq(s_parse_packed(fns[i], &err), MS_ERR_PROTO, "case %zu", i);
        cr_assert_eq(err.code, MS_ERR_PROTO);
    }
}

Test(task, parse_rejects_truncated_and_trailing_bytes)
{
    ms_task_t t = s_reduce_task();
    ms_msg_builder_t b;
    ms_task_pack(&t, &b);
    size_t len = b.sb.size;
    for (size_t cut = 0; cut < len; cut++) {
        char *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, b.sb.data, cut);
        ms_error_t err = {0};
        cr_assert_eq(s_parse(prefix, cut, &err), MS_ERR_PROTO, "cut at %zu",
                     cut);
        free(prefix);
    }
    char *longer = malloc(len + 1);
    memcpy(longer, b.sb.data, len);
    longer[len] = (char)0xc0;
    ms_error_t err = {0};
    cr_assert_eq(s_parse(longer, len + 1, &err), MS_ERR_PROTO);
    free(longer);
    ms_msg_builder_free(&b);
}

/* A heartbeat [1, 2, bin] whose total size is exactly len bytes. */
static char *s_body_of_size(size_t len)
{
    char *buf = calloc(1, len);
    size_t bin = len - 8; /* fixarray, two fixints, bin32 marker + length */
    buf[0] = (char)0x93;
    buf[1] = 1;
    buf[2] = 2;
    buf[3] = (char)0xc6;
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (char)(bin >> (24 - 8 * i));
    return buf;
}

Test(task, parse_refuses_a_body_over_the_size_limit)
{
    ms_error_t err = {0};
    char *buf = s_body_of_size(MS_PROTO_MAX_BODY);
    cr_assert_eq(s_parse(buf, MS_PROTO_MAX_BODY, &err), 0, "%s", err.msg);
    free(buf);
    buf = s_body_of_size(MS_PROTO_MAX_BODY + 1);
    cr_assert_eq(s_parse(buf, MS_PROTO_MAX_BODY + 1, &err), MS_ERR_PROTO);
    free(buf);
}

/* ---- field checks
 * ---------------------------------------------------------------- */

typedef void s_edit_fn(msgpack_object *fields, uint32_t *n);

static void s_set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

static void s_set_str(msgpack_object *o, const char *s, uint32_t len)
{
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = s;
    o->via.str.size = len;
}

/* Packs msg, lets edit change the fields after version and type (and their
 * count), packs the tree again and parses it. */
static void s_edited(const ms_msg_builder_t *b, s_edit_fn *edit, ms_msg_t *m,
                     msgpack_sbuffer *sb)
{
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, b->sb.data, b->sb.size, &off),
                 MSGPACK_UNPACK_SUCCESS);
    msgpack_object_array *arr = &up.data.via.array;
    uint32_t n = arr->size - 2;
    edit(arr->ptr + 2, &n);
    arr->size = n + 2;
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, up.data);
    msgpack_unpacked_destroy(&up);
    ms_error_t err = {0};
    cr_assert_eq(ms_msg_parse(m, sb->data, sb->size, &err), 0, "%s", err.msg);
}

/* The field to change and the change, for the edit callbacks. */
static int s_field;
static void s_to_str(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_str(&f[s_field], "1", 1);
}
static void s_to_nil(msgpack_object *f, uint32_t *n)
{
    (void)n;
    f[s_field].type = MSGPACK_OBJECT_NIL;
}
static void s_to_double(msgpack_object *f, uint32_t *n)
{
    (void)n;
    f[s_field].type = MSGPACK_OBJECT_FLOAT64;
    f[s_field].via.f64 = 1.0;
}
static int64_t s_value;
static void s_to_int(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_int(&f[s_field], s_value);
}
static void s_drop_last(msgpack_object *f, uint32_t *n)
{
    (void)f;
    (*n)--;
}

static int s_task_unpack_edited(s_edit_fn *edit)
{
    ms_task_t t = s_reduce_task(), u;
    ms_msg_builder_t b;
    ms_task_pack(&t, &b);
    ms_msg_t m;
    msgpack_sbuffer sb;
    s_edited(&b, edit, &m, &sb);
    ms_error_t err = {0};
    int rc = ms_task_unpack(&m, &u, &err);
    if (rc == 0)
        ms_task_free(&u);
    else
        cr_assert(u.plan == NULL && u.locs == NULL && u.nlocs == 0);
    ms_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);
    ms_msg_builder_free(&b);
    return rc;
}

Test(task, task_unpack_rejects_wrong_field_counts)
{
    ms_task_t u;
    for (int n = 0; n <= 14; n++) {
        if (n == 12) continue;
        ms_msg_builder_t b;
        ms_msg_begin(&b, MS_MSG_LAUNCH, n);
        for (int i = 0; i < n; i++)
            msgpack_pack_int(&b.pk, 1);
        ms_msg_t m;
        s_parse_ok(&m, &b, MS_MSG_LAUNCH);
        ms_error_t err = {0};
        cr_assert_eq(ms_task_unpack(&m, &u, &err), MS_ERR_PROTO, "%d fields",
                     n);
        ms_msg_free(&m);
        ms_msg_builder_free(&b);
    }
    cr_assert_eq(s_task_unpack_edited(s_drop_last), MS_ERR_PROTO);
}

Test(task, task_unpack_rejects_fields_of_the_wrong_type)
{
    for (s_field = 0; s_field < 12; s_field++) {
        cr_assert_eq(s_task_unpack_edited(s_to_nil), MS_ERR_PROTO, "field %d",
                     s_field);
        cr_assert_eq(s_task_unpack_edited(s_to_double), MS_ERR_PROTO,
                     "field %d", s_field);
        /* Not even locs (an array) or the plan (bin) may be a string. */
        cr_assert_eq(s_task_unpack_edited(s_to_str), MS_ERR_PROTO, "field %d",
                     s_field);
    }
}

Test(task, task_unpack_rejects_numbers_out_of_range)
{
    const struct {
        int field;
        int64_t value;
    } bad[] = {
        {0, -1}, {1, -1}, {1, 1LL << 31}, {2, -1}, {2, 1LL << 31},
        {3, 2},  {3, -1}, {4, -1},        {5, -1}, {5, 1LL << 31},
        {6, -1}, {7, -2}, {8, 0},         {8, -5}, {9, -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_field = bad[i].field;
        s_value = bad[i].value;
        cr_assert_eq(s_task_unpack_edited(s_to_int), MS_ERR_PROTO,
                     "field %d = %lld", s_field, (long long)s_value);
    }
    /* The edges that are allowed. */
    s_field = 7;
    s_value = -1;
    cr_assert_eq(s_task_unpack_edited(s_to_int), 0);
    s_field = 3;
    s_value = 0;
    cr_assert_eq(s_task_unpack_edited(s_to_int), 0);
}

/* Edits of the locs list (field 10) and the plan (field 11). */
static void s_loc_map_neg(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_int(&f[10].via.array.ptr[1].via.array.ptr[0], -1);
}
static void s_loc_endpoint_int(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_int(&f[10].via.array.ptr[2].via.array.ptr[1], 5);
}
static void s_loc_endpoint_nul(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_str(&f[10].via.array.ptr[2].via.array.ptr[1], "tcp\0x", 5);
}
static void s_loc_not_pair(msgpack_object *f, uint32_t *n)
{
    (void)n;
    f[10].via.array.ptr[0].via.array.size = 1;
}
static void s_loc_not_array(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_int(&f[10].via.array.ptr[1], 1);
}
static void s_plan_as_str(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_str(&f[11], "plan", 4);
}

Test(task, task_unpack_rejects_bad_locations_and_plan)
{
    s_edit_fn *edits[] = {s_loc_map_neg,      s_loc_endpoint_int,
                          s_loc_endpoint_nul, s_loc_not_pair,
                          s_loc_not_array,    s_plan_as_str};
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++)
        cr_assert_eq(s_task_unpack_edited(edits[i]), MS_ERR_PROTO, "edit %zu",
                     i);
}

static int s_end_unpack_edited(s_edit_fn *edit)
{
    ms_task_end_t e = s_task_end(), u;
    ms_msg_builder_t b;
    ms_task_end_pack(&e, &b);
    ms_msg_t m;
    msgpack_sbuffer sb;
    s_edited(&b, edit, &m, &sb);
    ms_error_t err = {0};
    int rc = ms_task_end_unpack(&m, &u, &err);
    ms_msg_free(&m);
    msgpack_sbuffer_destroy(&sb);
    ms_msg_builder_free(&b);
    return rc;
}

static void s_metrics_short(msgpack_object *f, uint32_t *n)
{
    (void)n;
    f[4].via.array.size = 7;
}
static void s_metric_neg(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_int(&f[4].via.array.ptr[3], -1);
}
static void s_metric_str(msgpack_object *f, uint32_t *n)
{
    (void)n;
    s_set_str(&f[4].via.array.ptr[0], "1", 1);
}

Test(task, task_end_unpack_rejects_wrong_fields)
{
    for (s_field = 0; s_field < 7; s_field++) {
        cr_assert_eq(s_end_unpack_edited(s_to_nil), MS_ERR_PROTO, "field %d",
                     s_field);
        cr_assert_eq(s_end_unpack_edited(s_to_double), MS_ERR_PROTO, "field %d",
                     s_field);
    }
    const int number_fields[] = {0, 1, 2, 5};
    for (int i = 0; i < 4; i++) {
        s_field = number_fields[i];
        cr_assert_eq(s_end_unpack_edited(s_to_str), MS_ERR_PROTO, "field %d",
                     s_field);
    }
    const struct {
        int field;
        int64_t value;
    } bad[] = {{0, -1}, {1, -1}, {1, 1LL << 31}, {2, -1},
               {2, 4},  {5, -2}, {3, 1},         {6, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_field = bad[i].field;
        s_value = bad[i].value;
        cr_assert_eq(s_end_unpack_edited(s_to_int), MS_ERR_PROTO,
                     "field %d = %lld", s_field, (long long)s_value);
    }
    cr_assert_eq(s_end_unpack_edited(s_drop_last), MS_ERR_PROTO);
    cr_assert_eq(s_end_unpack_edited(s_metrics_short), MS_ERR_PROTO);
    cr_assert_eq(s_end_unpack_edited(s_metric_neg), MS_ERR_PROTO);
    cr_assert_eq(s_end_unpack_edited(s_metric_str), MS_ERR_PROTO);
}
