/* Behaviour of the plan codec: a packed plan unpacks to the same plan, and
 * the decoder refuses every cut, every foreign header and every index or
 * value out of range, since an executor runs whatever it accepts. Bad plans
 * are made by editing the msgpack tree of a good one and packing it again. */
#include <criterion/criterion.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/plan.h"

enum { C_TS, C_COUNTRY, C_AMOUNT, C_ID, C_PRICE, C_NCOLS };
/* Fields of the packed root array. */
enum {
    F_MAGIC,
    F_VERSION,
    F_PATH,
    F_CSV,
    F_SCHEMA,
    F_FILTERS,
    F_KEYS,
    F_AGGS,
    F_TAIL
};

static ms_value_t s_str_value(const char *s)
{
    return (ms_value_t){
        .type = MS_TYPE_STRING, .len = (uint32_t)strlen(s), .s = strdup(s)};
}

static void s_filter(ms_plan_t *p, int col, ms_op_t op, int n,
                     const ms_value_t *vals)
{
    ms_filter_t *f = &p->filters[p->nfilters++];
    f->col = col;
    f->op = op;
    f->values = calloc((size_t)n + 1, sizeof *f->values);
    for (int i = 0; i < n; i++)
        f->values[f->nvalues++] = vals[i];
}

static void s_key(ms_plan_t *p, ms_key_kind_t kind, int col, ms_trunc_t trunc,
                  int64_t mod, ms_type_t type, const char *name)
{
    ms_key_t *k = &p->keys[p->nkeys++];
    *k = (ms_key_t){kind, col, trunc, mod, {type, 0}, strdup(name)};
}

static void s_agg(ms_plan_t *p, ms_agg_fn_t fn, int col, ms_coltype_t in,
                  ms_coltype_t type, const char *name)
{
    p->aggs[p->naggs++] = (ms_agg_t){fn, col, in, type, strdup(name)};
}

/* A plan that uses every part of the format. */
static ms_plan_t *s_full_plan(void)
{
    static const struct {
        const char *name;
        ms_coltype_t type;
    } cols[C_NCOLS] = {{"ts", {MS_TYPE_TIMESTAMP, 0}},
                       {"country", {MS_TYPE_STRING, 0}},
                       {"amount", {MS_TYPE_DECIMAL, 2}},
                       {"id", {MS_TYPE_INT64, 0}},
                       {"price", {MS_TYPE_DOUBLE, 0}}};
    ms_plan_t *p = ms_plan_new();
    cr_assert_not_null(p);
    p->input_path = strdup("data/events 2024.csv");
    /* The hash of a boot id and real inode numbers use all 64 bits. */
    p->input_id =
        (ms_file_id_t){0xfedcba9876543210ull, 2049, 0x8000000000000001ull,
                       909 << 20, 1764806400123456789};
    p->csv = (ms_csv_opts_t){';', '\'', true, MS_CSV_DROPMALFORMED};
    p->schema.ncols = C_NCOLS;
    for (int c = 0; c < C_NCOLS; c++) {
        strcpy(p->schema.cols[c].name, cols[c].name);
        p->schema.cols[c].type = cols[c].type;
    }
    p->filters = calloc(5, sizeof *p->filters);
    s_filter(
        p, C_COUNTRY, MS_OP_IN, 3,
        (ms_value_t[]){s_str_value("DE"), s_str_value("FR"), s_str_value("")});
    s_filter(p, C_AMOUNT, MS_OP_GE, 1,
             (ms_value_t[]){{.type = MS_TYPE_DECIMAL, .scale = 2, .i = 1005}});
    s_filter(p, C_ID, MS_OP_NE, 1,
             (ms_value_t[]){{.type = MS_TYPE_INT64, .i = -7}});
    s_filter(p, C_PRICE, MS_OP_IS_NULL, 0, NULL);
    s_filter(p, C_TS, MS_OP_LT, 1,
             (ms_value_t[]){{.type = MS_TYPE_TIMESTAMP, .i = 1700000000}});
    p->keys = calloc(3, sizeof *p->keys);
    s_key(p, MS_KEY_COLUMN, C_COUNTRY, MS_TRUNC_HOUR, 0, MS_TYPE_STRING,
          "country");
    s_key(p, MS_KEY_TRUNC, C_TS, MS_TRUNC_DAY, 0, MS_TYPE_TIMESTAMP, "day");
    s_key(p, MS_KEY_MOD, C_ID, MS_TRUNC_HOUR, 1000003, MS_TYPE_INT64, "bucket");
    const ms_coltype_t none = {MS_TYPE_NULL, 0}, i64 = {MS_TYPE_INT64, 0},
                       dec2 = {MS_TYPE_DECIMAL, 2}, dec6 = {MS_TYPE_DECIMAL, 6},
                       dbl = {MS_TYPE_DOUBLE, 0}, ts = {MS_TYPE_TIMESTAMP, 0},
                       str = {MS_TYPE_STRING, 0};
    p->aggs = calloc(6, sizeof *p->aggs);
    s_agg(p, MS_AGG_COUNT, -1, none, i64, "count(1)");
    s_agg(p, MS_AGG_SUM, C_AMOUNT, dec2, dec2, "total");
    s_agg(p, MS_AGG_AVG, C_AMOUNT, dec2, dec6, "avg(amount)");
    s_agg(p, MS_AGG_COUNT_DISTINCT, C_COUNTRY, str, i64, "countries");
    s_agg(p, MS_AGG_MIN, C_PRICE, dbl, dbl, "cheapest");
    s_agg(p, MS_AGG_MAX, C_TS, ts, ts, "last");
    p->num_partitions = 8;
    p->codec = MS_CODEC_ZLIB;
    p->zlib_level = 6;
    p->agg_memory = 123456789;
    p->limit = 10;
    p->order = calloc(2, sizeof *p->order);
    p->order[p->norder++] = (ms_order_t){2, true};
    p->order[p->norder++] = (ms_order_t){0, false};
    ms_error_t err = {0};
    cr_assert_eq(ms_plan_finish(p, &err), 0, "%s", err.msg);
    return p;
}

