/* Spilled runs. A run is a sequence of records
 *   hash u64 | key length u32 | row length u32 | key bytes | row bytes
 * (native byte order: the file never leaves the process), where the row is
 * the group's packed partial state, exactly as the shuffle carries it. The
 * merge reads every run through its own window of the file and keeps the
 * runs in a binary heap ordered by their current record. */
#include "common/agg_spill.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mp.h"

#define S_BATCH_GROUPS 4096
#define S_HEADER 16
#define S_KEY_MAX (1 << 16) /* as the table's */
#define S_WINDOW_MIN (64 << 10)
#define S_WINDOW_MAX (4 << 20)
/* Records are buffered this much before a write. Keep it under glibc's
 * mmap threshold (128 KiB): freeing a larger buffer raises the threshold,
 * and the tables' arrays then come from the heap and stay resident after
 * a spill frees them (a 1 MiB buffer cost Q2 20 MB of peak RSS). */
#define S_OUT_MAX (64 << 10)

typedef struct {
    uint64_t off, len;
} s_extent_t;

struct ms_agg_spill {
    const ms_plan_t *plan;
    char *dir;
    int64_t budget;
    int fd;              /* the spill file, -1 before the first spill */
    msgpack_sbuffer out; /* records not yet written */
    uint64_t size;
    s_extent_t *runs;
    int nruns, cap;
    int64_t memory_bytes;
};

typedef struct {
    uint64_t hash;
    uint32_t g;
} s_order_t;

/* A run being merged: its unread extent and a window onto it. */
typedef struct {
    uint64_t pos, end;
    uint8_t *buf;
    size_t cap, have, at;
    size_t cur;    /* bytes of the current record, 0 before the first */
    uint64_t hash; /* the current record */
    const uint8_t *key, *row;
    uint32_t klen, rlen;
} s_reader_t;

ms_agg_spill_t *ms_agg_spill_new(const ms_plan_t *plan, const char *dir,
                                 int64_t budget)
{
    ms_agg_spill_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->plan = plan;
    self->budget = budget;
    self->dir = strdup(dir);
    self->fd = -1;
    msgpack_sbuffer_init(&self->out);
    if (!self->dir) ms_agg_spill_destroy(&self);
    return self;
}

