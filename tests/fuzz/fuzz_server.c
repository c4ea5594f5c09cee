/* libFuzzer harness for the shuffle server's request handling: the input is
 * a conversation of requests from a few clients, fed to the handler as a
 * ROUTER would receive them, over a directory with real map outputs and
 * with small bounds on bytes in flight, on a clock that advances 100 ms a
 * request. Records are [client byte, u16 little-endian length, payload]:
 * the client byte's low two bits pick one of four clients, bit 6 keeps
 * the reply unread until the conversation ends, bit 7 adds a stray frame.
 * The payload is the message, or with bit 5 set a put's frames:
 *   [u16 LE body length][body][u16 LE index length][index][data]
 * (a length past the end takes what is left), the data in one frame, or
 * with bit 4 set too in frames of 16 bytes, at most one more than a put
 * may have (the last takes the rest). Any bytes must give a well-formed
 * reply or none, never a crash, a leak, a byte left counted in flight or
 * a temporary file left in the directory. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"
#include "shuffle/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define S_HELD_MAX 64
/* routing id, body, index, data frames, stray frame */
#define S_MAX_DATA (MS_SHUFFLE_PUT_MAX_CHUNKS + 1)
#define S_MAX_FRAMES (3 + S_MAX_DATA + 1)

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

/* Removes every file of the directory (puts may have stored any app's);
 * traps on a temporary file, which nothing may leave behind. */
static void s_sweep(int remove)
{
    char path[512];
    DIR *d = opendir(s_dir);
    if (!d) abort();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        if (strstr(de->d_name, ".tmp.")) __builtin_trap();
        snprintf(path, sizeof path, "%s/%s", s_dir, de->d_name);
        if (remove) unlink(path);
    }
    closedir(d);
}

static void s_cleanup(void)
{
    ms_shuffle_server_destroy(&s_server);
    zmq_ctx_term(s_zctx);
    s_sweep(1);
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

static int s_positive(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 > 0;
}

/* A reply is a message the clients know; files removed or stored say the
 * directory must be set up again. */
static void s_check(ms_shuffle_reply_t *r, int *dirty)
{
    ms_msg_t m;
    if (r->n < 1 ||
        ms_msg_parse(&m, r->frames[0].data, r->frames[0].len, NULL) < 0)
        __builtin_trap();
    if (m.type != MS_MSG_BLOCKS && m.type != MS_MSG_PONG &&
        m.type != MS_MSG_REMOVED && m.type != MS_MSG_PUT_DONE)
        __builtin_trap();
    if (m.type != MS_MSG_BLOCKS && r->n != 1) __builtin_trap();
    int64_t status = -1;
    if (m.type == MS_MSG_PUT_DONE &&
        (m.nf != 3 || !ms_mp_int(&m.f[1], INT32_MIN, 0, &status) ||
         m.f[2].type != MSGPACK_OBJECT_STR))
        __builtin_trap();
    if (m.type == MS_MSG_PUT_DONE && status == 0) *dirty = 1;
    if (m.type == MS_MSG_REMOVED && m.nf == 1 && s_positive(&m.f[0]))
        *dirty = 1;
    ms_msg_free(&m);
}

static void s_frame(zmq_msg_t *f, const void *p, size_t n)
{
    zmq_msg_init_size(f, n);
    if (n) memcpy(zmq_msg_data(f), p, n);
}

/* Takes a u16 length and that many bytes (or what is left) off *p. */
static void s_take(const uint8_t **p, size_t *len, zmq_msg_t *f)
{
    size_t k = *len >= 2 ? (size_t)(*p)[0] | (size_t)(*p)[1] << 8 : 0;
    size_t skip = *len >= 2 ? 2 : *len;
    *p += skip;
    *len -= skip;
    if (k > *len) k = *len;
    s_frame(f, *p, k);
    *p += k;
    *len -= k;
}

/* The frames after the routing id for a record's payload (see above);
 * returns how many. */
static int s_payload(uint8_t who, const uint8_t *p, size_t len,
                     zmq_msg_t *frames)
{
    if (!(who & 0x20)) {
        s_frame(&frames[0], p, len);
        return 1;
    }
    s_take(&p, &len, &frames[0]);
    s_take(&p, &len, &frames[1]);
    int n = 2;
    size_t step = who & 0x10 ? 16 : len;
    while (len > 0) {
        size_t k = len < step || n == 2 + S_MAX_DATA - 1 ? len : step;
        s_frame(&frames[n++], p, k);
        p += k;
        len -= k;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_server) s_init();
    ms_shuffle_server_reap_apps(s_server, 60000, NULL); /* none registered */
    ms_shuffle_reply_t held[S_HELD_MAX], r;
    int nheld = 0, dirty = 0;
    int64_t now = 0;
    while (size >= 3) {
        uint8_t who = data[0];
        size_t len = (size_t)data[1] | (size_t)data[2] << 8;
        data += 3;
        size -= 3;
        if (len > size) len = size;
        char peer[8];
        snprintf(peer, sizeof peer, "c%d", who & 3);
        zmq_msg_t frames[S_MAX_FRAMES];
        s_frame(&frames[0], peer, strlen(peer));
        int n = 1 + s_payload(who, data, len, &frames[1]);
        if (who & 0x80) s_frame(&frames[n++], "", 0);
        data += len;
        size -= len;
        now += 100;
        if (ms_shuffle_server_handle(s_server, frames, n, now, &r) > 0) {
            s_check(&r, &dirty);
            if ((who & 0x40) && nheld < S_HELD_MAX)
                held[nheld++] = r;
            else
                ms_shuffle_reply_release(&r);
        }
        ms_frames_close(frames, n);
        while (ms_shuffle_server_next(s_server, now, &r) > 0) {
            s_check(&r, &dirty);
            ms_shuffle_reply_release(&r);
        }
    }
    /* Everything is read at last: what waited goes, nothing stays held. */
    for (int i = 0; i < nheld; i++)
        ms_shuffle_reply_release(&held[i]);
    while (ms_shuffle_server_next(s_server, now, &r) > 0) {
        s_check(&r, &dirty);
        ms_shuffle_reply_release(&r);
    }
    if (ms_shuffle_server_in_flight(s_server) != 0) __builtin_trap();
    s_sweep(dirty);
    if (dirty) s_write_outputs();
    return 0;
}
