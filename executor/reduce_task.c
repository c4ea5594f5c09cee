/* The reduce side: fetch one partition of every map output, merge the
 * partial states and pack the final rows for the driver. */
#include <stdlib.h>

#include "common/agg.h"
#include "common/mp.h"
#include "executor/tasks.h"

static int s_merge_block(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    ms_agg_table_t *table = arg;
    msgpack_unpacked up;
    size_t off = 0;
    int rc = 0;
    if (!ms_mp_sane((const char *)raw, len))
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "malformed rows in the block of map %d", map);
    msgpack_unpacked_init(&up);
    while (rc == 0 && off < len) {
        if (msgpack_unpack_next(&up, (const char *)raw, len, &off) !=
            MSGPACK_UNPACK_SUCCESS) {
            rc = ms_error_set(err, MS_ERR_CORRUPT,
                              "undecodable rows in the block of map %d", map);
            break;
        }
        rc = ms_agg_table_merge(table, &up.data, err);
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

int ms_reduce_task_run(void *zctx, const ms_task_t *t, const ms_plan_t *plan,
                       const char *app, msgpack_sbuffer *rows,
                       ms_task_metrics_t *m, ms_fetch_failure_t *fail,
                       ms_error_t *err)
{
    ms_agg_table_t *table = ms_agg_table_new(plan);
    ms_map_loc_t *locs = calloc(t->nlocs ? (size_t)t->nlocs : 1, sizeof *locs);
    int rc = MS_ERR_NOMEM;
    if (!table || !locs) {
        ms_error_set(err, rc, "reduce task buffers");
        goto done;
    }
    for (int i = 0; i < t->nlocs; i++)
        locs[i] = (ms_map_loc_t){t->locs[i].map, t->locs[i].endpoint};
    uint64_t fetched = 0, nrows = 0;
    rc = ms_shuffle_fetch(zctx, app, t->shuffle_id, t->partition, locs,
                          t->nlocs, (int)t->fetch_timeout_ms, s_merge_block,
                          table, &fetched, fail, err);
    m->shuffle_fetched = (int64_t)fetched;
    if (rc == 0) rc = ms_agg_table_pack_final(table, rows, &nrows, err);
    m->rows_out = (int64_t)nrows;
done:
    ms_agg_table_destroy(&table);
    free(locs);
    return rc;
}
