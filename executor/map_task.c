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

/* Folds the converted row; returns <0 on error. */
static int s_fold_row(s_scan_t *s, ms_error_t *err)
{
    const ms_plan_t *plan = s->plan;
    for (int i = 0; i < plan->nfilters; i++)
        if (!s_filter_match(&plan->filters[i], &s->vals[plan->filters[i].col]))
            return 0;
    for (int i = 0; i < plan->nkeys; i++)
        s->keys[i] = s_derive_key(&plan->keys[i], &s->vals[plan->keys[i].col]);
    for (int a = 0; a < plan->naggs; a++) {
        int col = plan->aggs[a].col;
        if (col >= 0) s->inputs[a] = s->vals[col];
    }
    int rc = ms_agg_table_update(s->table, s->keys, s->inputs, err);
    if (rc < 0 || s->m->records_read % MS_AGG_SPILL_EVERY) return rc;
    return ms_agg_spill_check(s->spill, s->table, err);
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
    if (!s.fields || !s.vals || !s.keys || !s.inputs || !s.refs || !s.table ||
        !s.spill) {
        ms_error_set(err, rc, "map task buffers");
        goto done;
    }
    for (int c = 0; c < ncols; c++)
        if (plan->referenced[c]) s.refs[s.nrefs++] = c;
    rc = ms_csv_reader_new(&s.reader, plan->input_path, t->split_start,
                           t->split_end, &plan->csv, err);
    if (rc < 0) goto done;
    rc = s_scan(&s, err);
    m->bytes_read = ms_csv_reader_bytes(s.reader);
    if (rc == 0) rc = s_write_output(&s, t, app, dir, err);
done:
    ms_csv_reader_destroy(&s.reader);
    ms_agg_table_destroy(&s.table);
    ms_agg_spill_destroy(&s.spill);
    free(s.fields);
    free(s.vals);
    free(s.keys);
    free(s.inputs);
    free(s.refs);
    return rc;
}
