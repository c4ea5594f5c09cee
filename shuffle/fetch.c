/* Block fetching: one DEALER per distinct location, all requests sent up
 * front, replies handled in arrival order. A folder location (fallback
 * storage, MS_SHUFFLE_FILE_SCHEME) is read directly meanwhile. */
#include "shuffle/fetch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/sock.h"
#include "shuffle/block.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"

#define S_BATCH 1024 /* most map outputs one request may name */
/* A reply is delivered only once all its frames have arrived, so one
 * request for every map would leave the server idle while the blocks cross
 * the socket and the fetcher idle until the last one is in. Split into
 * this many requests, reading, sending and checking overlap. */
#define S_SPLIT 16
/* Each fetch opens a fresh connection, whose receive buffer would start at
 * the kernel's default (128 KiB) and only grow as the transfer goes on, so
 * megabyte-sized blocks arrived in many small reads and wakeups. A fixed
 * size (capped by net.core.rmem_max) holds several blocks from the start. */
#define S_RCVBUF (2 << 20)

/* ZeroMQ reconnects to a server that went away without telling anyone, so
 * a fetch from a dead executor would wait for the whole timeout. A monitor
 * on each connection reports the drop (or a refused reconnect) at once:
 * the server was up when its outputs were registered, so either means it
 * is gone, and the fetch fails now, as a refused TCP connection does in
 * Spark. */
#define S_GONE_EVENTS (ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED)

typedef struct {
    const char *endpoint;
    void *sock;
    void *monitor; /* PAIR receiving the connection's S_GONE_EVENTS */
    int *maps;     /* map ids asked of this location, in request order */
    int nmaps;
    int batch;         /* maps per request */
    int pending;       /* replies still expected */
    uint8_t *answered; /* by request offset: a reply came (no repeats) */
} s_peer_t;

typedef struct {
    s_peer_t *peers;
    int npeers;
} s_fetch_t;

static int s_fail(ms_fetch_failure_t *fail, ms_error_t *err, int map,
                  const char *endpoint, const char *why)
{
    fail->map = map;
    fail->unreachable = false;
    snprintf(fail->endpoint, sizeof fail->endpoint, "%s", endpoint);
    /* The map and location travel in *fail; the message is the reason. */
    return ms_error_set(err, MS_ERR_FETCH, "%s", why);
}

/* As s_fail, for a location that did not answer at all. */
static int s_unreachable(ms_fetch_failure_t *fail, ms_error_t *err, int map,
                         const char *endpoint, const char *why)
{
    int rc = s_fail(fail, err, map, endpoint, why);
    fail->unreachable = true;
    return rc;
}

static s_peer_t *s_peer(s_fetch_t *f, const char *endpoint, int nlocs)
{
    for (int i = 0; i < f->npeers; i++)
        if (strcmp(f->peers[i].endpoint, endpoint) == 0) return &f->peers[i];
    s_peer_t *p = &f->peers[f->npeers++];
    memset(p, 0, sizeof *p);
    p->endpoint = endpoint;
    p->maps = malloc((size_t)nlocs * sizeof *p->maps);
    p->answered = calloc((size_t)nlocs, 1);
    return p;
}

static void s_close_peers(s_fetch_t *f)
{
    for (int i = 0; i < f->npeers; i++) {
        if (f->peers[i].monitor) {
            zmq_socket_monitor(f->peers[i].sock, NULL, 0);
            zmq_close(f->peers[i].monitor);
        }
        if (f->peers[i].sock) zmq_close(f->peers[i].sock);
        free(f->peers[i].maps);
        free(f->peers[i].answered);
    }
    free(f->peers);
}

static int s_send_requests(void *zctx, s_peer_t *p, const char *app,
                           int shuffle, int partition)
{
    int linger = 0;
    p->sock = ms_sock_client(zctx, ZMQ_DEALER,
                             &(ms_sock_opts_t){.rcvbuf = S_RCVBUF}, NULL);
    if (!p->sock) return MS_ERR_IO;
    /* A fresh name each time: a closed monitor's name is released only
     * once ZeroMQ has finished closing its socket. */
    static _Atomic unsigned long serial;
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://ms-fetch-monitor-%lu", serial++);
    if (zmq_socket_monitor(p->sock, mon, S_GONE_EVENTS) < 0 ||
        !(p->monitor = zmq_socket(zctx, ZMQ_PAIR)))
        return MS_ERR_IO;
    zmq_setsockopt(p->monitor, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(p->monitor, mon) < 0) return MS_ERR_IO;
    if (zmq_connect(p->sock, p->endpoint) < 0) return MS_ERR_IO;
    p->batch = (p->nmaps + S_SPLIT - 1) / S_SPLIT;
    if (p->batch > S_BATCH) p->batch = S_BATCH;
    for (int off = 0; off < p->nmaps; off += p->batch) {
        int n = p->nmaps - off < p->batch ? p->nmaps - off : p->batch;
        ms_msg_builder_t b;
        ms_msg_begin(&b, MS_MSG_FETCH, 5);
        msgpack_pack_int64(&b.pk, off);
        ms_mp_pack_str(&b.pk, app);
        msgpack_pack_int(&b.pk, shuffle);
        msgpack_pack_int(&b.pk, partition);
        msgpack_pack_array(&b.pk, (size_t)n);
        for (int i = 0; i < n; i++)
            msgpack_pack_int(&b.pk, p->maps[off + i]);
        if (ms_msg_send(p->sock, NULL, 0, &b, NULL, NULL, 0) < 0)
            return MS_ERR_IO;
        p->pending++;
    }
    return 0;
}

