/* The map side: scan a split, check and convert the referenced fields,
 * filter, derive group keys, fold into the partial aggregation table, then
 * write the table out hash-partitioned. Only referenced columns are parsed
 * (and so only they can make a row malformed), as with Spark's CSV column
 * pruning. */
#include <stdlib.h>
#include <string.h>

#include "common/agg.h"
#include "common/agg_spill.h"
#include "common/csv.h"
#include "executor/tasks.h"
#include "shuffle/files.h"

/* Low-cardinality group keys repeat the same few field texts, and turning
 * a row's key into its group (conversion, canonical encoding, hashing, the
 * table probe) costs more than the rest of the row. This small
 * direct-mapped cache goes from the raw text of a row's key fields (each
 * length-prefixed, in key order) to the group they gave last time; the
 * same text always gives the same key. It turns itself off for the rest of
 * the task when fewer than half the rows of a window hit (high-cardinality
 * keys), and is emptied whenever the table is (a spill). */
#define S_CACHE_SLOTS 512
#define S_CACHE_WORDS 7
#define S_CACHE_WINDOW 4096

typedef struct {
    int64_t g; /* -1: empty */
    int n;
    uint64_t w[S_CACHE_WORDS]; /* as s_cache_words gives them */
} s_cache_slot_t;

typedef struct {
    s_cache_slot_t *slots; /* NULL: off */
    uint32_t lookups, hits;
} s_cache_t;

typedef struct {
    const ms_plan_t *plan;
    ms_csv_reader_t *reader;
    ms_agg_table_t *table;
    ms_agg_spill_t *spill;
    ms_task_metrics_t *m;
    ms_field_t *fields;
    ms_value_t *vals;
    ms_value_t *keys;
    ms_value_t *inputs;
    int *refs; /* the referenced columns: the only ones parsed */
    int nrefs;
    int nfields; /* of the current record; -1 when it was malformed */
    s_cache_t cache;
} s_scan_t;

