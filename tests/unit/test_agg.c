/* Behaviour of the aggregation table on plans built by hand: each aggregate's
 * final value, partial states that survive packing and merging across any
 * number of partitions unchanged, and merge's refusal of malformed rows.
 * Final rows are compared as text ("key|agg|agg..."), sorted. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/agg.h"
#include "common/agg_spill.h"
#include "common/bytemap.h"
#include "common/mp.h"

#define S_INT ((ms_coltype_t){MS_TYPE_INT64, 0})
#define S_DEC2 ((ms_coltype_t){MS_TYPE_DECIMAL, 2})
#define S_DBL ((ms_coltype_t){MS_TYPE_DOUBLE, 0})
#define S_STR ((ms_coltype_t){MS_TYPE_STRING, 0})
#define S_NONE ((ms_coltype_t){MS_TYPE_NULL, 0})

/* The wide test schema: every aggregate's input has a column here. */
enum { C_KEY, C_INT, C_DEC, C_DBL, C_STR, C_NCOLS };

typedef struct {
    ms_agg_fn_t fn;
    int col; /* -1: count(*) */
} s_agg_spec_t;

/* ---- building plans and values ------------------------------------------- */

static ms_coltype_t s_result_type(ms_agg_fn_t fn, ms_coltype_t in)
{
    if (fn == MS_AGG_COUNT || fn == MS_AGG_COUNT_DISTINCT) return S_INT;
    if (fn == MS_AGG_AVG && in.type == MS_TYPE_DECIMAL)
        return (ms_coltype_t){MS_TYPE_DECIMAL, in.scale + 4};
    if (fn == MS_AGG_AVG) return S_DBL;
    return in;
}

/* A plan over the wide schema, keyed by the columns in key_cols. */
static ms_plan_t *s_plan(int nkeys, const int *key_cols, int naggs,
                         const s_agg_spec_t *aggs)
{
    static const ms_coltype_t types[C_NCOLS] = {{MS_TYPE_STRING, 0},
                                                {MS_TYPE_INT64, 0},
                                                {MS_TYPE_DECIMAL, 2},
                                                {MS_TYPE_DOUBLE, 0},
                                                {MS_TYPE_STRING, 0}};
    static const char *const names[C_NCOLS] = {"k", "i", "dec", "dbl", "s"};
    ms_plan_t *plan = ms_plan_new();
    cr_assert_not_null(plan);
    plan->schema.ncols = C_NCOLS;
    for (int c = 0; c < C_NCOLS; c++) {
        snprintf(plan->schema.cols[c].name, MS_CSV_NAME_MAX, "%s", names[c]);
        plan->schema.cols[c].type = types[c];
    }
    plan->keys = calloc((size_t)nkeys + 1, sizeof *plan->keys);
    plan->aggs = calloc((size_t)naggs + 1, sizeof *plan->aggs);
    cr_assert(plan->keys && plan->aggs);
    for (int i = 0; i < nkeys; i++) {
        ms_key_t *k = &plan->keys[plan->nkeys++];
        k->kind = MS_KEY_COLUMN;
        k->col = key_cols[i];
        k->type = types[key_cols[i]];
        k->name = strdup(names[key_cols[i]]);
    }
    for (int a = 0; a < naggs; a++) {
        ms_agg_t *g = &plan->aggs[plan->naggs++];
        g->fn = aggs[a].fn;
        g->col = aggs[a].col;
        g->in = g->col >= 0 ? types[g->col] : S_NONE;
        g->type = s_result_type(g->fn, g->in);
        char name[64];
        snprintf(name, sizeof name, "agg%d", a);
        g->name = strdup(name);
    }
    ms_error_t err = {0};
    cr_assert_eq(ms_plan_finish(plan, &err), 0, "%s", err.msg);
    return plan;
}

static ms_value_t s_null(void)
{
    return (ms_value_t){.type = MS_TYPE_NULL};
}

static ms_value_t s_i(int64_t i)
{
    return (ms_value_t){.type = MS_TYPE_INT64, .i = i};
}

static ms_value_t s_dec(int64_t scaled)
{
    return (ms_value_t){.type = MS_TYPE_DECIMAL, .scale = 2, .i = scaled};
}

static ms_value_t s_d(double d)
{
    return (ms_value_t){.type = MS_TYPE_DOUBLE, .d = d};
}

static ms_value_t s_s(const char *s)
{
    return (ms_value_t){
        .type = MS_TYPE_STRING, .len = (uint32_t)strlen(s), .s = s};
}

/* A row of the wide schema; NULL string pointer means a NULL value. */
typedef struct {
    ms_value_t v[C_NCOLS];
} s_row_t;

/* Folds one wide row: keys and inputs are picked by the plan's columns. */
static int s_update(ms_agg_table_t *t, const ms_plan_t *plan, const s_row_t *r,
                    ms_error_t *err)
{
    ms_value_t keys[8], inputs[32];
    for (int i = 0; i < plan->nkeys; i++)
        keys[i] = r->v[plan->keys[i].col];
    for (int a = 0; a < plan->naggs; a++)
        inputs[a] = plan->aggs[a].col >= 0 ? r->v[plan->aggs[a].col] : s_null();
    return ms_agg_table_update(t, keys, inputs, err);
}

static void s_update_ok(ms_agg_table_t *t, const ms_plan_t *plan,
                        const s_row_t *r)
{
    ms_error_t err = {0};
    cr_assert_eq(s_update(t, plan, r, &err), 0, "%s", err.msg);
}

/* Folds a single value into a one-aggregate global plan's table. */
static void s_feed(ms_agg_table_t *t, ms_value_t v)
{
    ms_error_t err = {0};
    ms_value_t none = {0};
    cr_assert_eq(ms_agg_table_update(t, &none, &v, &err), 0, "%s", err.msg);
}

/* ---- reading final rows as text ---------------------------------------------
 */

typedef struct {
    int n;
    char **rows;
} s_rows_t;

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void s_format_cell(char *buf, size_t size, const msgpack_object *o,
                          ms_coltype_t t)
{
    ms_value_t v;
    cr_assert(ms_mp_wide_value(o, t, &v),
              "final value of the wrong msgpack type");
    if (v.type == MS_TYPE_NULL)
        snprintf(buf, size, "NULL");
    else
        ms_value_format(buf, size, &v);
}

