/* One request, one reply, with a deadline. */
#include "shuffle/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"
#include "common/sock.h"

void *ms_shuffle_connect(void *zctx, const char *endpoint)
{
    return ms_sock_connect(zctx, ZMQ_DEALER, NULL, endpoint, NULL);
}

/* Sends b and waits for one reply of type want, which take reads while
 * the received frame (that its strings point into) is still open. */
static int s_call(void *zctx, const char *endpoint, ms_msg_builder_t *b,
                  int want, int timeout_ms,
                  int (*take)(const ms_msg_t *m, void *arg), void *arg)
{
    int rc = MS_ERR_TIMEOUT;
    void *sock = ms_shuffle_connect(zctx, endpoint);
    if (!sock) {
        ms_msg_builder_free(b);
        return MS_ERR_IO;
    }
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    if (ms_msg_send(sock, NULL, 0, b, NULL, NULL, 0) < 0) {
        zmq_close(sock);
        return MS_ERR_IO;
    }
    zmq_msg_t frames[2];
    int n;
    ms_msg_t m;
    if (ms_frames_recv(sock, frames, 2, &n, 0) == 0) {
        rc = ms_msg_parse(&m, zmq_msg_data(&frames[0]),
                          zmq_msg_size(&frames[0]), NULL);
        if (rc == 0) {
            rc = m.type == want && m.nf == 1 ? take(&m, arg) : MS_ERR_PROTO;
            ms_msg_free(&m);
        }
        ms_frames_close(frames, n);
    }
    zmq_close(sock);
    return rc;
}

typedef struct {
    char *dir;
    size_t size;
} s_dir_t;

static int s_take_dir(const ms_msg_t *m, void *arg)
{
    s_dir_t *d = arg;
    const char *p;
    uint32_t len;
    if (!ms_mp_bytes(&m->f[0], &p, &len) || len >= d->size) return MS_ERR_PROTO;
    snprintf(d->dir, d->size, "%.*s", (int)len, p);
    return 0;
}

int ms_shuffle_ping(void *zctx, const char *endpoint, const char *app,
                    int timeout_ms, char *dir, size_t dir_size)
{
    ms_msg_builder_t b;
    s_dir_t d = {dir, dir_size};
    ms_msg_begin(&b, MS_MSG_PING, app ? 1 : 0);
    if (app) ms_mp_pack_str(&b.pk, app);
    return s_call(zctx, endpoint, &b, MS_MSG_PONG, timeout_ms, s_take_dir, &d);
}

static int s_take_removed(const ms_msg_t *m, void *arg)
{
    int64_t n;
    if (!ms_mp_int(&m->f[0], 0, INT32_MAX, &n)) return MS_ERR_PROTO;
    *(int *)arg = (int)n;
    return 0;
}

int ms_shuffle_remove_app_remote(void *zctx, const char *endpoint,
                                 const char *app, int timeout_ms, int *removed)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_REMOVE_APP, 1);
    ms_mp_pack_str(&b.pk, app);
    return s_call(zctx, endpoint, &b, MS_MSG_REMOVED, timeout_ms,
                  s_take_removed, removed);
}

int ms_shuffle_remove_shuffle_remote(void *zctx, const char *endpoint,
                                     const char *app, int shuffle,
                                     int timeout_ms, int *removed)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_REMOVE_SHUFFLE, 2);
    ms_mp_pack_str(&b.pk, app);
    msgpack_pack_int(&b.pk, shuffle);
    return s_call(zctx, endpoint, &b, MS_MSG_REMOVED, timeout_ms,
                  s_take_removed, removed);
}
