/* Aggregation states. Each group has a few int64 words per aggregate:
 *   count            [n]
 *   sum, avg         [n, sum]        of doubles: the sum's bits
 *                    [n, lo, hi]     of int64 and decimal: a 128-bit sum,
 *                                    which no sum of 2^63 - 1 values
 *                                    (the most n allows) can overflow
 *   min, max         [value, has]    (strings: [arena offset, len<<1|has])
 *   count_distinct   [head+1, n]     (values live in a per-aggregate map
 *                                     keyed by group index + value, chained
 *                                     per group through `next`)
 * Group keys are encoded canonically (type tag + payload) so equal keys are
 * equal bytes; that encoding never leaves the process. */
#include "common/agg.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytemap.h"
#include "common/mp.h"

#define S_KEY_MAX 65536
#define S_BATCH 32 /* rows queued before folding (see ms_agg_table_update) */
_Static_assert(MS_AGG_MERGE_BATCH <= S_BATCH, "merge batch");
/* Below this many groups the table sits in the cache and rows are folded
 * at once: queueing would only cost the copies. */
#define S_BATCH_MIN_GROUPS 32768

typedef struct {
    uint64_t hash;
    size_t key_off; /* in the batch's bytes */
    uint32_t key_len;
} s_pending_t;

typedef struct {
    ms_bytemap_t *map;
    uint32_t *next; /* per map entry: next entry of the same group, +1 */
    uint32_t cap;
} s_distinct_t;

struct ms_agg_table {
    const ms_plan_t *plan;
    ms_bytemap_t *groups;
    int64_t *states; /* groups x stride */
    uint32_t states_cap;
    int *off;   /* [naggs]: where each aggregate's words start */
    int stride; /* words of one group's states */
    char *strs; /* min/max string values */
    size_t strs_used, strs_size;
    s_distinct_t *distinct; /* [naggs], used by count_distinct only */
    ms_value_t *keyvals;    /* [nkeys]: scratch for decoding a group key */
    /* queued rows: keys and string inputs copied into bytes */
    s_pending_t pending[S_BATCH];
    ms_value_t *pending_in; /* [S_BATCH * naggs] */
    size_t *pending_str;    /* [S_BATCH * naggs]: offset of a string input */
    int npending;
    uint8_t *bytes;
    size_t bytes_used, bytes_size;
    uint8_t key[S_KEY_MAX];
};

/* ---- canonical value encoding ----------------------------------------- */

static size_t s_encode_value(uint8_t *p, size_t room, const ms_value_t *v)
{
    if (v->type == MS_TYPE_NULL) {
        if (room < 1) return 0;
        p[0] = 0;
        return 1;
    }
    if (v->type == MS_TYPE_STRING) {
        if (room < 5 + (size_t)v->len) return 0;
        p[0] = MS_TYPE_STRING;
        memcpy(p + 1, &v->len, 4);
        if (v->len) memcpy(p + 5, v->s, v->len);
        return 5 + v->len;
    }
    if (room < 9) return 0;
    p[0] = v->type;
    memcpy(p + 1, &v->i, 8); /* the double's bits for doubles */
    return 9;
}

static size_t s_decode_value(const uint8_t *p, size_t len, ms_coltype_t t,
                             ms_value_t *v)
{
    memset(v, 0, sizeof *v);
    if (p[0] == 0) return 1;
    v->type = p[0];
    v->scale = (uint8_t)t.scale;
    if (v->type == MS_TYPE_STRING) {
        memcpy(&v->len, p + 1, 4);
        v->s = (const char *)p + 5;
        return 5 + v->len;
    }
    (void)len;
    memcpy(&v->i, p + 1, 8);
    return 9;
}

static size_t s_encode_keys(ms_agg_table_t *self, const ms_value_t *keys)
{
    size_t n = 0;
    for (int i = 0; i < self->plan->nkeys; i++) {
        size_t w =
            s_encode_value(self->key + n, sizeof self->key - n, &keys[i]);
        if (!w) return 0;
        n += w;
    }
    return n;
}

static void s_decode_keys(const ms_agg_table_t *self, uint32_t g,
                          ms_value_t *keys)
{
    uint32_t len;
    const uint8_t *p = ms_bytemap_key(self->groups, g, &len);
    size_t off = 0;
    for (int i = 0; i < self->plan->nkeys; i++)
        off += s_decode_value(p + off, len - off, self->plan->keys[i].type,
                              &keys[i]);
}