/* Decodes packed final rows into sorted "a|b|c" texts. */
static s_rows_t s_decode_final(const ms_plan_t *plan, const char *data,
                               size_t len)
{
    s_rows_t out = {0, calloc(1, sizeof(char *))};
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    while (off < len) {
        cr_assert_eq(msgpack_unpack_next(&up, data, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *items;
        cr_assert(
            ms_mp_array(&up.data, plan->nkeys + plan->naggs, &items, NULL));
        char line[4096] = "", cell[1024];
        for (int c = 0; c < plan->nkeys + plan->naggs; c++) {
            ms_coltype_t t = c < plan->nkeys ? plan->keys[c].type
                                             : plan->aggs[c - plan->nkeys].type;
            s_format_cell(cell, sizeof cell, &items[c], t);
            if (c) strcat(line, "|");
            strncat(line, cell, sizeof line - strlen(line) - 1);
        }
        out.rows = realloc(out.rows, (size_t)(out.n + 1) * sizeof(char *));
        out.rows[out.n++] = strdup(line);
    }
    msgpack_unpacked_destroy(&up);
    qsort(out.rows, (size_t)out.n, sizeof(char *), s_cmp_str);
    return out;
}

static void s_rows_free(s_rows_t *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->rows[i]);
    free(r->rows);
}

/* Appends the table's final rows to a text list. */
static void s_final_into(const ms_agg_table_t *t, const ms_plan_t *plan,
                         s_rows_t *acc)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t nrows = 0;
    ms_error_t err = {0};
    cr_assert_eq(ms_agg_table_pack_final(t, &sb, &nrows, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(nrows, ms_agg_table_groups(t));
    s_rows_t got = s_decode_final(plan, sb.data, sb.size);
    cr_assert_eq((uint64_t)got.n, nrows);
    acc->rows =
        realloc(acc->rows, (size_t)(acc->n + got.n + 1) * sizeof(char *));
    for (int i = 0; i < got.n; i++)
        acc->rows[acc->n++] = got.rows[i];
    free(got.rows);
    qsort(acc->rows, (size_t)acc->n, sizeof(char *), s_cmp_str);
    msgpack_sbuffer_destroy(&sb);
}

static s_rows_t s_final(const ms_agg_table_t *t, const ms_plan_t *plan)
{
    s_rows_t rows = {0, calloc(1, sizeof(char *))};
    s_final_into(t, plan, &rows);
    return rows;
}

/* The single final row of a global aggregate, as text. */
static char *s_global_row(const ms_agg_table_t *t, const ms_plan_t *plan)
{
    static char line[4096];
    s_rows_t rows = s_final(t, plan);
    cr_assert_eq(rows.n, 1);
    snprintf(line, sizeof line, "%s", rows.rows[0]);
    s_rows_free(&rows);
    return line;
}

static void s_expect_rows(const s_rows_t *got, const s_rows_t *want)
{
    cr_assert_eq(got->n, want->n, "%d rows, expected %d", got->n, want->n);
    for (int i = 0; i < got->n; i++)
        cr_assert_str_eq(got->rows[i], want->rows[i], "row %d", i);
}

/* ---- merging through partial states ----------------------------------------
 */

/* Merges every packed row of buf into t. */
static int s_merge_buf(ms_agg_table_t *t, const char *buf, size_t len,
                       ms_error_t *err)
{
    msgpack_unpacked up;
    size_t off = 0;
    int rc = 0;
    msgpack_unpacked_init(&up);
    while (rc == 0 && off < len) {
        cr_assert_eq(msgpack_unpack_next(&up, buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
        rc = ms_agg_table_merge(t, &up.data, err);
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* Runs rows through nmaps map tables (row i to map i % nmaps), packs each
 * into nreduce partitions, merges each partition in its own reduce table
 * and returns all reduce tables' final rows. */
static s_rows_t s_two_stage(const ms_plan_t *plan, const s_row_t *rows,
                            int nrows, int nmaps, int nreduce)
{
    msgpack_sbuffer *parts = calloc((size_t)nreduce, sizeof *parts);
    for (int r = 0; r < nreduce; r++)
        msgpack_sbuffer_init(&parts[r]);
    for (int m = 0; m < nmaps; m++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        cr_assert_not_null(t);
        for (int i = m; i < nrows; i += nmaps)
            s_update_ok(t, plan, &rows[i]);
        cr_assert_eq(ms_agg_table_pack_partials(t, parts, nreduce), 0);
        ms_agg_table_destroy(&t);
    }
    s_rows_t out = {0, calloc(1, sizeof(char *))};
    for (int r = 0; r < nreduce; r++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        ms_error_t err = {0};
        cr_assert_eq(s_merge_buf(t, parts[r].data, parts[r].size, &err), 0,
                     "%s", err.msg);
        s_final_into(t, plan, &out);
        ms_agg_table_destroy(&t);
        msgpack_sbuffer_destroy(&parts[r]);
    }
    free(parts);
    return out;
}

static s_rows_t s_one_stage(const ms_plan_t *plan, const s_row_t *rows,
                            int nrows)
{
    ms_agg_table_t *t = ms_agg_table_new(plan);
    cr_assert_not_null(t);
    for (int i = 0; i < nrows; i++)
        s_update_ok(t, plan, &rows[i]);
    s_rows_t out = s_final(t, plan);
    ms_agg_table_destroy(&t);
    return out;
}

/* Deterministic rows with NULLs in every column, repeated keys and values
 * (so count_distinct sees one value in several partitions), doubles that
 * sum exactly in any order, negative decimals. */
static char s_strings[64][16];

static s_row_t *s_make_rows(int n)
{
    s_row_t *rows = calloc((size_t)n, sizeof *rows);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 64; i++)
        snprintf(s_strings[i], 16, "s%02d", i);
    for (int i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s_row_t *r = &rows[i];
        int k = (int)(x % 23);
        r->v[C_KEY] = k == 0 ? s_null() : k == 1 ? s_s("") : s_s(s_strings[k]);
        r->v[C_INT] = x % 11 == 0 ? s_null() : s_i((int64_t)(x >> 40) - 5000);
        r->v[C_DEC] =
            x % 13 == 0 ? s_null() : s_dec((int64_t)(x >> 44) - 300000);
        r->v[C_DBL] = x % 7 == 0 ? s_null() : s_d((double)((x >> 50) % 64) / 4);
        r->v[C_STR] = x % 5 == 0 ? s_null() : s_s(s_strings[(x >> 20) % 40]);
    }
    return rows;
}

static const s_agg_spec_t s_every_agg[] = {
    {MS_AGG_COUNT, -1},
    {MS_AGG_COUNT, C_INT},
    {MS_AGG_COUNT, C_STR},
    {MS_AGG_SUM, C_INT},
    {MS_AGG_SUM, C_DEC},
    {MS_AGG_SUM, C_DBL},
    {MS_AGG_MIN, C_INT},
    {MS_AGG_MAX, C_INT},
    {MS_AGG_MIN, C_DEC},
    {MS_AGG_MAX, C_DEC},
    {MS_AGG_MIN, C_DBL},
    {MS_AGG_MAX, C_DBL},
    {MS_AGG_MIN, C_STR},
    {MS_AGG_MAX, C_STR},
    {MS_AGG_AVG, C_INT},
    {MS_AGG_AVG, C_DEC},
    {MS_AGG_AVG, C_DBL},
    {MS_AGG_COUNT_DISTINCT, C_STR},
    {MS_AGG_COUNT_DISTINCT, C_INT},
};
#define S_NAGGS ((int)(sizeof s_every_agg / sizeof s_every_agg[0]))

/* ---- each aggregate
 * ------------------------------------------------------------ */

Test(agg, count_star_counts_rows_and_count_column_skips_nulls)
{
    const s_agg_spec_t aggs[] = {
        {MS_AGG_COUNT, -1}, {MS_AGG_COUNT, C_INT}, {MS_AGG_COUNT, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 3, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t rows[] = {
        {{s_null(), s_i(1), s_null(), s_null(), s_s("a")}},
        {{s_null(), s_null(), s_null(), s_null(), s_s("")}},
        {{s_null(), s_i(0), s_null(), s_null(), s_null()}},
        {{s_null(), s_null(), s_null(), s_null(), s_null()}},
    };
    for (int i = 0; i < 4; i++)
        s_update_ok(t, plan, &rows[i]);
    cr_assert_str_eq(s_global_row(t, plan), "4|2|2");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, sum_of_int64_decimal_and_double)
{
    const s_agg_spec_t aggs[] = {
        {MS_AGG_SUM, C_INT}, {MS_AGG_SUM, C_DEC}, {MS_AGG_SUM, C_DBL}};
    ms_plan_t *plan = s_plan(0, NULL, 3, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t rows[] = {
        {{s_null(), s_i(5), s_dec(1005), s_d(0.5), s_null()}},
        {{s_null(), s_i(-7), s_dec(-1), s_d(2.25), s_null()}},
        {{s_null(), s_null(), s_null(), s_null(), s_null()}},
        {{s_null(), s_i(100), s_dec(10), s_d(-1), s_null()}},
    };
    for (int i = 0; i < 4; i++)
        s_update_ok(t, plan, &rows[i]);
    cr_assert_str_eq(s_global_row(t, plan), "98|10.14|1.75");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, sum_min_max_avg_of_only_nulls_are_null)
{
    const s_agg_spec_t aggs[] = {
        {MS_AGG_SUM, C_INT},   {MS_AGG_MIN, C_DEC},
        {MS_AGG_MAX, C_STR},   {MS_AGG_AVG, C_DBL},
        {MS_AGG_COUNT, C_INT}, {MS_AGG_COUNT_DISTINCT, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 6, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t r = {{s_null(), s_null(), s_null(), s_null(), s_null()}};
    s_update_ok(t, plan, &r);
    s_update_ok(t, plan, &r);
    cr_assert_str_eq(s_global_row(t, plan), "NULL|NULL|NULL|NULL|0|0");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, min_and_max_of_numbers)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_MIN, C_INT}, {MS_AGG_MAX, C_INT},
                                 {MS_AGG_MIN, C_DEC}, {MS_AGG_MAX, C_DEC},
                                 {MS_AGG_MIN, C_DBL}, {MS_AGG_MAX, C_DBL}};
    ms_plan_t *plan = s_plan(0, NULL, 6, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t rows[] = {
        {{s_null(), s_i(3), s_dec(-250), s_d(-0.5), s_null()}},
        {{s_null(), s_i(INT64_MIN), s_dec(99), s_d(1e300), s_null()}},
        {{s_null(), s_null(), s_null(), s_null(), s_null()}},
        {{s_null(), s_i(INT64_MAX), s_dec(0), s_d(-1e300), s_null()}},
        {{s_null(), s_i(-1), s_dec(100), s_d(0), s_null()}},
    };
    for (int i = 0; i < 5; i++)
        s_update_ok(t, plan, &rows[i]);
    cr_assert_str_eq(s_global_row(t, plan),
                     "-9223372036854775808|9223372036854775807|-2.50|1.00|"
                     "-1e+300|1e+300");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, min_and_max_of_strings_compare_bytes)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_MIN, C_STR}, {MS_AGG_MAX, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    const char *vals[] = {
        "banana", "apple", "applesauce", "Zebra", "\xc3\xa9t\xc3\xa9", "app"};
    for (int i = 0; i < 6; i++) {
        s_row_t r = {{s_null(), s_null(), s_null(), s_null(), s_s(vals[i])}};
        s_update_ok(t, plan, &r);
    }
    cr_assert_str_eq(s_global_row(t, plan), "Zebra|\xc3\xa9t\xc3\xa9");
    /* The empty string is smaller than any other and is not NULL. */
    s_row_t r = {{s_null(), s_null(), s_null(), s_null(), s_s("")}};
    s_update_ok(t, plan, &r);
    cr_assert_str_eq(s_global_row(t, plan), "|\xc3\xa9t\xc3\xa9");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, min_and_max_of_only_empty_strings_are_empty_strings)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_MIN, C_STR},
                                 {MS_AGG_MAX, C_STR},
                                 {MS_AGG_COUNT_DISTINCT, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 3, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t r = {{s_null(), s_null(), s_null(), s_null(), s_s("")}};
    s_update_ok(t, plan, &r);
    s_update_ok(t, plan, &r);
    cr_assert_str_eq(s_global_row(t, plan), "||1");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, min_string_outlives_the_callers_buffer)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_MIN, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    char buf[16];
    snprintf(buf, sizeof buf, "kept");
    s_feed(t, s_s(buf));
    memset(buf, 'x', 4);
    cr_assert_str_eq(s_global_row(t, plan), "kept");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, avg_of_int64_is_a_double)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_AVG, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    cr_assert_eq(plan->aggs[0].type.type, MS_TYPE_DOUBLE);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_feed(t, s_i(1));
    s_feed(t, s_i(2));
    s_feed(t, s_null());
    cr_assert_str_eq(s_global_row(t, plan), "1.5");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, avg_of_double)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_AVG, C_DBL}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_feed(t, s_d(0.25));
    s_feed(t, s_d(-1));
    s_feed(t, s_d(4));
    s_feed(t, s_d(0.75));
    cr_assert_str_eq(s_global_row(t, plan), "1.0");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* avg over decimal(2) values with result scale 6 (the scale Spark gives). */
static char *s_avg_dec(const int64_t *vals, int n)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_AVG, C_DEC}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    cr_assert_eq(plan->aggs[0].type.type, MS_TYPE_DECIMAL);
    cr_assert_eq(plan->aggs[0].type.scale, 6);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    for (int i = 0; i < n; i++)
        s_feed(t, s_dec(vals[i]));
    char *row = s_global_row(t, plan);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
    return row;
}

Test(agg, avg_of_decimal_rounds_half_up_at_scale_6)
{
    /* 0.01 / 3 = 0.0033333.. -> 0.003333; 0.02 / 3 = 0.0066666.. -> 0.006667 */
    cr_assert_str_eq(s_avg_dec((int64_t[]){1, 0, 0}, 3), "0.003333");
    cr_assert_str_eq(s_avg_dec((int64_t[]){1, 1, 0}, 3), "0.006667");
    /* 0.01 / 32 = 0.0003125 exactly: a true half rounds up, not to even. */
    int64_t v[32] = {1};
    cr_assert_str_eq(s_avg_dec(v, 32), "0.000313");
    /* 0.03 / 32 = 0.0009375 -> 0.000938 (half-even would agree; check both). */
    v[0] = 3;
    cr_assert_str_eq(s_avg_dec(v, 32), "0.000938");
    cr_assert_str_eq(s_avg_dec((int64_t[]){1050, 1051}, 2), "10.505000");
}

Test(agg, avg_of_negative_decimal_rounds_half_away_from_zero)
{
    cr_assert_str_eq(s_avg_dec((int64_t[]){-1, -1, 0}, 3), "-0.006667");
    cr_assert_str_eq(s_avg_dec((int64_t[]){-1, 0, 0}, 3), "-0.003333");
    int64_t v[32] = {-1};
    cr_assert_str_eq(s_avg_dec(v, 32), "-0.000313");
    v[0] = -3;
    cr_assert_str_eq(s_avg_dec(v, 32), "-0.000938");
    cr_assert_str_eq(s_avg_dec((int64_t[]){-5, 3}, 2), "-0.010000");
}

Test(agg, count_distinct_of_strings_and_ints)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT_DISTINCT, C_STR},
                                 {MS_AGG_COUNT_DISTINCT, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t rows[] = {
        {{s_null(), s_i(1), s_null(), s_null(), s_s("a")}},
        {{s_null(), s_i(2), s_null(), s_null(), s_s("b")}},
        {{s_null(), s_i(2), s_null(), s_null(), s_s("a")}},
        {{s_null(), s_null(), s_null(), s_null(), s_null()}},
        {{s_null(), s_i(-1), s_null(), s_null(), s_s("")}},
        {{s_null(), s_i(1), s_null(), s_null(), s_s("A")}},
    };
    for (int i = 0; i < 6; i++)
        s_update_ok(t, plan, &rows[i]);
    cr_assert_str_eq(s_global_row(t, plan), "4|3");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, count_distinct_keeps_groups_apart)
{
    const int keys[] = {C_KEY};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT_DISTINCT, C_INT}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    /* The same values in two groups count once per group. */
    for (int i = 0; i < 10; i++) {
        s_row_t a = {{s_s("a"), s_i(i % 3), s_null(), s_null(), s_null()}};
        s_row_t b = {{s_s("b"), s_i(i % 5), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &a);
        s_update_ok(t, plan, &b);
    }
    s_rows_t got = s_final(t, plan);
    s_rows_t want = {2, (char *[]){"a|3", "b|5"}};
    s_expect_rows(&got, &want);
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* ---- groups
 * ------------------------------------------------------------------------- */

Test(agg, null_is_a_group_key_of_its_own)
{
    const int keys[] = {C_KEY};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_value_t ks[] = {s_null(), s_s(""), s_s("NULL"), s_null(), s_s("")};
    for (int i = 0; i < 5; i++) {
        s_row_t r = {{ks[i], s_null(), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
    }
    cr_assert_eq(ms_agg_table_groups(t), 3);
    s_rows_t got = s_final(t, plan);
    s_rows_t want = {3, (char *[]){"NULL|1", "NULL|2", "|2"}};
    s_expect_rows(&got, &want);
    s_rows_free(&got);
    /* The NULL key really is nil on the wire, not the text "NULL". */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    uint64_t n;
    ms_error_t err;
    cr_assert_eq(ms_agg_table_pack_final(t, &sb, &n, &err), 0);
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    int nils = 0;
    while (msgpack_unpack_next(&up, sb.data, sb.size, &off) ==
           MSGPACK_UNPACK_SUCCESS)
        nils += up.data.via.array.ptr[0].type == MSGPACK_OBJECT_NIL;
    cr_assert_eq(nils, 1);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, two_keys_group_by_both)
{
    const int keys[] = {C_KEY, C_INT};
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_DEC}};
    ms_plan_t *plan = s_plan(2, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_row_t rows[] = {
        {{s_s("a"), s_i(1), s_dec(100), s_null(), s_null()}},
        {{s_s("a"), s_i(2), s_dec(200), s_null(), s_null()}},
        {{s_s("a"), s_i(1), s_dec(1), s_null(), s_null()}},
        {{s_s("b"), s_null(), s_dec(5), s_null(), s_null()}},
        {{s_s("b"), s_null(), s_null(), s_null(), s_null()}},
    };
    for (int i = 0; i < 5; i++)
        s_update_ok(t, plan, &rows[i]);
    s_rows_t got = s_final(t, plan);
    s_rows_t want = {3, (char *[]){"a|1|1.01", "a|2|2.00", "b|NULL|0.05"}};
    s_expect_rows(&got, &want);
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, global_aggregate_has_one_group)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}, {MS_AGG_SUM, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    cr_assert_eq(ms_agg_table_groups(t), 0);
    for (int i = 1; i <= 100; i++) {
        s_row_t r = {{s_null(), s_i(i), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
    }
    cr_assert_eq(ms_agg_table_groups(t), 1);
    cr_assert_str_eq(s_global_row(t, plan), "100|5050");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, empty_result_is_count_zero_and_everything_else_null)
{
    ms_plan_t *plan = s_plan(0, NULL, S_NAGGS, s_every_agg);
    ms_value_t out[S_NAGGS];
    memset(out, 0x5a, sizeof out);
    ms_agg_empty_result(plan, out);
    for (int a = 0; a < S_NAGGS; a++) {
        ms_agg_fn_t fn = plan->aggs[a].fn;
        if (fn == MS_AGG_COUNT || fn == MS_AGG_COUNT_DISTINCT) {
            cr_assert_eq(out[a].type, MS_TYPE_INT64, "agg %d", a);
            cr_assert_eq(out[a].i, 0, "agg %d", a);
        } else {
            cr_assert_eq(out[a].type, MS_TYPE_NULL, "agg %d", a);
        }
    }
    ms_plan_destroy(&plan);
}

Test(agg, empty_table_packs_nothing)
{
    ms_plan_t *plan = s_plan(0, NULL, S_NAGGS, s_every_agg);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    msgpack_sbuffer parts[3];
    for (int p = 0; p < 3; p++)
        msgpack_sbuffer_init(&parts[p]);
    cr_assert_eq(ms_agg_table_pack_partials(t, parts, 3), 0);
    for (int p = 0; p < 3; p++)
        cr_assert_eq(parts[p].size, 0);
    uint64_t n = 99;
    ms_error_t err;
    cr_assert_eq(ms_agg_table_pack_final(t, &parts[0], &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(parts[0].size, 0);
    ms_agg_table_destroy(&t);
    ms_agg_table_destroy(&t);
    cr_assert_null(t);
    ms_plan_destroy(&plan);
}

/* ---- partial states across partitions
 * ---------------------------------------- */

static void s_check_partitioned(int nkeys, const int *keys, int nrows)
{
    ms_plan_t *plan = s_plan(nkeys, keys, S_NAGGS, s_every_agg);
    s_row_t *rows = s_make_rows(nrows);
    s_rows_t want = s_one_stage(plan, rows, nrows);
    cr_assert_gt(want.n, 0);
    const int shapes[][2] = {{1, 1}, {2, 1},  {1, 3}, {3, 2},
                             {4, 7}, {7, 16}, {16, 5}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        s_rows_t got =
            s_two_stage(plan, rows, nrows, shapes[s][0], shapes[s][1]);
        cr_assert_eq(got.n, want.n, "%d maps x %d reduces: %d rows, want %d",
                     shapes[s][0], shapes[s][1], got.n, want.n);
        for (int i = 0; i < got.n; i++)
            cr_assert_str_eq(got.rows[i], want.rows[i],
                             "%d maps x %d reduces, row %d", shapes[s][0],
                             shapes[s][1], i);
        s_rows_free(&got);
    }
    s_rows_free(&want);
    free(rows);
    ms_plan_destroy(&plan);
}

Test(agg, partials_merged_across_partitions_match_one_table)
{
    const int keys[] = {C_KEY};
    s_check_partitioned(1, keys, 3000);
}

Test(agg, partials_of_a_global_aggregate_match_one_table)
{
    s_check_partitioned(0, NULL, 1000);
}

Test(agg, partials_keyed_by_two_columns_match_one_table)
{
    const int keys[] = {C_INT, C_KEY};
    s_check_partitioned(2, keys, 2000);
}

/* Rows merged in batches give what rows merged one at a time give, in any
 * batch size up to MS_AGG_MERGE_BATCH. */
Test(agg, batched_merge_equals_one_row_at_a_time)
{
    const int keys[] = {C_INT, C_KEY};
    ms_plan_t *plan = s_plan(2, keys, S_NAGGS, s_every_agg);
    s_row_t *rows = s_make_rows(3000);
    msgpack_sbuffer parts[1];
    msgpack_sbuffer_init(&parts[0]);
    for (int m = 0; m < 3; m++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        for (int i = m; i < 3000; i += 3)
            s_update_ok(t, plan, &rows[i]);
        cr_assert_eq(ms_agg_table_pack_partials(t, parts, 1), 0);
        ms_agg_table_destroy(&t);
    }
    ms_agg_table_t *one = ms_agg_table_new(plan);
    ms_error_t err = {0};
    cr_assert_eq(s_merge_buf(one, parts[0].data, parts[0].size, &err), 0);
    s_rows_t want = s_final(one, plan);
    const int sizes[] = {2, 7, MS_AGG_MERGE_BATCH};
    for (int s = 0; s < 3; s++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        msgpack_zone zone;
        msgpack_zone_init(&zone, 4096);
        msgpack_object batch[MS_AGG_MERGE_BATCH];
        size_t off = 0;
        int n = 0;
        while (off < parts[0].size) {
            msgpack_unpack_return r = msgpack_unpack(
                parts[0].data, parts[0].size, &off, &zone, &batch[n++]);
            cr_assert(r == MSGPACK_UNPACK_SUCCESS ||
                      r == MSGPACK_UNPACK_EXTRA_BYTES);
            if (n == sizes[s] || off == parts[0].size) {
                cr_assert_eq(ms_agg_table_merge_rows(t, batch, n, &err), 0,
                             "%s", err.msg);
                n = 0;
            }
        }
        s_rows_t got = s_final(t, plan);
        s_expect_rows(&got, &want);
        s_rows_free(&got);
        msgpack_zone_destroy(&zone);
        ms_agg_table_destroy(&t);
    }
    s_rows_free(&want);
    ms_agg_table_destroy(&one);
    msgpack_sbuffer_destroy(&parts[0]);
    free(rows);
    ms_plan_destroy(&plan);
}

Test(agg, sum_of_decimal_is_exact_across_merges)
{
    /* 0.10 a hundred thousand times is exactly 10000.00 however it is split;
     * a double accumulator would drift. */
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_DEC}, {MS_AGG_AVG, C_DEC}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    enum { N = 100000 };
    s_row_t *rows = calloc(N, sizeof *rows);
    for (int i = 0; i < N; i++)
        rows[i].v[C_DEC] = s_dec(10);
    s_rows_t one = s_one_stage(plan, rows, N);
    cr_assert_str_eq(one.rows[0], "10000.00|0.100000");
    const int shapes[][2] = {{3, 1}, {7, 4}, {13, 9}};
    for (int s = 0; s < 3; s++) {
        s_rows_t got = s_two_stage(plan, rows, N, shapes[s][0], shapes[s][1]);
        cr_assert_eq(got.n, 1);
        cr_assert_str_eq(got.rows[0], "10000.00|0.100000");
        s_rows_free(&got);
    }
    s_rows_free(&one);
    free(rows);
    ms_plan_destroy(&plan);
}

Test(agg, each_group_goes_to_exactly_one_partition)
{
    const int keys[] = {C_STR};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    for (int i = 0; i < 40; i++) {
        char *s = s_strings[i];
        snprintf(s, 16, "g%d", i);
        s_row_t r = {{s_null(), s_null(), s_null(), s_null(), s_s(s)}};
        s_update_ok(t, plan, &r);
    }
    msgpack_sbuffer parts[5];
    for (int p = 0; p < 5; p++)
        msgpack_sbuffer_init(&parts[p]);
    cr_assert_eq(ms_agg_table_pack_partials(t, parts, 5), 0);
    int total = 0, nonempty = 0;
    for (int p = 0; p < 5; p++) {
        msgpack_unpacked up;
        size_t off = 0;
        msgpack_unpacked_init(&up);
        int n = 0;
        while (msgpack_unpack_next(&up, parts[p].data, parts[p].size, &off) ==
               MSGPACK_UNPACK_SUCCESS)
            n++;
        msgpack_unpacked_destroy(&up);
        total += n;
        nonempty += n > 0;
        msgpack_sbuffer_destroy(&parts[p]);
    }
    cr_assert_eq(total, 40);
    cr_assert_gt(nonempty, 1, "40 keys all hashed to one of 5 partitions");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* ---- errors
 * --------------------------------------------------------------------- */

/* The running total leaves 64 bits and comes back: the sum is exact. */
Test(agg, int64_sum_that_overflows_on_the_way_is_exact)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_INT}, {MS_AGG_AVG, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    const int64_t vals[] = {INT64_MAX, INT64_MAX, 5, INT64_MIN, INT64_MIN};
    for (int i = 0; i < 5; i++) {
        s_row_t r = {{s_null(), s_i(vals[i]), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
    }
    /* -2 + 5 = 3; the avg is 3/5 from the exact sum. */
    cr_assert_str_eq(s_global_row(t, plan), "3|0.6");
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* The same through partial states: each map's total is past 64 bits and
 * travels as a 128-bit ext; the merged total fits again. */
Test(agg, int64_partial_sums_past_64_bits_merge_exactly)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    msgpack_sbuffer parts[1];
    msgpack_sbuffer_init(&parts[0]);
    const int64_t per_map[2][3] = {{INT64_MAX, INT64_MAX, 1},
                                   {INT64_MIN, INT64_MIN, 7}};
    for (int m = 0; m < 2; m++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        for (int i = 0; i < 3; i++)
            s_feed(t, s_i(per_map[m][i]));
        cr_assert_eq(ms_agg_table_pack_partials(t, parts, 1), 0);
        ms_agg_table_destroy(&t);
    }
    /* Both partial sums are past 64 bits: fixext 16 (0xd8) on the wire. */
    cr_assert_not_null(memchr(parts[0].data, 0xd8, parts[0].size));
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_error_t err = {0};
    cr_assert_eq(s_merge_buf(t, parts[0].data, parts[0].size, &err), 0, "%s",
                 err.msg);
    /* (2^64 - 1) + (7 - 2^64) */
    cr_assert_str_eq(s_global_row(t, plan), "6");
    ms_agg_table_destroy(&t);
    msgpack_sbuffer_destroy(&parts[0]);
    ms_plan_destroy(&plan);
}

/* sum(int64) is an int64, as in Spark: a total that does not fit fails
 * when the final value is made, naming the aggregate and the value. */
Test(agg, int64_sum_that_does_not_fit_fails_naming_the_value)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_INT}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    const int64_t first[2] = {INT64_MAX, INT64_MIN};
    const int64_t second[2] = {1, -1};
    const char *want[2] = {"agg0 = 9223372036854775808 does not fit",
                           "agg0 = -9223372036854775809 does not fit"};
    for (int i = 0; i < 2; i++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        s_feed(t, s_i(first[i]));
        s_feed(t, s_i(second[i])); /* folding is fine */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        uint64_t n;
        ms_error_t err = {0};
        cr_assert_eq(ms_agg_table_pack_final(t, &sb, &n, &err),
                     MS_ERR_OVERFLOW);
        cr_assert_not_null(strstr(err.msg, want[i]), "%s", err.msg);
        cr_assert_not_null(strstr(err.msg, "int64"), "%s", err.msg);
        msgpack_sbuffer_destroy(&sb);
        ms_agg_table_destroy(&t);
    }
    ms_plan_destroy(&plan);
}

/* The exact bound: many rows of the largest 18-digit decimal, their count
 * given through a partial state (2^63 - 1 rows are too many to fold one by
 * one). The sum has 37 digits and is exact; so is the avg. */
Test(agg, decimal_sum_of_2_pow_63_rows_of_18_digits_is_exact)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_DEC}, {MS_AGG_AVG, C_DEC}};
    ms_plan_t *plan = s_plan(0, NULL, 2, aggs);
    const int64_t most = 999999999999999999; /* 9999999999999999.99 */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int sign = 1; sign >= -1; sign -= 2) {
        int64_t n = INT64_MAX - 2; /* and 2 more folded below */
        ms_agg_table_t *m = ms_agg_table_new(plan);
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_array(&pk, 2);
        for (int a = 0; a < 2; a++) {
            msgpack_pack_array(&pk, 2);
            ms_mp_pack_i128(&pk, (ms_i128_t)most * n * sign);
            msgpack_pack_int64(&pk, n);
        }
        ms_error_t err = {0};
        cr_assert_eq(s_merge_buf(m, sb.data, sb.size, &err), 0, "%s", err.msg);
        for (int i = 0; i < 2; i++) {
            s_row_t r = {
                {s_null(), s_null(), s_dec(most * sign), s_null(), s_null()}};
            s_update_ok(m, plan, &r);
        }
        /* (2^63 - 1) * (10^18 - 1) at scale 2 */
        cr_assert_str_eq(s_global_row(m, plan),
                         sign > 0 ? "92233720368547757977766279631452241.93|"
                                    "9999999999999999.990000"
                                  : "-92233720368547757977766279631452241.93|"
                                    "-9999999999999999.990000");
        /* One more row is one more than a count can hold. */
        s_row_t r = {{s_null(), s_null(), s_dec(1), s_null(), s_null()}};
        cr_assert_eq(s_update(m, plan, &r, &err), MS_ERR_OVERFLOW);
        ms_agg_table_destroy(&m);
    }
    msgpack_sbuffer_destroy(&sb);
    ms_plan_destroy(&plan);
}

