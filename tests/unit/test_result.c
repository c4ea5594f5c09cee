/* Behaviour of the driver's result: ordering (NULLs first ascending, last
 * descending, ties by every column), limit, the global aggregate's row over
 * empty input, CSV quoting, the show() table and the atomic write. Rows are
 * packed by hand as a reduce task would send them. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mp.h"
#include "driver/jobfile.h"
#include "driver/result.h"

#define S_I64 ((ms_coltype_t){MS_TYPE_INT64, 0})
#define S_DEC2 ((ms_coltype_t){MS_TYPE_DECIMAL, 2})
#define S_DBL ((ms_coltype_t){MS_TYPE_DOUBLE, 0})
#define S_STR ((ms_coltype_t){MS_TYPE_STRING, 0})
#define S_NONE ((ms_coltype_t){MS_TYPE_NULL, 0})

static char s_dir[64];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ms_test_result_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

/* Removes the temp dir, one level of subdirectories deep. */
static void s_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) < 0) s_rm_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

static void s_teardown(void)
{
    s_rm_tree(s_dir);
}

TestSuite(result, .init = s_setup, .fini = s_teardown);

/* ---- plans, rows and queries -------------------------------------------- */

typedef struct {
    const char *name;
    ms_coltype_t type;
    ms_agg_fn_t fn; /* aggregates only */
} s_col_t;

static ms_plan_t *s_plan(int nkeys, const s_col_t *keys, int naggs,
                         const s_col_t *aggs)
{
    ms_plan_t *p = ms_plan_new();
    p->keys = calloc((size_t)nkeys + 1, sizeof *p->keys);
    p->aggs = calloc((size_t)naggs + 1, sizeof *p->aggs);
    for (int i = 0; i < nkeys; i++) {
        ms_key_t *k = &p->keys[p->nkeys++];
        k->kind = MS_KEY_COLUMN;
        k->type = keys[i].type;
        k->name = strdup(keys[i].name);
    }
    for (int i = 0; i < naggs; i++) {
        ms_agg_t *a = &p->aggs[p->naggs++];
        a->fn = aggs[i].fn;
        a->col = -1;
        a->type = aggs[i].type;
        a->name = strdup(aggs[i].name);
    }
    return p;
}

/* The usual plan: k string; n = count, total = sum(decimal(2)), mean = avg
 * as a double. */
static ms_plan_t *s_kv_plan(void)
{
    const s_col_t keys[] = {{"k", S_STR, 0}};
    const s_col_t aggs[] = {{"n", S_I64, MS_AGG_COUNT},
                            {"total", S_DEC2, MS_AGG_SUM},
                            {"mean", S_DBL, MS_AGG_AVG}};
    return s_plan(1, keys, 3, aggs);
}

/* A cell of a hand-packed row: 's' string, 'i' integer, 'd' double, 'n' nil,
 * 'w' a 128-bit integer (ms_mp_pack_i128). */
typedef struct {
    char kind;
    const char *s;
    int64_t i;
    double d;
    ms_i128_t w;
} s_cell_t;

#define S_S(x) ((s_cell_t){'s', (x), 0, 0, 0})
#define S_I(x) ((s_cell_t){'i', NULL, (x), 0, 0})
#define S_D(x) ((s_cell_t){'d', NULL, 0, (x), 0})
#define S_N ((s_cell_t){'n', NULL, 0, 0, 0})
#define S_W(x) ((s_cell_t){'w', NULL, 0, 0, (x)})

static void s_pack_row(msgpack_packer *pk, int n, const s_cell_t *cells)
{
    msgpack_pack_array(pk, (size_t)n);
    for (int c = 0; c < n; c++) {
        const s_cell_t *v = &cells[c];
        if (v->kind == 's') {
            msgpack_pack_str(pk, strlen(v->s));
            msgpack_pack_str_body(pk, v->s, strlen(v->s));
        } else if (v->kind == 'i') {
            msgpack_pack_int64(pk, v->i);
        } else if (v->kind == 'd') {
            msgpack_pack_double(pk, v->d);
        } else if (v->kind == 'w') {
            ms_mp_pack_i128(pk, v->w);
        } else {
            msgpack_pack_nil(pk);
        }
    }
}

