/* One request, one reply, with a deadline. */
#include "shuffle/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"

/* Sends b and waits for one reply of type want; the caller frees *m. */
static int s_call(void *zctx, const char *endpoint, ms_msg_builder_t *b,
                  int want, int timeout_ms, ms_msg_t *m)
{
    int linger = 0, rc = MS_ERR_TIMEOUT;
    void *sock = zmq_socket(zctx, ZMQ_DEALER);
    if (!sock) {
        ms_msg_builder_free(b);
        return MS_ERR_NOMEM;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    if (zmq_connect(sock, endpoint) < 0 ||
        ms_msg_send(sock, NULL, 0, b, NULL, NULL, 0) < 0) {
        zmq_close(sock);
        return MS_ERR_IO;
    }
    zmq_msg_t frames[2];
    int n;
    if (ms_frames_recv(sock, frames, 2, &n, 0) == 0) {
        rc = ms_msg_parse(m, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]),
                          NULL);
        if (rc == 0 && (m->type != want || m->nf != 1)) {
            ms_msg_free(m);
            rc = MS_ERR_PROTO;
        }
        ms_frames_close(frames, n);
    }
    zmq_close(sock);
    return rc;
}

int ms_shuffle_ping(void *zctx, const char *endpoint, int timeout_ms, char *dir,
                    size_t dir_size)
{
    ms_msg_builder_t b;
    ms_msg_t m;
    const char *p;
    uint32_t len;
    ms_msg_begin(&b, MS_MSG_PING, 0);
    int rc = s_call(zctx, endpoint, &b, MS_MSG_PONG, timeout_ms, &m);
    if (rc < 0) return rc;
    if (!ms_mp_bytes(&m.f[0], &p, &len) || len >= dir_size)
        rc = MS_ERR_PROTO;
    else
        snprintf(dir, dir_size, "%.*s", (int)len, p);
    ms_msg_free(&m);
    return rc;
}

static int s_removed(ms_msg_t *m, int *removed)
{
    int64_t n;
    int rc = 0;
    if (!ms_mp_int(&m->f[0], INT32_MIN, INT32_MAX, &n) || n < 0)
        rc = MS_ERR_PROTO;
    else
        *removed = (int)n;
    ms_msg_free(m);
    return rc;
}

int ms_shuffle_remove_app_remote(void *zctx, const char *endpoint,
                                 const char *app, int timeout_ms, int *removed)
{
    ms_msg_builder_t b;
    ms_msg_t m;
    ms_msg_begin(&b, MS_MSG_REMOVE_APP, 1);
    ms_mp_pack_str(&b.pk, app);
    int rc = s_call(zctx, endpoint, &b, MS_MSG_REMOVED, timeout_ms, &m);
    return rc < 0 ? rc : s_removed(&m, removed);
}

int ms_shuffle_remove_shuffle_remote(void *zctx, const char *endpoint,
                                     const char *app, int shuffle,
                                     int timeout_ms, int *removed)
{
    ms_msg_builder_t b;
    ms_msg_t m;
    ms_msg_begin(&b, MS_MSG_REMOVE_SHUFFLE, 2);
    ms_mp_pack_str(&b.pk, app);
    msgpack_pack_int(&b.pk, shuffle);
    int rc = s_call(zctx, endpoint, &b, MS_MSG_REMOVED, timeout_ms, &m);
    return rc < 0 ? rc : s_removed(&m, removed);
}