/* Only sum and avg of a column flagged as too wide for a decimal get a
 * note, naming the column and the aggregate. */
Test(agg, sums_of_too_wide_decimals_read_as_double_are_noted)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_DBL},
                                 {MS_AGG_AVG, C_DBL},
                                 {MS_AGG_MAX, C_DBL},
                                 {MS_AGG_SUM, C_INT},
                                 {MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(0, NULL, 5, aggs);
    char note[256];
    for (int a = 0; a < 5; a++)
        cr_assert(!ms_agg_inexact_note(plan, a, note, sizeof note));
    plan->schema.cols[C_DBL].wide_decimal = true;
    cr_assert(ms_agg_inexact_note(plan, 0, note, sizeof note));
    cr_assert_not_null(strstr(note, "column dbl holds decimals"), "%s", note);
    cr_assert_not_null(strstr(note, "agg0 is inexact"), "%s", note);
    cr_assert(ms_agg_inexact_note(plan, 1, note, sizeof note));
    for (int a = 2; a < 5; a++)
        cr_assert(!ms_agg_inexact_note(plan, a, note, sizeof note));
    ms_plan_destroy(&plan);
}

/* The review's case: avg of one 10000000000000.00 is 10000000000000.000000,
 * which needs 20 digits at scale 6. */