static void s_pack(const ms_plan_t *p, char **buf, size_t *len)
{
    cr_assert_eq(ms_plan_pack(p, buf, len), 0);
    cr_assert_gt(*len, 0);
}

static void s_expect_type(ms_coltype_t a, ms_coltype_t b, const char *what)
{
    cr_assert(a.type == b.type && a.scale == b.scale, "%s type differs", what);
}

static void s_expect_same(const ms_plan_t *a, const ms_plan_t *b)
{
    cr_assert_str_eq(a->input_path, b->input_path);
    cr_assert_eq(memcmp(&a->input_id, &b->input_id, sizeof a->input_id), 0);
    cr_assert_eq(a->csv.delimiter, b->csv.delimiter);
    cr_assert_eq(a->csv.quote, b->csv.quote);
    cr_assert_eq(a->csv.header, b->csv.header);
    cr_assert_eq(a->csv.mode, b->csv.mode);
    cr_assert_eq(a->schema.ncols, b->schema.ncols);
    for (int c = 0; c < a->schema.ncols; c++) {
        cr_assert_str_eq(a->schema.cols[c].name, b->schema.cols[c].name);
        s_expect_type(a->schema.cols[c].type, b->schema.cols[c].type, "column");
        cr_assert_eq(a->referenced[c], b->referenced[c], "referenced[%d]", c);
    }
    cr_assert_eq(a->nfilters, b->nfilters);
    for (int i = 0; i < a->nfilters; i++) {
        const ms_filter_t *x = &a->filters[i], *y = &b->filters[i];
        cr_assert_eq(x->col, y->col);
        cr_assert_eq(x->op, y->op);
        cr_assert_eq(x->nvalues, y->nvalues, "filter %d", i);
        for (int j = 0; j < x->nvalues; j++)
            cr_assert_eq(ms_value_cmp(&x->values[j], &y->values[j]), 0,
                         "filter %d value %d", i, j);
    }
    cr_assert_eq(a->nkeys, b->nkeys);
    for (int i = 0; i < a->nkeys; i++) {
        const ms_key_t *x = &a->keys[i], *y = &b->keys[i];
        cr_assert(x->kind == y->kind && x->col == y->col &&
                      x->trunc == y->trunc && x->mod == y->mod,
                  "key %d", i);
        s_expect_type(x->type, y->type, "key");
        cr_assert_str_eq(x->name, y->name);
    }
    cr_assert_eq(a->naggs, b->naggs);
    for (int i = 0; i < a->naggs; i++) {
        const ms_agg_t *x = &a->aggs[i], *y = &b->aggs[i];
        cr_assert(x->fn == y->fn && x->col == y->col, "agg %d", i);
        s_expect_type(x->in, y->in, "agg input");
        s_expect_type(x->type, y->type, "agg result");
        cr_assert_str_eq(x->name, y->name);
    }
    cr_assert_eq(a->num_partitions, b->num_partitions);
    cr_assert_eq(a->codec, b->codec);
    cr_assert_eq(a->zlib_level, b->zlib_level);
    cr_assert_eq(a->agg_memory, b->agg_memory);
    cr_assert_eq(a->limit, b->limit);
    cr_assert_eq(a->norder, b->norder);
    for (int i = 0; i < a->norder; i++)
        cr_assert(a->order[i].col == b->order[i].col &&
                      a->order[i].desc == b->order[i].desc,
                  "order %d", i);
}