/* ---- lifetime ------------------------------------------------------------ */

/* sum and avg of int64 and decimal keep a 128-bit sum. */
static bool s_wide_sum(const ms_agg_t *agg)
{
    return (agg->fn == MS_AGG_SUM || agg->fn == MS_AGG_AVG) &&
           agg->in.type != MS_TYPE_DOUBLE;
}

/* Words of an aggregate's state (see the top of this file). */
static int s_words(const ms_agg_t *agg)
{
    if (agg->fn == MS_AGG_COUNT) return 1;
    return s_wide_sum(agg) ? 3 : 2;
}

ms_agg_table_t *ms_agg_table_new(const ms_plan_t *plan)
{
    ms_agg_table_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->plan = plan;
    self->groups = ms_bytemap_new();
    self->distinct = calloc((size_t)plan->naggs, sizeof *self->distinct);
    self->keyvals = calloc((size_t)plan->nkeys + 1, sizeof *self->keyvals);
    self->off = calloc((size_t)plan->naggs + 1, sizeof *self->off);
    size_t nin = (size_t)S_BATCH * (size_t)(plan->naggs ? plan->naggs : 1);
    self->pending_in = calloc(nin, sizeof *self->pending_in);
    self->pending_str = calloc(nin, sizeof *self->pending_str);
    if (!self->groups || !self->distinct || !self->keyvals || !self->off ||
        !self->pending_in || !self->pending_str)
        goto fail;
    for (int a = 0; a < plan->naggs; a++) {
        self->off[a] = self->stride;
        self->stride += s_words(&plan->aggs[a]);
    }
    for (int a = 0; a < plan->naggs; a++) {
        if (plan->aggs[a].fn != MS_AGG_COUNT_DISTINCT) continue;
        self->distinct[a].map = ms_bytemap_new();
        if (!self->distinct[a].map) goto fail;
    }
    return self;
fail:
    ms_agg_table_destroy(&self);
    return NULL;
}

void ms_agg_table_destroy(ms_agg_table_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_agg_table_t *self = *self_p;
    for (int a = 0; self->distinct && a < self->plan->naggs; a++) {
        ms_bytemap_destroy(&self->distinct[a].map);
        free(self->distinct[a].next);
    }
    free(self->distinct);
    free(self->keyvals);
    free(self->off);
    free(self->pending_in);
    free(self->pending_str);
    free(self->bytes);
    ms_bytemap_destroy(&self->groups);
    free(self->states);
    free(self->strs);
    free(self);
    *self_p = NULL;
}

void ms_agg_table_clear(ms_agg_table_t *self)
{
    free(self->states);
    self->states = NULL;
    self->states_cap = 0;
    ms_bytemap_clear(self->groups);
    for (int a = 0; a < self->plan->naggs; a++) {
        if (!self->distinct[a].map) continue;
        ms_bytemap_clear(self->distinct[a].map);
        free(self->distinct[a].next);
        self->distinct[a].next = NULL;
        self->distinct[a].cap = 0;
    }
    free(self->strs);
    self->strs = NULL;
    self->strs_size = 0;
    self->strs_used = 0;
    self->npending = 0;
    self->bytes_used = 0;
}

uint32_t ms_agg_table_groups(const ms_agg_table_t *self)
{
    return ms_bytemap_count(self->groups);
}

size_t ms_agg_table_memory(const ms_agg_table_t *self)
{
    size_t n = ms_bytemap_memory(self->groups) + self->strs_size +
               self->bytes_size +
               (size_t)self->states_cap * 8 * (size_t)self->stride;
    for (int a = 0; a < self->plan->naggs; a++)
        if (self->distinct[a].map)
            n += ms_bytemap_memory(self->distinct[a].map) +
                 self->distinct[a].cap * sizeof(uint32_t);
    return n;
}

uint64_t ms_agg_table_hash(const ms_agg_table_t *self, uint32_t g)
{
    return ms_bytemap_hash(self->groups, g);
}

const uint8_t *ms_agg_table_key(const ms_agg_table_t *self, uint32_t g,
                                uint32_t *len)
{
    return ms_bytemap_key(self->groups, g, len);
}

/* ---- finding a group ----------------------------------------------------- */

static int64_t *s_state(const ms_agg_table_t *self, uint32_t g, int a)
{
    return &self->states[(size_t)g * (size_t)self->stride +
                         (size_t)self->off[a]];
}

