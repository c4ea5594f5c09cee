/* Result row order and the reduce side's first rows: whatever the limit,
 * order, ties and NULLs, the rows kept are exactly the first `limit` of a
 * full sort by the same order, and malformed rows are refused. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "common/mp.h"
#include "common/rows.h"

#define S_NROWS 500

/* k (string key, some NULL), n (int64), s (decimal(2), some NULL). */
static ms_plan_t *s_plan(int norder, const ms_order_t *order, int64_t limit)
{
    ms_plan_t *p = ms_plan_new();
    p->schema.ncols = 1;
    snprintf(p->schema.cols[0].name, MS_CSV_NAME_MAX, "k");
    p->schema.cols[0].type = (ms_coltype_t){MS_TYPE_STRING, 0};
    p->keys = calloc(1, sizeof *p->keys);
    p->keys[p->nkeys++] = (ms_key_t){.kind = MS_KEY_COLUMN,
                                     .col = 0,
                                     .type = {MS_TYPE_STRING, 0},
                                     .name = strdup("k")};
    p->aggs = calloc(2, sizeof *p->aggs);
    p->aggs[p->naggs++] = (ms_agg_t){.fn = MS_AGG_COUNT,
                                     .col = -1,
                                     .type = {MS_TYPE_INT64, 0},
                                     .name = strdup("n")};
    p->aggs[p->naggs++] = (ms_agg_t){.fn = MS_AGG_MIN,
                                     .col = 0,
                                     .in = {MS_TYPE_STRING, 0},
                                     .type = {MS_TYPE_STRING, 0},
                                     .name = strdup("m")};
    p->order = calloc((size_t)norder + 1, sizeof *p->order);
    for (int i = 0; i < norder; i++)
        p->order[p->norder++] = order[i];
    p->limit = limit;
    ms_error_t err = {0};
    cr_assert_eq(ms_plan_finish(p, &err), 0, "%s", err.msg);
    return p;
}

/* Rows with many ties on n and m; every key distinct (as groups are). */
static void s_pack_rows(msgpack_sbuffer *sb, char keys[][16])
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < S_NROWS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        snprintf(keys[i], 16, "key%05d", (int)(x % 100000) * 7 + i % 7);
        msgpack_pack_array(&pk, 3);
        if (i == 17)
            msgpack_pack_nil(&pk); /* the NULL key group */
        else
            ms_mp_pack_str(&pk, keys[i]);
        msgpack_pack_int64(&pk, (int64_t)(x % 5));
        if (x % 11 == 0) {
            msgpack_pack_nil(&pk);
        } else {
            char m[4] = {(char)('a' + x % 3), 0};
            ms_mp_pack_str(&pk, m);
        }
    }
}

typedef struct {
    ms_value_t v[3];
} s_row_t;

static const ms_plan_t *s_sort_plan;

static int s_cmp(const void *a, const void *b)
{
    return ms_rows_cmp(s_sort_plan, ((const s_row_t *)a)->v,
                       ((const s_row_t *)b)->v);
}

/* Decodes packed rows (values pointing into buf). */
static int s_decode(const ms_plan_t *plan, const msgpack_sbuffer *buf,
                    s_row_t *rows, msgpack_zone *zone)
{
    size_t off = 0;
    int n = 0;
    while (off < buf->size) {
        msgpack_object o;
        msgpack_unpack_return r =
            msgpack_unpack(buf->data, buf->size, &off, zone, &o);
        cr_assert(r == MSGPACK_UNPACK_SUCCESS ||
                  r == MSGPACK_UNPACK_EXTRA_BYTES);
        const msgpack_object *items;
        cr_assert(ms_mp_array(&o, 3, &items, NULL));
        for (int c = 0; c < 3; c++)
            cr_assert(
                ms_mp_value(&items[c], ms_rows_type(plan, c), &rows[n].v[c]));
        n++;
    }
    return n;
}

static void s_check_first(int norder, const ms_order_t *order, int64_t limit)
{
    ms_plan_t *plan = s_plan(norder, order, limit);
    static char keys[S_NROWS][16];
    msgpack_sbuffer all, kept;
    s_pack_rows(&all, keys);
    s_pack_rows(&kept, keys);
    uint64_t n = S_NROWS;
    ms_error_t err = {0};
    cr_assert_eq(ms_rows_keep_first(plan, &kept, &n, &err), 0, "%s", err.msg);
    int64_t want_n = limit < 0 || limit > S_NROWS ? S_NROWS : limit;
    cr_assert_eq(n, (uint64_t)want_n);

    msgpack_zone zone;
    msgpack_zone_init(&zone, 4096);
    s_row_t *want = calloc(S_NROWS, sizeof *want);
    s_row_t *got = calloc(S_NROWS, sizeof *got);
    s_decode(plan, &all, want, &zone);
    cr_assert_eq(s_decode(plan, &kept, got, &zone), want_n);
    s_sort_plan = plan;
    qsort(want, S_NROWS, sizeof *want, s_cmp);
    qsort(got, (size_t)want_n, sizeof *got, s_cmp);
    for (int i = 0; i < want_n; i++)
        cr_assert_eq(ms_rows_cmp(plan, got[i].v, want[i].v), 0,
                     "row %d of %lld differs", i, (long long)limit);
    free(want);
    free(got);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&all);
    msgpack_sbuffer_destroy(&kept);
    ms_plan_destroy(&plan);
}