Test(plan, pack_then_unpack_gives_the_same_plan)
{
    ms_plan_t *p = s_full_plan(), *q = NULL;
    char *buf, *again;
    size_t len, again_len;
    ms_error_t err = {0};
    s_pack(p, &buf, &len);
    cr_assert_eq(ms_plan_unpack(&q, buf, len, &err), 0, "%s", err.msg);
    s_expect_same(p, q);
    /* Decoded strings are the plan's own, not views of the buffer. */
    memset(buf, 0, len);
    cr_assert_eq(q->filters[0].values[1].len, 2);
    cr_assert_eq(memcmp(q->filters[0].values[1].s, "FR", 2), 0);
    cr_assert_eq(q->filters[0].values[2].len, 0);
    cr_assert_str_eq(q->keys[2].name, "bucket");
    /* And the decoded plan packs to the very same bytes. */
    s_pack(q, &again, &again_len);
    free(buf);
    s_pack(p, &buf, &len);
    cr_assert_eq(again_len, len);
    cr_assert_eq(memcmp(again, buf, len), 0);
    free(again);
    free(buf);
    ms_plan_destroy(&q);
    ms_plan_destroy(&p);
    cr_assert_null(p);
}

Test(plan, finish_marks_exactly_the_referenced_columns)
{
    ms_plan_t *p = s_full_plan();
    for (int c = 0; c < C_NCOLS; c++)
        cr_assert(p->referenced[c]);
    ms_plan_destroy(&p);

    p = ms_plan_new();
    p->schema.ncols = 4;
    p->keys = calloc(1, sizeof *p->keys);
    s_key(p, MS_KEY_COLUMN, 2, MS_TRUNC_HOUR, 0, MS_TYPE_STRING, "k");
    p->aggs = calloc(1, sizeof *p->aggs);
    s_agg(p, MS_AGG_COUNT, -1, (ms_coltype_t){0}, (ms_coltype_t){1, 0}, "n");
    ms_error_t err = {0};
    cr_assert_eq(ms_plan_finish(p, &err), 0);
    cr_assert(!p->referenced[0] && !p->referenced[1] && p->referenced[2] &&
              !p->referenced[3]);
    ms_plan_destroy(&p);
}

Test(plan, minimal_global_count_round_trips)
{
    ms_plan_t *p = ms_plan_new(), *q = NULL;
    p->input_path = strdup("");
    p->aggs = calloc(1, sizeof *p->aggs);
    s_agg(p, MS_AGG_COUNT, -1, (ms_coltype_t){0}, (ms_coltype_t){1, 0}, "n");
    ms_error_t err = {0};
    cr_assert_eq(ms_plan_finish(p, &err), 0);
    char *buf;
    size_t len;
    s_pack(p, &buf, &len);
    cr_assert_eq(ms_plan_unpack(&q, buf, len, &err), 0, "%s", err.msg);
    s_expect_same(p, q);
    free(buf);
    ms_plan_destroy(&q);
    ms_plan_destroy(&p);
}

