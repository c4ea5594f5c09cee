/* Shuffle block server. Requests are small msgpack messages; blocks go back
 * as raw frames handed to ZeroMQ without a copy: large ones mapped straight
 * from the page cache, small ones read into the heap. What ZeroMQ holds for
 * each client is bounded (inflight.h): a fetch that would go over waits,
 * and a client that keeps it from going anywhere is disconnected. */
#include "shuffle/server.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/mp.h"
#include "common/proto.h"
#include "common/sock.h"
#include "shuffle/app_reaper.h"
#include "shuffle/block.h"
#include "shuffle/files.h"
#include "shuffle/inflight.h"
#include "shuffle/migrate.h"

#define S_MAX_MAPS_PER_FETCH 1024
/* Blocks at least this large are mapped rather than read: ZeroMQ then
 * sends them from the page cache itself, instead of from fresh heap pages
 * that must first be faulted in and filled by a copy. Below it a read is
 * cheaper than setting up and tearing down a mapping. */
#define S_MAP_MIN (64 * 1024)
/* A fetcher has at most 16 requests out per connection; a client with more
 * than this many waiting is not one, and is dropped. */
#define S_MAX_WAITING_PER_CLIENT 64
/* Requests waiting in all: beyond it a fetch is refused at once. */
#define S_MAX_WAITING 4096
/* The most frames a request has, as the ROUTER receives it: the client's
 * routing id, the message, and a PUT_OUTPUT's index and data frames. */
#define S_MAX_FRAMES (3 + MS_SHUFFLE_PUT_MAX_CHUNKS)

/* A fetch request, copied out of its message. */
typedef struct {
    int64_t req, shuffle, partition;
    char app[MS_APP_ID_MAX];
    uint32_t nmaps;
    int *maps;
} s_fetch_t;

/* A fetch waiting for its client's bytes in flight to go down. */
typedef struct s_waiting {
    struct s_waiting *next;
    ms_inflight_client_t *client;
    s_fetch_t f; /* f.maps points just past this struct */
} s_waiting_t;

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
    ms_inflight_t *flight;
    ms_shuffle_limits_t limits;
    FILE *log; /* drops are said here (borrowed; NULL: quiet) */
    s_waiting_t *waiting, **waiting_end;
    int nwaiting;
    int64_t idle_exit_ms, busy_ms; /* when an application was last known */
    atomic_bool refuse_puts;       /* its executor is decommissioning */
};

const ms_shuffle_limits_t ms_shuffle_limits_default = {
    .client_bytes = MS_SHUFFLE_MAX_BYTES_IN_FLIGHT,
    .total_bytes = MS_SHUFFLE_MAX_BYTES_IN_FLIGHT_TOTAL,
    .stall_ms = MS_SHUFFLE_CLIENT_STALL_MS,
};

int ms_shuffle_server_new(ms_shuffle_server_t **out, void *zctx,
                          const char *endpoint, const char *dir,
                          ms_error_t *err)
{
    ms_shuffle_server_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "shuffle server");
    size_t len = sizeof self->endpoint;
    self->zctx = zctx;
    self->limits = ms_shuffle_limits_default;
    self->waiting_end = &self->waiting;
    self->dir = strdup(dir);
    self->flight = ms_inflight_new();
    if (!self->dir || !self->flight) goto fail_nomem;
    /* Requests are small, and a PUT_OUTPUT's data frames smaller than this
     * too: a peer sending more is dropped before anything is allocated for
     * it. */
    self->sock = ms_sock_server(
        zctx, ZMQ_ROUTER, &(ms_sock_opts_t){.max_frame = MS_PROTO_MAX_BODY},
        "shuffle server", endpoint, err);
    if (!self->sock) goto fail;
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
    while (self->waiting) {
        s_waiting_t *w = self->waiting;
        self->waiting = w->next;
        free(w);
    }
    /* Blocks ZeroMQ still holds keep what they need of it. */
    ms_inflight_destroy(&self->flight);
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

void ms_shuffle_server_limit(ms_shuffle_server_t *self,
                             const ms_shuffle_limits_t *limits, FILE *log)
{
    self->limits = *limits;
    self->log = log;
}