static int s_grow_states(ms_agg_table_t *self, uint32_t need)
{
    if (need <= self->states_cap) return 0;
    uint32_t cap = self->states_cap ? self->states_cap * 2 : 256;
    size_t stride = (size_t)self->stride * sizeof(int64_t);
    int64_t *s = realloc(self->states, cap * stride);
    if (!s) return MS_ERR_NOMEM;
    memset((char *)s + self->states_cap * stride, 0,
           (cap - self->states_cap) * stride);
    self->states = s;
    self->states_cap = cap;
    return 0;
}

/* Group index for the key values, creating the group if needed. */
static int64_t s_group(ms_agg_table_t *self, const ms_value_t *keys,
                       ms_error_t *err)
{
    size_t len = s_encode_keys(self, keys);
    if (!len && self->plan->nkeys > 0)
        return ms_error_set(err, MS_ERR_INPUT, "group key longer than %d bytes",
                            S_KEY_MAX);
    int is_new;
    int64_t g = ms_bytemap_put(self->groups, self->key, (uint32_t)len,
                               ms_hash_bytes(self->key, len), &is_new);
    if (g < 0 || (is_new && s_grow_states(self, (uint32_t)g + 1) < 0))
        return ms_error_set(err, MS_ERR_NOMEM, "aggregation table");
    return g;
}

/* ---- folding values ---------------------------------------------------------
 */

static int s_keep_string(ms_agg_table_t *self, int64_t *s, const ms_value_t *v)
{
    if (self->strs_used + v->len > self->strs_size) {
        size_t size = self->strs_size ? self->strs_size * 2 : 4096;
        while (size < self->strs_used + v->len)
            size *= 2;
        char *p = realloc(self->strs, size);
        if (!p) return MS_ERR_NOMEM;
        self->strs = p;
        self->strs_size = size;
    }
    if (v->len) memcpy(self->strs + self->strs_used, v->s, v->len);
    s[0] = (int64_t)self->strs_used;
    s[1] = ((int64_t)v->len << 1) | 1;
    self->strs_used += v->len;
    return 0;
}

static ms_value_t s_minmax_value(const ms_agg_table_t *self, const int64_t *s,
                                 ms_coltype_t t)
{
    ms_value_t v = {0};
    if (!(s[1] & 1)) return v;
    v.type = (uint8_t)t.type;
    v.scale = (uint8_t)t.scale;
    if (t.type == MS_TYPE_STRING) {
        v.s = self->strs ? self->strs + s[0] : "";
        v.len = (uint32_t)(s[1] >> 1);
    } else {
        v.i = s[0];
    }
    return v;
}

static int s_minmax(ms_agg_table_t *self, int64_t *s, const ms_agg_t *a,
                    const ms_value_t *v)
{
    if (s[1] & 1) {
        ms_value_t cur = s_minmax_value(self, s, a->in);
        int c = ms_value_cmp(v, &cur);
        if (a->fn == MS_AGG_MIN ? c >= 0 : c <= 0) return 0;
    }
    if (v->type == MS_TYPE_STRING) return s_keep_string(self, s, v);
    s[0] = v->i;
    s[1] = 1;
    return 0;
}

static int s_distinct_add(ms_agg_table_t *self, int a, uint32_t g, int64_t *s,
                          const ms_value_t *v)
{
    s_distinct_t *d = &self->distinct[a];
    uint8_t buf[S_KEY_MAX];
    memcpy(buf, &g, 4);
    size_t len = s_encode_value(buf + 4, sizeof buf - 4, v);
    if (!len) return MS_ERR_INPUT;
    int is_new;
    int64_t e = ms_bytemap_put(d->map, buf, (uint32_t)len + 4,
                               ms_hash_bytes(buf, len + 4), &is_new);
    if (e < 0) return MS_ERR_NOMEM;
    if (!is_new) return 0;
    if ((uint32_t)e >= d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 256;
        uint32_t *next = realloc(d->next, cap * sizeof *next);
        if (!next) return MS_ERR_NOMEM;
        d->next = next;
        d->cap = cap;
    }
    d->next[e] = (uint32_t)s[0];
    s[0] = e + 1;
    s[1]++;
    return 0;
}

/* *acc += v, or an error leaving *acc as it was (a wrapped count would
 * later be packed as a state that no merge accepts). */