static void s_expect_refused(const char *buf, size_t len, const char *what)
{
    ms_plan_t *q = (ms_plan_t *)1;
    ms_error_t err = {0};
    int rc = ms_plan_unpack(&q, buf, len, &err);
    cr_assert_eq(rc, MS_ERR_PROTO, "%s: got %d", what, rc);
    cr_assert_eq(err.code, MS_ERR_PROTO);
    cr_assert_eq(q, (ms_plan_t *)1, "%s: output touched on failure", what);
}

Test(plan, unpack_refuses_every_truncation)
{
    ms_plan_t *p = s_full_plan();
    char *buf;
    size_t len;
    s_pack(p, &buf, &len);
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly the prefix, so that a read past it is caught. */
        char *prefix = malloc(cut ? cut : 1);
        memcpy(prefix, buf, cut);
        char what[32];
        snprintf(what, sizeof what, "cut at %zu", cut);
        s_expect_refused(prefix, cut, what);
        free(prefix);
    }
    free(buf);
    ms_plan_destroy(&p);
}

Test(plan, unpack_refuses_trailing_bytes)
{
    ms_plan_t *p = s_full_plan();
    char *buf;
    size_t len;
    s_pack(p, &buf, &len);
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = (char)0xc0; /* a whole msgpack nil */
    s_expect_refused(longer, len + 1, "trailing nil");
    /* Two plans back to back are not one plan either. */
    char *twice = malloc(2 * len);
    memcpy(twice, buf, len);
    memcpy(twice + len, buf, len);
    s_expect_refused(twice, 2 * len, "two plans");
    free(twice);
    free(longer);
    free(buf);
    ms_plan_destroy(&p);
}

/* ---- edited plans -------------------------------------------------------- */

typedef void s_edit_fn(msgpack_object *root);

static void s_set_int(msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t)v;
    } else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

static void s_set_str(msgpack_object *o, const char *s, uint32_t len)
{
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = s;
    o->via.str.size = len;
}

static msgpack_object *s_at(msgpack_object *o, int i)
{
    cr_assert_eq(o->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_lt((uint32_t)i, o->via.array.size);
    return &o->via.array.ptr[i];
}

/* Packs the full plan, edits its msgpack tree and returns it packed again. */
static int s_unpack_edited(s_edit_fn *edit, ms_plan_t **out, ms_error_t *err)
{
    ms_plan_t *p = s_full_plan();
    char *buf;
    size_t len, off = 0;
    s_pack(p, &buf, &len);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, buf, len, &off),
                 MSGPACK_UNPACK_SUCCESS);
    edit(&up.data);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, up.data);
    int rc = ms_plan_unpack(out, sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    free(buf);
    ms_plan_destroy(&p);
    return rc;
}