Test(agg, avg_of_a_14_digit_decimal_has_its_4_more_digits)
{
    char *row = s_avg_dec((int64_t[]){1000000000000000}, 1);
    cr_assert_str_eq(row, "10000000000000.000000");
    cr_assert_str_eq(s_avg_dec((int64_t[]){-999999999999999999, -1}, 2),
                     "-5000000000000000.000000");
    cr_assert_str_eq(s_avg_dec((int64_t[]){999999999999999999, 2}, 2),
                     "5000000000000000.005000");
}

/* A row whose count would overflow is refused and leaves the group as it
 * was: what the table packs afterwards still merges. */
Test(agg, overflowing_partial_count_leaves_the_state_whole)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_SUM, C_DEC}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int r = 0; r < 2; r++) { /* [[sum, n]]: n 3, then INT64_MAX */
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int64(&pk, 1170);
        msgpack_pack_int64(&pk, r ? INT64_MAX : 3);
    }
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_error_t err = {0};
    cr_assert_eq(s_merge_buf(t, sb.data, sb.size, &err), MS_ERR_OVERFLOW);
    cr_assert_str_eq(s_global_row(t, plan), "11.70");
    msgpack_sbuffer part;
    msgpack_sbuffer_init(&part);
    cr_assert_eq(ms_agg_table_pack_partials(t, &part, 1), 0);
    ms_agg_table_t *again = ms_agg_table_new(plan);
    cr_assert_eq(s_merge_buf(again, part.data, part.size, &err), 0, "%s",
                 err.msg);
    ms_agg_table_destroy(&again);
    ms_agg_table_destroy(&t);
    msgpack_sbuffer_destroy(&part);
    msgpack_sbuffer_destroy(&sb);
    ms_plan_destroy(&plan);
}

