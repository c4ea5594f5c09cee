/* The reduce side: fetch one partition of every map output, merge the
 * partial states and pack the final rows for the driver. */
#include <stdlib.h>

#include "common/agg.h"
#include "common/agg_spill.h"
#include "common/mp.h"
#include "common/rows.h"
#include "executor/tasks.h"

typedef struct {
    ms_agg_table_t *table;
    ms_agg_spill_t *spill;
    msgpack_sbuffer *rows;
    uint64_t nrows;
    uint64_t merged; /* partial rows merged */
} s_reduce_t;

static int s_merge_block(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    s_reduce_t *r = arg;
    ms_mp_seq_t seq;
    msgpack_object rows[MS_AGG_MERGE_BATCH];
    int rc = 0, got = 1, n = 0;
    if (!ms_mp_seq_init(&seq, raw, len)) {
        ms_mp_seq_destroy(&seq);
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "malformed rows in the block of map %d", map);
    }
    while (rc == 0 && got > 0) {
        got = ms_mp_seq_next_kept(&seq, &rows[n]);
        if (got < 0)
            rc = ms_error_set(err, MS_ERR_CORRUPT,
                              "undecodable rows in the block of map %d", map);
        else if (got > 0)
            n++;
        if (rc < 0 || (n < MS_AGG_MERGE_BATCH && got > 0)) continue;
        rc = ms_agg_table_merge_rows(r->table, rows, n, err);
        ms_mp_seq_release(&seq);
        r->merged += (uint64_t)n;
        n = 0;
        if (rc == 0 && r->merged % MS_AGG_SPILL_EVERY < MS_AGG_MERGE_BATCH)
            rc = ms_agg_spill_check(r->spill, r->table, err);
    }
    ms_mp_seq_destroy(&seq);
    return rc;
}

static int s_emit_final(void *arg, const ms_agg_table_t *batch, ms_error_t *err)
{
    s_reduce_t *r = arg;
    uint64_t n;
    int rc = ms_agg_table_pack_final(batch, r->rows, &n, err);
    r->nrows += n;
    return rc;
}

int ms_reduce_task_run(void *zctx, const ms_task_t *t, const ms_plan_t *plan,
                       const char *app, const char *dir, msgpack_sbuffer *rows,
                       ms_task_metrics_t *m, ms_fetch_failure_t *fail,
                       ms_error_t *err)
{
    s_reduce_t r = {.table = ms_agg_table_new(plan),
                    .spill = ms_agg_spill_new(plan, dir, plan->agg_memory),
                    .rows = rows};
    ms_map_loc_t *locs = calloc(t->nlocs ? (size_t)t->nlocs : 1, sizeof *locs);
    int rc = MS_ERR_NOMEM;
    if (!r.table || !r.spill || !locs) {
        ms_error_set(err, rc, "reduce task buffers");
        goto done;
    }
    for (int i = 0; i < t->nlocs; i++)
        locs[i] = (ms_map_loc_t){t->locs[i].map, t->locs[i].endpoint};
    uint64_t fetched = 0;
    /* minispark.test.stallFetch: no time at all for the answers. */
    int64_t timeout_ms =
        t->inject == MS_INJECT_STALL_FETCH ? 0 : t->fetch_timeout_ms;
    rc =
        ms_shuffle_fetch(zctx, app, t->shuffle_id, t->partition, locs, t->nlocs,
                         timeout_ms, s_merge_block, &r, &fetched, fail, err);
    m->shuffle_fetched = (int64_t)fetched;
    if (rc == 0 && ms_agg_spill_runs(r.spill) == 0) {
        rc = s_emit_final(&r, r.table, err);
    } else if (rc == 0) {
        rc = ms_agg_spill_merge(r.spill, r.table, s_emit_final, &r, err);
        m->memory_spilled = ms_agg_spill_memory_bytes(r.spill);
        m->disk_spilled = ms_agg_spill_disk_bytes(r.spill);
    }
    if (rc == 0) rc = ms_rows_keep_first(plan, rows, &r.nrows, err);
    m->rows_out = (int64_t)r.nrows;
done:
    ms_agg_table_destroy(&r.table);
    ms_agg_spill_destroy(&r.spill);
    free(locs);
    return rc;
}