static void s_no_edit(msgpack_object *r)
{
    (void)r;
}
static void s_bad_magic(msgpack_object *r)
{
    s_set_str(s_at(r, F_MAGIC), "msplaX", 6);
}
static void s_long_magic(msgpack_object *r)
{
    s_set_str(s_at(r, F_MAGIC), "msplan2", 7);
}
static void s_int_magic(msgpack_object *r)
{
    s_set_int(s_at(r, F_MAGIC), 1);
}
static void s_version_4(msgpack_object *r)
{
    s_set_int(s_at(r, F_VERSION), 4);
}
static void s_version_2(msgpack_object *r)
{
    s_set_int(s_at(r, F_VERSION), 2);
}
static void s_version_0(msgpack_object *r)
{
    s_set_int(s_at(r, F_VERSION), 0);
}
static void s_short_root(msgpack_object *r)
{
    r->via.array.size = 8;
}
static void s_path_int(msgpack_object *r)
{
    s_set_int(s_at(r, F_PATH), 3);
}
static void s_path_nul(msgpack_object *r)
{
    s_set_str(s_at(r, F_PATH), "a\0b", 3);
}
static void s_delim_0(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_CSV), 0), 0);
}
static void s_delim_256(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_CSV), 0), 256);
}
static void s_mode_3(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_CSV), 3), 3);
}
static void s_header_int(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_CSV), 2), 1);
}
static void s_col_type_6(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_SCHEMA), C_ID), 1), 6);
}
static void s_col_scale_10(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_SCHEMA), C_AMOUNT), 2), 10);
}
static void s_col_name_nul(msgpack_object *r)
{
    s_set_str(s_at(s_at(s_at(r, F_SCHEMA), C_ID), 0), "i\0d", 3);
}
static char s_long_name[MS_CSV_NAME_MAX];
static void s_col_name_long(msgpack_object *r)
{
    memset(s_long_name, 'n', sizeof s_long_name);
    s_set_str(s_at(s_at(s_at(r, F_SCHEMA), C_ID), 0), s_long_name,
              MS_CSV_NAME_MAX);
}
static void s_filter_col_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_FILTERS), 1), 0), C_NCOLS);
}
static void s_filter_col_neg(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_FILTERS), 1), 0), -1);
}
static void s_filter_op_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_FILTERS), 2), 1), MS_OP_NOT_NULL + 1);
}
static void s_filter_value_type(msgpack_object *r)
{
    /* A string where the decimal column needs an integer. */
    s_set_str(s_at(s_at(s_at(s_at(r, F_FILTERS), 1), 2), 0), "10.05", 5);
}
static void s_filter_values_int(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_FILTERS), 1), 2), 1005);
}
static void s_key_col_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 0), 1), C_NCOLS);
}
static void s_key_col_neg(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 0), 1), -1);
}
static void s_key_kind_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 0), 0), MS_KEY_MOD + 1);
}
static void s_key_trunc_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 1), 2), MS_TRUNC_MONTH + 1);
}
static void s_mod_0(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 2), 3), 0);
}
static void s_mod_neg(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 2), 3), -5);
}
static void s_key_name_int(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 0), 6), 1);
}
static void s_agg_col_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 1), 1), C_NCOLS);
}
static void s_agg_col_neg2(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 1), 1), -2);
}
static void s_agg_fn_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 0), 0), MS_AGG_COUNT_DISTINCT + 1);
}
static void s_distinct_no_col(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 3), 1), -1);
}
static void s_sum_no_col(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 1), 1), -1);
}
static void s_no_aggs(msgpack_object *r)
{
    s_at(r, F_AGGS)->via.array.size = 0;
}
static void s_parts_0(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 0), 0);
}
static void s_parts_hi(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 0), MS_PLAN_MAX_PARTITIONS + 1);
}
static void s_input_size_negative(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_TAIL), 6), 3), -1);
}
static void s_input_id_short(msgpack_object *r)
{
    s_at(s_at(r, F_TAIL), 6)->via.array.size = 4;
}
static void s_codec_3(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 1), 3);
}
static void s_level_10(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 2), 10);
}
static void s_tail_short(msgpack_object *r)
{
    s_at(r, F_TAIL)->via.array.size = 5;
}
static void s_negative_memory(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 3), -1);
}
static void s_limit_below_minus_one(msgpack_object *r)
{
    s_set_int(s_at(s_at(r, F_TAIL), 4), -2);
}
static void s_order_past_the_columns(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(s_at(r, F_TAIL), 5), 0), 0), 99);
}
static void s_order_desc_not_bool(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(s_at(r, F_TAIL), 5), 0), 1), 1);
}

static void s_expect_edit_refused(s_edit_fn *edit, const char *what)
{
    ms_plan_t *q = NULL;
    ms_error_t err = {0};
    int rc = s_unpack_edited(edit, &q, &err);
    if (rc == 0) ms_plan_destroy(&q);
    cr_assert_eq(rc, MS_ERR_PROTO, "%s: accepted", what);
    cr_assert_null(q);
}

Test(plan, unedited_plan_is_accepted)
{
    ms_plan_t *q = NULL;
    ms_error_t err = {0};
    cr_assert_eq(s_unpack_edited(s_no_edit, &q, &err), 0, "%s", err.msg);
    ms_plan_destroy(&q);
}

Test(plan, unpack_refuses_foreign_magic_and_versions)
{
    s_expect_edit_refused(s_bad_magic, "magic msplaX");
    s_expect_edit_refused(s_long_magic, "magic msplan2");
    s_expect_edit_refused(s_int_magic, "integer magic");
    s_expect_edit_refused(s_version_4, "version 4");
    s_expect_edit_refused(s_version_2, "version 2");
    s_expect_edit_refused(s_version_0, "version 0");
    s_expect_edit_refused(s_short_root, "root of 8 fields");
}

