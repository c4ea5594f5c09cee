/* Ordering result rows, and keeping a reduce task's first rows with a heap
 * whose top is the worst row kept. */
#include "common/rows.h"

#include <stdlib.h>
#include <string.h>

#include "common/mp.h"

ms_coltype_t ms_rows_type(const ms_plan_t *plan, int c)
{
    return c < plan->nkeys ? plan->keys[c].type
                           : plan->aggs[c - plan->nkeys].type;
}

bool ms_rows_wide(const ms_plan_t *plan, int c)
{
    if (c < plan->nkeys) return false;
    const ms_agg_t *a = &plan->aggs[c - plan->nkeys];
    return (a->fn == MS_AGG_SUM || a->fn == MS_AGG_AVG) &&
           a->type.type == MS_TYPE_DECIMAL;
}

bool ms_rows_value(const ms_plan_t *plan, int c, const msgpack_object *o,
                   ms_value_t *out)
{
    ms_coltype_t t = ms_rows_type(plan, c);
    return ms_rows_wide(plan, c) ? ms_mp_wide_value(o, t, out)
                                 : ms_mp_value(o, t, out);
}

int ms_rows_cmp(const ms_plan_t *plan, const ms_value_t *x, const ms_value_t *y)
{
    for (int i = 0; i < plan->norder; i++) {
        int c = plan->order[i].col;
        int r = ms_value_cmp(&x[c], &y[c]);
        /* NULLs sort first, so descending puts them last, as Spark does. */
        if (r) return plan->order[i].desc ? -r : r;
    }
    for (int c = 0; c < plan->nkeys + plan->naggs; c++) {
        int r = ms_value_cmp(&x[c], &y[c]);
        if (r) return r;
    }
    return 0;
}

/* A kept row: where its bytes are and its values (strings point into the
 * packed rows, which outlive the heap). */
typedef struct {
    const ms_plan_t *plan;
    int ncols;
    size_t n, cap;
    size_t *off, *len;
    ms_value_t *vals; /* cap x ncols */
} s_heap_t;

static ms_value_t *s_vals(const s_heap_t *h, size_t i)
{
    return &h->vals[i * (size_t)h->ncols];
}

static void s_swap(s_heap_t *h, size_t a, size_t b)
{
    ms_value_t *x = s_vals(h, a), *y = s_vals(h, b);
    for (int c = 0; c < h->ncols; c++) {
        ms_value_t tmp = x[c];
        x[c] = y[c];
        y[c] = tmp;
    }
    size_t o = h->off[a], l = h->len[a];
    h->off[a] = h->off[b];
    h->len[a] = h->len[b];
    h->off[b] = o;
    h->len[b] = l;
}

/* True when row a sorts after row b: the worse one goes up. */
static int s_worse(const s_heap_t *h, size_t a, size_t b)
{
    return ms_rows_cmp(h->plan, s_vals(h, a), s_vals(h, b)) > 0;
}

static void s_sift_up(s_heap_t *h, size_t i)
{
    while (i > 0 && s_worse(h, i, (i - 1) / 2)) {
        s_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void s_sift_down(s_heap_t *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < h->n && s_worse(h, l, m)) m = l;
        if (l + 1 < h->n && s_worse(h, l + 1, m)) m = l + 1;
        if (m == i) return;
        s_swap(h, i, m);
        i = m;
    }
}

/* Decodes row into slot i of the heap. */
static int s_decode(s_heap_t *h, size_t i, const msgpack_object *row,
                    ms_error_t *err)
{
    const msgpack_object *items;
    if (!ms_mp_array(row, h->ncols, &items, NULL))
        return ms_error_set(err, MS_ERR_CORRUPT, "result row of wrong width");
    for (int c = 0; c < h->ncols; c++)
        if (!ms_rows_value(h->plan, c, &items[c], &s_vals(h, i)[c]))
            return ms_error_set(err, MS_ERR_CORRUPT, "bad value in result row");
    return 0;
}

/* Offers the row at [off, off+len) to the heap of at most cap rows. */
static int s_offer(s_heap_t *h, const msgpack_object *row, size_t off,
                   size_t len, ms_error_t *err)
{
    /* Slot n (one past the heap) is scratch for the candidate. */
    int rc = s_decode(h, h->n, row, err);
    if (rc < 0) return rc;
    h->off[h->n] = off;
    h->len[h->n] = len;
    if (h->n < h->cap) {
        s_sift_up(h, h->n++);
    } else if (s_worse(h, 0, h->n)) {
        s_swap(h, 0, h->n);
        s_sift_down(h, 0);
    }
    return 0;
}

static int s_cmp_off(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int ms_rows_keep_first(const ms_plan_t *plan, msgpack_sbuffer *rows,
                       uint64_t *nrows, ms_error_t *err)
{
    if (plan->limit < 0 || *nrows <= (uint64_t)plan->limit) return 0;
    s_heap_t h = {.plan = plan,
                  .ncols = plan->nkeys + plan->naggs,
                  .cap = (size_t)plan->limit};
    h.off = malloc((h.cap + 1) * sizeof *h.off);
    h.len = malloc((h.cap + 1) * sizeof *h.len);
    h.vals = malloc((h.cap + 1) * (size_t)h.ncols * sizeof *h.vals);
    ms_mp_seq_t seq;
    int rc = ms_mp_seq_init(&seq, rows->data, rows->size)
                 ? 0
                 : ms_error_set(err, MS_ERR_CORRUPT, "malformed result rows");
    if (rc == 0 && !(h.off && h.len && h.vals))
        rc = ms_error_set(err, MS_ERR_NOMEM, "result rows kept");
    msgpack_object row;
    size_t start = 0;
    for (int got; rc == 0 && (got = ms_mp_seq_next(&seq, &row)) != 0;
         start = seq.off)
        rc = got < 0
                 ? ms_error_set(err, MS_ERR_CORRUPT, "undecodable result rows")
                 : s_offer(&h, &row, start, seq.off - start, err);
    msgpack_sbuffer kept;
    msgpack_sbuffer_init(&kept);
    if (rc == 0) {
        /* In their original order, so equal inputs give equal bytes. */
        size_t *order = malloc((h.n ? h.n : 1) * 2 * sizeof *order);
        if (!order) rc = ms_error_set(err, MS_ERR_NOMEM, "result rows kept");
        for (size_t i = 0; rc == 0 && i < h.n; i++) {
            order[2 * i] = h.off[i];
            order[2 * i + 1] = h.len[i];
        }
        if (rc == 0) qsort(order, h.n, 2 * sizeof *order, s_cmp_off);
        for (size_t i = 0; rc == 0 && i < h.n; i++)
            if (msgpack_sbuffer_write(&kept, rows->data + order[2 * i],
                                      order[2 * i + 1]) < 0)
                rc = ms_error_set(err, MS_ERR_NOMEM, "result rows kept");
        free(order);
    }
    if (rc == 0) {
        msgpack_sbuffer_destroy(rows);
        *rows = kept;
        *nrows = h.n;
    } else {
        msgpack_sbuffer_destroy(&kept);
    }
    ms_mp_seq_destroy(&seq);
    free(h.off);
    free(h.len);
    free(h.vals);
    return rc;
}
