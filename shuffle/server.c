/* Shuffle block server. Requests are small msgpack messages; blocks go back
 * as raw frames handed to ZeroMQ without a copy: large ones mapped straight
 * from the page cache, small ones read into the heap. */
#include "shuffle/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/mp.h"
#include "common/proto.h"
#include "shuffle/app_reaper.h"
#include "shuffle/block.h"
#include "shuffle/files.h"

#define S_MAX_MAPS_PER_FETCH 1024
/* Blocks at least this large are mapped rather than read: ZeroMQ then
 * sends them from the page cache itself, instead of from fresh heap pages
 * that must first be faulted in and filled by a copy. Below it a read is
 * cheaper than setting up and tearing down a mapping. */
#define S_MAP_MIN (64 * 1024)

struct ms_shuffle_server {
    void *zctx;
    void *sock;
    void *pipe[2]; /* inproc PAIR: [0] read by the server thread, [1] stop */
    char *dir;
    char endpoint[256];
    pthread_t thread;
    int thread_started;
    volatile sig_atomic_t stop;
    ms_app_reaper_t *reaper; /* standalone service only */
};

int ms_shuffle_server_new(ms_shuffle_server_t **out, void *zctx,
                          const char *endpoint, const char *dir,
                          ms_error_t *err)
{
    ms_shuffle_server_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "shuffle server");
    int linger = 0;
    size_t len = sizeof self->endpoint;
    self->zctx = zctx;
    self->dir = strdup(dir);
    self->sock = zmq_socket(zctx, ZMQ_ROUTER);
    if (!self->dir || !self->sock) goto fail_nomem;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* Requests are small: a peer sending more is dropped before anything
     * is allocated for it. */
    int64_t most = MS_PROTO_MAX_BODY;
    zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &most, sizeof most);
    if (ms_auth_server(self->sock, err) < 0 ||
        ms_auth_guard(zctx, self->sock, "shuffle server", err) < 0)
        goto fail;
    if (zmq_bind(self->sock, endpoint) < 0) {
        ms_error_set(err, MS_ERR_IO, "shuffle server cannot bind %s: %s",
                     endpoint, zmq_strerror(errno));
        goto fail;
    }
    zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &len);
    *out = self;
    return 0;
fail_nomem:
    ms_error_set(err, MS_ERR_NOMEM, "shuffle server");
fail:
    ms_shuffle_server_destroy(&self);
    return err ? err->code : MS_ERR_IO;
}