/* Adds nrows rows of width cells each, as one reduce task's output. */
static void s_add(ms_result_t *r, int width, int nrows, const s_cell_t *cells)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < nrows; i++)
        s_pack_row(&pk, width, cells + i * width);
    ms_error_t err = {0};
    cr_assert_eq(ms_result_add(r, sb.data ? sb.data : "", sb.size, &err), 0,
                 "%s", err.msg);
    msgpack_sbuffer_destroy(&sb);
}

/* Five rows over two "reduce tasks", in no useful order. */
static ms_result_t *s_kv_result(const ms_plan_t *plan)
{
    ms_result_t *r = ms_result_new(plan);
    cr_assert_not_null(r);
    const s_cell_t a[] = {
        S_S("fr"), S_I(3),  S_I(1050), S_D(2.5), /**/
        S_N,       S_I(3),  S_N,       S_N,      /**/
        S_S("de"), S_I(10), S_I(-5),   S_D(1),
    };
    const s_cell_t b[] = {
        S_S("es"), S_I(3), S_I(1050), S_D(0.25), /**/
        S_S("at"), S_I(1), S_N,       S_D(-1),
    };
    s_add(r, 4, 3, a);
    s_add(r, 4, 2, b);
    return r;
}

static ms_query_spec_t s_query(int norder, ms_order_spec_t *order,
                               int64_t limit)
{
    return (ms_query_spec_t){.norder = norder, .order = order, .limit = limit};
}

/* Sets the plan's order and limit as the planner would from q, then
 * finishes the result. */
static void s_finish(ms_plan_t *plan, ms_result_t *r, ms_query_spec_t q)
{
    free(plan->order);
    plan->order = calloc((size_t)q.norder + 1, sizeof *plan->order);
    plan->norder = q.norder;
    plan->limit = q.limit;
    for (int i = 0; i < q.norder; i++) {
        int col = -1;
        for (int c = 0; c < plan->nkeys + plan->naggs && col < 0; c++) {
            const char *name = c < plan->nkeys
                                   ? plan->keys[c].name
                                   : plan->aggs[c - plan->nkeys].name;
            if (strcmp(name, q.order[i].column) == 0) col = c;
        }
        cr_assert_geq(col, 0, "no column %s", q.order[i].column);
        plan->order[i] = (ms_order_t){col, q.order[i].desc};
    }
    ms_error_t err = {0};
    cr_assert_eq(ms_result_finish(r, &err), 0, "%s", err.msg);
}

/* ---- reading outputs
 * ---------------------------------------------------------- */

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *s_csv(const ms_result_t *r)
{
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", s_dir);
    ms_error_t err = {0};
    cr_assert_eq(ms_result_write_csv(r, path, &err), 0, "%s", err.msg);
    return s_slurp(path);
}

static const char *s_show(const ms_result_t *r, int64_t max_rows)
{
    static char *buf;
    size_t len;
    free(buf);
    FILE *f = open_memstream(&buf, &len);
    ms_result_show(r, f, max_rows);
    fclose(f);
    return buf;
}

/* Entries of the temp dir other than `except`. */
static int s_others_in_dir(const char *dir, const char *except)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.' && strcmp(de->d_name, except) != 0) n++;
    closedir(d);
    return n;
}

/* ---- ordering
 * ------------------------------------------------------------------ */

Test(result, without_order_by_rows_sort_by_every_column_ascending)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 5);
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               ",3,,\n"
                               "at,1,,-1.0\n"
                               "de,10,-0.05,1.0\n"
                               "es,3,10.50,0.25\n"
                               "fr,3,10.50,2.5\n");
    ms_result_destroy(&r);
    cr_assert_null(r);
    ms_plan_destroy(&plan);
}