static int s_filter_match(const ms_filter_t *f, const ms_value_t *v)
{
    if (f->op == MS_OP_IS_NULL) return v->type == MS_TYPE_NULL;
    if (f->op == MS_OP_NOT_NULL) return v->type != MS_TYPE_NULL;
    if (v->type == MS_TYPE_NULL) return 0;
    if (f->op == MS_OP_IN) {
        for (int i = 0; i < f->nvalues; i++)
            if (ms_value_cmp(v, &f->values[i]) == 0) return 1;
        return 0;
    }
    int c = ms_value_cmp(v, &f->values[0]);
    switch (f->op) {
    case MS_OP_EQ:
        return c == 0;
    case MS_OP_NE:
        return c != 0;
    case MS_OP_LT:
        return c < 0;
    case MS_OP_LE:
        return c <= 0;
    case MS_OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static int64_t s_floor_to(int64_t t, int64_t unit)
{
    int64_t r = t % unit;
    return r < 0 ? t - r - unit : t - r;
}

static ms_value_t s_derive_key(const ms_key_t *k, const ms_value_t *v)
{
    ms_value_t out = *v;
    if (k->kind == MS_KEY_COLUMN || v->type == MS_TYPE_NULL) return out;
    if (k->kind == MS_KEY_MOD) {
        out.i = v->i % k->mod;
        return out;
    }
    if (k->trunc == MS_TRUNC_HOUR) {
        out.i = s_floor_to(v->i, 3600);
    } else if (k->trunc == MS_TRUNC_DAY) {
        out.i = s_floor_to(v->i, 86400);
    } else {
        int64_t y;
        unsigned mo, d;
        ms_civil_from_days(s_floor_to(v->i, 86400) / 86400, &y, &mo, &d);
        out.i = ms_days_from_civil(y, mo, 1) * 86400;
    }
    return out;
}

/* Converts the referenced fields of a tokenised record; returns whether the
 * record is well-formed. Bad fields become NULL either way. */
static int s_convert(s_scan_t *s, int nf)
{
    const ms_plan_t *plan = s->plan;
    int ok = nf == plan->schema.ncols;
    for (int i = 0; i < s->nrefs; i++) {
        int c = s->refs[i];
        ms_value_t *v = &s->vals[c];
        v->type = MS_TYPE_NULL;
        if (c >= nf || s->fields[c].len == 0) continue;
        if (!ms_value_parse(s->fields[c].p, s->fields[c].len,
                            plan->schema.cols[c].type, v)) {
            v->type = MS_TYPE_NULL;
            ok = 0;
        }
    }
    return ok;
}

static void s_all_null(s_scan_t *s)
{
    for (int c = 0; c < s->plan->schema.ncols; c++)
        s->vals[c].type = MS_TYPE_NULL;
}

static int s_malformed(s_scan_t *s, ms_error_t *err)
{
    s->m->malformed++;
    if (s->plan->csv.mode == MS_CSV_PERMISSIVE) return 1;
    if (s->plan->csv.mode == MS_CSV_DROPMALFORMED) {
        s->m->dropped++;
        return 0;
    }
    int64_t line =
        ms_csv_line_at(s->plan->input_path, ms_csv_reader_offset(s->reader));
    return ms_error_set(err, MS_ERR_MALFORMED,
                        "%s:%lld: malformed record (mode FAILFAST)",
                        s->plan->input_path, (long long)line);
}

static void s_cache_clear(s_cache_t *c)
{
    for (int i = 0; c->slots && i < S_CACHE_SLOTS; i++)
        c->slots[i].g = -1;
}

/* A row's key fields as words: each field's length, then its bytes eight
 * at a time (the last word masked), as the cache compares them. Returns
 * the number of words, or 0 when they do not fit a slot. */
static int s_cache_words(const s_scan_t *s, uint64_t *w)
{
    int n = 0;
    for (int i = 0; i < s->plan->nkeys; i++) {
        int c = s->plan->keys[i].col;
        uint32_t len = c < s->nfields ? s->fields[c].len : 0;
        if (n + 1 + (int)(len + 7) / 8 > S_CACHE_WORDS) return 0;
        w[n++] = len;
        for (uint32_t o = 0; o < len; o += 8) {
            uint64_t x;
            memcpy(&x, s->fields[c].p + o, 8); /* MS_CSV_FIELD_SLACK */
            if (len - o < 8) x &= ~(uint64_t)0 >> (64 - 8 * (len - o));
            w[n++] = x;
        }
    }
    return n;
}

/* Counts a lookup; turns the cache off after a window of mostly misses. */
static void s_cache_count(s_cache_t *c, int hit)
{
    c->hits += (uint32_t)hit;
    if (++c->lookups < S_CACHE_WINDOW) return;
    if (c->hits * 2 < c->lookups) {
        free(c->slots);
        c->slots = NULL;
    }
    c->lookups = c->hits = 0;
}

/* Folds the converted row; returns <0 on error. */
static int s_fold_row(s_scan_t *s, ms_error_t *err)
{
    const ms_plan_t *plan = s->plan;
    for (int i = 0; i < plan->nfilters; i++)
        if (!s_filter_match(&plan->filters[i], &s->vals[plan->filters[i].col]))
            return 0;
    for (int a = 0; a < plan->naggs; a++) {
        int col = plan->aggs[a].col;
        if (col >= 0) s->inputs[a] = s->vals[col];
    }
    uint64_t w[S_CACHE_WORDS], h = 0;
    int n = s->cache.slots && s->nfields >= 0 ? s_cache_words(s, w) : 0;
    for (int i = 0; i < n; i++)
        h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
    s_cache_slot_t *slot =
        n ? &s->cache.slots[(h ^ (h >> 29)) % S_CACHE_SLOTS] : NULL;
    int rc;
    if (slot && slot->g >= 0 && slot->n == n &&
        memcmp(slot->w, w, (size_t)n * 8) == 0) {
        rc = ms_agg_table_fold_group(s->table, (uint32_t)slot->g, s->inputs,
                                     err);
        s_cache_count(&s->cache, 1); /* may free the slots */
    } else {
        for (int i = 0; i < plan->nkeys; i++)
            s->keys[i] =
                s_derive_key(&plan->keys[i], &s->vals[plan->keys[i].col]);
        int64_t g;
        rc = ms_agg_table_update_group(s->table, s->keys, s->inputs, &g, err);
        if (slot && g >= 0) {
            slot->g = g;
            slot->n = n;
            memcpy(slot->w, w, (size_t)n * 8);
        }
        if (slot) s_cache_count(&s->cache, 0); /* may free the slots */
    }
    if (rc < 0 || s->m->records_read % MS_AGG_SPILL_EVERY) return rc;
    int runs = ms_agg_spill_runs(s->spill);
    rc = ms_agg_spill_check(s->spill, s->table, err);
    if (ms_agg_spill_runs(s->spill) != runs) s_cache_clear(&s->cache);
    return rc;
}

static int s_scan(s_scan_t *s, ms_error_t *err)
{
    int ncols = s->plan->schema.ncols;
    for (;;) {
        int nf = 0;
        int rc = ms_csv_reader_next(s->reader, s->fields, ncols + 1, &nf, err);
        if (rc == 0) return 0;
        if (rc < 0 && rc != MS_ERR_MALFORMED) return rc;
        s->m->records_read++;
        /* A record the tokeniser refused has every value NULL whatever its
         * text: the cache must not see it. */
        s->nfields = rc == MS_ERR_MALFORMED ? -1 : nf;
        int keep = 1;
        if (rc == MS_ERR_MALFORMED) {
            s_all_null(s);
            keep = s_malformed(s, err);
        } else if (!s_convert(s, nf)) {
            keep = s_malformed(s, err);
        }
        if (keep < 0) return keep;
        if (keep && (rc = s_fold_row(s, err)) < 0) return rc;
    }
}

/* The map output being written partition by partition from spilled runs:
 * parts[next..] hold the rows packed so far. */
typedef struct {
    ms_shuffle_writer_t *writer;
    msgpack_sbuffer *parts;
    int nparts, next;
} s_output_t;

/* Writes out the partitions before upto, which no later row can reach. */
static int s_write_parts(s_output_t *o, int upto, ms_error_t *err)
{
    for (; o->next < upto; o->next++) {
        msgpack_sbuffer *b = &o->parts[o->next];
        int rc = b->size ? ms_shuffle_writer_add(o->writer, o->next, b->data,
                                                 b->size, err)
                         : 0;
        msgpack_sbuffer_destroy(b);
        msgpack_sbuffer_init(b);
        if (rc < 0) return rc;
    }
    return 0;
}

static int s_emit_partials(void *arg, const ms_agg_table_t *batch,
                           ms_error_t *err)
{
    s_output_t *o = arg;
    ms_agg_table_pack_partials(batch, o->parts, o->nparts);
    uint64_t last = ms_agg_table_hash(batch, ms_agg_table_groups(batch) - 1);
    return s_write_parts(o, ms_agg_partition(last, o->nparts), err);
}

static int s_write_output(s_scan_t *s, const ms_task_t *t, const char *app,
                          const char *dir, ms_error_t *err)
{
    s_output_t o = {.nparts = s->plan->num_partitions};
    o.parts = calloc((size_t)o.nparts, sizeof *o.parts);
    if (!o.parts) return ms_error_set(err, MS_ERR_NOMEM, "map output buffers");
    int rc = ms_agg_table_flush(s->table, err);
    if (rc == 0)
        rc = ms_shuffle_writer_open(&o.writer, dir, app, t->shuffle_id,
                                    t->partition, o.nparts, s->plan->codec,
                                    s->plan->zlib_level, err);
    if (rc == 0 && ms_agg_spill_runs(s->spill) == 0) {
        ms_agg_table_pack_partials(s->table, o.parts, o.nparts);
    } else if (rc == 0) {
        rc = ms_agg_spill_merge(s->spill, s->table, s_emit_partials, &o, err);
        s->m->memory_spilled = ms_agg_spill_memory_bytes(s->spill);
        s->m->disk_spilled = ms_agg_spill_disk_bytes(s->spill);
    }
    if (rc == 0) rc = s_write_parts(&o, o.nparts, err);
    uint64_t written = 0;
    if (rc == 0) rc = ms_shuffle_writer_commit(o.writer, &written, err);
    s->m->shuffle_written = (int64_t)written;
    ms_shuffle_writer_destroy(&o.writer);
    for (int p = 0; p < o.nparts; p++)
        msgpack_sbuffer_destroy(&o.parts[p]);
    free(o.parts);
    return rc;
}

int ms_map_task_run(const ms_task_t *t, const ms_plan_t *plan, const char *app,
                    const char *dir, ms_task_metrics_t *m, ms_error_t *err)
{
    int ncols = plan->schema.ncols;
    s_scan_t s = {.plan = plan, .m = m};
    int rc = MS_ERR_NOMEM;
    s.fields = calloc((size_t)ncols + 1, sizeof *s.fields);
    s.vals = calloc((size_t)ncols + 1, sizeof *s.vals);
    s.keys = calloc((size_t)plan->nkeys + 1, sizeof *s.keys);
    s.inputs = calloc((size_t)plan->naggs, sizeof *s.inputs);
    s.refs = calloc((size_t)ncols + 1, sizeof *s.refs);
    s.table = ms_agg_table_new(plan);
    s.spill = ms_agg_spill_new(plan, dir, plan->agg_memory);
    if (plan->nkeys > 0) {
        s.cache.slots = malloc(S_CACHE_SLOTS * sizeof *s.cache.slots);
        s_cache_clear(&s.cache);
    }
    if (!s.fields || !s.vals || !s.keys || !s.inputs || !s.refs || !s.table ||
        !s.spill) {
        ms_error_set(err, rc, "map task buffers");
        goto done;
    }
    for (int c = 0; c < ncols; c++)
        if (plan->referenced[c]) s.refs[s.nrefs++] = c;
    rc = ms_csv_reader_new(&s.reader, plan->input_path, t->split_start,
                           t->split_end, &plan->csv, err);
    if (rc == 0) rc = ms_csv_reader_expect(s.reader, &plan->input_id, err);
    if (rc < 0) goto done;
    rc = s_scan(&s, err);
    m->bytes_read = ms_csv_reader_bytes(s.reader);
    if (rc == 0) rc = s_write_output(&s, t, app, dir, err);
done:
    ms_csv_reader_destroy(&s.reader);
    ms_agg_table_destroy(&s.table);
    ms_agg_spill_destroy(&s.spill);
    free(s.cache.slots);
    free(s.fields);
    free(s.vals);
    free(s.keys);
    free(s.inputs);
    free(s.refs);
    return rc;
}