void ms_shuffle_server_exit_when_idle(ms_shuffle_server_t *self,
                                      int64_t idle_ms)
{
    self->idle_exit_ms = idle_ms;
}

/* True once no application has been registered for idle_exit_ms. */
static bool s_idle(ms_shuffle_server_t *self, int64_t now_ms)
{
    if (!self->busy_ms || ms_shuffle_server_apps(self) > 0)
        self->busy_ms = now_ms;
    return self->idle_exit_ms > 0 &&
           now_ms - self->busy_ms >= self->idle_exit_ms;
}

void ms_shuffle_server_refuse_puts(ms_shuffle_server_t *self)
{
    atomic_store(&self->refuse_puts, true);
}

int ms_shuffle_server_apps(const ms_shuffle_server_t *self)
{
    return self->reaper ? ms_app_reaper_count(self->reaper) : 0;
}

uint64_t ms_shuffle_server_in_flight(const ms_shuffle_server_t *self)
{
    return ms_inflight_total(self->flight);
}

/* ---- replies --------------------------------------------------------------
 */

void ms_shuffle_reply_release(ms_shuffle_reply_t *r)
{
    for (uint32_t i = 0; i < r->n; i++) {
        if (!r->frames[i].hint)
            free(r->frames[i].data);
        else
            ms_inflight_release(r->frames[i].data, r->frames[i].hint);
    }
    free(r->frames);
    r->frames = NULL;
    r->n = 0;
}

/* Makes b (freed) the reply's message, with room for nblocks frames after
 * it. */
static int s_reply(ms_shuffle_reply_t *r, ms_msg_builder_t *b, uint32_t nblocks)
{
    r->frames = calloc(1 + (size_t)nblocks, sizeof *r->frames);
    if (!r->frames) {
        ms_msg_builder_free(b);
        return MS_ERR_NOMEM;
    }
    r->frames[0] = (ms_shuffle_frame_t){b->sb.data, b->sb.size, NULL};
    b->sb.data = NULL; /* the reply has it now */
    ms_msg_builder_free(b);
    r->n = 1;
    return 1;
}

/* BLOCKS [req, status, text, index]: index is the block of the request
 * that failed, so that the fetcher blames the right map output. */
static int s_reply_status(ms_shuffle_reply_t *r, int64_t req, int status,
                          const char *text, uint32_t index, uint32_t nblocks)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_BLOCKS, 4);
    msgpack_pack_int64(&b.pk, req);
    msgpack_pack_int(&b.pk, status);
    ms_mp_pack_str(&b.pk, text);
    msgpack_pack_uint32(&b.pk, index);
    return s_reply(r, &b, nblocks);
}

/* ---- blocks ---------------------------------------------------------------
 */

/* Maps a large block; 0 with f->data NULL when it is small or cannot be
 * mapped (the caller reads it instead). The size check matters: touching
 * a mapping past the end of a file would kill the server with SIGBUS.
 * Map outputs are renamed into place whole and never rewritten, so a file
 * long enough now stays so while mapped. */
static int s_map_block(ms_shuffle_server_t *self, const s_fetch_t *q, int map,
                       ms_shuffle_frame_t *f, size_t *map_len, ms_error_t *err)
{
    uint64_t off, n;
    char path[4096];
    struct stat st;
    int rc = ms_shuffle_block_range(self->dir, q->app, (int)q->shuffle, map,
                                    (int)q->partition, &off, &n, err);
    if (rc < 0 || n < S_MAP_MIN || n > MS_BLOCK_MAX_RAW + MS_BLOCK_HEADER)
        return rc;
    ms_shuffle_path(path, sizeof path, self->dir, q->app, (int)q->shuffle, map,
                    "data");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    if (fstat(fd, &st) == 0 && off + n <= (uint64_t)st.st_size) {
        size_t skew = off % (uint64_t)sysconf(_SC_PAGESIZE);
        uint8_t *base = mmap(NULL, skew + n, PROT_READ, MAP_SHARED, fd,
                             (off_t)(off - skew));
        if (base != MAP_FAILED) {
            f->data = base + skew;
            f->len = n;
            *map_len = skew + n;
        }
    }
    close(fd);
    return 0;
}