void ms_shuffle_server_destroy(ms_shuffle_server_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_shuffle_server_t *self = *self_p;
    ms_shuffle_server_stop(self);
    ms_app_reaper_destroy(&self->reaper);
    if (self->sock) zmq_close(self->sock);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

const char *ms_shuffle_server_endpoint(const ms_shuffle_server_t *self)
{
    return self->endpoint;
}

int ms_shuffle_server_reap_apps(ms_shuffle_server_t *self, int64_t timeout_ms,
                                FILE *log)
{
    ms_app_reaper_destroy(&self->reaper);
    self->reaper = ms_app_reaper_new(self->dir, timeout_ms, log);
    return self->reaper ? 0 : MS_ERR_NOMEM;
}

static void s_seen(ms_shuffle_server_t *self, const char *app)
{
    if (self->reaper) ms_app_reaper_seen(self->reaper, app, ms_clock_now_ms());
}

/* ---- handlers ------------------------------------------------------------ */

/* One block to send: heap bytes (hint NULL) or a mapping of hint bytes
 * from the page boundary below data. */
typedef struct {
    uint8_t *data;
    size_t len;
    void *hint;
} s_block_t;

/* Runs on ZeroMQ's I/O thread once the frame is sent. */
static void s_free_block(void *data, void *hint)
{
    if (!hint) {
        free(data);
        return;
    }
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    munmap((void *)((uintptr_t)data & ~(page - 1)), (size_t)(uintptr_t)hint);
}

/* Maps a large block; 0 with b->data NULL when it is small or cannot be
 * mapped (the caller reads it instead). The size check matters: touching
 * a mapping past the end of a file would kill the server with SIGBUS.
 * Map outputs are renamed into place whole and never rewritten, so a file
 * long enough now stays so while mapped. */
static int s_map_block(ms_shuffle_server_t *self, const char *app, int shuffle,
                       int map, int partition, s_block_t *b, ms_error_t *err)
{
    uint64_t off, n;
    char path[4096];
    struct stat st;
    int rc = ms_shuffle_block_range(self->dir, app, shuffle, map, partition,
                                    &off, &n, err);
    if (rc < 0 || n < S_MAP_MIN || n > MS_BLOCK_MAX_RAW + MS_BLOCK_HEADER)
        return rc;
    ms_shuffle_path(path, sizeof path, self->dir, app, shuffle, map, "data");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    if (fstat(fd, &st) == 0 && off + n <= (uint64_t)st.st_size) {
        size_t skew = off % (uint64_t)sysconf(_SC_PAGESIZE);
        uint8_t *base = mmap(NULL, skew + n, PROT_READ, MAP_SHARED, fd,
                             (off_t)(off - skew));
        if (base != MAP_FAILED) {
            *b = (s_block_t){base + skew, n, (void *)(uintptr_t)(skew + n)};
        }
    }
    close(fd);
    return 0;
}

static int s_load_block(ms_shuffle_server_t *self, const char *app, int shuffle,
                        int map, int partition, s_block_t *b, ms_error_t *err)
{
    *b = (s_block_t){NULL, 0, NULL};
    int rc = s_map_block(self, app, shuffle, map, partition, b, err);
    if (rc < 0 || b->data) return rc;
    return ms_shuffle_read_block(self->dir, app, shuffle, map, partition,
                                 &b->data, &b->len, err);
}

static int s_send_frame(void *sock, s_block_t *b, int more)
{
    zmq_msg_t m;
    if (b->data)
        zmq_msg_init_data(&m, b->data, b->len, s_free_block, b->hint);
    else
        zmq_msg_init(&m);
    if (zmq_msg_send(&m, sock, more ? ZMQ_SNDMORE : 0) < 0) {
        zmq_msg_close(&m);
        return MS_ERR_IO;
    }
    return 0;
}

/* BLOCKS [req, status, text, index]: index is the block of the request
 * that failed, so that the fetcher blames the right map output. */
static int s_reply_status(ms_shuffle_server_t *self, zmq_msg_t *id, int64_t req,
                          int status, const char *text, uint32_t index,
                          int more)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_BLOCKS, 4);
    msgpack_pack_int64(&b.pk, req);
    msgpack_pack_int(&b.pk, status);
    ms_mp_pack_str(&b.pk, text);
    msgpack_pack_uint32(&b.pk, index);
    zmq_send(self->sock, zmq_msg_data(id), zmq_msg_size(id), ZMQ_SNDMORE);
    int rc = zmq_send(self->sock, b.sb.data, b.sb.size, more ? ZMQ_SNDMORE : 0);
    ms_msg_builder_free(&b);
    return rc < 0 ? MS_ERR_IO : 0;
}

typedef struct {
    int64_t req, shuffle, partition;
    char app[MS_APP_ID_MAX];
    uint32_t nmaps;
    const msgpack_object *maps;
} s_fetch_t;

static int s_parse_fetch(const ms_msg_t *m, s_fetch_t *f)
{
    const char *app;
    uint32_t len;
    if (m->nf != 5 || !ms_mp_int(&m->f[0], 0, INT64_MAX, &f->req) ||
        !ms_mp_bytes(&m->f[1], &app, &len) || len >= sizeof f->app ||
        !ms_mp_int(&m->f[2], 0, INT32_MAX, &f->shuffle) ||
        !ms_mp_int(&m->f[3], 0, INT32_MAX, &f->partition) ||
        !ms_mp_array(&m->f[4], -1, &f->maps, &f->nmaps) ||
        f->nmaps > S_MAX_MAPS_PER_FETCH)
        return MS_ERR_PROTO;
    memcpy(f->app, app, len);
    f->app[len] = '\0';
    if (memchr(app, '\0', len) || !ms_shuffle_valid_app_id(f->app))
        return MS_ERR_PROTO;
    for (uint32_t i = 0; i < f->nmaps; i++) {
        int64_t map;
        if (!ms_mp_int(&f->maps[i], 0, INT32_MAX, &map)) return MS_ERR_PROTO;
    }
    return 0;
}