Test(plan, unpack_refuses_column_indexes_out_of_range)
{
    s_expect_edit_refused(s_filter_col_hi, "filter column = ncols");
    s_expect_edit_refused(s_filter_col_neg, "filter column -1");
    s_expect_edit_refused(s_key_col_hi, "key column = ncols");
    s_expect_edit_refused(s_key_col_neg, "key column -1");
    s_expect_edit_refused(s_agg_col_hi, "aggregate column = ncols");
    s_expect_edit_refused(s_agg_col_neg2, "aggregate column -2");
}

Test(plan, unpack_refuses_mod_zero_or_negative)
{
    s_expect_edit_refused(s_mod_0, "mod 0");
    s_expect_edit_refused(s_mod_neg, "mod -5");
}

Test(plan, unpack_refuses_aggregates_other_than_count_without_a_column)
{
    s_expect_edit_refused(s_distinct_no_col, "count_distinct(*)");
    s_expect_edit_refused(s_sum_no_col, "sum(*)");
    s_expect_edit_refused(s_no_aggs, "no aggregates");
}

Test(plan, unpack_refuses_enums_out_of_range)
{
    s_expect_edit_refused(s_filter_op_hi, "filter op");
    s_expect_edit_refused(s_key_kind_hi, "key kind");
    s_expect_edit_refused(s_key_trunc_hi, "trunc unit");
    s_expect_edit_refused(s_agg_fn_hi, "aggregate fn");
    s_expect_edit_refused(s_col_type_6, "column type 6");
    s_expect_edit_refused(s_col_scale_10, "decimal scale 10");
    s_expect_edit_refused(s_mode_3, "csv mode 3");
    s_expect_edit_refused(s_codec_3, "codec 3");
    s_expect_edit_refused(s_level_10, "zlib level 10");
    s_expect_edit_refused(s_parts_0, "0 partitions");
    s_expect_edit_refused(s_parts_hi, "MS_PLAN_MAX_PARTITIONS + 1");
    s_expect_edit_refused(s_input_size_negative, "a negative input size");
    s_expect_edit_refused(s_input_id_short, "an input id of 4 fields");
}

Test(plan, unpack_refuses_fields_of_the_wrong_type)
{
    s_expect_edit_refused(s_path_int, "integer input path");
    s_expect_edit_refused(s_path_nul, "input path with a NUL");
    s_expect_edit_refused(s_delim_0, "delimiter 0");
    s_expect_edit_refused(s_delim_256, "delimiter 256");
    s_expect_edit_refused(s_header_int, "integer header flag");
    s_expect_edit_refused(s_col_name_nul, "column name with a NUL");
    s_expect_edit_refused(s_col_name_long, "column name too long");
    s_expect_edit_refused(s_filter_value_type, "string for a decimal literal");
    s_expect_edit_refused(s_filter_values_int, "filter values not a list");
    s_expect_edit_refused(s_key_name_int, "integer key name");
    s_expect_edit_refused(s_tail_short, "tail of 5 fields");
    s_expect_edit_refused(s_negative_memory, "negative aggregation memory");
    s_expect_edit_refused(s_limit_below_minus_one, "limit -2");
    s_expect_edit_refused(s_order_past_the_columns, "order by column 99");
    s_expect_edit_refused(s_order_desc_not_bool, "order desc not a boolean");
}

/* A hand-packed plan over ncols int64 columns counting rows. */
static void s_wide_plan(msgpack_sbuffer *sb, int ncols)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "msplan", 6);
    msgpack_pack_int(&pk, 3); /* version */
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "x", 1);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, ',');
    msgpack_pack_int(&pk, '"');
    msgpack_pack_false(&pk);
    msgpack_pack_int(&pk, MS_CSV_PERMISSIVE);
    msgpack_pack_array(&pk, (size_t)ncols);
    for (int i = 0; i < ncols; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "c%d", i);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str(&pk, (size_t)n);
        msgpack_pack_str_body(&pk, name, (size_t)n);
        msgpack_pack_int(&pk, MS_TYPE_INT64);
        msgpack_pack_int(&pk, 0);
    }
    msgpack_pack_array(&pk, 0); /* filters */
    msgpack_pack_array(&pk, 0); /* keys */
    msgpack_pack_array(&pk, 1); /* count(*) */
    msgpack_pack_array(&pk, 7);
    msgpack_pack_int(&pk, MS_AGG_COUNT);
    msgpack_pack_int(&pk, -1);
    msgpack_pack_int(&pk, MS_TYPE_NULL);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, MS_TYPE_INT64);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "n", 1);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, MS_CODEC_NONE);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, 0);
    msgpack_pack_int(&pk, -1);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_array(&pk, 5); /* the input's identity */
    for (int i = 0; i < 5; i++)
        msgpack_pack_int(&pk, i);
}