Test(rows, keeps_the_first_rows_of_a_full_sort)
{
    const ms_order_t by_n_desc[] = {{1, true}};
    const ms_order_t by_m_then_n[] = {{2, false}, {1, true}};
    const int64_t limits[] = {0, 1, 3, 10, 100, 499, 500, 501};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        s_check_first(0, NULL, limits[i]);
        s_check_first(1, by_n_desc, limits[i]);
        s_check_first(2, by_m_then_n, limits[i]);
    }
}

Test(rows, without_a_limit_rows_are_left_alone)
{
    ms_plan_t *plan = s_plan(0, NULL, -1);
    static char keys[S_NROWS][16];
    msgpack_sbuffer sb;
    s_pack_rows(&sb, keys);
    size_t size = sb.size;
    uint64_t n = S_NROWS;
    ms_error_t err = {0};
    cr_assert_eq(ms_rows_keep_first(plan, &sb, &n, &err), 0);
    cr_assert_eq(n, S_NROWS);
    cr_assert_eq(sb.size, size);
    msgpack_sbuffer_destroy(&sb);
    ms_plan_destroy(&plan);
}

Test(rows, nulls_sort_first_ascending_and_last_descending)
{
    const ms_order_t asc[] = {{0, false}}, desc[] = {{0, true}};
    ms_plan_t *a = s_plan(1, asc, -1), *d = s_plan(1, desc, -1);
    ms_value_t null_row[3] = {{.type = MS_TYPE_NULL},
                              {.type = MS_TYPE_INT64},
                              {.type = MS_TYPE_NULL}};
    ms_value_t row[3] = {{.type = MS_TYPE_STRING, .s = "a", .len = 1},
                         {.type = MS_TYPE_INT64},
                         {.type = MS_TYPE_NULL}};
    cr_assert_lt(ms_rows_cmp(a, null_row, row), 0);
    cr_assert_gt(ms_rows_cmp(d, null_row, row), 0);
    ms_plan_destroy(&a);
    ms_plan_destroy(&d);
}

Test(rows, malformed_rows_are_refused)
{
    ms_plan_t *plan = s_plan(0, NULL, 1);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_array(&pk, 2); /* one column short */
        msgpack_pack_nil(&pk);
        msgpack_pack_int(&pk, 1);
    }
    uint64_t n = 2;
    ms_error_t err = {0};
    cr_assert_eq(ms_rows_keep_first(plan, &sb, &n, &err), MS_ERR_CORRUPT);
    cr_assert_eq(n, 2);
    msgpack_sbuffer_destroy(&sb);
    ms_plan_destroy(&plan);
}

/* sum(decimal) may be a 128-bit ext: the reduce side's first rows by it
 * are those of its exact order. */
Test(rows, keeps_the_first_rows_by_a_wide_decimal_sum)
{
    ms_plan_t *p = ms_plan_new();
    p->keys = calloc(1, sizeof *p->keys);
    p->keys[p->nkeys++] = (ms_key_t){
        .kind = MS_KEY_COLUMN, .type = {MS_TYPE_INT64, 0}, .name = strdup("k")};
    p->aggs = calloc(1, sizeof *p->aggs);
    p->aggs[p->naggs++] = (ms_agg_t){.fn = MS_AGG_SUM,
                                     .col = -1,
                                     .in = {MS_TYPE_DECIMAL, 2},
                                     .type = {MS_TYPE_DECIMAL, 2},
                                     .name = strdup("s")};
    p->order = calloc(1, sizeof *p->order);
    p->order[p->norder++] = (ms_order_t){1, true};
    p->limit = 2;
    const ms_i128_t sums[] = {(ms_i128_t)1 << 90, 5, ((ms_i128_t)1 << 90) + 1,
                              -((ms_i128_t)1 << 90), INT64_MAX};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 5; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, i);
        ms_mp_pack_i128(&pk, sums[i]);
    }
    uint64_t n = 5;
    ms_error_t err = {0};
    cr_assert_eq(ms_rows_keep_first(p, &sb, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 2);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int64_t keys[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
        keys[i] = up.data.via.array.ptr[0].via.i64;
    }
    cr_assert_eq(keys[0], 0); /* in their original order */
    cr_assert_eq(keys[1], 2);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    ms_plan_destroy(&p);
}