Test(result, ascending_order_puts_nulls_first)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"total", false}};
    s_finish(plan, r, s_query(1, order, -1));
    /* NULL totals first, tied NULLs by k (NULL first), then the rest. */
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               ",3,,\n"
                               "at,1,,-1.0\n"
                               "de,10,-0.05,1.0\n"
                               "es,3,10.50,0.25\n"
                               "fr,3,10.50,2.5\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, descending_order_puts_nulls_last)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"total", true}};
    s_finish(plan, r, s_query(1, order, -1));
    /* Ties on total are broken by all columns ascending: es before fr, and
     * the NULL key before at. */
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               "es,3,10.50,0.25\n"
                               "fr,3,10.50,2.5\n"
                               "de,10,-0.05,1.0\n"
                               ",3,,\n"
                               "at,1,,-1.0\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, descending_order_on_a_string_key_puts_null_last)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"k", true}};
    s_finish(plan, r, s_query(1, order, -1));
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               "fr,3,10.50,2.5\n"
                               "es,3,10.50,0.25\n"
                               "de,10,-0.05,1.0\n"
                               "at,1,,-1.0\n"
                               ",3,,\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, ties_are_broken_by_all_columns_ascending)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"n", true}};
    s_finish(plan, r, s_query(1, order, -1));
    /* n = 3 three times: k NULL, es, fr in ascending order. */
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               "de,10,-0.05,1.0\n"
                               ",3,,\n"
                               "es,3,10.50,0.25\n"
                               "fr,3,10.50,2.5\n"
                               "at,1,,-1.0\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, later_order_columns_break_ties_of_earlier_ones)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"n", false}, {"mean", true}};
    s_finish(plan, r, s_query(2, order, -1));
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                               "at,1,,-1.0\n"
                               "fr,3,10.50,2.5\n"
                               "es,3,10.50,0.25\n"
                               ",3,,\n"
                               "de,10,-0.05,1.0\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, limit_keeps_the_first_rows_after_ordering)
{
    const int64_t limits[] = {-1, 0, 1, 2, 5, 6, 1000};
    const int64_t counts[] = {5, 0, 1, 2, 5, 5, 5};
    for (int i = 0; i < 7; i++) {
        ms_plan_t *plan = s_kv_plan();
        ms_result_t *r = s_kv_result(plan);
        ms_order_spec_t order[] = {{"n", true}};
        s_finish(plan, r, s_query(1, order, limits[i]));
        cr_assert_eq(ms_result_count(r), counts[i], "limit %lld",
                     (long long)limits[i]);
        if (limits[i] == 2)
            cr_assert_str_eq(s_csv(r), "k,n,total,mean\n"
                                       "de,10,-0.05,1.0\n"
                                       ",3,,\n");
        if (limits[i] == 0) cr_assert_str_eq(s_csv(r), "k,n,total,mean\n");
        ms_result_destroy(&r);
        ms_plan_destroy(&plan);
    }
}

/* ---- global aggregates
 * ------------------------------------------------------------ */

static ms_plan_t *s_global_plan(void)
{
    const s_col_t aggs[] = {
        {"count(1)", S_I64, MS_AGG_COUNT},
        {"sum(x)", S_DEC2, MS_AGG_SUM},
        {"min(s)", S_STR, MS_AGG_MIN},
        {"count(DISTINCT s)", S_I64, MS_AGG_COUNT_DISTINCT},
        {"avg(x)", (ms_coltype_t){MS_TYPE_DECIMAL, 6}, MS_AGG_AVG}};
    return s_plan(0, NULL, 5, aggs);
}

