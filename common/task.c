/* Task launch and task end codecs. */
#include "common/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mp.h"

#define S_LAUNCH_FIELDS 13
#define S_END_FIELDS 9
#define S_METRICS 10

void ms_task_pack(const ms_task_t *t, ms_msg_builder_t *b)
{
    ms_msg_begin(b, MS_MSG_LAUNCH, S_LAUNCH_FIELDS);
    msgpack_packer *pk = &b->pk;
    msgpack_pack_int64(pk, t->task_id);
    msgpack_pack_int(pk, t->stage_id);
    msgpack_pack_int(pk, t->attempt);
    msgpack_pack_int(pk, t->kind);
    msgpack_pack_int(pk, t->shuffle_id);
    msgpack_pack_int(pk, t->partition);
    msgpack_pack_int64(pk, t->split_start);
    msgpack_pack_int64(pk, t->split_end);
    msgpack_pack_int64(pk, t->fetch_timeout_ms);
    msgpack_pack_int64(pk, t->delay_ms);
    msgpack_pack_array(pk, (size_t)t->nlocs);
    for (int i = 0; i < t->nlocs; i++) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_int(pk, t->locs[i].map);
        ms_mp_pack_str(pk, t->locs[i].endpoint);
    }
    ms_mp_pack_bin(pk, t->plan, t->plan_len);
    msgpack_pack_int(pk, t->inject);
}

static int s_locs(const msgpack_object *o, ms_task_t *t)
{
    const msgpack_object *items, *pair;
    uint32_t n;
    int64_t map;
    if (!ms_mp_array(o, -1, &items, &n) || n > (1u << 24)) return -1;
    t->locs = calloc(n ? n : 1, sizeof *t->locs);
    if (!t->locs) return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!ms_mp_array(&items[i], 2, &pair, NULL) ||
            !ms_mp_int(&pair[0], 0, INT32_MAX, &map))
            return -1;
        t->locs[i].map = (int)map;
        t->locs[i].endpoint = ms_mp_strdup(&pair[1]);
        t->nlocs++;
        if (!t->locs[i].endpoint) return -1;
    }
    return 0;
}

int ms_task_unpack(const ms_msg_t *m, ms_task_t *t, ms_error_t *err)
{
    const msgpack_object *f = m->f;
    int64_t v[10], inject;
    const char *plan;
    uint32_t plan_len;
    static const int64_t lim[10][2] = {
        {0, INT64_MAX}, {0, INT32_MAX}, {0, INT32_MAX}, {0, 1},
        {0, INT32_MAX}, {0, INT32_MAX}, {0, INT64_MAX}, {-1, INT64_MAX},
        {1, INT64_MAX}, {0, INT64_MAX}};
    memset(t, 0, sizeof *t);
    if (m->nf != S_LAUNCH_FIELDS) goto bad;
    for (int i = 0; i < 10; i++)
        if (!ms_mp_int(&f[i], lim[i][0], lim[i][1], &v[i])) goto bad;
    t->task_id = v[0];
    t->stage_id = (int)v[1];
    t->attempt = (int)v[2];
    t->kind = (ms_task_kind_t)v[3];
    t->shuffle_id = (int)v[4];
    t->partition = (int)v[5];
    t->split_start = v[6];
    t->split_end = v[7];
    t->fetch_timeout_ms = v[8];
    t->delay_ms = v[9];
    if (s_locs(&f[10], t) < 0 || f[11].type != MSGPACK_OBJECT_BIN ||
        !ms_mp_bytes(&f[11], &plan, &plan_len) ||
        !ms_mp_int(&f[12], MS_INJECT_NONE, MS_INJECT_STALL_FETCH, &inject))
        goto bad;
    t->inject = (ms_inject_t)inject;
    t->plan = malloc(plan_len ? plan_len : 1);
    if (!t->plan) goto bad;
    memcpy(t->plan, plan, plan_len);
    t->plan_len = plan_len;
    return 0;
bad:
    ms_task_free(t);
    return ms_error_set(err, MS_ERR_PROTO, "malformed task launch");
}

void ms_task_free(ms_task_t *t)
{
    for (int i = 0; i < t->nlocs; i++)
        free(t->locs[i].endpoint);
    free(t->locs);
    free(t->plan);
    memset(t, 0, sizeof *t);
}