typedef struct {
    ms_fetch_block_fn fn;
    void *arg;
    uint64_t *bytes;
    ms_fetch_failure_t *fail;
    ms_error_t *err;
    uint8_t *buf; /* inflate output, reused from block to block */
    size_t cap;
} s_sink_t;

/* Checks a block from a server or a folder and hands its rows over. */
static int s_deliver(s_sink_t *k, int map, const char *endpoint,
                     const uint8_t *blk, size_t len)
{
    const uint8_t *raw;
    size_t raw_len;
    ms_error_t berr = {0};
    *k->bytes += len;
    if (ms_block_view(blk, len, &raw, &raw_len, &k->buf, &k->cap, &berr) < 0)
        return s_fail(k->fail, k->err, map, endpoint, berr.msg);
    return raw_len ? k->fn(k->arg, map, raw, raw_len, k->err) : 0;
}

static int s_on_reply(s_peer_t *p, zmq_msg_t *frames, int n, s_sink_t *k)
{
    ms_msg_t m;
    int64_t req, status, index;
    const char *text;
    uint32_t tlen;
    char why[512];
    int first = p->nmaps ? p->maps[0] : -1;
    if (n < 1 || ms_msg_parse(&m, zmq_msg_data(&frames[0]),
                              zmq_msg_size(&frames[0]), NULL) < 0)
        return s_fail(k->fail, k->err, first, p->endpoint, "malformed reply");
    int ok = m.type == MS_MSG_BLOCKS && m.nf == 4 &&
             ms_mp_int(&m.f[0], 0, p->nmaps - 1, &req) && req % p->batch == 0 &&
             !p->answered[req] && ms_mp_int(&m.f[1], INT32_MIN, 0, &status) &&
             ms_mp_bytes(&m.f[2], &text, &tlen) &&
             ms_mp_int(&m.f[3], 0, p->batch - 1, &index);
    snprintf(why, sizeof why, "%.*s", ok ? (int)tlen : 0, ok ? text : "");
    ms_msg_free(&m);
    if (!ok) return s_fail(k->fail, k->err, first, p->endpoint, "bad reply");
    int batch = p->nmaps - (int)req < p->batch ? p->nmaps - (int)req : p->batch;
    if (status < 0 || n - 1 != batch || index >= batch)
        return s_fail(k->fail, k->err,
                      p->maps[req + (index < batch ? index : 0)], p->endpoint,
                      status < 0 ? why : "wrong number of blocks");
    p->answered[req] = 1;
    for (int i = 0; i < batch; i++) {
        /* A stored block is checked and handed over where ZeroMQ put it. */
        int rc = s_deliver(k, p->maps[req + i], p->endpoint,
                           zmq_msg_data(&frames[i + 1]),
                           zmq_msg_size(&frames[i + 1]));
        if (rc < 0) return rc;
    }
    p->pending--;
    return 0;
}

static bool s_is_folder(const char *endpoint)
{
    return strncmp(endpoint, MS_SHUFFLE_FILE_SCHEME,
                   strlen(MS_SHUFFLE_FILE_SCHEME)) == 0;
}

/* Reads a folder location's blocks: a missing or bad one fails the fetch
 * as a server's answer would, naming its map output. */
static int s_read_folder(const s_peer_t *p, const char *app, int shuffle,
                         int partition, s_sink_t *k)
{
    const char *dir = p->endpoint + strlen(MS_SHUFFLE_FILE_SCHEME);
    int rc = 0;
    if (!ms_shuffle_valid_app_id(app))
        return s_fail(k->fail, k->err, p->maps[0], p->endpoint,
                      "invalid application id");
    for (int i = 0; rc == 0 && i < p->nmaps; i++) {
        uint8_t *blk;
        size_t len;
        ms_error_t e = {0};
        if (ms_shuffle_read_block(dir, app, shuffle, p->maps[i], partition,
                                  &blk, &len, &e) < 0)
            return s_fail(k->fail, k->err, p->maps[i], p->endpoint, e.msg);
        rc = s_deliver(k, p->maps[i], p->endpoint, blk, len);
        free(blk);
    }
    return rc;
}