static int s_add(int64_t *acc, int64_t v, ms_error_t *err)
{
    int64_t sum;
    if (__builtin_add_overflow(*acc, v, &sum))
        return ms_error_set(err, MS_ERR_OVERFLOW,
                            "row count exceeds the 64-bit range");
    *acc = sum;
    return 0;
}

static ms_i128_t s_get_sum(const int64_t *s)
{
    unsigned __int128 u = (unsigned __int128)(uint64_t)s[1] << 64;
    return (ms_i128_t)(u | (uint64_t)s[0]);
}

static void s_put_sum(int64_t *s, ms_i128_t x)
{
    s[0] = (int64_t)(uint64_t)x;
    s[1] = (int64_t)(x >> 64);
}

/* The 128-bit sum at s += v. Counts are checked first and partial sums are
 * bounded by their counts (s_plausible_sum), so this cannot overflow; it is
 * checked all the same, as the last guard against a wrapped total. */
static int s_add_sum(int64_t *s, ms_i128_t v, const ms_agg_t *agg,
                     ms_error_t *err)
{
    ms_i128_t sum;
    if (__builtin_add_overflow(s_get_sum(s), v, &sum))
        return ms_error_set(err, MS_ERR_OVERFLOW, "%s exceeds 128 bits",
                            agg->name);
    s_put_sum(s, sum);
    return 0;
}

static int s_fold(ms_agg_table_t *self, uint32_t g, int a, const ms_value_t *v,
                  ms_error_t *err)
{
    const ms_agg_t *agg = &self->plan->aggs[a];
    int64_t *s = s_state(self, g, a);
    if (agg->fn == MS_AGG_COUNT) {
        s[0] += agg->col < 0 || v->type != MS_TYPE_NULL;
        return 0;
    }
    if (v->type == MS_TYPE_NULL) return 0;
    switch (agg->fn) {
    case MS_AGG_SUM:
    case MS_AGG_AVG:
        /* Merged partial counts can be near the limit (shuffle rows are
         * untrusted): the count must not wrap either. */
        if (s_add(&s[0], 1, err) < 0) return err->code;
        if (v->type != MS_TYPE_DOUBLE) return s_add_sum(s + 1, v->i, agg, err);
        double d;
        memcpy(&d, &s[1], 8);
        d += v->d;
        memcpy(&s[1], &d, 8);
        return 0;
    case MS_AGG_MIN:
    case MS_AGG_MAX:
        if (s_minmax(self, s, agg, v) < 0)
            return ms_error_set(err, MS_ERR_NOMEM, "aggregation strings");
        return 0;
    default: {
        int rc = s_distinct_add(self, a, g, s, v);
        if (rc == MS_ERR_INPUT)
            return ms_error_set(err, rc, "%s: value longer than %d bytes",
                                agg->name, S_KEY_MAX - 9);
        if (rc < 0)
            return ms_error_set(err, MS_ERR_NOMEM, "count_distinct set");
        return 0;
    }
    }
}

/* Copies len bytes into the batch's byte store; returns their offset, or
 * (size_t)-1 when memory runs out. */
static size_t s_keep_bytes(ms_agg_table_t *self, const void *p, size_t len)
{
    if (self->bytes_used + len > self->bytes_size) {
        size_t size = self->bytes_size ? self->bytes_size * 2 : 4096;
        while (size < self->bytes_used + len)
            size *= 2;
        uint8_t *b = realloc(self->bytes, size);
        if (!b) return (size_t)-1;
        self->bytes = b;
        self->bytes_size = size;
    }
    size_t off = self->bytes_used;
    if (len) memcpy(self->bytes + off, p, len);
    self->bytes_used += len;
    return off;
}

