/* Map output migration: listing what a directory holds, checking an output
 * that arrives before storing it, and sending one to a shuffle server or a
 * fallback folder. Serving PUT_OUTPUT is the server's (server.c), reading
 * a fallback folder the fetcher's (fetch.c). */
#include "shuffle/migrate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/mp.h"
#include "common/plan.h"
#include "common/proto.h"
#include "shuffle/block.h"
#include "shuffle/client.h"
#include "shuffle/files.h"

/* ---- listing --------------------------------------------------------------
 */

/* Reads a decimal id as ms_shuffle_path writes one (no sign, no leading
 * zero, at most INT32_MAX) at *p, and moves *p past it. */
static bool s_id(const char **p, int *out)
{
    const char *s = *p;
    int64_t v = 0;
    int n = 0;
    if (s[0] == '0' && s[1] >= '0' && s[1] <= '9') return false;
    for (; n < 11 && s[n] >= '0' && s[n] <= '9'; n++)
        v = v * 10 + (s[n] - '0');
    if (n == 0 || v > INT32_MAX) return false;
    *p = s + n;
    *out = (int)v;
    return true;
}

/* True when name is exactly shuffle_<app>_<shuffle>_<map>.index. */
static bool s_parse_index_name(const char *name, const char *prefix,
                               ms_output_ref_t *ref)
{
    size_t plen = strlen(prefix);
    const char *p = name + plen;
    return strncmp(name, prefix, plen) == 0 && s_id(&p, &ref->shuffle) &&
           *p++ == '_' && s_id(&p, &ref->map) && strcmp(p, ".index") == 0;
}

static int s_cmp_ref(const void *a, const void *b)
{
    const ms_output_ref_t *x = a, *y = b;
    if (x->shuffle != y->shuffle) return x->shuffle < y->shuffle ? -1 : 1;
    return x->map < y->map ? -1 : x->map > y->map;
}

static int s_append(ms_output_ref_t **out, int *n, int *cap,
                    ms_output_ref_t ref)
{
    if (*n == *cap) {
        int grown = *cap ? *cap * 2 : 16;
        ms_output_ref_t *p = realloc(*out, (size_t)grown * sizeof *p);
        if (!p) return MS_ERR_NOMEM;
        *out = p;
        *cap = grown;
    }
    (*out)[(*n)++] = ref;
    return 0;
}

int ms_shuffle_list_outputs(const char *dir, const char *app,
                            ms_output_ref_t **out, int *n, ms_error_t *err)
{
    char prefix[MS_APP_ID_MAX + 16];
    int cap = 0, rc = 0;
    *out = NULL;
    *n = 0;
    if (!ms_shuffle_valid_app_id(app))
        return ms_error_set(err, MS_ERR_USAGE, "invalid application id");
    snprintf(prefix, sizeof prefix, "shuffle_%s_", app);
    DIR *d = opendir(dir);
    if (!d && errno == ENOENT) return 0;
    if (!d)
        return ms_error_set(err, MS_ERR_IO, "cannot list %s: %s", dir,
                            strerror(errno));
    struct dirent *de;
    ms_output_ref_t ref;
    while (rc == 0 && (de = readdir(d)) != NULL)
        if (s_parse_index_name(de->d_name, prefix, &ref))
            rc = s_append(out, n, &cap, ref);
    closedir(d);
    if (rc < 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        return ms_error_set(err, rc, "listing the map outputs in %s", dir);
    }
    if (*n) qsort(*out, (size_t)*n, sizeof **out, s_cmp_ref);
    return 0;
}

/* ---- checking and storing -------------------------------------------------
 */

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int s_data_length(const struct iovec *data, int ndata, uint64_t *total,
                         ms_error_t *err)
{
    *total = 0;
    for (int i = 0; i < ndata; i++)
        if (__builtin_add_overflow(*total, data[i].iov_len, total))
            return ms_error_set(err, MS_ERR_CORRUPT, "data too long");
    return 0;
}

/* The index must describe R >= 1 blocks that tile the data exactly. */
static int s_check_index(const uint8_t *index, size_t len, uint64_t total,
                         ms_error_t *err)
{
    if (len % 8 || len < 16 || len / 8 - 1 > MS_PLAN_MAX_PARTITIONS)
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "index of %zu bytes is not 2 to %d offsets", len,
                            MS_PLAN_MAX_PARTITIONS + 1);
    if (s_get64(index) != 0)
        return ms_error_set(err, MS_ERR_CORRUPT, "index does not start at 0");
    for (size_t i = 8; i < len; i += 8)
        if (s_get64(index + i) < s_get64(index + i - 8))
            return ms_error_set(err, MS_ERR_CORRUPT,
                                "index goes backwards at partition %zu",
                                i / 8 - 1);
    if (s_get64(index + len - 8) != total)
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "index ends at %llu, the data holds %llu bytes",
                            (unsigned long long)s_get64(index + len - 8),
                            (unsigned long long)total);
    return 0;
}