Test(agg, group_key_over_64k_is_an_input_error)
{
    const int keys[] = {C_KEY};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    size_t len = 70000;
    char *big = malloc(len + 1);
    memset(big, 'k', len);
    big[len] = '\0';
    s_row_t r = {{s_s(big), s_null(), s_null(), s_null(), s_null()}};
    ms_error_t err = {0};
    cr_assert_eq(s_update(t, plan, &r, &err), MS_ERR_INPUT);
    free(big);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* A value too long for the distinct set's key buffer is bad input, as a too
 * long group key is, not a lack of memory. */
Test(agg, count_distinct_value_over_64k_is_an_input_error)
{
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT_DISTINCT, C_STR}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    size_t len = 70000;
    char *big = malloc(len + 1);
    memset(big, 'v', len);
    big[len] = '\0';
    ms_error_t err = {0};
    ms_value_t none = {0}, v = s_s(big);
    int rc = ms_agg_table_update(t, &none, &v, &err);
    free(big);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
    cr_assert_eq(rc, MS_ERR_INPUT, "got %d (%s): %s", rc, ms_strerror(rc),
                 err.msg);
}

/* More keys than a row has columns (the job file and the plan codec allow
 * it): the table must either work or refuse, never overrun a buffer. */
Test(agg, many_keys_work_or_are_refused_without_overrun)
{
    enum { NKEYS = MS_CSV_MAX_COLUMNS + 44 };
    int keys[NKEYS];
    for (int i = 0; i < NKEYS; i++)
        keys[i] = C_INT;
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(NKEYS, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    if (t) {
        ms_value_t kv[NKEYS], in = s_null();
        for (int i = 0; i < NKEYS; i++)
            kv[i] = s_i(i);
        ms_error_t err = {0};
        int rc = ms_agg_table_update(t, kv, &in, &err);
        if (rc == 0) {
            msgpack_sbuffer parts[2];
            msgpack_sbuffer_init(&parts[0]);
            msgpack_sbuffer_init(&parts[1]);
            cr_assert_eq(ms_agg_table_pack_partials(t, parts, 2), 0);
            msgpack_sbuffer_destroy(&parts[0]);
            msgpack_sbuffer_destroy(&parts[1]);
        }
        ms_agg_table_destroy(&t);
    }
    ms_plan_destroy(&plan);
}

/* ---- merge of hostile rows --------------------------------------------------
 */

typedef void s_pack_fn(msgpack_packer *pk);

/* Plan for the hostile rows: key string; count(*), sum(dec), min(str),
 * count_distinct(int), avg(int). */
static ms_plan_t *s_hostile_plan(void)
{
    const int keys[] = {C_KEY};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1},
                                 {MS_AGG_SUM, C_DEC},
                                 {MS_AGG_MIN, C_STR},
                                 {MS_AGG_COUNT_DISTINCT, C_INT},
                                 {MS_AGG_AVG, C_INT}};
    return s_plan(1, keys, 5, aggs);
}