/* Reads every requested block first, so that a missing one is reported
 * without sending a partial reply. */
static int s_on_fetch(ms_shuffle_server_t *self, zmq_msg_t *id,
                      const ms_msg_t *m)
{
    s_fetch_t f;
    ms_error_t err = {0};
    if (s_parse_fetch(m, &f) < 0)
        return s_reply_status(self, id, 0, MS_ERR_PROTO,
                              "malformed fetch request", 0, 0);
    /* A standalone service serves registered applications only. */
    if (self->reaper && !ms_app_reaper_registered(self->reaper, f.app)) {
        snprintf(err.msg, sizeof err.msg,
                 "application %s is not registered with this shuffle service",
                 f.app);
        return s_reply_status(self, id, f.req, MS_ERR_NOTFOUND, err.msg, 0, 0);
    }
    s_seen(self, f.app); /* its executors fetch: the application lives */
    s_block_t *blocks = calloc(f.nmaps ? f.nmaps : 1, sizeof *blocks);
    int rc = blocks ? 0 : MS_ERR_NOMEM;
    uint32_t at = 0; /* the block being loaded */
    for (; rc == 0 && at < f.nmaps; at++)
        rc = s_load_block(self, f.app, (int)f.shuffle, (int)f.maps[at].via.u64,
                          (int)f.partition, &blocks[at], &err);
    if (rc < 0) {
        for (uint32_t i = 0; blocks && i < f.nmaps; i++)
            if (blocks[i].data) s_free_block(blocks[i].data, blocks[i].hint);
        s_reply_status(self, id, f.req, rc, err.msg, at ? at - 1 : 0, 0);
    } else {
        s_reply_status(self, id, f.req, 0, "", 0, f.nmaps > 0);
        for (uint32_t i = 0; i < f.nmaps; i++)
            s_send_frame(self->sock, &blocks[i], i + 1 < f.nmaps);
    }
    free(blocks);
    return 0;
}

/* Reads [app] into buf (MS_APP_ID_MAX): false unless a valid id. */
static bool s_app_field(const ms_msg_t *m, char *buf)
{
    return m->nf >= 1 && ms_mp_str(&m->f[0], buf, MS_APP_ID_MAX) &&
           ms_shuffle_valid_app_id(buf);
}

static void s_register(ms_shuffle_server_t *self, const ms_msg_t *m)
{
    char app[MS_APP_ID_MAX];
    if (self->reaper && s_app_field(m, app))
        ms_app_reaper_register(self->reaper, app, ms_clock_now_ms());
}

/* PING [] or PING [app], which also registers app. */
static int s_on_ping(ms_shuffle_server_t *self, zmq_msg_t *id,
                     const ms_msg_t *m)
{
    s_register(self, m);
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_PONG, 1);
    ms_mp_pack_str(&b.pk, self->dir);
    return ms_msg_send(self->sock, zmq_msg_data(id), zmq_msg_size(id), &b, NULL,
                       NULL, 0);
}

/* REMOVE_APP [app] and REMOVE_SHUFFLE [app, shuffle]; the reply is the
 * number of files removed, or a negative error. */
static int s_on_remove(ms_shuffle_server_t *self, zmq_msg_t *id,
                       const ms_msg_t *m)
{
    bool whole_app = m->type == MS_MSG_REMOVE_APP;
    char *app = m->nf == (whole_app ? 1u : 2u) ? ms_mp_strdup(&m->f[0]) : NULL;
    int64_t shuffle = -1;
    int removed = 0, rc = MS_ERR_PROTO;
    if (app && whole_app)
        rc = ms_shuffle_remove_app(self->dir, app, &removed);
    else if (app && ms_mp_int(&m->f[1], 0, INT32_MAX, &shuffle))
        rc = ms_shuffle_remove_shuffle(self->dir, app, (int)shuffle, &removed);
    free(app);
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_REMOVED, 1);
    msgpack_pack_int(&b.pk, rc < 0 ? rc : removed);
    return ms_msg_send(self->sock, zmq_msg_data(id), zmq_msg_size(id), &b, NULL,
                       NULL, 0);
}

