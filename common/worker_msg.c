/* Codecs of the driver <-> worker messages. Every field is checked for
 * type and range; a string that does not fit is an error, never cut. */
#include "common/worker_msg.h"

#include <string.h>

#include "common/mp.h"

#define S_MAX_CORES 4096

void ms_exec_launch_pack(const ms_exec_launch_t *l, ms_msg_builder_t *b)
{
    ms_msg_begin(b, MS_MSG_EXEC_LAUNCH, 8);
    ms_mp_pack_str(&b->pk, l->app);
    msgpack_pack_int(&b->pk, l->exec);
    msgpack_pack_int(&b->pk, l->cores);
    ms_mp_pack_str(&b->pk, l->driver);
    msgpack_pack_int64(&b->pk, l->heartbeat_ms);
    ms_mp_pack_str(&b->pk, l->host);
    if (l->service)
        msgpack_pack_true(&b->pk);
    else
        msgpack_pack_false(&b->pk);
    ms_mp_pack_str(&b->pk, l->token);
}

int ms_exec_launch_unpack(const ms_msg_t *m, ms_exec_launch_t *l,
                          ms_error_t *err)
{
    const msgpack_object *f = m->f;
    int64_t exec, cores;
    memset(l, 0, sizeof *l);
    if (m->type != MS_MSG_EXEC_LAUNCH || m->nf != 8 ||
        !ms_mp_str(&f[0], l->app, sizeof l->app) ||
        !ms_mp_int(&f[1], 0, INT32_MAX, &exec) ||
        !ms_mp_int(&f[2], 1, S_MAX_CORES, &cores) ||
        !ms_mp_str(&f[3], l->driver, sizeof l->driver) ||
        !ms_mp_int(&f[4], 1, INT32_MAX, &l->heartbeat_ms) ||
        !ms_mp_str(&f[5], l->host, sizeof l->host) ||
        !ms_mp_bool(&f[6], &l->service) ||
        !ms_mp_str(&f[7], l->token, sizeof l->token) ||
        strlen(l->token) != MS_AUTH_TOKEN_LEN ||
        strspn(l->token, "0123456789abcdef") != MS_AUTH_TOKEN_LEN)
        return ms_error_set(err, MS_ERR_PROTO, "malformed executor launch");
    l->exec = (int)exec;
    l->cores = (int)cores;
    return 0;
}

void ms_exec_report_pack(const ms_exec_report_t *r, ms_msg_builder_t *b)
{
    ms_msg_begin(b, MS_MSG_EXEC_STATE, 7);
    msgpack_pack_int(&b->pk, r->exec);
    msgpack_pack_int(&b->pk, (int)r->state);
    msgpack_pack_int(&b->pk, r->pid);
    msgpack_pack_int(&b->pk, r->status);
    ms_mp_pack_str(&b->pk, r->message);
    ms_mp_pack_str(&b->pk, r->dir);
    msgpack_pack_int(&b->pk, r->free_cores);
}

int ms_exec_report_unpack(const ms_msg_t *m, ms_exec_report_t *r,
                          ms_error_t *err)
{
    const msgpack_object *f = m->f;
    int64_t exec, state, pid, status, free_cores;
    memset(r, 0, sizeof *r);
    if (m->type != MS_MSG_EXEC_STATE || m->nf != 7 ||
        !ms_mp_int(&f[0], 0, INT32_MAX, &exec) ||
        !ms_mp_int(&f[1], MS_EXEC_STARTED, MS_EXEC_QUEUED, &state) ||
        !ms_mp_int(&f[2], 0, INT32_MAX, &pid) ||
        !ms_mp_int(&f[3], INT32_MIN, INT32_MAX, &status) ||
        !ms_mp_str(&f[4], r->message, sizeof r->message) ||
        !ms_mp_str(&f[5], r->dir, sizeof r->dir) ||
        !ms_mp_int(&f[6], 0, S_MAX_CORES, &free_cores))
        return ms_error_set(err, MS_ERR_PROTO, "malformed executor report");
    r->exec = (int)exec;
    r->state = (ms_exec_state_t)state;
    r->pid = (int)pid;
    r->status = (int)status;
    r->free_cores = (int)free_cores;
    return 0;
}

void ms_worker_state_pack(const ms_worker_state_t *s, ms_msg_builder_t *b)
{
    ms_msg_begin(b, MS_MSG_WORKER_STATE, 7);
    msgpack_pack_int(&b->pk, s->cores);
    msgpack_pack_int(&b->pk, s->free_cores);
    ms_mp_pack_str(&b->pk, s->shuffle);
    msgpack_pack_int(&b->pk, s->held);
    msgpack_pack_int(&b->pk, s->share);
    if (s->fair)
        msgpack_pack_true(&b->pk);
    else
        msgpack_pack_false(&b->pk);
    msgpack_pack_int64(&b->pk, s->incarnation);
}

int ms_worker_state_unpack(const ms_msg_t *m, ms_worker_state_t *s,
                           ms_error_t *err)
{
    const msgpack_object *f = m->f;
    int64_t cores, free_cores, held, share;
    memset(s, 0, sizeof *s);
    if (m->type != MS_MSG_WORKER_STATE || m->nf != 7 ||
        !ms_mp_int(&f[0], 1, S_MAX_CORES, &cores) ||
        !ms_mp_int(&f[1], 0, cores, &free_cores) ||
        !ms_mp_str(&f[2], s->shuffle, sizeof s->shuffle) ||
        !ms_mp_int(&f[3], 0, cores, &held) ||
        !ms_mp_int(&f[4], 0, cores, &share) || !ms_mp_bool(&f[5], &s->fair) ||
        !ms_mp_int(&f[6], 1, INT64_MAX, &s->incarnation))
        return ms_error_set(err, MS_ERR_PROTO, "malformed worker state");
    s->cores = (int)cores;
    s->free_cores = (int)free_cores;
    s->held = (int)held;
    s->share = (int)share;
    return 0;
}

void ms_exec_release_pack(const ms_exec_release_t *r, ms_msg_builder_t *b)
{
    ms_msg_begin(b, r->kept ? MS_MSG_EXEC_KEPT : MS_MSG_EXEC_RELEASE, 2);
    msgpack_pack_int(&b->pk, r->count);
    ms_mp_pack_str(&b->pk, r->reason);
}

int ms_exec_release_unpack(const ms_msg_t *m, ms_exec_release_t *r,
                           ms_error_t *err)
{
    int64_t count;
    memset(r, 0, sizeof *r);
    if ((m->type != MS_MSG_EXEC_RELEASE && m->type != MS_MSG_EXEC_KEPT) ||
        m->nf != 2 || !ms_mp_int(&m->f[0], 1, S_MAX_CORES, &count) ||
        !ms_mp_str(&m->f[1], r->reason, sizeof r->reason))
        return ms_error_set(err, MS_ERR_PROTO, "malformed release request");
    r->count = (int)count;
    r->kept = m->type == MS_MSG_EXEC_KEPT;
    return 0;
}