/* Loads one block into f, held in c's name. */
static int s_load_block(ms_shuffle_server_t *self, ms_inflight_client_t *c,
                        const s_fetch_t *q, int map, ms_shuffle_frame_t *f,
                        ms_error_t *err)
{
    size_t map_len = 0;
    int rc = s_map_block(self, q, map, f, &map_len, err);
    if (rc == 0 && !f->data) {
        uint8_t *data;
        rc = ms_shuffle_read_block(self->dir, q->app, (int)q->shuffle, map,
                                   (int)q->partition, &data, &f->len, err);
        f->data = data;
    }
    if (rc < 0 || !f->data) return rc; /* an empty block holds nothing */
    f->hint = ms_inflight_hold(self->flight, c, f->len, map_len);
    if (f->hint) return 0;
    if (map_len)
        munmap((uint8_t *)f->data - (map_len - f->len), map_len);
    else
        free(f->data);
    *f = (ms_shuffle_frame_t){NULL, 0, NULL};
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
}

/* Reads every requested block first, so that a missing one is reported
 * without sending a partial reply. */
static int s_serve(ms_shuffle_server_t *self, ms_inflight_client_t *c,
                   const s_fetch_t *q, int64_t now_ms, ms_shuffle_reply_t *r)
{
    ms_error_t err = {0};
    /* A standalone service serves registered applications only. */
    if (self->reaper && !ms_app_reaper_registered(self->reaper, q->app)) {
        snprintf(err.msg, sizeof err.msg,
                 "application %s is not registered with this shuffle service",
                 q->app);
        return s_reply_status(r, q->req, MS_ERR_NOTFOUND, err.msg, 0, 0);
    }
    /* its executors fetch: the application lives */
    if (self->reaper) ms_app_reaper_seen(self->reaper, q->app, now_ms);
    if (s_reply_status(r, q->req, 0, "", 0, q->nmaps) < 0) return MS_ERR_NOMEM;
    int rc = 0;
    uint32_t at = 0; /* the block being loaded */
    for (; rc == 0 && at < q->nmaps; at++)
        rc = s_load_block(self, c, q, q->maps[at], &r->frames[1 + at], &err);
    r->n = 1 + at;
    if (rc == 0) return 1;
    ms_shuffle_reply_release(r);
    return s_reply_status(r, q->req, rc, err.msg, at - 1, 0);
}

/* ---- waiting fetches ------------------------------------------------------
 */

static bool s_over(const ms_shuffle_server_t *self,
                   const ms_inflight_client_t *c)
{
    return atomic_load(&c->bytes) >= self->limits.client_bytes ||
           ms_inflight_total(self->flight) >= self->limits.total_bytes;
}

static void s_unlink(ms_shuffle_server_t *self, s_waiting_t **link)
{
    s_waiting_t *w = *link;
    *link = w->next;
    if (self->waiting_end == &w->next) self->waiting_end = link;
    w->client->waiting--;
    self->nwaiting--;
}

/* Disconnects c: ZeroMQ discards what it holds for it, its waiting
 * requests are forgotten, and further ones are ignored. */
static void s_drop(ms_shuffle_server_t *self, ms_inflight_client_t *c,
                   const char *why)
{
    if (self->log)
        fprintf(self->log,
                "minispark shuffle-server: dropped a client holding %llu "
                "bytes in flight: %s\n",
                (unsigned long long)atomic_load(&c->bytes), why);
    c->dropped = true;
    ms_inflight_disconnect(c);
    for (s_waiting_t **link = &self->waiting; *link;) {
        s_waiting_t *w = *link;
        if (w->client != c) {
            link = &w->next;
            continue;
        }
        s_unlink(self, link);
        free(w);
    }
}