void ms_agg_spill_destroy(ms_agg_spill_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_agg_spill_t *self = *self_p;
    if (self->fd >= 0) close(self->fd);
    msgpack_sbuffer_destroy(&self->out);
    free(self->runs);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

int ms_agg_spill_runs(const ms_agg_spill_t *self)
{
    return self->nruns;
}

int64_t ms_agg_spill_memory_bytes(const ms_agg_spill_t *self)
{
    return self->memory_bytes;
}

int64_t ms_agg_spill_disk_bytes(const ms_agg_spill_t *self)
{
    return (int64_t)self->size;
}

/* ---- writing a run ------------------------------------------------------- */

static int s_key_cmp(uint64_t ha, const uint8_t *ka, uint32_t la, uint64_t hb,
                     const uint8_t *kb, uint32_t lb)
{
    if (ha != hb) return ha < hb ? -1 : 1;
    int c = memcmp(ka, kb, la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

/* One least-significant-digit pass: o sorted by the 16 bits of hash at
 * shift into tmp. */
static void s_radix_pass(const s_order_t *o, s_order_t *tmp, uint32_t n,
                         int shift, uint32_t *count)
{
    memset(count, 0, (1u << 16) * sizeof *count);
    for (uint32_t i = 0; i < n; i++)
        count[(o[i].hash >> shift) & 0xffff]++;
    uint32_t sum = 0;
    for (uint32_t d = 0; d < (1u << 16); d++) {
        uint32_t c = count[d];
        count[d] = sum;
        sum += c;
    }
    for (uint32_t i = 0; i < n; i++)
        tmp[count[(o[i].hash >> shift) & 0xffff]++] = o[i];
}

/* Sorts the groups by (hash, key): radix passes on the hash's upper 32
 * bits, then the rare neighbours that share those bits put in full order. */
static int s_sort(const ms_agg_table_t *t, s_order_t *o, uint32_t n)
{
    if (n < 2) return 0;
    s_order_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    uint32_t *count = malloc((1u << 16) * sizeof *count);
    int ok = tmp && count;
    if (ok) {
        s_radix_pass(o, tmp, n, 32, count);
        s_radix_pass(tmp, o, n, 48, count);
    }
    free(count);
    free(tmp);
    if (!ok) return -1;
    for (uint32_t i = 1; i < n; i++) {
        for (uint32_t j = i; j > 0 && o[j - 1].hash >> 32 == o[j].hash >> 32;
             j--) {
            uint32_t la, lb;
            const uint8_t *ka = ms_agg_table_key(t, o[j - 1].g, &la);
            const uint8_t *kb = ms_agg_table_key(t, o[j].g, &lb);
            if (s_key_cmp(o[j - 1].hash, ka, la, o[j].hash, kb, lb) <= 0) break;
            s_order_t x = o[j];
            o[j] = o[j - 1];
            o[j - 1] = x;
        }
    }
    return 0;
}

static int s_open_file(ms_agg_spill_t *self, ms_error_t *err)
{
    size_t n = strlen(self->dir) + sizeof "/spill-XXXXXX";
    char *path = malloc(n);
    if (!path) return ms_error_set(err, MS_ERR_NOMEM, "spill file name");
    snprintf(path, n, "%s/spill-XXXXXX", self->dir);
    self->fd = mkstemp(path);
    int rc = self->fd < 0 ? ms_error_set(err, MS_ERR_IO,
                                         "cannot create a spill file in %s: %s",
                                         self->dir, strerror(errno))
                          : 0;
    if (rc == 0) unlink(path);
    free(path);
    return rc;
}

/* Writes out the buffered records. */
static int s_drain(ms_agg_spill_t *self)
{
    const char *p = self->out.data;
    size_t left = self->out.size;
    while (left > 0) {
        ssize_t w = write(self->fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        left -= (size_t)w;
    }
    self->out.size = 0;
    return 0;
}

/* Appends group g's record to the output buffer. */
static int s_write_record(ms_agg_spill_t *self, const ms_agg_table_t *t,
                          uint32_t g)
{
    uint32_t klen, rlen;
    const uint8_t *key = ms_agg_table_key(t, g, &klen);
    uint64_t hash = ms_agg_table_hash(t, g);
    uint8_t head[S_HEADER] = {0};
    memcpy(head, &hash, 8);
    memcpy(head + 8, &klen, 4);
    size_t at = self->out.size;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    if (msgpack_sbuffer_write(&self->out, (const char *)head, S_HEADER) < 0 ||
        msgpack_sbuffer_write(&self->out, (const char *)key, klen) < 0)
        return -1;
    ms_agg_table_pack_partial_row(t, g, &pk);
    if (!self->out.data) return -1;
    rlen = (uint32_t)(self->out.size - at - S_HEADER - klen);
    memcpy(self->out.data + at + 12, &rlen, 4);
    self->size += S_HEADER + (uint64_t)klen + rlen;
    return self->out.size >= S_OUT_MAX ? s_drain(self) : 0;
}

/* Writes the table's groups as a new run and empties the table. */
static int s_spill(ms_agg_spill_t *self, ms_agg_table_t *t, ms_error_t *err)
{
    int rc = ms_agg_table_flush(t, err);
    if (rc < 0) return rc;
    uint32_t n = ms_agg_table_groups(t);
    if (self->nruns == self->cap) {
        int cap = self->cap ? self->cap * 2 : 16;
        s_extent_t *r = realloc(self->runs, (size_t)cap * sizeof *r);
        if (!r) return ms_error_set(err, MS_ERR_NOMEM, "spill runs");
        self->runs = r;
        self->cap = cap;
    }
    if (self->fd < 0 && (rc = s_open_file(self, err)) < 0) return rc;
    s_order_t *o = malloc((n ? n : 1) * sizeof *o);
    if (!o) return ms_error_set(err, MS_ERR_NOMEM, "spill order");
    for (uint32_t g = 0; g < n; g++)
        o[g] = (s_order_t){ms_agg_table_hash(t, g), g};
    if (s_sort(t, o, n) < 0) {
        free(o);
        return ms_error_set(err, MS_ERR_NOMEM, "spill order");
    }
    uint64_t start = self->size;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        if (s_write_record(self, t, o[i].g) < 0) rc = -1;
    if (rc == 0) rc = s_drain(self);
    free(o);
    if (rc < 0)
        return ms_error_set(err, MS_ERR_IO, "writing a spill file in %s: %s",
                            self->dir, strerror(errno));
    self->runs[self->nruns++] = (s_extent_t){start, self->size - start};
    self->memory_bytes += (int64_t)ms_agg_table_memory(t);
    ms_agg_table_clear(t);
    return 0;
}

int ms_agg_spill_check(ms_agg_spill_t *self, ms_agg_table_t *table,
                       ms_error_t *err)
{
    if (self->budget <= 0 ||
        ms_agg_table_memory(table) <= (uint64_t)self->budget)
        return 0;
    return s_spill(self, table, err);
}

/* ---- merging the runs ---------------------------------------------------- */

/* Makes the next record current; 0 at the end of the run, <0 on a read
 * error or a record that does not fit the run (a damaged file). */
static int s_advance(ms_agg_spill_t *self, s_reader_t *r)
{
    r->at += r->cur;
    r->cur = 0;
    size_t avail = r->have - r->at;
    if (avail == 0 && r->pos == r->end) return 0;
    uint32_t klen = 0, rlen = 0;
    for (;;) {
        if (avail >= S_HEADER) {
            memcpy(&klen, r->buf + r->at + 8, 4);
            memcpy(&rlen, r->buf + r->at + 12, 4);
            if (avail >= S_HEADER + (size_t)klen + rlen) break;
        }
        size_t need = S_HEADER + (size_t)klen + rlen;
        if (r->pos == r->end || need > r->end - r->pos + avail) return -1;
        memmove(r->buf, r->buf + r->at, avail);
        r->at = 0;
        r->have = avail;
        if (need > r->cap) {
            uint8_t *b = realloc(r->buf, need);
            if (!b) return -1;
            r->buf = b;
            r->cap = need;
        }
        size_t want = r->cap - r->have;
        if (want > r->end - r->pos) want = (size_t)(r->end - r->pos);
        ssize_t got = pread(self->fd, r->buf + r->have, want, (off_t)r->pos);
        if (got <= 0) return -1;
        r->have += (size_t)got;
        r->pos += (uint64_t)got;
        avail = r->have;
    }
    memcpy(&r->hash, r->buf + r->at, 8);
    r->cur = S_HEADER + (size_t)klen + rlen;
    r->klen = klen;
    r->rlen = rlen;
    r->key = r->buf + r->at + S_HEADER;
    r->row = r->key + klen;
    return 1;
}

static int s_reader_cmp(const s_reader_t *a, const s_reader_t *b)
{
    return s_key_cmp(a->hash, a->key, a->klen, b->hash, b->key, b->klen);
}

static void s_sift_down(s_reader_t **heap, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, m = i;
        if (l < n && s_reader_cmp(heap[l], heap[m]) < 0) m = l;
        if (l + 1 < n && s_reader_cmp(heap[l + 1], heap[m]) < 0) m = l + 1;
        if (m == i) return;
        s_reader_t *tmp = heap[i];
        heap[i] = heap[m];
        heap[m] = tmp;
        i = m;
    }
}

typedef struct {
    ms_agg_table_t *batch;
    uint8_t *last; /* the key last merged into batch */
    uint32_t last_len;
    uint64_t last_hash;
    ms_mp_seq_t row;
} s_combine_t;

/* Merges the current record of r into the batch, first handing the batch
 * on when it is full and r starts a new key. */
static int s_combine(s_combine_t *c, const s_reader_t *r,
                     ms_agg_spill_emit_fn emit, void *arg, ms_error_t *err)
{
    int same = ms_agg_table_groups(c->batch) > 0 &&
               s_key_cmp(r->hash, r->key, r->klen, c->last_hash, c->last,
                         c->last_len) == 0;
    if (!same && ms_agg_table_groups(c->batch) >= S_BATCH_GROUPS) {
        int rc = emit(arg, c->batch, err);
        if (rc < 0) return rc;
        ms_agg_table_clear(c->batch);
    }
    if (!same && r->klen <= S_KEY_MAX) {
        memcpy(c->last, r->key, r->klen);
        c->last_len = r->klen;
        c->last_hash = r->hash;
    }
    msgpack_object row;
    if (r->klen > S_KEY_MAX || !ms_mp_seq_reset(&c->row, r->row, r->rlen) ||
        ms_mp_seq_next(&c->row, &row) != 1)
        return ms_error_set(err, MS_ERR_CORRUPT, "undecodable spilled row");
    return ms_agg_table_merge(c->batch, &row, err);
}

static int s_merge_runs(ms_agg_spill_t *self, s_reader_t *readers,
                        s_reader_t **heap, ms_agg_spill_emit_fn emit, void *arg,
                        ms_error_t *err)
{
    int n = 0, rc = 0, got = 0;
    s_combine_t c = {.batch = ms_agg_table_new(self->plan),
                     .last = malloc(S_KEY_MAX)};
    if (!ms_mp_seq_init(&c.row, "", 0) || !c.batch || !c.last)
        rc = ms_error_set(err, MS_ERR_NOMEM, "spill merge");
    for (int i = 0; rc == 0 && got >= 0 && i < self->nruns; i++)
        if ((got = s_advance(self, &readers[i])) > 0) heap[n++] = &readers[i];
    for (int i = n / 2 - 1; i >= 0; i--)
        s_sift_down(heap, n, i);
    while (rc == 0 && got >= 0 && n > 0) {
        rc = s_combine(&c, heap[0], emit, arg, err);
        if (rc == 0 && (got = s_advance(self, heap[0])) == 0)
            heap[0] = heap[--n];
        s_sift_down(heap, n, 0);
    }
    if (rc == 0 && got < 0)
        rc = ms_error_set(err, MS_ERR_IO,
                          "reading back a spill file in %s: damaged or "
                          "unreadable",
                          self->dir);
    if (rc == 0 && ms_agg_table_groups(c.batch) > 0)
        rc = emit(arg, c.batch, err);
    ms_mp_seq_destroy(&c.row);
    ms_agg_table_destroy(&c.batch);
    free(c.last);
    return rc;
}

int ms_agg_spill_merge(ms_agg_spill_t *self, ms_agg_table_t *table,
                       ms_agg_spill_emit_fn emit, void *arg, ms_error_t *err)
{
    int rc = s_spill(self, table, err);
    if (rc < 0) return rc;
    size_t window = self->budget > 0 ? (size_t)self->budget / self->nruns : 0;
    if (window < S_WINDOW_MIN) window = S_WINDOW_MIN;
    if (window > S_WINDOW_MAX) window = S_WINDOW_MAX;
    s_reader_t *readers = calloc((size_t)self->nruns, sizeof *readers);
    s_reader_t **heap = calloc((size_t)self->nruns, sizeof *heap);
    rc = readers && heap ? 0 : ms_error_set(err, MS_ERR_NOMEM, "spill merge");
    for (int i = 0; rc == 0 && i < self->nruns; i++) {
        s_reader_t *r = &readers[i];
        r->pos = self->runs[i].off;
        r->end = self->runs[i].off + self->runs[i].len;
        r->cap = window;
        if (!(r->buf = malloc(window)))
            rc = ms_error_set(err, MS_ERR_NOMEM, "spill merge");
    }
    if (rc == 0) rc = s_merge_runs(self, readers, heap, emit, arg, err);
    for (int i = 0; readers && i < self->nruns; i++)
        free(readers[i].buf);
    free(readers);
    free(heap);
    return rc;
}