static int s_merge_packed(ms_agg_table_t *t, s_pack_fn *fn, ms_error_t *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    fn(&pk);
    int rc = s_merge_buf(t, sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void s_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void s_pair(msgpack_packer *pk, int64_t a, int64_t b)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int64(pk, a);
    msgpack_pack_int64(pk, b);
}

/* Packs the good row's fields, replacing field `bad` by the output of alt. */
static int s_bad_field;
static s_pack_fn *s_bad_alt;

static void s_row_with(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    for (int f = 0; f < 6; f++) {
        if (f == s_bad_field) {
            s_bad_alt(pk);
            continue;
        }
        switch (f) {
        case 0:
            s_str(pk, "k");
            break;
        case 1:
            msgpack_pack_int64(pk, 3);
            break;
        case 2:
            s_pair(pk, 1234, 2);
            break;
        case 3:
            s_str(pk, "m");
            break;
        case 4:
            msgpack_pack_array(pk, 2);
            msgpack_pack_int64(pk, 7);
            msgpack_pack_int64(pk, 8);
            break;
        default:
            s_pair(pk, 10, 4);
            break;
        }
    }
}

static void s_good_row(msgpack_packer *pk)
{
    s_bad_field = -1;
    s_row_with(pk);
}

Test(agg, merge_accepts_a_well_formed_row)
{
    ms_plan_t *plan = s_hostile_plan();
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_error_t err = {0};
    cr_assert_eq(s_merge_packed(t, s_good_row, &err), 0, "%s", err.msg);
    cr_assert_eq(s_merge_packed(t, s_good_row, &err), 0, "%s", err.msg);
    s_rows_t got = s_final(t, plan);
    cr_assert_eq(got.n, 1);
    cr_assert_str_eq(got.rows[0], "k|6|24.68|m|2|2.5");
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* msgpack-c decodes a zero-length string that comes first in a buffer with
 * a NULL pointer: an empty key and an empty distinct value must still work. */
static void s_empty_strings_row(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 6);
    s_str(pk, "");
    msgpack_pack_int64(pk, 1);
    msgpack_pack_nil(pk);
    s_str(pk, "");
    msgpack_pack_array(pk, 0);
    msgpack_pack_nil(pk);
}

Test(agg, merge_accepts_empty_strings_from_the_wire)
{
    ms_plan_t *plan = s_hostile_plan();
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_error_t err = {0};
    cr_assert_eq(s_merge_packed(t, s_empty_strings_row, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(s_merge_packed(t, s_empty_strings_row, &err), 0, "%s",
                 err.msg);
    s_rows_t got = s_final(t, plan);
    cr_assert_eq(got.n, 1);
    cr_assert_str_eq(got.rows[0], "|2|NULL||0|NULL");
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

static void s_nil(msgpack_packer *pk)
{
    msgpack_pack_nil(pk);
}
static void s_int7(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, 7);
}
static void s_neg(msgpack_packer *pk)
{
    msgpack_pack_int64(pk, -1);
}
static void s_text(msgpack_packer *pk)
{
    s_str(pk, "7");
}
static void s_dbl(msgpack_packer *pk)
{
    msgpack_pack_double(pk, 1.5);
}
static void s_true(msgpack_packer *pk)
{
    msgpack_pack_true(pk);
}
static void s_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void s_empty_arr(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 0);
}
static void s_bin(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 1);
    msgpack_pack_bin_body(pk, "m", 1);
}
static void s_pair_zero_n(msgpack_packer *pk)
{
    s_pair(pk, 5, 0);
}
static void s_pair_neg_n(msgpack_packer *pk)
{
    s_pair(pk, 5, -3);
}
static void s_pair_nil_sum(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_nil(pk);
    msgpack_pack_int64(pk, 1);
}
static void s_pair_str_sum(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    s_str(pk, "5");
    msgpack_pack_int64(pk, 1);
}
static void s_triple(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, 1);
}
static void s_distinct_nil(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 2);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_nil(pk);
}
static void s_distinct_str(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    s_str(pk, "1");
}
static void s_huge_count(msgpack_packer *pk)
{
    msgpack_pack_uint64(pk, UINT64_MAX);
}
/* [sum as an ext of len bytes holding x, n] */
static void s_ext_sum(msgpack_packer *pk, int8_t type, size_t len, ms_i128_t x,
                      int64_t n)
{
    uint8_t b[17] = {0};
    ms_i128_store(b, x);
    msgpack_pack_array(pk, 2);
    msgpack_pack_ext(pk, len, type);
    msgpack_pack_ext_body(pk, b, len);
    msgpack_pack_int64(pk, n);
}
/* 10^20 from one value: no 18-digit decimal is that large. */
static void s_ext_sum_implausible(msgpack_packer *pk)
{
    s_ext_sum(pk, MS_MP_EXT_I128, 16, (ms_i128_t)ms_pow10[18] * 100, 1);
}
/* 5 as an ext: the int form is the only one for what fits 64 bits. */
static void s_ext_sum_small(msgpack_packer *pk)
{
    s_ext_sum(pk, MS_MP_EXT_I128, 16, 5, 1);
}
static void s_ext_sum_short(msgpack_packer *pk)
{
    s_ext_sum(pk, MS_MP_EXT_I128, 8, (ms_i128_t)1 << 100, 1000);
}
static void s_ext_sum_other_type(msgpack_packer *pk)
{
    s_ext_sum(pk, 7, 16, (ms_i128_t)1 << 70, INT64_MAX);
}
/* The widest sum of n values passes; one more does not (for int64: n
 * times INT64_MIN). */