static int s_wait(ms_shuffle_server_t *self, ms_inflight_client_t *c,
                  const s_fetch_t *q, ms_shuffle_reply_t *r)
{
    if (c->waiting >= S_MAX_WAITING_PER_CLIENT) {
        char why[160];
        snprintf(why, sizeof why,
                 "it does not read its replies (over %d requests waiting "
                 "behind minispark.shuffle.maxBytesInFlight)",
                 S_MAX_WAITING_PER_CLIENT);
        s_drop(self, c, why);
        return 0;
    }
    size_t maps = (size_t)q->nmaps * sizeof *q->maps;
    s_waiting_t *w =
        self->nwaiting < S_MAX_WAITING ? malloc(sizeof *w + maps) : NULL;
    if (!w)
        return s_reply_status(r, q->req, MS_ERR_FAILED,
                              "shuffle server busy: too many fetches waiting "
                              "for room in minispark.shuffle.maxBytesInFlight",
                              0, 0);
    w->next = NULL;
    w->client = c;
    w->f = *q;
    w->f.maps = (int *)(w + 1);
    if (maps) memcpy(w->f.maps, q->maps, maps);
    *self->waiting_end = w;
    self->waiting_end = &w->next;
    c->waiting++;
    self->nwaiting++;
    return 0;
}

/* When the total is over its bound and fetches wait, the client that has
 * taken nothing for longest goes, once it has been quiet stall_ms: that
 * frees its bytes for clients that read, and bounds how long they wait. */
static void s_shed(ms_shuffle_server_t *self, int64_t now_ms)
{
    ms_inflight_client_t *c = ms_inflight_quietest(self->flight, now_ms);
    if (!self->waiting ||
        ms_inflight_total(self->flight) < self->limits.total_bytes || !c ||
        now_ms - c->quiet_since_ms < self->limits.stall_ms)
        return;
    char why[200];
    snprintf(why, sizeof why,
             "it read nothing for %.1f s while %llu bytes were in flight in "
             "all (minispark.shuffle.maxBytesInFlightTotal)",
             (double)(now_ms - c->quiet_since_ms) / 1000.0,
             (unsigned long long)ms_inflight_total(self->flight));
    s_drop(self, c, why);
}

int ms_shuffle_server_next(ms_shuffle_server_t *self, int64_t now_ms,
                           ms_shuffle_reply_t *r)
{
    memset(r, 0, sizeof *r);
    /* On before looking, so that a block released meanwhile wakes us. */
    ms_inflight_wait(self->flight, self->waiting != NULL);
    s_shed(self, now_ms);
    for (s_waiting_t **link = &self->waiting; *link; link = &(*link)->next) {
        s_waiting_t *w = *link;
        if (s_over(self, w->client)) continue;
        s_unlink(self, link);
        memcpy(r->peer, w->client->id, w->client->id_len);
        r->peer_len = w->client->id_len;
        int rc = s_serve(self, w->client, &w->f, now_ms, r);
        free(w);
        return rc < 0 ? 0 : rc;
    }
    ms_inflight_forget_idle(self->flight);
    return 0;
}

/* ---- requests -------------------------------------------------------------
 */

/* Reads [app] into buf (MS_APP_ID_MAX): false unless a valid id. An empty
 * string may come without any bytes behind it: only ms_mp_str reads it. */
static bool s_app_field(const msgpack_object *o, char *buf)
{
    return ms_mp_str(o, buf, MS_APP_ID_MAX) && ms_shuffle_valid_app_id(buf);
}

static bool s_parse_fetch(const ms_msg_t *m, s_fetch_t *f)
{
    const msgpack_object *maps;
    if (m->nf != 5 || !ms_mp_int(&m->f[0], 0, INT64_MAX, &f->req) ||
        !s_app_field(&m->f[1], f->app) ||
        !ms_mp_int(&m->f[2], 0, INT32_MAX, &f->shuffle) ||
        !ms_mp_int(&m->f[3], 0, INT32_MAX, &f->partition) ||
        !ms_mp_array(&m->f[4], -1, &maps, &f->nmaps) ||
        f->nmaps > S_MAX_MAPS_PER_FETCH)
        return false;
    for (uint32_t i = 0; i < f->nmaps; i++) {
        int64_t map;
        if (!ms_mp_int(&maps[i], 0, INT32_MAX, &map)) return false;
        f->maps[i] = (int)map;
    }
    return true;
}

typedef struct {
    zmq_msg_t *frames; /* [0] the client's routing id, [1] the message, */
    int n;             /* [2..n) a PUT_OUTPUT's index and data */
    const ms_msg_t *m;
    int64_t now_ms;
} s_request_t;