static int s_fold_row(ms_agg_table_t *self, uint32_t g, ms_value_t *in,
                      const size_t *str, ms_error_t *err)
{
    for (int a = 0; a < self->plan->naggs; a++) {
        if (in[a].type == MS_TYPE_STRING)
            in[a].s = (const char *)self->bytes + str[a];
        int rc = s_fold(self, g, a, &in[a], err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* The queued rows' slots were requested when they were queued; now
 * request what those point to (entry and states), all rows' at once,
 * before any row needs them. */
static void s_prefetch_queued(const ms_agg_table_t *self)
{
    for (int i = 0; i < self->npending; i++) {
        int64_t g =
            ms_bytemap_prefetch_entry(self->groups, self->pending[i].hash);
        if (g >= 0 && (uint32_t)g < self->states_cap)
            __builtin_prefetch(s_state(self, (uint32_t)g, 0), 1);
    }
}

/* The group of queued row i, created if new; <0 with err set. */
static int64_t s_queued_group(ms_agg_table_t *self, int i, ms_error_t *err)
{
    const s_pending_t *p = &self->pending[i];
    int is_new;
    int64_t g = ms_bytemap_put(self->groups, self->bytes + p->key_off,
                               p->key_len, p->hash, &is_new);
    if (g < 0 || (is_new && s_grow_states(self, (uint32_t)g + 1) < 0))
        return ms_error_set(err, MS_ERR_NOMEM, "aggregation table");
    return g;
}

int ms_agg_table_flush(ms_agg_table_t *self, ms_error_t *err)
{
    int naggs = self->plan->naggs, rc = 0;
    s_prefetch_queued(self);
    for (int i = 0; i < self->npending && rc == 0; i++) {
        int64_t g = s_queued_group(self, i, err);
        rc = g < 0 ? (int)g
                   : s_fold_row(self, (uint32_t)g, &self->pending_in[i * naggs],
                                &self->pending_str[i * naggs], err);
    }
    self->npending = 0;
    self->bytes_used = 0;
    return rc;
}

int ms_agg_table_fold_group(ms_agg_table_t *self, uint32_t g,
                            const ms_value_t *inputs, ms_error_t *err)
{
    for (int a = 0; a < self->plan->naggs; a++) {
        int rc = s_fold(self, g, a, &inputs[a], err);
        if (rc < 0) return rc;
    }
    return 0;
}

int ms_agg_table_update(ms_agg_table_t *self, const ms_value_t *keys,
                        const ms_value_t *inputs, ms_error_t *err)
{
    int64_t g;
    return ms_agg_table_update_group(self, keys, inputs, &g, err);
}

int ms_agg_table_update_group(ms_agg_table_t *self, const ms_value_t *keys,
                              const ms_value_t *inputs, int64_t *group,
                              ms_error_t *err)
{
    int naggs = self->plan->naggs;
    *group = -1;
    if (self->npending == 0 &&
        ms_bytemap_count(self->groups) < S_BATCH_MIN_GROUPS) {
        int64_t g = s_group(self, keys, err);
        if (g < 0) return (int)g;
        *group = g;
        return ms_agg_table_fold_group(self, (uint32_t)g, inputs, err);
    }
    size_t len = s_encode_keys(self, keys);
    if (!len && self->plan->nkeys > 0)
        return ms_error_set(err, MS_ERR_INPUT, "group key longer than %d bytes",
                            S_KEY_MAX);
    s_pending_t *p = &self->pending[self->npending];
    p->hash = ms_hash_bytes(self->key, len);
    p->key_len = (uint32_t)len;
    p->key_off = s_keep_bytes(self, self->key, len);
    if (p->key_off == (size_t)-1)
        return ms_error_set(err, MS_ERR_NOMEM, "aggregation batch");
    ms_value_t *in = &self->pending_in[self->npending * naggs];
    size_t *str = &self->pending_str[self->npending * naggs];
    for (int a = 0; a < naggs; a++) {
        in[a] = inputs[a];
        if (in[a].type != MS_TYPE_STRING) continue;
        str[a] = s_keep_bytes(self, in[a].s, in[a].len);
        if (str[a] == (size_t)-1)
            return ms_error_set(err, MS_ERR_NOMEM, "aggregation batch");
    }
    ms_bytemap_prefetch(self->groups, p->hash);
    if (++self->npending < S_BATCH) return 0;
    return ms_agg_table_flush(self, err);
}

/* ---- partial states on the wire ------------------------------------------ */

static void s_pack_partial(const ms_agg_table_t *self, msgpack_packer *pk,
                           uint32_t g, int a)
{
    const ms_agg_t *agg = &self->plan->aggs[a];
    const int64_t *s = s_state(self, g, a);
    switch (agg->fn) {
    case MS_AGG_COUNT:
        msgpack_pack_int64(pk, s[0]);
        return;
    case MS_AGG_SUM:
    case MS_AGG_AVG:
        if (s[0] == 0) {
            msgpack_pack_nil(pk);
            return;
        }
        msgpack_pack_array(pk, 2);
        if (agg->in.type == MS_TYPE_DOUBLE) {
            double d;
            memcpy(&d, &s[1], 8);
            msgpack_pack_double(pk, d);
        } else {
            ms_mp_pack_i128(pk, s_get_sum(s + 1));
        }
        msgpack_pack_int64(pk, s[0]);
        return;
    case MS_AGG_MIN:
    case MS_AGG_MAX: {
        ms_value_t v = s_minmax_value(self, s, agg->in);
        ms_mp_pack_value(pk, &v);
        return;
    }
    default: {
        const s_distinct_t *d = &self->distinct[a];
        msgpack_pack_array(pk, (size_t)s[1]);
        for (uint32_t e1 = (uint32_t)s[0]; e1; e1 = d->next[e1 - 1]) {
            uint32_t len;
            const uint8_t *p = ms_bytemap_key(d->map, e1 - 1, &len);
            ms_value_t v;
            s_decode_value(p + 4, len - 4, agg->in, &v);
            ms_mp_pack_value(pk, &v);
        }
        return;
    }
    }
}

void ms_agg_table_pack_partial_row(const ms_agg_table_t *self, uint32_t g,
                                   msgpack_packer *pk)
{
    const ms_plan_t *plan = self->plan;
    ms_value_t *keys = self->keyvals;
    msgpack_pack_array(pk, (size_t)(plan->nkeys + plan->naggs));
    s_decode_keys(self, g, keys);
    for (int i = 0; i < plan->nkeys; i++)
        ms_mp_pack_value(pk, &keys[i]);
    for (int a = 0; a < plan->naggs; a++)
        s_pack_partial(self, pk, g, a);
}

int ms_agg_table_pack_partials(const ms_agg_table_t *self,
                               msgpack_sbuffer *parts, int nparts)
{
    assert(self->npending == 0); /* ms_agg_table_flush first */
    uint32_t n = ms_bytemap_count(self->groups);
    for (uint32_t g = 0; g < n; g++) {
        int p = ms_agg_partition(ms_bytemap_hash(self->groups, g), nparts);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &parts[p], msgpack_sbuffer_write);
        ms_agg_table_pack_partial_row(self, g, &pk);
    }
    return 0;
}

/* Whether a partial sum of n values can be x: no input value exceeds
 * 2^63 (int64) or 10^18 - 1 (decimal, 18 digits) in magnitude. What the
 * merge accepts is what keeps the 128-bit total from overflowing. */
static bool s_plausible_sum(const ms_agg_t *agg, ms_i128_t x, int64_t n)
{
    ms_i128_t most = agg->in.type == MS_TYPE_DECIMAL
                         ? (ms_i128_t)ms_pow10[18] - 1
                         : (ms_i128_t)1 << 63;
    ms_i128_t bound = most * n;
    return x <= bound && x >= -bound;
}

static int s_merge_one(ms_agg_table_t *self, uint32_t g, int a,
                       const msgpack_object *o, ms_error_t *err)
{
    const ms_agg_t *agg = &self->plan->aggs[a];
    int64_t *s = s_state(self, g, a);
    const msgpack_object *items;
    uint32_t n;
    int64_t v64;
    ms_i128_t x;
    ms_value_t v;
    switch (agg->fn) {
    case MS_AGG_COUNT:
        if (!ms_mp_int(o, 0, INT64_MAX, &v64)) break;
        return s_add(&s[0], v64, err);
    case MS_AGG_SUM:
    case MS_AGG_AVG:
        if (o->type == MSGPACK_OBJECT_NIL) return 0;
        if (!ms_mp_array(o, 2, &items, NULL) ||
            !ms_mp_int(&items[1], 1, INT64_MAX, &v64))
            break;
        if (!s_wide_sum(agg)) {
            if (!ms_mp_value(&items[0], agg->in, &v) || v.type == MS_TYPE_NULL)
                break;
            if (s_add(&s[0], v64 - 1, err) < 0) return err->code;
            return s_fold(self, g, a, &v, err);
        }
        if (!ms_mp_i128(&items[0], &x) || !s_plausible_sum(agg, x, v64)) break;
        if (s_add(&s[0], v64, err) < 0) return err->code;
        return s_add_sum(s + 1, x, agg, err);
    case MS_AGG_MIN:
    case MS_AGG_MAX:
        if (!ms_mp_value(o, agg->in, &v)) break;
        return s_fold(self, g, a, &v, err);
    default:
        if (!ms_mp_array(o, -1, &items, &n)) break;
        for (uint32_t i = 0; i < n; i++) {
            if (!ms_mp_value(&items[i], agg->in, &v) || v.type == MS_TYPE_NULL)
                return ms_error_set(err, MS_ERR_CORRUPT,
                                    "bad count_distinct value in shuffle row");
            int rc = s_fold(self, g, a, &v, err);
            if (rc < 0) return rc;
        }
        return 0;
    }
    return ms_error_set(err, MS_ERR_CORRUPT,
                        "bad partial state for aggregate %s in shuffle row",
                        agg->name);
}

/* Checks a row's shape and keys and queues its canonical key; the row's
 * slot starts loading. */
static int s_queue_row(ms_agg_table_t *self, const msgpack_object *row,
                       const msgpack_object **items, ms_error_t *err)
{
    const ms_plan_t *plan = self->plan;
    ms_value_t *keys = self->keyvals;
    if (!ms_mp_array(row, plan->nkeys + plan->naggs, items, NULL))
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "shuffle row is not an array "
                            "of keys and states");
    for (int i = 0; i < plan->nkeys; i++)
        if (!ms_mp_value(&(*items)[i], plan->keys[i].type, &keys[i]))
            return ms_error_set(err, MS_ERR_CORRUPT,
                                "bad key %s in shuffle row",
                                plan->keys[i].name);
    size_t len = s_encode_keys(self, keys);
    if (!len && plan->nkeys > 0)
        return ms_error_set(err, MS_ERR_INPUT, "group key longer than %d bytes",
                            S_KEY_MAX);
    s_pending_t *p = &self->pending[self->npending++];
    p->hash = ms_hash_bytes(self->key, len);
    p->key_len = (uint32_t)len;
    p->key_off = s_keep_bytes(self, self->key, len);
    if (p->key_off == (size_t)-1)
        return ms_error_set(err, MS_ERR_NOMEM, "aggregation batch");
    ms_bytemap_prefetch(self->groups, p->hash);
    return 0;
}

int ms_agg_table_merge_rows(ms_agg_table_t *self, const msgpack_object *rows,
                            int n, ms_error_t *err)
{
    assert(self->npending == 0 && n <= MS_AGG_MERGE_BATCH);
    const ms_plan_t *plan = self->plan;
    const msgpack_object *items[MS_AGG_MERGE_BATCH];
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++)
        rc = s_queue_row(self, &rows[i], &items[i], err);
    if (rc == 0) s_prefetch_queued(self);
    for (int i = 0; i < self->npending && rc == 0; i++) {
        int64_t g = s_queued_group(self, i, err);
        if (g < 0) rc = (int)g;
        for (int a = 0; a < plan->naggs && rc == 0; a++)
            rc = s_merge_one(self, (uint32_t)g, a, &items[i][plan->nkeys + a],
                             err);
    }
    self->npending = 0;
    self->bytes_used = 0;
    return rc;
}