/* Past this, a wait is cut into polls of this length: zmq_poll's time
 * becomes an int inside libzmq. */
#define S_MAX_POLL_MS INT32_MAX

static int s_receive_all(s_fetch_t *f, int64_t timeout_ms, s_sink_t *k)
{
    int64_t deadline;
    if (__builtin_add_overflow(ms_clock_now_ms(), timeout_ms, &deadline))
        deadline = INT64_MAX;
    zmq_pollitem_t *items = calloc(2 * (size_t)f->npeers, sizeof *items);
    if (!items) return MS_ERR_NOMEM;
    int rc = 0;
    for (;;) {
        int n = 0;
        s_peer_t *waiting[f->npeers];
        for (int i = 0; i < f->npeers; i++) {
            if (!f->peers[i].pending) continue;
            waiting[n] = &f->peers[i];
            items[n++] = (zmq_pollitem_t){f->peers[i].sock, 0, ZMQ_POLLIN, 0};
        }
        if (n == 0) break;
        for (int i = 0; i < n; i++)
            items[n + i] =
                (zmq_pollitem_t){waiting[i]->monitor, 0, ZMQ_POLLIN, 0};
        int64_t left = deadline - ms_clock_now_ms();
        long wait = left > S_MAX_POLL_MS ? S_MAX_POLL_MS : (long)left;
        int prc = left > 0 ? zmq_poll(items, 2 * n, wait) : 0;
        if (prc < 0 && errno == EINTR) continue;
        if (prc == 0 && left > S_MAX_POLL_MS) continue;
        if (prc <= 0) {
            rc = s_unreachable(k->fail, k->err, waiting[0]->maps[0],
                               waiting[0]->endpoint,
                               "no answer within the timeout");
            break;
        }
        for (int i = 0; rc == 0 && i < n; i++) {
            /* Replies already received are read first: only a peer that
             * still owes some and whose connection went is failed. */
            if (!(items[i].revents & ZMQ_POLLIN) &&
                (items[n + i].revents & ZMQ_POLLIN))
                rc = s_unreachable(k->fail, k->err, waiting[i]->maps[0],
                                   waiting[i]->endpoint,
                                   "connection to the shuffle server lost");
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            zmq_msg_t frames[S_BATCH + 1];
            int nf;
            rc = ms_frames_recv(waiting[i]->sock, frames, S_BATCH + 1, &nf,
                                ZMQ_DONTWAIT);
            if (rc < 0) {
                rc = s_fail(k->fail, k->err, waiting[i]->maps[0],
                            waiting[i]->endpoint, "unreadable reply");
                break;
            }
            rc = s_on_reply(waiting[i], frames, nf, k);
            ms_frames_close(frames, nf);
        }
        if (rc < 0) break;
    }
    free(items);
    return rc;
}

int ms_shuffle_fetch(void *zctx, const char *app, int shuffle, int partition,
                     const ms_map_loc_t *locs, int nlocs, int64_t timeout_ms,
                     ms_fetch_block_fn fn, void *arg, uint64_t *bytes,
                     ms_fetch_failure_t *fail, ms_error_t *err)
{
    s_fetch_t f = {calloc(nlocs ? (size_t)nlocs : 1, sizeof(s_peer_t)), 0};
    s_sink_t k = {fn, arg, bytes, fail, err, NULL, 0};
    int rc = f.peers ? 0 : MS_ERR_NOMEM;
    for (int i = 0; rc == 0 && i < nlocs; i++) {
        s_peer_t *p = s_peer(&f, locs[i].endpoint, nlocs);
        if (!p->maps || !p->answered)
            rc = MS_ERR_NOMEM;
        else
            p->maps[p->nmaps++] = locs[i].map;
    }
    for (int i = 0; rc == 0 && i < f.npeers; i++)
        if (!s_is_folder(f.peers[i].endpoint) &&
            s_send_requests(zctx, &f.peers[i], app, shuffle, partition) < 0)
            rc = s_unreachable(fail, err, f.peers[i].maps[0],
                               f.peers[i].endpoint, "cannot connect");
    /* Folders are read while the servers work on the requests. */
    for (int i = 0; rc == 0 && i < f.npeers; i++)
        if (s_is_folder(f.peers[i].endpoint))
            rc = s_read_folder(&f.peers[i], app, shuffle, partition, &k);
    if (rc == 0) rc = s_receive_all(&f, timeout_ms, &k);
    if (rc == MS_ERR_NOMEM) ms_error_set(err, rc, "fetching shuffle blocks");
    if (f.peers) s_close_peers(&f);
    free(k.buf);
    return rc;
}