Test(result, global_aggregate_over_no_rows_gives_one_row)
{
    ms_plan_t *plan = s_global_plan();
    ms_result_t *r = ms_result_new(plan);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 1);
    cr_assert_str_eq(s_csv(r), "count(1),sum(x),min(s),count(DISTINCT s),"
                               "avg(x)\n"
                               "0,,,0,\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, global_aggregate_with_a_row_gets_no_extra_row)
{
    ms_plan_t *plan = s_global_plan();
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t row[] = {S_I(2), S_I(150), S_S("a"), S_I(1), S_I(750000)};
    s_add(r, 5, 1, row);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 1);
    cr_assert_str_eq(s_csv(r), "count(1),sum(x),min(s),count(DISTINCT s),"
                               "avg(x)\n"
                               "2,1.50,a,1,0.750000\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, grouped_aggregate_over_no_rows_gives_no_rows)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = ms_result_new(plan);
    s_add(r, 4, 0, NULL);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 0);
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* ---- malformed rows
 * ---------------------------------------------------------------- */

Test(result, add_refuses_malformed_rows)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    const s_cell_t narrow[] = {S_S("x"), S_I(1), S_N};
    const s_cell_t wide[] = {S_S("x"), S_I(1), S_N, S_N, S_N};
    const s_cell_t str_count[] = {S_S("x"), S_S("1"), S_N, S_N};
    const s_cell_t int_key[] = {S_I(7), S_I(1), S_N, S_N};
    const s_cell_t int_mean[] = {S_S("x"), S_I(1), S_N, S_I(2)};
    const s_cell_t dbl_total[] = {S_S("x"), S_I(1), S_D(1.5), S_N};
    const struct {
        int width;
        const s_cell_t *cells;
    } bad[] = {{3, narrow},  {5, wide},     {4, str_count},
               {4, int_key}, {4, int_mean}, {4, dbl_total}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        s_pack_row(&pk, bad[i].width, bad[i].cells);
        ms_error_t err = {0};
        cr_assert_eq(ms_result_add(r, sb.data, sb.size, &err), MS_ERR_PROTO,
                     "case %zu", i);
        /* Cut short, the same row is refused too. */
        cr_assert_eq(ms_result_add(r, sb.data, sb.size - 1, &err), MS_ERR_PROTO,
                     "case %zu cut", i);
        msgpack_sbuffer_destroy(&sb);
    }
    ms_error_t err = {0};
    cr_assert_eq(ms_result_add(r, "\xc1", 1, &err), MS_ERR_PROTO);
    cr_assert_eq(ms_result_count(r), 5, "refused rows were kept");
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 5);
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, strings_are_copied_out_of_the_callers_buffer)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = ms_result_new(plan);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const s_cell_t row[] = {S_S("kept"), S_I(1), S_N, S_N};
    s_pack_row(&pk, 4, row);
    ms_error_t err = {0};
    cr_assert_eq(ms_result_add(r, sb.data, sb.size, &err), 0);
    memset(sb.data, 'x', sb.size);
    msgpack_sbuffer_destroy(&sb);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_str_eq(s_csv(r), "k,n,total,mean\nkept,1,,\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* msgpack-c decodes a zero-length string that comes first in a buffer with
 * a NULL pointer; the result must still keep it as an empty string. */
Test(result, empty_string_from_the_wire_is_kept)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t row[] = {S_S(""), S_I(2), S_N, S_N};
    s_add(r, 4, 1, row);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_eq(ms_result_count(r), 1);
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* ---- CSV
 * ----------------------------------------------------------------------------
 */

Test(result, csv_quotes_fields_with_comma_quote_cr_or_lf)
{
    const s_col_t keys[] = {{"name, full", S_STR, 0}};
    const s_col_t aggs[] = {{"say \"hi\"", S_I64, MS_AGG_COUNT}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t rows[] = {
        S_S("plain"),
        S_I(1), /**/
        S_S("a,b"),
        S_I(2), /**/
        S_S("say \"x\""),
        S_I(3), /**/
        S_S("line\nbreak"),
        S_I(4), /**/
        S_S("cr\rhere"),
        S_I(5), /**/
        S_N,
        S_I(6),
    };
    s_add(r, 2, 6, rows);
    ms_order_spec_t order[] = {{"say \"hi\"", false}};
    s_finish(plan, r, s_query(1, order, -1));
    cr_assert_str_eq(s_csv(r), "\"name, full\",\"say \"\"hi\"\"\"\n"
                               "plain,1\n"
                               "\"a,b\",2\n"
                               "\"say \"\"x\"\"\",3\n"
                               "\"line\nbreak\",4\n"
                               "\"cr\rhere\",5\n"
                               ",6\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, csv_writes_numbers_in_their_column_type)
{
    const s_col_t keys[] = {{"ts", (ms_coltype_t){MS_TYPE_TIMESTAMP, 0}, 0}};
    const s_col_t aggs[] = {
        {"sum", (ms_coltype_t){MS_TYPE_DECIMAL, 3}, MS_AGG_SUM},
        {"avg", S_DBL, MS_AGG_AVG}};
    ms_plan_t *plan = s_plan(1, keys, 2, aggs);
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t rows[] = {S_I(0),          S_I(-1),     S_D(0.1), /**/
                             S_I(1700000000), S_I(123456), S_D(1e21)};
    s_add(r, 3, 2, rows);
    s_finish(plan, r, s_query(0, NULL, -1));
    const char *csv = s_csv(r);
    const char *want = "ts,sum,avg\n1970-01-01 00:00:00,-0.001,0.1\n"
                       "2023-11-14 22:13:20,123.456,";
    cr_assert(strncmp(csv, want, strlen(want)) == 0, "%s", csv);
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* sum and avg of decimals may need 38 digits: such values come as 128-bit
 * exts, sort exactly among the 64-bit ones and print every digit. */
Test(result, wide_decimal_sums_sort_and_print_exactly)
{
    const s_col_t keys[] = {{"k", S_STR, 0}};
    const s_col_t aggs[] = {{"total", S_DEC2, MS_AGG_SUM}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_result_t *r = ms_result_new(plan);
    ms_i128_t big = (ms_i128_t)INT64_MAX * 1000000000000000000;
    const s_cell_t rows[] = {
        S_S("a"), S_W(big),       /**/
        S_S("b"), S_I(INT64_MAX), /**/
        S_S("c"), S_W(-big),      /**/
        S_S("d"), S_W(big + 1),   /**/
        S_S("e"), S_I(INT64_MIN), /**/
        S_S("f"), S_W((ms_i128_t)INT64_MIN - 1),
    };
    s_add(r, 2, 6, rows);
    ms_order_spec_t order[] = {{"total", true}};
    s_finish(plan, r, s_query(1, order, -1));
    cr_assert_str_eq(s_csv(r), "k,total\n"
                               "d,92233720368547758070000000000000000.01\n"
                               "a,92233720368547758070000000000000000.00\n"
                               "b,92233720368547758.07\n"
                               "e,-92233720368547758.08\n"
                               "f,-92233720368547758.09\n"
                               "c,-92233720368547758070000000000000000.00\n");
    cr_assert_not_null(strstr(s_show(r, 10), "|d|92233720368547758...|"));
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* A wide value's bytes belong to the result, not to the reply they came
 * in. */
Test(result, wide_decimals_are_copied_out_of_the_callers_buffer)
{
    const s_col_t aggs[] = {{"total", S_DEC2, MS_AGG_SUM}};
    ms_plan_t *plan = s_plan(0, NULL, 1, aggs);
    ms_result_t *r = ms_result_new(plan);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_pack_row(&pk, 1, (s_cell_t[]){S_W((ms_i128_t)1 << 100)});
    ms_error_t err = {0};
    cr_assert_eq(ms_result_add(r, sb.data, sb.size, &err), 0, "%s", err.msg);
    memset(sb.data, 0xff, sb.size);
    msgpack_sbuffer_destroy(&sb);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_str_eq(s_csv(r), "total\n12676506002282294014967032053.76\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* Only sum and avg of decimals may be wide, only in the canonical form and
 * only up to 38 digits. */
Test(result, add_refuses_wide_values_where_they_cannot_be)
{
    const s_col_t aggs[] = {{"n", S_I64, MS_AGG_COUNT},
                            {"total", S_DEC2, MS_AGG_SUM},
                            {"m", S_DEC2, MS_AGG_MAX}};
    ms_plan_t *plan = s_plan(0, NULL, 3, aggs);
    ms_i128_t e38 = 1;
    for (int i = 0; i < 38; i++)
        e38 *= 10;
    const ms_i128_t big = (ms_i128_t)1 << 80;
    const struct {
        s_cell_t row[3];
        const char *what;
    } bad[] = {
        {{S_W(big), S_I(1), S_I(1)}, "wide count"},
        {{S_I(1), S_I(1), S_W(big)}, "wide max"},
        {{S_I(1), S_W(e38), S_I(1)}, "39 digits"},
        {{S_I(1), S_W(-e38), S_I(1)}, "39 digits, negative"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_result_t *r = ms_result_new(plan);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        s_pack_row(&pk, 3, bad[i].row);
        ms_error_t err = {0};
        cr_assert_eq(ms_result_add(r, sb.data, sb.size, &err), MS_ERR_PROTO,
                     "%s accepted", bad[i].what);
        msgpack_sbuffer_destroy(&sb);
        ms_result_destroy(&r);
    }
    /* An ext holding a value that fits 64 bits, and a 17-byte ext. */
    for (int len = 16; len <= 17; len++) {
        ms_result_t *r = ms_result_new(plan);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        uint8_t b[17] = {0};
        b[len - 1] = 5;
        msgpack_pack_array(&pk, 3);
        msgpack_pack_int(&pk, 1);
        msgpack_pack_ext(&pk, (size_t)len, MS_MP_EXT_I128);
        msgpack_pack_ext_body(&pk, b, (size_t)len);
        msgpack_pack_int(&pk, 1);
        ms_error_t err = {0};
        cr_assert_eq(ms_result_add(r, sb.data, sb.size, &err), MS_ERR_PROTO,
                     "ext of %d accepted", len);
        msgpack_sbuffer_destroy(&sb);
        ms_result_destroy(&r);
    }
    ms_plan_destroy(&plan);
}

/* ---- show()
 * -------------------------------------------------------------------------- */

Test(result, show_prints_a_right_aligned_table)
{
    const s_col_t keys[] = {{"country", S_STR, 0}};
    const s_col_t aggs[] = {{"total", S_DEC2, MS_AGG_SUM},
                            {"cnt", S_I64, MS_AGG_COUNT}};
    ms_plan_t *plan = s_plan(1, keys, 2, aggs);
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t rows[] = {S_S("DE"),     S_I(123456), S_I(3), /**/
                             S_S("France"), S_I(-5),     S_I(1000)};
    s_add(r, 3, 2, rows);
    s_finish(plan, r, s_query(0, NULL, -1));
    cr_assert_str_eq(s_show(r, 20), "+-------+-------+----+\n"
                                    "|country|  total| cnt|\n"
                                    "+-------+-------+----+\n"
                                    "|     DE|1234.56|   3|\n"
                                    "| France|  -0.05|1000|\n"
                                    "+-------+-------+----+\n");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, show_says_when_it_shows_only_the_top_rows)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    ms_order_spec_t order[] = {{"n", true}};
    s_finish(plan, r, s_query(1, order, -1));
    const char *out = s_show(r, 2);
    const char *tail = "only showing top 2 rows\n";
    size_t n = strlen(out);
    cr_assert(n > strlen(tail) && strcmp(out + n - strlen(tail), tail) == 0,
              "%s", out);
    /* Header rule, header, rule, two rows, rule, note. */
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 7, "%s", out);
    cr_assert(strstr(out, "de|") && strstr(out, "|-0.05|"), "%s", out);
    /* All rows shown: no note. */
    out = s_show(r, 5);
    cr_assert_null(strstr(out, "only showing"), "%s", out);
    out = s_show(r, 20);
    cr_assert_null(strstr(out, "only showing"), "%s", out);
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, show_cuts_cells_over_20_characters_to_17_and_dots)
{
    const s_col_t keys[] = {{"a_column_name_of_25_chars", S_STR, 0}};
    const s_col_t aggs[] = {{"cnt", S_I64, MS_AGG_COUNT}};
    ms_plan_t *plan = s_plan(1, keys, 1, aggs);
    ms_result_t *r = ms_result_new(plan);
    const s_cell_t rows[] = {S_S("exactly-twenty-chars"), S_I(1), /**/
                             S_S("twenty-one-characters"), S_I(2)};
    s_add(r, 2, 2, rows);
    ms_order_spec_t order[] = {{"cnt", false}};
    s_finish(plan, r, s_query(1, order, -1));
    cr_assert_str_eq(s_show(r, 20), "+--------------------+---+\n"
                                    "|a_column_name_of_...|cnt|\n"
                                    "+--------------------+---+\n"
                                    "|exactly-twenty-chars|  1|\n"
                                    "|twenty-one-charac...|  2|\n"
                                    "+--------------------+---+\n");
    /* The CSV keeps the whole value. */
    cr_assert(strstr(s_csv(r), "twenty-one-characters,2\n"));
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

/* ---- writing
 * ------------------------------------------------------------------------- */

Test(result, write_leaves_no_temp_file_and_replaces_the_old_file_whole)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    s_finish(plan, r, s_query(0, NULL, -1));
    char path[128];
    snprintf(path, sizeof path, "%s/out.csv", s_dir);
    FILE *f = fopen(path, "w");
    fputs("an old result that is longer than the new one, by far, by far, "
          "by far, by far, by far, by far, by far, by far, by far, by far\n",
          f);
    fclose(f);
    struct stat before, after;
    cr_assert_eq(stat(path, &before), 0);
    ms_error_t err = {0};
    cr_assert_eq(ms_result_write_csv(r, path, &err), 0, "%s", err.msg);
    cr_assert_eq(s_others_in_dir(s_dir, "out.csv"), 0, "temp file left");
    cr_assert_str_eq(s_slurp(path), "k,n,total,mean\n"
                                    ",3,,\n"
                                    "at,1,,-1.0\n"
                                    "de,10,-0.05,1.0\n"
                                    "es,3,10.50,0.25\n"
                                    "fr,3,10.50,2.5\n");
    /* Renamed into place, not rewritten in place: readers of the old file
     * never see a half-written one. */
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_neq(before.st_ino, after.st_ino);
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, write_creates_missing_directories)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    s_finish(plan, r, s_query(0, NULL, 1));
    char path[128];
    snprintf(path, sizeof path, "%s/a/b/out.csv", s_dir);
    ms_error_t err = {0};
    cr_assert_eq(ms_result_write_csv(r, path, &err), 0, "%s", err.msg);
    cr_assert_str_eq(s_slurp(path), "k,n,total,mean\n,3,,\n");
    char dir[128];
    snprintf(dir, sizeof dir, "%s/a/b", s_dir);
    cr_assert_eq(s_others_in_dir(dir, "out.csv"), 0, "temp file left");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}

Test(result, failed_write_leaves_no_temp_file)
{
    ms_plan_t *plan = s_kv_plan();
    ms_result_t *r = s_kv_result(plan);
    s_finish(plan, r, s_query(0, NULL, -1));
    /* The target is a non-empty directory: the rename cannot succeed. */
    char path[128], inside[160];
    snprintf(path, sizeof path, "%s/taken", s_dir);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(inside, sizeof inside, "%s/keep", path);
    fclose(fopen(inside, "w"));
    ms_error_t err = {0};
    cr_assert_eq(ms_result_write_csv(r, path, &err), MS_ERR_IO);
    cr_assert(strstr(err.msg, "taken"), "%s", err.msg);
    cr_assert_eq(s_others_in_dir(s_dir, "taken"), 0, "temp file left");
    ms_result_destroy(&r);
    ms_plan_destroy(&plan);
}