/* Walks data given in pieces, block after block. */
typedef struct {
    const struct iovec *iov;
    int i;     /* the piece under the cursor */
    size_t at; /* offset in it */
} s_cursor_t;

static const uint8_t *s_here(s_cursor_t *c)
{
    while (c->at == c->iov[c->i].iov_len) {
        c->i++;
        c->at = 0;
    }
    return (const uint8_t *)c->iov[c->i].iov_base + c->at;
}

/* The next len (> 0, no more than remain) bytes: where they lie when one
 * piece holds them, else gathered into *tmp (the caller's to free). NULL
 * when out of memory. */
static const uint8_t *s_take(s_cursor_t *c, size_t len, uint8_t **tmp)
{
    const uint8_t *p = s_here(c);
    if (c->iov[c->i].iov_len - c->at >= len) {
        c->at += len;
        return p;
    }
    free(*tmp);
    if (!(*tmp = malloc(len))) return NULL;
    for (size_t got = 0; got < len;) {
        p = s_here(c);
        size_t k = c->iov[c->i].iov_len - c->at;
        if (k > len - got) k = len - got;
        memcpy(*tmp + got, p, k);
        got += k;
        c->at += k;
    }
    return *tmp;
}

/* Checks every non-empty block of a checked index against the data. */
static int s_check_blocks(const uint8_t *index, size_t index_len,
                          const struct iovec *data, ms_error_t *err)
{
    s_cursor_t c = {data, 0, 0};
    uint8_t *tmp = NULL, *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 8; rc == 0 && i < index_len; i += 8) {
        size_t len = (size_t)(s_get64(index + i) - s_get64(index + i - 8));
        const uint8_t *raw, *blk = len ? s_take(&c, len, &tmp) : NULL;
        size_t raw_len;
        ms_error_t berr = {0};
        if (len && !blk)
            rc = ms_error_set(err, MS_ERR_NOMEM, "block of %zu bytes", len);
        else if (len &&
                 ms_block_view(blk, len, &raw, &raw_len, &buf, &cap, &berr) < 0)
            rc = ms_error_set(err, berr.code, "partition %zu: %s", i / 8 - 1,
                              berr.msg);
    }
    free(tmp);
    free(buf);
    return rc;
}

int ms_shuffle_put(const char *dir, const char *app, int shuffle, int map,
                   const uint8_t *index, size_t index_len,
                   const struct iovec *data, int ndata, ms_error_t *err)
{
    uint64_t total;
    if (!ms_shuffle_valid_app_id(app) || shuffle < 0 || map < 0 || ndata < 0)
        return ms_error_set(err, MS_ERR_USAGE, "invalid map output name");
    int rc = s_data_length(data, ndata, &total, err);
    if (rc == 0) rc = s_check_index(index, index_len, total, err);
    if (rc == 0) rc = s_check_blocks(index, index_len, data, err);
    if (rc == 0)
        rc = ms_shuffle_store_output(dir, app, shuffle, map, index, index_len,
                                     data, ndata, err);
    return rc;
}

/* ---- reading an output to send --------------------------------------------
 */

/* A data file mapped for as long as ZeroMQ or the caller holds a piece of
 * it: the last to let go unmaps it. */
typedef struct {
    atomic_int refs;
    uint8_t *base;
    size_t len;
} s_mapping_t;

static void s_mapping_release(void *data, void *hint)
{
    (void)data;
    s_mapping_t *m = hint;
    if (atomic_fetch_sub(&m->refs, 1) != 1) return;
    if (m->len) munmap(m->base, m->len);
    free(m);
}

typedef struct {
    uint8_t *index;
    size_t index_len;
    s_mapping_t *data;
} s_output_t;

static void s_output_release(s_output_t *o)
{
    free(o->index);
    if (o->data) s_mapping_release(NULL, o->data);
    *o = (s_output_t){0};
}