ms_task_status_t ms_task_status_for(int rc)
{
    switch (rc) {
    case 0:
        return MS_TASK_OK;
    case MS_ERR_FETCH:
        return MS_TASK_FETCH_FAILED;
    /* Deterministic: the same input gives the same error on any executor. */
    case MS_ERR_MALFORMED:
    case MS_ERR_INPUT:
    case MS_ERR_OVERFLOW:
        return MS_TASK_NOT_RETRYABLE;
    default:
        return MS_TASK_FAILED;
    }
}

void ms_task_end_pack(const ms_task_end_t *e, ms_msg_builder_t *b)
{
    const ms_task_metrics_t *m = &e->metrics;
    ms_msg_begin(b, MS_MSG_TASK_END, S_END_FIELDS);
    msgpack_pack_int64(&b->pk, e->task_id);
    msgpack_pack_int(&b->pk, e->attempt);
    msgpack_pack_int(&b->pk, e->status);
    ms_mp_pack_str(&b->pk, e->message);
    const int64_t vals[] = {
        m->records_read,   m->bytes_read,      m->malformed,       m->dropped,
        m->rows_out,       m->shuffle_written, m->shuffle_fetched, m->run_ms,
        m->memory_spilled, m->disk_spilled};
    msgpack_pack_array(&b->pk, S_METRICS);
    for (int i = 0; i < S_METRICS; i++)
        msgpack_pack_int64(&b->pk, vals[i]);
    msgpack_pack_int(&b->pk, e->fetch_map);
    ms_mp_pack_str(&b->pk, e->fetch_endpoint);
    if (e->fetch_unreachable)
        msgpack_pack_true(&b->pk);
    else
        msgpack_pack_false(&b->pk);
    /* A code from outside the table (or none for a failure) would make
     * the whole report undecodable: it is sent as a plain failure. */
    bool known = e->code < 0 && e->code >= MS_ERR_INTERRUPTED;
    msgpack_pack_int(&b->pk, e->status == MS_TASK_OK ? 0
                             : known                 ? e->code
                                                     : MS_ERR_FAILED);
}

static int s_copy_str(const msgpack_object *o, char *dst, size_t size)
{
    const char *p;
    uint32_t len;
    if (o->type != MSGPACK_OBJECT_STR || !ms_mp_bytes(o, &p, &len)) return -1;
    snprintf(dst, size, "%.*s", (int)len, p);
    return 0;
}

int ms_task_end_unpack(const ms_msg_t *m, ms_task_end_t *e, ms_error_t *err)
{
    const msgpack_object *f = m->f, *mv;
    int64_t attempt, status, map, code, v[S_METRICS];
    memset(e, 0, sizeof *e);
    if (m->nf != S_END_FIELDS || !ms_mp_int(&f[0], 0, INT64_MAX, &e->task_id) ||
        !ms_mp_int(&f[1], 0, INT32_MAX, &attempt) ||
        !ms_mp_int(&f[2], MS_TASK_OK, MS_TASK_NOT_RETRYABLE, &status) ||
        s_copy_str(&f[3], e->message, sizeof e->message) < 0 ||
        !ms_mp_array(&f[4], S_METRICS, &mv, NULL) ||
        !ms_mp_int(&f[5], -1, INT32_MAX, &map) ||
        s_copy_str(&f[6], e->fetch_endpoint, sizeof e->fetch_endpoint) < 0 ||
        !ms_mp_bool(&f[7], &e->fetch_unreachable) ||
        !ms_mp_int(&f[8], MS_ERR_INTERRUPTED, 0, &code) ||
        (status == MS_TASK_OK) != (code == 0))
        goto bad;
    for (int i = 0; i < S_METRICS; i++)
        if (!ms_mp_int(&mv[i], 0, INT64_MAX, &v[i])) goto bad;
    e->attempt = (int)attempt;
    e->status = (ms_task_status_t)status;
    e->code = (int)code;
    e->fetch_map = (int)map;
    ms_task_metrics_t *mt = &e->metrics;
    mt->records_read = v[0];
    mt->bytes_read = v[1];
    mt->malformed = v[2];
    mt->dropped = v[3];
    mt->rows_out = v[4];
    mt->shuffle_written = v[5];
    mt->shuffle_fetched = v[6];
    mt->run_ms = v[7];
    mt->memory_spilled = v[8];
    mt->disk_spilled = v[9];
    return 0;
bad:
    return ms_error_set(err, MS_ERR_PROTO, "malformed task end report");
}