int ms_agg_table_merge(ms_agg_table_t *self, const msgpack_object *row,
                       ms_error_t *err)
{
    return ms_agg_table_merge_rows(self, row, 1, err);
}

/* ---- final values ---------------------------------------------------------
 */

/* sum / n at 10^k times the sum's scale, rounded half away from zero
 * (Spark's HALF_UP). sum * 10^k could leave 128 bits, so the quotient is
 * scaled and only the remainder (below n < 2^63) is multiplied. */
static ms_i128_t s_avg_scaled(ms_i128_t sum, int64_t n, int k)
{
    ms_i128_t q = sum / n, r = sum % n, unit = ms_pow10[k];
    ms_i128_t num = r * unit, fq = num / n, fr = num % n;
    if (fr < 0) fr = -fr;
    if (2 * fr >= n) fq += sum < 0 ? -1 : 1;
    return q * unit + fq;
}

static int s_too_big(const ms_agg_t *agg, ms_i128_t x, int scale,
                     const char *type, ms_error_t *err)
{
    char text[64];
    ms_format_i128(text, sizeof text, x, scale);
    return ms_error_set(err, MS_ERR_OVERFLOW,
                        "%s = %s does not fit its result type %s", agg->name,
                        text, type);
}

/* sum and avg of int64 and decimal, from the 128-bit sum of n values. */
static int s_final_wide(const ms_agg_t *agg, ms_i128_t sum, int64_t n,
                        ms_value_t *v, uint8_t wide[16], ms_error_t *err)
{
    char type[32];
    if (agg->in.type == MS_TYPE_INT64 && agg->fn == MS_AGG_AVG) {
        v->d = (double)sum / (double)n;
        return 0;
    }
    if (agg->in.type == MS_TYPE_INT64) {
        if (sum < INT64_MIN || sum > INT64_MAX)
            return s_too_big(agg, sum, 0, "int64", err);
        v->i = (int64_t)sum;
        return 0;
    }
    int scale = agg->type.scale;
    ms_i128_t x = sum;
    if (agg->fn == MS_AGG_AVG) x = s_avg_scaled(sum, n, scale - agg->in.scale);
    if (!ms_i128_fits_digits(x, MS_DECIMAL_RESULT_DIGITS)) {
        snprintf(type, sizeof type, "decimal(%d,%d)", MS_DECIMAL_RESULT_DIGITS,
                 scale);
        return s_too_big(agg, x, scale, type, err);
    }
    ms_value_set_decimal(v, x, scale, wide);
    return 0;
}