static void s_ext_sum_int_most(msgpack_packer *pk)
{
    s_ext_sum(pk, MS_MP_EXT_I128, 16, (ms_i128_t)INT64_MIN * 3 - 1, 3);
}

static const struct {
    int field;
    s_pack_fn *alt;
    const char *what;
} s_bad_fields[] = {
    {0, s_int7, "int key for a string column"},
    {0, s_bin, "bin key for a string column"},
    {0, s_empty_arr, "array key"},
    {1, s_neg, "negative count"},
    {1, s_text, "count as text"},
    {1, s_dbl, "count as double"},
    {1, s_nil, "nil count"},
    {1, s_huge_count, "count above INT64_MAX"},
    {2, s_int7, "sum state not a pair"},
    {2, s_pair_zero_n, "sum over zero values"},
    {2, s_pair_neg_n, "sum over a negative number of values"},
    {2, s_pair_nil_sum, "nil sum with a count"},
    {2, s_pair_str_sum, "text sum"},
    {2, s_triple, "sum state of three"},
    {2, s_dbl, "double for a decimal sum"},
    {2, s_ext_sum_implausible, "sum larger than its count allows"},
    {2, s_ext_sum_small, "128-bit sum that fits 64 bits"},
    {2, s_ext_sum_short, "128-bit sum of 8 bytes"},
    {2, s_ext_sum_other_type, "sum as another ext type"},
    {3, s_int7, "int min for a string column"},
    {3, s_true, "boolean min"},
    {3, s_map, "map min"},
    {4, s_int7, "distinct set not an array"},
    {4, s_distinct_nil, "nil in a distinct set"},
    {4, s_distinct_str, "text in an int distinct set"},
    {5, s_pair_neg_n, "avg over a negative number of values"},
    {5, s_dbl, "avg state not a pair"},
    {5, s_ext_sum_int_most, "int64 sum below n * INT64_MIN"},
};

Test(agg, merge_rejects_rows_of_the_wrong_width_or_shape)
{
    ms_plan_t *plan = s_hostile_plan();
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_pack_fn *shapes[] = {s_nil, s_int7, s_text, s_map, s_empty_arr, s_triple};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        ms_error_t err = {0};
        cr_assert_eq(s_merge_packed(t, shapes[i], &err), MS_ERR_CORRUPT,
                     "shape %zu accepted", i);
        cr_assert_eq(err.code, MS_ERR_CORRUPT);
    }
    /* One field short and one too many. */
    for (int width = 5; width <= 7; width += 2) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, (size_t)width);
        s_str(&pk, "k");
        for (int f = 1; f < width; f++)
            msgpack_pack_int64(&pk, 1);
        ms_error_t err = {0};
        cr_assert_eq(s_merge_buf(t, sb.data, sb.size, &err), MS_ERR_CORRUPT,
                     "width %d accepted", width);
        msgpack_sbuffer_destroy(&sb);
    }
    cr_assert_eq(ms_agg_table_groups(t), 0);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

Test(agg, merge_rejects_bad_keys_and_states)
{
    ms_plan_t *plan = s_hostile_plan();
    for (size_t i = 0; i < sizeof s_bad_fields / sizeof s_bad_fields[0]; i++) {
        ms_agg_table_t *t = ms_agg_table_new(plan);
        s_bad_field = s_bad_fields[i].field;
        s_bad_alt = s_bad_fields[i].alt;
        ms_error_t err = {0};
        int rc = s_merge_packed(t, s_row_with, &err);
        cr_assert_eq(rc, MS_ERR_CORRUPT, "%s: got %d (%s)",
                     s_bad_fields[i].what, rc, err.msg);
        cr_assert_neq(err.msg[0], '\0', "%s: no message", s_bad_fields[i].what);
        /* The table stays usable. */
        cr_assert_eq(s_merge_packed(t, s_good_row, &err), 0, "%s", err.msg);
        ms_agg_table_destroy(&t);
    }
    ms_plan_destroy(&plan);
}

Test(agg, merge_of_nil_sum_state_is_an_empty_partial)
{
    ms_plan_t *plan = s_hostile_plan();
    ms_agg_table_t *t = ms_agg_table_new(plan);
    s_bad_field = 2;
    s_bad_alt = s_nil;
    ms_error_t err = {0};
    cr_assert_eq(s_merge_packed(t, s_row_with, &err), 0, "%s", err.msg);
    s_rows_t got = s_final(t, plan);
    cr_assert_str_eq(got.rows[0], "k|3|NULL|m|2|2.5");
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* ---- partition function
 * -------------------------------------------------------- */

Test(agg, partition_is_in_range_and_deterministic)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    const int counts[] = {1, 2, 3, 7, 8, 200, 1000, 65536, INT_MAX};
    for (int i = 0; i < 20000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            int p = ms_agg_partition(x, counts[c]);
            cr_assert(p >= 0 && p < counts[c], "hash %llx, %d parts: %d",
                      (unsigned long long)x, counts[c], p);
            cr_assert_eq(p, ms_agg_partition(x, counts[c]));
        }
    }
    cr_assert_eq(ms_agg_partition(0, 8), 0);
    cr_assert_eq(ms_agg_partition(UINT64_MAX, 8), 7);
    cr_assert_eq(ms_agg_partition(UINT64_MAX, 1), 0);
}

Test(agg, partition_spreads_hashes_evenly)
{
    int hits[8] = {0};
    for (int i = 0; i < 80000; i++) {
        char key[16];
        int n = snprintf(key, sizeof key, "key%d", i);
        hits[ms_agg_partition(ms_hash_bytes(key, (size_t)n), 8)]++;
    }
    for (int p = 0; p < 8; p++)
        cr_assert(hits[p] > 9000 && hits[p] < 11000, "partition %d: %d", p,
                  hits[p]);
}

/* ---- large tables: rows are queued and folded in batches --------------- */

/* Past the batching threshold, results must be exactly those of folding
 * row by row: 40,000 int keys seen three times each, with string min. */
Test(agg, large_tables_fold_queued_rows_exactly)
{
    enum { NKEYS = 40000 }; /* past S_BATCH_MIN_GROUPS (32768) */
    const int keys[] = {C_INT};
    const s_agg_spec_t aggs[] = {
        {MS_AGG_COUNT, -1}, {MS_AGG_SUM, C_DEC}, {MS_AGG_MIN, C_STR}};
    ms_plan_t *plan = s_plan(1, keys, 3, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    char name[32];
    ms_error_t err = {0};
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < NKEYS; k++) {
            /* The string lives in a buffer overwritten by the next row:
             * a queued row must have kept its own copy. */
            snprintf(name, sizeof name, "n%d-%d", k % 97, 2 - round);
            s_row_t r = {{s_null(), s_i(k), s_dec(100 * (round + 1)), s_null(),
                          s_s(name)}};
            cr_assert_eq(s_update(t, plan, &r, &err), 0, "%s", err.msg);
        }
    }
    cr_assert_eq(ms_agg_table_flush(t, &err), 0, "%s", err.msg);
    cr_assert_eq(ms_agg_table_groups(t), NKEYS);
    s_rows_t got = s_final(t, plan);
    cr_assert_eq(got.n, NKEYS);
    for (int i = 0; i < got.n; i += 997) {
        int k;
        char want[64];
        cr_assert_eq(sscanf(got.rows[i], "%d|", &k), 1, "%s", got.rows[i]);
        snprintf(want, sizeof want, "%d|3|6.00|n%d-0", k, k % 97);
        cr_assert_str_eq(got.rows[i], want);
    }
    s_rows_free(&got);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* An error in a queued row is not lost: the flush reports it. */
Test(agg, large_tables_report_a_queued_rows_error)
{
    const int keys[] = {C_INT};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT_DISTINCT, C_STR}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_error_t err = {0};
    char *huge = malloc(70000);
    memset(huge, 'x', 69999);
    huge[69999] = '\0';
    int rc = 0;
    for (int k = 0; k < 100000 && rc == 0; k++) {
        s_row_t r = {{s_null(), s_i(k % 50000), s_null(), s_null(), s_s("a")}};
        if (k >= 50000) r.v[C_STR] = s_s(huge);
        rc = s_update(t, plan, &r, &err);
    }
    if (rc == 0) rc = ms_agg_table_flush(t, &err);
    cr_assert_eq(rc, MS_ERR_INPUT, "got %d: %s", rc, err.msg);
    free(huge);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* ---- spilling ----------------------------------------------------------- */