Test(plan, unpack_refuses_more_columns_than_a_row_can_have)
{
    msgpack_sbuffer sb;
    ms_plan_t *q = NULL;
    ms_error_t err = {0};
    s_wide_plan(&sb, MS_CSV_MAX_COLUMNS);
    cr_assert_eq(ms_plan_unpack(&q, sb.data, sb.size, &err), 0, "%s", err.msg);
    cr_assert_eq(q->schema.ncols, MS_CSV_MAX_COLUMNS);
    ms_plan_destroy(&q);
    msgpack_sbuffer_destroy(&sb);
    s_wide_plan(&sb, MS_CSV_MAX_COLUMNS + 1);
    s_expect_refused(sb.data, sb.size, "257 columns");
    msgpack_sbuffer_destroy(&sb);
}

/* Keys and aggregates whose types disagree with their column: a task would
 * misread its values or states. Key fields: kind, col, trunc, mod, type,
 * scale, name; aggregate fields: fn, col, in type, in scale, type, scale,
 * name. */
static void s_key_type_wrong(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 0), 4), MS_TYPE_INT64);
}
static void s_trunc_of_string(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 1), 1), C_COUNTRY);
}
static void s_mod_of_decimal(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_KEYS), 2), 1), C_AMOUNT);
}
static void s_agg_in_wrong(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 1), 2), MS_TYPE_INT64);
}
static void s_sum_of_string(msgpack_object *r)
{
    msgpack_object *sum = s_at(s_at(r, F_AGGS), 1);
    s_set_int(s_at(sum, 1), C_COUNTRY);
    s_set_int(s_at(sum, 2), MS_TYPE_STRING);
    s_set_int(s_at(sum, 3), 0);
    s_set_int(s_at(sum, 4), MS_TYPE_STRING);
    s_set_int(s_at(sum, 5), 0);
}
static void s_count_star_typed(msgpack_object *r)
{
    s_set_int(s_at(s_at(s_at(r, F_AGGS), 0), 2), MS_TYPE_INT64);
}

Test(plan, unpack_refuses_types_that_disagree_with_the_schema)
{
    s_expect_edit_refused(s_key_type_wrong, "int64 key over a string column");
    s_expect_edit_refused(s_trunc_of_string, "trunc of a string column");
    s_expect_edit_refused(s_mod_of_decimal, "mod of a decimal column");
    s_expect_edit_refused(s_agg_in_wrong, "sum input typed int64 over decimal");
    s_expect_edit_refused(s_sum_of_string, "sum of a string column");
    s_expect_edit_refused(s_count_star_typed, "count(*) with an input type");
}

/* The reduce side computes avg(decimal) by scaling the sum up by
 * 10^(result scale - input scale): a plan whose result scale is below its
 * input scale would index that power of ten out of range. */
static void s_avg_scale_down(msgpack_object *r)
{
    msgpack_object *avg = s_at(s_at(r, F_AGGS), 2);
    s_set_int(s_at(avg, 5), 0); /* result decimal(2) -> decimal(0) */
}

static void s_avg_scale_down_9(msgpack_object *r)
{
    msgpack_object *avg = s_at(s_at(r, F_AGGS), 2);
    s_set_int(s_at(avg, 3), 9); /* input decimal(9), result decimal(6) */
}

Test(plan, unpack_refuses_avg_whose_result_scale_is_below_its_input_scale)
{
    s_expect_edit_refused(s_avg_scale_down, "avg decimal(2) -> decimal(0)");
    s_expect_edit_refused(s_avg_scale_down_9, "avg decimal(9) -> decimal(6)");
}