/* Group g's value of aggregate a; a wide decimal's bytes go to wide. */
static int s_final(const ms_agg_table_t *self, uint32_t g, int a, ms_value_t *v,
                   uint8_t wide[16], ms_error_t *err)
{
    const ms_agg_t *agg = &self->plan->aggs[a];
    const int64_t *s = s_state(self, g, a);
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)agg->type.type;
    v->scale = (uint8_t)agg->type.scale;
    switch (agg->fn) {
    case MS_AGG_COUNT:
    case MS_AGG_COUNT_DISTINCT:
        v->i = agg->fn == MS_AGG_COUNT ? s[0] : s[1];
        return 0;
    case MS_AGG_MIN:
    case MS_AGG_MAX:
        *v = s_minmax_value(self, s, agg->in);
        return 0;
    default:
        break;
    }
    if (s[0] == 0) {
        v->type = MS_TYPE_NULL;
        return 0;
    }
    if (s_wide_sum(agg))
        return s_final_wide(agg, s_get_sum(s + 1), s[0], v, wide, err);
    double sum;
    memcpy(&sum, &s[1], 8);
    v->d = agg->fn == MS_AGG_SUM ? sum : sum / (double)s[0];
    return 0;
}

int ms_agg_table_pack_final(const ms_agg_table_t *self, msgpack_sbuffer *out,
                            uint64_t *nrows, ms_error_t *err)
{
    assert(self->npending == 0); /* ms_agg_table_flush first */
    const ms_plan_t *plan = self->plan;
    ms_value_t *keys = self->keyvals, v;
    uint8_t wide[16];
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t n = ms_bytemap_count(self->groups);
    for (uint32_t g = 0; g < n; g++) {
        msgpack_pack_array(&pk, (size_t)(plan->nkeys + plan->naggs));
        s_decode_keys(self, g, keys);
        for (int i = 0; i < plan->nkeys; i++)
            ms_mp_pack_value(&pk, &keys[i]);
        for (int a = 0; a < plan->naggs; a++) {
            int rc = s_final(self, g, a, &v, wide, err);
            if (rc < 0) return rc;
            ms_mp_pack_value(&pk, &v);
        }
    }
    *nrows = n;
    return 0;
}

void ms_agg_empty_result(const ms_plan_t *plan, ms_value_t *out)
{
    for (int a = 0; a < plan->naggs; a++) {
        memset(&out[a], 0, sizeof out[a]);
        ms_agg_fn_t fn = plan->aggs[a].fn;
        if (fn == MS_AGG_COUNT || fn == MS_AGG_COUNT_DISTINCT)
            out[a].type = MS_TYPE_INT64;
    }
}

bool ms_agg_inexact_note(const ms_plan_t *plan, int a, char *buf, size_t size)
{
    const ms_agg_t *agg = &plan->aggs[a];
    if ((agg->fn != MS_AGG_SUM && agg->fn != MS_AGG_AVG) || agg->col < 0 ||
        agg->col >= plan->schema.ncols ||
        !plan->schema.cols[agg->col].wide_decimal)
        return false;
    snprintf(buf, size,
             "column %s holds decimals of more than 18 digits or %d "
             "places, so it is read as double and %s is inexact",
             plan->schema.cols[agg->col].name, MS_DECIMAL_MAX_SCALE, agg->name);
    return true;
}
