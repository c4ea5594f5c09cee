/* libFuzzer harness for the shuffle server's request handling: the input is
 * a conversation of requests from a few clients, fed to the handler as a
 * ROUTER would receive them, over a directory with real map outputs and
 * with small bounds on bytes in flight, on a clock that advances 100 ms a
 * request. Records are [client byte, u16 little-endian length, message]:
 * the client byte's low two bits pick one of four clients, bit 6 keeps
 * the reply unread until the conversation ends, bit 7 adds a stray frame.
 * Any bytes must give a well-formed reply or none, never a crash, a leak
 * or a byte left counted in flight. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/proto.h"
#include "shuffle/files.h"
#include "shuffle/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_HELD_MAX 64

static char s_dir[64];
static void *s_zctx;
static ms_shuffle_server_t *s_server;

/* Map outputs of application "fz", shuffle 0: maps 0-2 with small blocks
 * (read) and map 3 with a large one (mapped). */
static void s_write_outputs(void)
{
    static uint8_t big[80 * 1024];
    for (int m = 0; m < 4; m++) {
        msgpack_sbuffer parts[2];
        uint64_t written;
        for (int p = 0; p < 2; p++) {
            msgpack_sbuffer_init(&parts[p]);
            size_t n = m == 3 && p == 1 ? sizeof big : (size_t)(m * 10 + p);
            if (n) msgpack_sbuffer_write(&parts[p], (const char *)big, n);
        }
        if (ms_shuffle_write(s_dir, "fz", 0, m, parts, 2, MS_CODEC_NONE, 1,
                             &written, NULL) < 0)
            abort();
        for (int p = 0; p < 2; p++)
            msgpack_sbuffer_destroy(&parts[p]);
    }
}

static void s_cleanup(void)
{
    int removed;
    ms_shuffle_server_destroy(&s_server);
    zmq_ctx_term(s_zctx);
    ms_shuffle_remove_app(s_dir, "fz", &removed);
    rmdir(s_dir);
}

static void s_init(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ms-fuzz-server-XXXXXX");
    if (!mkdtemp(s_dir)) abort();
    s_write_outputs();
    s_zctx = zmq_ctx_new();
    if (ms_shuffle_server_new(&s_server, s_zctx, "inproc://fuzz-server", s_dir,
                              NULL) < 0)
        abort();
    ms_shuffle_limits_t limits = {64 * 1024, 256 * 1024, 1000};
    ms_shuffle_server_limit(s_server, &limits, NULL);
    atexit(s_cleanup);
}

/* A reply is a message the clients know; REMOVED says whether the
 * outputs must be written again. */
static void s_check(ms_shuffle_reply_t *r, int *removed)
{
    ms_msg_t m;
    if (r->n < 1 ||
        ms_msg_parse(&m, r->frames[0].data, r->frames[0].len, NULL) < 0)
        __builtin_trap();
    if (m.type != MS_MSG_BLOCKS && m.type != MS_MSG_PONG &&
        m.type != MS_MSG_REMOVED)
        __builtin_trap();
    if (m.type != MS_MSG_BLOCKS && r->n != 1) __builtin_trap();
    if (m.type == MS_MSG_REMOVED && m.nf == 1 &&
        m.f[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER && m.f[0].via.u64 > 0)
        *removed = 1;
    ms_msg_free(&m);
}

static void s_frame(zmq_msg_t *f, const void *p, size_t n)
{
    zmq_msg_init_size(f, n);
    if (n) memcpy(zmq_msg_data(f), p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_server) s_init();
    ms_shuffle_server_reap_apps(s_server, 60000, NULL); /* none registered */
    ms_shuffle_reply_t held[S_HELD_MAX], r;
    int nheld = 0, removed = 0;
    int64_t now = 0;
    while (size >= 3) {
        uint8_t who = data[0];
        size_t len = (size_t)data[1] | (size_t)data[2] << 8;
        data += 3;
        size -= 3;
        if (len > size) len = size;
        char peer[8];
        snprintf(peer, sizeof peer, "c%d", who & 3);
        zmq_msg_t frames[3];
        s_frame(&frames[0], peer, strlen(peer));
        s_frame(&frames[1], data, len);
        s_frame(&frames[2], "", 0);
        int n = who & 0x80 ? 3 : 2;
        data += len;
        size -= len;
        now += 100;
        if (ms_shuffle_server_handle(s_server, frames, n, now, &r) > 0) {
            s_check(&r, &removed);
            if ((who & 0x40) && nheld < S_HELD_MAX)
                held[nheld++] = r;
            else
                ms_shuffle_reply_release(&r);
        }
        ms_frames_close(frames, 3);
        while (ms_shuffle_server_next(s_server, now, &r) > 0) {
            s_check(&r, &removed);
            ms_shuffle_reply_release(&r);
        }
    }
    /* Everything is read at last: what waited goes, nothing stays held. */
    for (int i = 0; i < nheld; i++)
        ms_shuffle_reply_release(&held[i]);
    while (ms_shuffle_server_next(s_server, now, &r) > 0) {
        s_check(&r, &removed);
        ms_shuffle_reply_release(&r);
    }
    if (ms_shuffle_server_in_flight(s_server) != 0) __builtin_trap();
    if (removed) s_write_outputs();
    return 0;
}