/* Reads a whole file of at most max bytes into a malloc'ed buffer. */
static int s_read_small(const char *path, size_t max, uint8_t **out,
                        size_t *len, ms_error_t *err)
{
    struct stat st;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ms_error_set(err, errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO,
                            "cannot open %s: %s", path, strerror(errno));
    int rc = fstat(fd, &st) < 0           ? MS_ERR_IO
             : (uint64_t)st.st_size > max ? MS_ERR_CORRUPT
                                          : 0;
    if (rc == 0 && !(buf = malloc((size_t)st.st_size + 1))) rc = MS_ERR_NOMEM;
    if (rc == 0 && pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
        rc = MS_ERR_IO;
    close(fd);
    if (rc < 0) {
        free(buf);
        return ms_error_set(err, rc, "cannot read %s", path);
    }
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
}

/* Maps a data file: once renamed into place it is never rewritten, so it
 * keeps the length it has now while mapped. */
static int s_map_data(const char *path, s_mapping_t **out, ms_error_t *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ms_error_set(err, errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO,
                            "cannot open %s: %s", path, strerror(errno));
    s_mapping_t *m = calloc(1, sizeof *m);
    int rc = !m ? MS_ERR_NOMEM : fstat(fd, &st) < 0 ? MS_ERR_IO : 0;
    if (rc == 0 && st.st_size > 0) {
        m->len = (size_t)st.st_size;
        m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED, fd, 0);
        if (m->base == MAP_FAILED) rc = MS_ERR_IO;
    }
    close(fd);
    if (rc < 0) {
        free(m);
        return ms_error_set(err, rc, "cannot map %s", path);
    }
    atomic_init(&m->refs, 1);
    *out = m;
    return 0;
}

static int s_output_load(const char *dir, const char *app, int shuffle, int map,
                         s_output_t *o, ms_error_t *err)
{
    char path[4096];
    *o = (s_output_t){0};
    if (!ms_shuffle_valid_app_id(app) || shuffle < 0 || map < 0)
        return ms_error_set(err, MS_ERR_USAGE, "invalid map output name");
    ms_shuffle_path(path, sizeof path, dir, app, shuffle, map, "index");
    int rc = s_read_small(path, 8 * ((size_t)MS_PLAN_MAX_PARTITIONS + 1),
                          &o->index, &o->index_len, err);
    ms_shuffle_path(path, sizeof path, dir, app, shuffle, map, "data");
    if (rc == 0) rc = s_map_data(path, &o->data, err);
    if (rc < 0) s_output_release(o);
    return rc;
}

/* ---- sending to a server --------------------------------------------------
 */

/* PUT_OUTPUT: the message, the index frame, then the data mapped, in
 * chunks handed to ZeroMQ without a copy. */
static int s_send_put(void *sock, const s_output_t *o, int64_t req,
                      const char *app, int shuffle, int map)
{
    ms_msg_builder_t b;
    size_t len = o->data->len;
    ms_msg_begin(&b, MS_MSG_PUT_OUTPUT, 5);
    msgpack_pack_int64(&b.pk, req);
    ms_mp_pack_str(&b.pk, app);
    msgpack_pack_int(&b.pk, shuffle);
    msgpack_pack_int(&b.pk, map);
    msgpack_pack_uint64(&b.pk, len);
    int rc = zmq_send(sock, b.sb.data, b.sb.size, ZMQ_SNDMORE) < 0 ||
             zmq_send(sock, o->index, o->index_len, len ? ZMQ_SNDMORE : 0) < 0;
    ms_msg_builder_free(&b);
    for (size_t off = 0; !rc && off < len; off += MS_SHUFFLE_PUT_CHUNK) {
        size_t n =
            len - off < MS_SHUFFLE_PUT_CHUNK ? len - off : MS_SHUFFLE_PUT_CHUNK;
        zmq_msg_t m;
        atomic_fetch_add(&o->data->refs, 1);
        if (zmq_msg_init_data(&m, o->data->base + off, n, s_mapping_release,
                              o->data) < 0) {
            s_mapping_release(NULL, o->data);
            return MS_ERR_NOMEM;
        }
        rc = zmq_msg_send(&m, sock, off + n < len ? ZMQ_SNDMORE : 0) < 0;
        if (rc) zmq_msg_close(&m);
    }
    return rc ? MS_ERR_IO : 0;
}

/* PUT_DONE [req, status, message]: 0, or the server's refusal. */
static int s_on_done(zmq_msg_t *frame, int64_t req, const char *endpoint,
                     ms_error_t *err)
{
    ms_msg_t m;
    int64_t got, status;
    const char *text;
    uint32_t tlen;
    if (ms_msg_parse(&m, zmq_msg_data(frame), zmq_msg_size(frame), NULL) < 0)
        return ms_error_set(err, MS_ERR_PROTO, "malformed reply from %s",
                            endpoint);
    bool ok = m.type == MS_MSG_PUT_DONE && m.nf == 3 &&
              ms_mp_int(&m.f[0], req, req, &got) &&
              ms_mp_int(&m.f[1], INT32_MIN, 0, &status) &&
              ms_mp_bytes(&m.f[2], &text, &tlen);
    int rc = !ok ? ms_error_set(err, MS_ERR_PROTO, "unexpected reply from %s",
                                endpoint)
             : status < 0
                 ? ms_error_set(err, (int)status, "%s refused the output: %.*s",
                                endpoint, (int)tlen, text)
                 : 0;
    ms_msg_free(&m);
    return rc;
}

