/* libFuzzer harness for the reduce side of a fetch: the block decoder, then
 * every decoded row merged into an aggregation table of a fixed plan (key:
 * one string; count(*), sum of a decimal, min of a string, count_distinct
 * of an int). Any bytes must give an error or rows, never a crash, a leak or
 * a read past the buffer; whatever merges must survive its own partials. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/agg.h"
#include "common/mp.h"
#include "shuffle/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_agg(ms_plan_t *p, ms_agg_fn_t fn, int col, ms_type_t type,
                  int scale, const char *name)
{
    ms_agg_t *a = &p->aggs[p->naggs++];
    a->fn = fn;
    a->col = col;
    a->in =
        col < 0 ? (ms_coltype_t){MS_TYPE_NULL, 0} : (ms_coltype_t){type, scale};
    a->type = fn == MS_AGG_COUNT || fn == MS_AGG_COUNT_DISTINCT
                  ? (ms_coltype_t){MS_TYPE_INT64, 0}
                  : a->in;
    a->name = strdup(name);
}

/* Built once and kept: the plan is the same for every input. */
static const ms_plan_t *s_plan(void)
{
    static ms_plan_t *plan;
    if (plan) return plan;
    plan = ms_plan_new();
    if (!plan) abort();
    ms_schema_t *s = &plan->schema;
    s->ncols = 4;
    strcpy(s->cols[0].name, "k");
    s->cols[0].type = (ms_coltype_t){MS_TYPE_STRING, 0};
    strcpy(s->cols[1].name, "amount");
    s->cols[1].type = (ms_coltype_t){MS_TYPE_DECIMAL, 2};
    strcpy(s->cols[2].name, "name");
    s->cols[2].type = (ms_coltype_t){MS_TYPE_STRING, 0};
    strcpy(s->cols[3].name, "id");
    s->cols[3].type = (ms_coltype_t){MS_TYPE_INT64, 0};
    plan->keys = calloc(1, sizeof *plan->keys);
    plan->aggs = calloc(4, sizeof *plan->aggs);
    if (!plan->keys || !plan->aggs) abort();
    plan->keys[0] = (ms_key_t){
        MS_KEY_COLUMN, 0, MS_TRUNC_HOUR, 0, {MS_TYPE_STRING, 0}, strdup("k")};
    plan->nkeys = 1;
    s_agg(plan, MS_AGG_COUNT, -1, MS_TYPE_NULL, 0, "count(1)");
    s_agg(plan, MS_AGG_SUM, 1, MS_TYPE_DECIMAL, 2, "sum(amount)");
    s_agg(plan, MS_AGG_MIN, 2, MS_TYPE_STRING, 0, "min(name)");
    s_agg(plan, MS_AGG_COUNT_DISTINCT, 3, MS_TYPE_INT64, 0,
          "count(DISTINCT id)");
    ms_error_t err;
    if (ms_plan_finish(plan, &err) < 0) abort();
    return plan;
}

/* Merges every row of raw[0..len) into t until one is refused, reading
 * them as the reduce task does (sanity pre-check included: msgpack-c
 * would allocate whatever a container claims). */
static void s_merge_rows(ms_agg_table_t *t, const char *raw, size_t len)
{
    ms_mp_seq_t seq;
    msgpack_object row;
    ms_error_t err;
    if (ms_mp_seq_init(&seq, raw, len))
        while (ms_mp_seq_next(&seq, &row) == 1)
            if (ms_agg_table_merge(t, &row, &err) < 0) break;
    ms_mp_seq_destroy(&seq);
}

/* The table's own partials, in one partition, must merge into a fresh table
 * without error and give the same final rows, byte for byte. */
static void s_check_partials(const ms_plan_t *plan, const ms_agg_table_t *t)
{
    msgpack_sbuffer part, want, got;
    uint64_t nwant = 0, ngot = 0;
    ms_error_t err;
    msgpack_sbuffer_init(&part);
    msgpack_sbuffer_init(&want);
    msgpack_sbuffer_init(&got);
    ms_agg_table_pack_partials(t, &part, 1);
    ms_agg_table_t *again = ms_agg_table_new(plan);
    if (!again) abort();
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    while (off < part.size &&
           msgpack_unpack_next(&up, part.data, part.size, &off) ==
               MSGPACK_UNPACK_SUCCESS)
        if (ms_agg_table_merge(again, &up.data, &err) < 0) __builtin_trap();
    msgpack_unpacked_destroy(&up);
    if (off != part.size) __builtin_trap();
    int rc_want = ms_agg_table_pack_final(t, &want, &nwant, &err);
    int rc_got = ms_agg_table_pack_final(again, &got, &ngot, &err);
    if (rc_want != rc_got || nwant != ngot || want.size != got.size ||
        (want.size && memcmp(want.data, got.data, want.size) != 0))
        __builtin_trap();
    ms_agg_table_destroy(&again);
    msgpack_sbuffer_destroy(&part);
    msgpack_sbuffer_destroy(&want);
    msgpack_sbuffer_destroy(&got);
}

/* Decodes blk and, if it holds rows, merges them and checks the table. */
static void s_run(const uint8_t *blk, size_t size)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    ms_error_t err;
    if (ms_block_decode(blk, size, &raw, &len, &err) < 0) {
        if (raw || len) __builtin_trap();
        return;
    }
    if ((raw == NULL) != (len == 0)) __builtin_trap();
    const ms_plan_t *plan = s_plan();
    ms_agg_table_t *t = ms_agg_table_new(plan);
    if (!t) abort();
    s_merge_rows(t, (const char *)raw, len);
    s_check_partials(plan, t);
    /* Spread over several partitions too, as a map task would. */
    msgpack_sbuffer parts[3];
    for (int p = 0; p < 3; p++)
        msgpack_sbuffer_init(&parts[p]);
    ms_agg_table_pack_partials(t, parts, 3);
    for (int p = 0; p < 3; p++)
        msgpack_sbuffer_destroy(&parts[p]);
    ms_agg_table_destroy(&t);
    free(raw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_run(data, size);
    /* A CRC stops nearly every mutated block at the decoder, so the bytes
     * also go through the real encoder as a stored block: that way the merge
     * sees arbitrary rows too. */
    uint8_t *blk;
    size_t len;
    if (ms_block_encode(data, size, MS_CODEC_NONE, 0, &blk, &len) < 0) abort();
    s_run(blk, len);
    free(blk);
    return 0;
}