/* APP_ALIVE [app]: no reply (the driver does not wait for one). */
static int s_on_alive(ms_shuffle_server_t *self, zmq_msg_t *id,
                      const ms_msg_t *m)
{
    (void)id;
    if (m->nf == 1) s_register(self, m);
    return 0;
}

typedef int (*s_handler_fn)(ms_shuffle_server_t *, zmq_msg_t *,
                            const ms_msg_t *);

static const struct {
    int type;
    s_handler_fn fn;
} s_handlers[] = {
    {MS_MSG_FETCH, s_on_fetch},       {MS_MSG_PING, s_on_ping},
    {MS_MSG_REMOVE_APP, s_on_remove}, {MS_MSG_REMOVE_SHUFFLE, s_on_remove},
    {MS_MSG_APP_ALIVE, s_on_alive},
};

static void s_dispatch(ms_shuffle_server_t *self, zmq_msg_t *frames, int n)
{
    ms_msg_t m;
    if (n != 2 || ms_msg_parse(&m, zmq_msg_data(&frames[1]),
                               zmq_msg_size(&frames[1]), NULL) < 0) {
        if (n >= 1)
            s_reply_status(self, &frames[0], 0, MS_ERR_PROTO,
                           "malformed message", 0, 0);
        return;
    }
    size_t i;
    for (i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++)
        if (s_handlers[i].type == m.type) break;
    if (i < sizeof s_handlers / sizeof s_handlers[0])
        s_handlers[i].fn(self, &frames[0], &m);
    else
        s_reply_status(self, &frames[0], 0, MS_ERR_PROTO,
                       "unknown message type", 0, 0);
    ms_msg_free(&m);
}

int ms_shuffle_server_run(ms_shuffle_server_t *self,
                          volatile sig_atomic_t *stop)
{
    while (!*stop && !self->stop) {
        /* The pipe wakes a server thread at once when it is stopped; the
         * timeout only bounds how late a signal's flag is noticed. */
        zmq_pollitem_t items[] = {{self->sock, 0, ZMQ_POLLIN, 0},
                                  {self->pipe[0], 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self->pipe[0] ? 2 : 1, 100);
        if (rc < 0 && errno != EINTR) return MS_ERR_IO;
        if (self->reaper) ms_app_reaper_sweep(self->reaper, ms_clock_now_ms());
        if (rc <= 0 || !(items[0].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t frames[4];
        int n;
        if (ms_frames_recv(self->sock, frames, 4, &n, ZMQ_DONTWAIT) < 0)
            continue;
        s_dispatch(self, frames, n);
        ms_frames_close(frames, n);
    }
    return 0;
}

static void *s_thread_main(void *arg)
{
    ms_shuffle_server_t *self = arg;
    ms_shuffle_server_run(self, &self->stop);
    return NULL;
}

int ms_shuffle_server_start(ms_shuffle_server_t *self)
{
    char ep[64];
    int linger = 0;
    snprintf(ep, sizeof ep, "inproc://shuffle-server-%p", (void *)self);
    self->pipe[0] = zmq_socket(self->zctx, ZMQ_PAIR);
    self->pipe[1] = zmq_socket(self->zctx, ZMQ_PAIR);
    if (!self->pipe[0] || !self->pipe[1]) return MS_ERR_NOMEM;
    for (int i = 0; i < 2; i++)
        zmq_setsockopt(self->pipe[i], ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(self->pipe[0], ep) < 0 || zmq_connect(self->pipe[1], ep) < 0 ||
        pthread_create(&self->thread, NULL, s_thread_main, self) != 0)
        return MS_ERR_IO;
    self->thread_started = 1;
    return 0;
}

void ms_shuffle_server_stop(ms_shuffle_server_t *self)
{
    if (self->thread_started) {
        self->stop = 1;
        zmq_send(self->pipe[1], "", 0, ZMQ_DONTWAIT);
        pthread_join(self->thread, NULL);
        self->thread_started = 0;
    }
    for (int i = 0; i < 2; i++)
        if (self->pipe[i]) zmq_close(self->pipe[i]);
    self->pipe[0] = self->pipe[1] = NULL;
}