/* What the merge handed on: partial rows per partition (or final rows),
 * and whether the groups came in hash order. */
typedef struct {
    msgpack_sbuffer parts[5];
    int nparts, final, ordered;
    uint64_t last_hash, groups;
} s_emitted_t;

static int s_collect(void *arg, const ms_agg_table_t *batch, ms_error_t *err)
{
    s_emitted_t *e = arg;
    for (uint32_t g = 0; g < ms_agg_table_groups(batch); g++) {
        uint64_t h = ms_agg_table_hash(batch, g);
        if (e->groups++ && h < e->last_hash) e->ordered = 0;
        e->last_hash = h;
    }
    if (!e->final)
        return ms_agg_table_pack_partials(batch, e->parts, e->nparts);
    uint64_t n;
    return ms_agg_table_pack_final(batch, &e->parts[0], &n, err);
}

static char *s_spill_dir(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ms-spill-test-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

/* Many groups through a map table with a tiny budget and then reduce
 * tables with one: the result is the unbounded table's. */
Test(agg, spilled_tables_give_the_unspilled_result)
{
    enum { NROWS = 30000, NPARTS = 5 };
    const int keys[] = {C_INT, C_KEY};
    ms_plan_t *plan = s_plan(2, keys, S_NAGGS, s_every_agg);
    s_row_t *rows = s_make_rows(NROWS);
    s_rows_t want = s_one_stage(plan, rows, NROWS);
    char *dir = s_spill_dir();
    ms_error_t err = {0};

    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_agg_spill_t *sp = ms_agg_spill_new(plan, dir, 64 << 10);
    cr_assert(t && sp);
    for (int i = 0; i < NROWS; i++) {
        s_update_ok(t, plan, &rows[i]);
        cr_assert_eq(ms_agg_spill_check(sp, t, &err), 0, "%s", err.msg);
    }
    cr_assert_gt(ms_agg_spill_runs(sp), 3);
    s_emitted_t map = {.nparts = NPARTS, .ordered = 1};
    for (int p = 0; p < NPARTS; p++)
        msgpack_sbuffer_init(&map.parts[p]);
    cr_assert_eq(ms_agg_spill_merge(sp, t, s_collect, &map, &err), 0, "%s",
                 err.msg);
    cr_assert(map.ordered, "merged groups out of hash order");
    cr_assert_gt(ms_agg_spill_disk_bytes(sp), 0);
    cr_assert_gt(ms_agg_spill_memory_bytes(sp), 0);
    ms_agg_spill_destroy(&sp);
    ms_agg_table_destroy(&t);

    s_rows_t got = {0, calloc(1, sizeof(char *))};
    for (int p = 0; p < NPARTS; p++) {
        t = ms_agg_table_new(plan);
        sp = ms_agg_spill_new(plan, dir, 16 << 10);
        msgpack_unpacked up;
        size_t off = 0;
        msgpack_unpacked_init(&up);
        while (off < map.parts[p].size) {
            cr_assert_eq(msgpack_unpack_next(&up, map.parts[p].data,
                                             map.parts[p].size, &off),
                         MSGPACK_UNPACK_SUCCESS);
            cr_assert_eq(ms_agg_table_merge(t, &up.data, &err), 0, "%s",
                         err.msg);
            cr_assert_eq(ms_agg_spill_check(sp, t, &err), 0, "%s", err.msg);
        }
        msgpack_unpacked_destroy(&up);
        cr_assert_gt(ms_agg_spill_runs(sp), 0, "partition %d never spilled", p);
        s_emitted_t fin = {.nparts = 1, .final = 1, .ordered = 1};
        msgpack_sbuffer_init(&fin.parts[0]);
        cr_assert_eq(ms_agg_spill_merge(sp, t, s_collect, &fin, &err), 0, "%s",
                     err.msg);
        s_rows_t part =
            s_decode_final(plan, fin.parts[0].data, fin.parts[0].size);
        got.rows =
            realloc(got.rows, (size_t)(got.n + part.n + 1) * sizeof(char *));
        for (int i = 0; i < part.n; i++)
            got.rows[got.n++] = part.rows[i];
        free(part.rows);
        msgpack_sbuffer_destroy(&fin.parts[0]);
        msgpack_sbuffer_destroy(&map.parts[p]);
        ms_agg_spill_destroy(&sp);
        ms_agg_table_destroy(&t);
    }
    qsort(got.rows, (size_t)got.n, sizeof(char *), s_cmp_str);
    s_expect_rows(&got, &want);
    /* Spill files are unlinked at creation: the directory is empty. */
    cr_assert_eq(rmdir(dir), 0, "spill files left in %s", dir);
    s_rows_free(&got);
    s_rows_free(&want);
    free(rows);
    ms_plan_destroy(&plan);
}

Test(agg, no_budget_never_spills)
{
    const int keys[] = {C_INT};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_agg_spill_t *sp = ms_agg_spill_new(plan, "/nonexistent", 0);
    ms_error_t err = {0};
    for (int k = 0; k < 50000; k++) {
        s_row_t r = {{s_null(), s_i(k), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
        cr_assert_eq(ms_agg_spill_check(sp, t, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(ms_agg_spill_runs(sp), 0);
    cr_assert_eq(ms_agg_spill_disk_bytes(sp), 0);
    ms_agg_spill_destroy(&sp);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* A spill gives the table's memory back, so each run holds about a
 * budget's worth of groups rather than a handful. */
Test(agg, each_spilled_run_holds_a_budgets_worth_of_groups)
{
    const int keys[] = {C_INT};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    char *dir = s_spill_dir();
    ms_agg_spill_t *sp = ms_agg_spill_new(plan, dir, 256 << 10);
    ms_error_t err = {0};
    for (int k = 0; k < 100000; k++) {
        s_row_t r = {{s_null(), s_i(k), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
        if (k % MS_AGG_SPILL_EVERY == 0)
            cr_assert_eq(ms_agg_spill_check(sp, t, &err), 0, "%s", err.msg);
        cr_assert_leq(ms_agg_table_memory(t), 2 * (256 << 10) + (64 << 10),
                      "table of %zu bytes", ms_agg_table_memory(t));
    }
    int runs = ms_agg_spill_runs(sp);
    cr_assert(runs >= 5 && runs <= 60, "%d runs for 100000 groups", runs);
    ms_agg_spill_destroy(&sp);
    ms_agg_table_destroy(&t);
    cr_assert_eq(rmdir(dir), 0);
    ms_plan_destroy(&plan);
}

Test(agg, spilling_into_a_missing_directory_names_it)
{
    const int keys[] = {C_INT};
    const s_agg_spec_t aggs[] = {{MS_AGG_COUNT, -1}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    ms_agg_spill_t *sp = ms_agg_spill_new(plan, "/nonexistent/spill", 1024);
    ms_error_t err = {0};
    int rc = 0;
    for (int k = 0; k < 10000 && rc == 0; k++) {
        s_row_t r = {{s_null(), s_i(k), s_null(), s_null(), s_null()}};
        s_update_ok(t, plan, &r);
        rc = ms_agg_spill_check(sp, t, &err);
    }
    cr_assert_eq(rc, MS_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/spill"), "%s", err.msg);
    ms_agg_spill_destroy(&sp);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}

/* A cleared table keeps nothing of its groups: refilled, it gives what a
 * new table would. */
Test(agg, cleared_table_starts_afresh)
{
    const int keys[] = {C_KEY};
    ms_plan_t *plan = s_plan(1, keys, S_NAGGS, s_every_agg);
    s_row_t *rows = s_make_rows(2000);
    s_rows_t want = s_one_stage(plan, rows + 1000, 1000);
    ms_agg_table_t *t = ms_agg_table_new(plan);
    for (int i = 0; i < 1000; i++)
        s_update_ok(t, plan, &rows[i]);
    ms_agg_table_clear(t);
    cr_assert_eq(ms_agg_table_groups(t), 0);
    for (int i = 1000; i < 2000; i++)
        s_update_ok(t, plan, &rows[i]);
    s_rows_t got = s_final(t, plan);
    s_expect_rows(&got, &want);
    s_rows_free(&got);
    s_rows_free(&want);
    free(rows);
    ms_agg_table_destroy(&t);
    ms_plan_destroy(&plan);
}