static int s_on_fetch(ms_shuffle_server_t *self, const s_request_t *q,
                      ms_shuffle_reply_t *r)
{
    int maps[S_MAX_MAPS_PER_FETCH];
    s_fetch_t f = {.maps = maps};
    if (!s_parse_fetch(q->m, &f))
        return s_reply_status(r, 0, MS_ERR_PROTO, "malformed fetch request", 0,
                              0);
    ms_inflight_client_t *c =
        ms_inflight_client(self->flight, r->peer, r->peer_len, q->now_ms);
    if (!c)
        return s_reply_status(r, f.req, MS_ERR_NOMEM, "out of memory", 0, 0);
    if (c->dropped) return 0;
    ms_inflight_note_fd(c, zmq_msg_get(&q->frames[1], ZMQ_SRCFD));
    /* Behind its own waiting ones, so that they are served in order. */
    if (c->waiting || s_over(self, c)) return s_wait(self, c, &f, r);
    return s_serve(self, c, &f, q->now_ms, r);
}

/* PING [] or PING [app], which also registers app. */
static int s_on_ping(ms_shuffle_server_t *self, const s_request_t *q,
                     ms_shuffle_reply_t *r)
{
    char app[MS_APP_ID_MAX];
    if (self->reaper && q->m->nf >= 1 && s_app_field(&q->m->f[0], app))
        ms_app_reaper_register(self->reaper, app, q->now_ms);
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_PONG, 1);
    ms_mp_pack_str(&b.pk, self->dir);
    return s_reply(r, &b, 0);
}

/* REMOVE_APP [app] and REMOVE_SHUFFLE [app, shuffle]; the reply is the
 * number of files removed, or a negative error. */
static int s_on_remove(ms_shuffle_server_t *self, const s_request_t *q,
                       ms_shuffle_reply_t *r)
{
    const ms_msg_t *m = q->m;
    bool whole_app = m->type == MS_MSG_REMOVE_APP;
    char app[MS_APP_ID_MAX];
    int64_t shuffle = -1;
    int removed = 0, rc = MS_ERR_PROTO;
    bool ok = m->nf == (whole_app ? 1u : 2u) && s_app_field(&m->f[0], app);
    if (ok && whole_app)
        rc = ms_shuffle_remove_app(self->dir, app, &removed);
    else if (ok && ms_mp_int(&m->f[1], 0, INT32_MAX, &shuffle))
        rc = ms_shuffle_remove_shuffle(self->dir, app, (int)shuffle, &removed);
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_REMOVED, 1);
    msgpack_pack_int(&b.pk, rc < 0 ? rc : removed);
    return s_reply(r, &b, 0);
}

/* APP_ALIVE [app]: no reply (the driver does not wait for one). */
static int s_on_alive(ms_shuffle_server_t *self, const s_request_t *q,
                      ms_shuffle_reply_t *r)
{
    (void)r;
    char app[MS_APP_ID_MAX];
    if (self->reaper && q->m->nf == 1 && s_app_field(&q->m->f[0], app))
        ms_app_reaper_register(self->reaper, app, q->now_ms);
    return 0;
}

/* PUT_DONE [req, status, text]. */
static int s_reply_put(ms_shuffle_reply_t *r, int64_t req, int status,
                       const char *text)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_PUT_DONE, 3);
    msgpack_pack_int64(&b.pk, req);
    msgpack_pack_int(&b.pk, status);
    ms_mp_pack_str(&b.pk, text);
    return s_reply(r, &b, 0);
}

/* A PUT_OUTPUT request, copied out of its message. */
typedef struct {
    int64_t req, shuffle, map, len;
    char app[MS_APP_ID_MAX];
} s_put_t;

static bool s_parse_put(const ms_msg_t *m, s_put_t *p)
{
    const int64_t most =
        (int64_t)MS_SHUFFLE_PUT_MAX_CHUNKS * MS_SHUFFLE_PUT_CHUNK;
    return m->nf == 5 && ms_mp_int(&m->f[0], 0, INT64_MAX, &p->req) &&
           s_app_field(&m->f[1], p->app) &&
           ms_mp_int(&m->f[2], 0, INT32_MAX, &p->shuffle) &&
           ms_mp_int(&m->f[3], 0, INT32_MAX, &p->map) &&
           ms_mp_int(&m->f[4], 0, most, &p->len);
}