/* zmq_poll takes an int (milliseconds) inside libzmq: longer waits are
 * made of polls this long. */
#define S_MAX_POLL_MS INT32_MAX

static int s_wait_done(void *sock, int64_t req, const char *endpoint,
                       int64_t timeout_ms, ms_error_t *err)
{
    int64_t deadline;
    if (__builtin_add_overflow(ms_clock_now_ms(), timeout_ms, &deadline))
        deadline = INT64_MAX;
    for (;;) {
        int64_t left = deadline - ms_clock_now_ms();
        long wait = left > S_MAX_POLL_MS ? S_MAX_POLL_MS : (long)left;
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        int prc = left > 0 ? zmq_poll(&item, 1, wait) : 0;
        if (prc < 0 && errno == EINTR) continue;
        if (prc == 0 && left > S_MAX_POLL_MS) continue;
        if (prc <= 0) break;
        zmq_msg_t frames[2];
        int n;
        if (ms_frames_recv(sock, frames, 2, &n, ZMQ_DONTWAIT) < 0)
            return ms_error_set(err, MS_ERR_PROTO, "unreadable reply from %s",
                                endpoint);
        int rc = n == 1 ? s_on_done(&frames[0], req, endpoint, err)
                        : ms_error_set(err, MS_ERR_PROTO,
                                       "unexpected reply from %s", endpoint);
        ms_frames_close(frames, n);
        return rc;
    }
    return ms_error_set(err, MS_ERR_TIMEOUT,
                        "%s did not store the output within %lld ms", endpoint,
                        (long long)timeout_ms);
}

int ms_shuffle_put_remote(void *zctx, const char *endpoint, const char *dir,
                          const char *app, int shuffle, int map,
                          int64_t timeout_ms, uint64_t *bytes, ms_error_t *err)
{
    static _Atomic int64_t s_req;
    int64_t req = atomic_fetch_add(&s_req, 1);
    s_output_t o;
    void *sock = NULL;
    *bytes = 0;
    int rc = s_output_load(dir, app, shuffle, map, &o, err);
    if (rc == 0 &&
        o.data->len > (size_t)MS_SHUFFLE_PUT_MAX_CHUNKS * MS_SHUFFLE_PUT_CHUNK)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "map output of %zu bytes is too large to send",
                          o.data->len);
    if (rc == 0 && !(sock = ms_shuffle_connect(zctx, endpoint)))
        rc = ms_error_set(err, MS_ERR_IO, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(errno));
    if (rc == 0 && s_send_put(sock, &o, req, app, shuffle, map) < 0)
        rc = ms_error_set(err, MS_ERR_IO, "cannot send to %s: %s", endpoint,
                          zmq_strerror(errno));
    if (rc == 0) rc = s_wait_done(sock, req, endpoint, timeout_ms, err);
    if (rc == 0) *bytes = o.index_len + o.data->len;
    if (sock) zmq_close(sock);
    s_output_release(&o);
    return rc;
}

/* ---- fallback storage -----------------------------------------------------
 */

static void s_fallback_dir(char *buf, size_t size, const char *fallback,
                           const char *app)
{
    snprintf(buf, size, "%s/%s", fallback, app);
}

void ms_shuffle_fallback_location(char *buf, size_t size, const char *fallback,
                                  const char *app)
{
    char dir[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX];
    s_fallback_dir(dir, sizeof dir, fallback, app);
    if (realpath(dir, real))
        snprintf(buf, size, "%s%s", MS_SHUFFLE_FILE_SCHEME, real);
    else if (dir[0] != '/' && getcwd(cwd, sizeof cwd))
        snprintf(buf, size, "%s%s/%s", MS_SHUFFLE_FILE_SCHEME, cwd, dir);
    else
        snprintf(buf, size, "%s%s", MS_SHUFFLE_FILE_SCHEME, dir);
}

int ms_shuffle_put_fallback(const char *dir, const char *app, int shuffle,
                            int map, const char *fallback, uint64_t *bytes,
                            ms_error_t *err)
{
    char to[PATH_MAX];
    s_output_t o;
    *bytes = 0;
    int rc = s_output_load(dir, app, shuffle, map, &o, err);
    if (rc < 0) return rc;
    s_fallback_dir(to, sizeof to, fallback, app);
    if (ms_mkdirs(to) < 0)
        rc = ms_error_set(err, MS_ERR_IO, "cannot create %s: %s", to,
                          strerror(errno));
    struct iovec data = {o.data->base, o.data->len};
    if (rc == 0)
        rc = ms_shuffle_put(to, app, shuffle, map, o.index, o.index_len, &data,
                            o.data->len ? 1 : 0, err);
    if (rc == 0) *bytes = o.index_len + o.data->len;
    s_output_release(&o);
    return rc;
}
