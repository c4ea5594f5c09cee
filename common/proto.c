/* Message envelope encoding and multipart send/receive. */
#include "common/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/mp.h"

void ms_msg_begin(ms_msg_builder_t *b, ms_msg_type_t type, int nfields)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&b->pk, (size_t)nfields + 2);
    msgpack_pack_int(&b->pk, MS_PROTO_VERSION);
    msgpack_pack_int(&b->pk, type);
}

size_t ms_proto_max_frame(void)
{
    const char *testing = getenv("MINISPARK_TESTING");
    const char *set = getenv("MINISPARK_TEST_MAX_FRAME");
    long long n = set && testing && strcmp(testing, "1") == 0 ? atoll(set) : 0;
    return n >= 4096 && n < MS_PROTO_MAX_FRAME ? (size_t)n : MS_PROTO_MAX_FRAME;
}

void ms_msg_builder_free(ms_msg_builder_t *b)
{
    msgpack_sbuffer_destroy(&b->sb);
}

int ms_msg_parse(ms_msg_t *m, const void *buf, size_t len, ms_error_t *err)
{
    size_t off = 0;
    const msgpack_object *items;
    uint32_t n;
    int64_t version, type;
    msgpack_unpacked_init(&m->up);
    if (len > MS_PROTO_MAX_BODY || !ms_mp_sane(buf, len)) goto bad;
    if (msgpack_unpack_next(&m->up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len || !ms_mp_array(&m->up.data, -1, &items, &n) || n < 2 ||
        !ms_mp_int(&items[0], 0, 255, &version) ||
        !ms_mp_int(&items[1], 0, 255, &type))
        goto bad;
    if (version != MS_PROTO_VERSION) {
        msgpack_unpacked_destroy(&m->up);
        return ms_error_set(err, MS_ERR_PROTO,
                            "protocol version %d, expected %d", (int)version,
                            MS_PROTO_VERSION);
    }
    m->type = (int)type;
    m->f = items + 2;
    m->nf = n - 2;
    return 0;
bad:
    msgpack_unpacked_destroy(&m->up);
    return ms_error_set(err, MS_ERR_PROTO, "malformed message envelope");
}

void ms_msg_free(ms_msg_t *m)
{
    msgpack_unpacked_destroy(&m->up);
}

static int s_send(void *sock, const void *p, size_t len, int more)
{
    while (zmq_send(sock, p, len, more ? ZMQ_SNDMORE : 0) < 0) {
        if (errno == EINTR) continue;
        return MS_ERR_IO;
    }
    return 0;
}

int ms_msg_send(void *sock, const void *id, size_t id_len, ms_msg_builder_t *b,
                const void *const *extra, const size_t *extra_len, int nextra)
{
    int rc = 0;
    if (id) rc = s_send(sock, id, id_len, 1);
    if (rc == 0) rc = s_send(sock, b->sb.data, b->sb.size, nextra > 0);
    for (int i = 0; rc == 0 && i < nextra; i++)
        rc = s_send(sock, extra[i], extra_len[i], i + 1 < nextra);
    ms_msg_builder_free(b);
    return rc;
}

int ms_frames_recv(void *sock, void *frames_v, int max, int *n, int flags)
{
    zmq_msg_t *frames = frames_v;
    int count = 0, more = 1, rc = 0;
    while (more) {
        zmq_msg_t tmp, *f = count < max ? &frames[count] : &tmp;
        zmq_msg_init(f);
        while (zmq_msg_recv(f, sock, count ? 0 : flags) < 0) {
            if (errno == EINTR && count) continue;
            zmq_msg_close(f);
            ms_frames_close(frames, count < max ? count : max);
            *n = 0;
            return errno == EAGAIN
                       ? MS_ERR_TIMEOUT
                       : (errno == EINTR ? MS_ERR_INTERRUPTED : MS_ERR_IO);
        }
        more = zmq_msg_more(f);
        if (count >= max) {
            zmq_msg_close(f);
            rc = MS_ERR_PROTO;
        }
        count++;
    }
    if (rc < 0) {
        ms_frames_close(frames, max);
        *n = 0;
        return rc;
    }
    *n = count;
    return 0;
}

void ms_frames_close(void *frames_v, int n)
{
    zmq_msg_t *frames = frames_v;
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
}