/* Whether this server takes p: not while its executor goes away (it would
 * only have to move the output again), and as a standalone service only
 * for a registered application, which the put shows alive. */
static int s_put_allowed(ms_shuffle_server_t *self, const s_put_t *p,
                         int64_t now_ms, ms_error_t *err)
{
    if (atomic_load(&self->refuse_puts))
        return ms_error_set(err, MS_ERR_FAILED,
                            "this shuffle server's executor is "
                            "decommissioning: it takes no map output");
    if (self->reaper && !ms_app_reaper_registered(self->reaper, p->app))
        return ms_error_set(
            err, MS_ERR_NOTFOUND,
            "application %s is not registered with this shuffle service",
            p->app);
    if (self->reaper) ms_app_reaper_seen(self->reaper, p->app, now_ms);
    return 0;
}

/* The data frames as pieces: at most MS_SHUFFLE_PUT_MAX_CHUNKS of at most
 * MS_SHUFFLE_PUT_CHUNK bytes, holding the length announced. */
static int s_put_data(const s_request_t *q, int64_t len, struct iovec *data,
                      ms_error_t *err)
{
    uint64_t total = 0;
    if (q->n < 3 || q->n - 3 > MS_SHUFFLE_PUT_MAX_CHUNKS)
        return ms_error_set(err, MS_ERR_PROTO,
                            "a put has an index frame and at most %d data "
                            "frames, not %d frames",
                            MS_SHUFFLE_PUT_MAX_CHUNKS, q->n - 2);
    for (int i = 3; i < q->n; i++) {
        size_t n = zmq_msg_size(&q->frames[i]);
        if (n > MS_SHUFFLE_PUT_CHUNK)
            return ms_error_set(err, MS_ERR_PROTO,
                                "data frame of %zu bytes in a put", n);
        data[i - 3] = (struct iovec){zmq_msg_data(&q->frames[i]), n};
        total += n;
    }
    if (total != (uint64_t)len)
        return ms_error_set(err, MS_ERR_PROTO,
                            "a put announced %lld bytes and sent %llu",
                            (long long)len, (unsigned long long)total);
    return 0;
}

/* PUT_OUTPUT [req, app, shuffle, map, data length], index, data...: the
 * output is checked (ms_shuffle_put) and stored in place. */
static int s_on_put(ms_shuffle_server_t *self, const s_request_t *q,
                    ms_shuffle_reply_t *r)
{
    s_put_t p = {0};
    struct iovec data[MS_SHUFFLE_PUT_MAX_CHUNKS];
    ms_error_t err = {0};
    if (!s_parse_put(q->m, &p))
        return s_reply_put(r, p.req, MS_ERR_PROTO, "malformed put request");
    int rc = s_put_allowed(self, &p, q->now_ms, &err);
    if (rc == 0) rc = s_put_data(q, p.len, data, &err);
    if (rc == 0)
        rc = ms_shuffle_put(self->dir, p.app, (int)p.shuffle, (int)p.map,
                            zmq_msg_data(&q->frames[2]),
                            zmq_msg_size(&q->frames[2]), data, q->n - 3, &err);
    return s_reply_put(r, p.req, rc, rc < 0 ? err.msg : "");
}

typedef int (*s_handler_fn)(ms_shuffle_server_t *, const s_request_t *,
                            ms_shuffle_reply_t *);

static const struct {
    int type;
    s_handler_fn fn;
} s_handlers[] = {
    {MS_MSG_FETCH, s_on_fetch},       {MS_MSG_PING, s_on_ping},
    {MS_MSG_REMOVE_APP, s_on_remove}, {MS_MSG_REMOVE_SHUFFLE, s_on_remove},
    {MS_MSG_APP_ALIVE, s_on_alive},   {MS_MSG_PUT_OUTPUT, s_on_put},
};

int ms_shuffle_server_handle(ms_shuffle_server_t *self, zmq_msg_t *frames,
                             int n, int64_t now_ms, ms_shuffle_reply_t *r)
{
    memset(r, 0, sizeof *r);
    if (n < 1 || zmq_msg_size(&frames[0]) > sizeof r->peer) return 0;
    r->peer_len = zmq_msg_size(&frames[0]);
    if (r->peer_len) memcpy(r->peer, zmq_msg_data(&frames[0]), r->peer_len);
    ms_msg_t m;
    /* Only a put has frames after its message. */
    bool ok = n >= 2 && ms_msg_parse(&m, zmq_msg_data(&frames[1]),
                                     zmq_msg_size(&frames[1]), NULL) == 0;
    if (ok && n != 2 && m.type != MS_MSG_PUT_OUTPUT) {
        ms_msg_free(&m);
        ok = false;
    }
    if (!ok) {
        s_reply_status(r, 0, MS_ERR_PROTO, "malformed message", 0, 0);
        return r->n > 0;
    }
    s_request_t q = {frames, n, &m, now_ms};
    size_t i;
    int rc;
    for (i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++)
        if (s_handlers[i].type == m.type) break;
    if (i < sizeof s_handlers / sizeof s_handlers[0])
        rc = s_handlers[i].fn(self, &q, r);
    else
        rc = s_reply_status(r, 0, MS_ERR_PROTO, "unknown message type", 0, 0);
    ms_msg_free(&m);
    return rc < 0 ? 0 : r->n > 0;
}

/* ---- the loop -------------------------------------------------------------
 */

/* Sends r to its client; r is released either way. */
static void s_send(ms_shuffle_server_t *self, ms_shuffle_reply_t *r)
{
    int rc = zmq_send(self->sock, r->peer, r->peer_len, ZMQ_SNDMORE);
    if (rc >= 0)
        rc = zmq_send(self->sock, r->frames[0].data, r->frames[0].len,
                      r->n > 1 ? ZMQ_SNDMORE : 0);
    for (uint32_t i = 1; i < r->n; i++) {
        ms_shuffle_frame_t *f = &r->frames[i];
        zmq_msg_t m;
        if (!f->data) {
            zmq_msg_init(&m);
        } else if (zmq_msg_init_data(&m, f->data, f->len, ms_inflight_release,
                                     f->hint) < 0) {
            ms_inflight_release(f->data, f->hint);
            zmq_msg_init(&m);
        }
        /* ZeroMQ owns the block now, sent or not. */
        f->data = NULL;
        f->hint = NULL;
        if (rc < 0 ||
            zmq_msg_send(&m, self->sock, i + 1 < r->n ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&m);
            rc = -1;
        }
    }
    ms_shuffle_reply_release(r);
}

static void s_on_readable(ms_shuffle_server_t *self, int64_t now_ms)
{
    zmq_msg_t frames[S_MAX_FRAMES]; /* 8 KiB, on the server's stack */
    int n;
    ms_shuffle_reply_t r;
    if (ms_frames_recv(self->sock, frames, S_MAX_FRAMES, &n, ZMQ_DONTWAIT) < 0)
        return;
    if (ms_shuffle_server_handle(self, frames, n, now_ms, &r) > 0)
        s_send(self, &r);
    ms_frames_close(frames, n);
}

int ms_shuffle_server_run(ms_shuffle_server_t *self,
                          volatile sig_atomic_t *stop)
{
    while (!*stop && !self->stop) {
        /* The pipe wakes a server thread at once when it is stopped, the
         * ledger when bytes go while fetches wait; the timeout only bounds
         * how late a signal's flag is noticed. */
        zmq_pollitem_t items[] = {
            {self->sock, 0, ZMQ_POLLIN, 0},
            {NULL, ms_inflight_wake_fd(self->flight), ZMQ_POLLIN, 0},
            {self->pipe[0], 0, ZMQ_POLLIN, 0}};
        int rc = zmq_poll(items, self->pipe[0] ? 3 : 2, 100);
        if (rc < 0 && errno != EINTR) return MS_ERR_IO;
        int64_t now = ms_clock_now_ms();
        if (self->reaper) ms_app_reaper_sweep(self->reaper, now);
        if (s_idle(self, now)) break;
        /* Waiting fetches first: room just made is theirs. */
        ms_shuffle_reply_t r;
        while (ms_shuffle_server_next(self, now, &r) > 0)
            s_send(self, &r);
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN)) s_on_readable(self, now);
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
