/* Behaviour of the block fetcher against a real shuffle server over
 * loopback: every map output's block arrives once, checked, whatever the
 * number of maps and however the requests are split; a missing or corrupt
 * output is a fetch failure naming that map. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "shuffle/block.h"
#include "shuffle/fetch.h"
#include "shuffle/files.h"
#include "shuffle/server.h"

static char s_dir[64];
static void *s_zctx;
static ms_shuffle_server_t *s_server;

static void s_setup(void)
{
    ms_error_t err = {0};
    snprintf(s_dir, sizeof s_dir, "/tmp/ms_test_fetch_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    s_zctx = zmq_ctx_new();
    cr_assert_eq(ms_shuffle_server_new(&s_server, s_zctx, "tcp://127.0.0.1:*",
                                       s_dir, &err),
                 0, "%s", err.msg);
    cr_assert_eq(ms_shuffle_server_start(s_server), 0);
}

static void s_teardown(void)
{
    int removed;
    ms_shuffle_server_destroy(&s_server);
    zmq_ctx_term(s_zctx);
    ms_shuffle_remove_app(s_dir, "t", &removed);
    rmdir(s_dir);
}

TestSuite(fetch, .init = s_setup, .fini = s_teardown);

/* Map m's block of partition p holds m * 7 + p + 1 copies of "m<m>p<p>;"
 * (partition 1 of every third map is empty). */
static void s_write_map(int m, int nparts, ms_codec_t codec)
{
    msgpack_sbuffer parts[4];
    char row[32];
    uint64_t written;
    ms_error_t err = {0};
    for (int p = 0; p < nparts; p++) {
        msgpack_sbuffer_init(&parts[p]);
        int n = snprintf(row, sizeof row, "m%dp%d;", m, p);
        for (int i = 0; i < m * 7 + p + 1 && !(p == 1 && m % 3 == 0); i++)
            msgpack_sbuffer_write(&parts[p], row, (size_t)n);
    }
    cr_assert_eq(ms_shuffle_write(s_dir, "t", 0, m, parts, nparts, codec, 1,
                                  &written, &err),
                 0, "%s", err.msg);
    for (int p = 0; p < nparts; p++)
        msgpack_sbuffer_destroy(&parts[p]);
}

typedef struct {
    int partition;
    int calls[256];
} s_seen_t;

static int s_check_block(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    (void)err;
    s_seen_t *seen = arg;
    char row[32];
    int p = seen->partition;
    int n = snprintf(row, sizeof row, "m%dp%d;", map, p);
    cr_assert(map >= 0 && map < 256);
    cr_assert_eq(len, (size_t)n * (size_t)(map * 7 + p + 1), "map %d", map);
    for (size_t off = 0; off < len; off += (size_t)n)
        cr_assert_eq(memcmp(raw + off, row, (size_t)n), 0);
    seen->calls[map]++;
    return 0;
}

static int s_fetch(int nmaps, int partition, s_seen_t *seen,
                   ms_fetch_failure_t *fail, ms_error_t *err)
{
    ms_map_loc_t locs[256];
    uint64_t bytes = 0;
    for (int m = 0; m < nmaps; m++)
        locs[m] = (ms_map_loc_t){m, ms_shuffle_server_endpoint(s_server)};
    memset(seen, 0, sizeof *seen);
    seen->partition = partition;
    return ms_shuffle_fetch(s_zctx, "t", 0, partition, locs, nmaps, 10000,
                            s_check_block, seen, &bytes, fail, err);
}

Test(fetch, every_block_arrives_once_for_any_number_of_maps)
{
    const int counts[] = {1, 2, 15, 16, 17, 33, 200};
    for (int m = 0; m < 200; m++)
        s_write_map(m, 3, m % 2 ? MS_CODEC_ZLIB : MS_CODEC_NONE);
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        for (int p = 0; p < 3; p++) {
            s_seen_t seen;
            ms_fetch_failure_t fail;
            ms_error_t err = {0};
            cr_assert_eq(s_fetch(counts[c], p, &seen, &fail, &err), 0,
                         "%d maps: %s", counts[c], err.msg);
            for (int m = 0; m < counts[c]; m++)
                cr_assert_eq(seen.calls[m], p == 1 && m % 3 == 0 ? 0 : 1,
                             "%d maps, partition %d: map %d seen %d times",
                             counts[c], p, m, seen.calls[m]);
        }
    }
}

/* An infinite spark.network.timeout reaches the fetcher as INT64_MAX; a
 * long finite one may not fit an int. Either must wait, not fail at once;
 * 0 still gives no time at all. */
Test(fetch, timeouts_beyond_an_int_wait_and_zero_does_not)
{
    const int64_t waits[] = {INT64_C(1) << 31, (INT64_C(1) << 32) - 1,
                             (INT64_C(1) << 32) + 5, INT64_MAX};
    ms_map_loc_t loc = {0, ms_shuffle_server_endpoint(s_server)};
    s_write_map(0, 1, MS_CODEC_NONE);
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        s_seen_t seen = {.partition = 0};
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        uint64_t bytes = 0;
        cr_assert_eq(ms_shuffle_fetch(s_zctx, "t", 0, 0, &loc, 1, waits[i],
                                      s_check_block, &seen, &bytes, &fail,
                                      &err),
                     0, "timeout %lld ms: %s", (long long)waits[i], err.msg);
        cr_assert_eq(seen.calls[0], 1);
    }
    s_seen_t seen = {.partition = 0};
    ms_fetch_failure_t fail;
    ms_error_t err = {0};
    uint64_t bytes = 0;
    cr_assert_eq(ms_shuffle_fetch(s_zctx, "t", 0, 0, &loc, 1, 0, s_check_block,
                                  &seen, &bytes, &fail, &err),
                 MS_ERR_FETCH);
    cr_assert(fail.unreachable, "%s", err.msg);
}

/* The reply to a request is all or nothing, so the failure blames the
 * request's first map; the reason names the missing file. */
Test(fetch, a_missing_map_output_is_a_failure_of_its_request)
{
    for (int m = 0; m < 40; m++)
        if (m != 29) s_write_map(m, 2, MS_CODEC_NONE);
    s_seen_t seen;
    ms_fetch_failure_t fail;
    ms_error_t err = {0};
    cr_assert_eq(s_fetch(40, 0, &seen, &fail, &err), MS_ERR_FETCH);
    cr_assert(fail.map <= 29, "blamed map %d: %s", fail.map, err.msg);
    cr_assert(strstr(err.msg, "shuffle_t_0_29.index"), "%s", err.msg);
    cr_assert_str_eq(fail.endpoint, ms_shuffle_server_endpoint(s_server));
}

Test(fetch, a_corrupt_block_is_a_failure_naming_its_map)
{
    for (int m = 0; m < 20; m++)
        s_write_map(m, 2, MS_CODEC_NONE);
    uint64_t off, len;
    char path[4096];
    ms_error_t err = {0};
    cr_assert_eq(ms_shuffle_block_range(s_dir, "t", 0, 13, 1, &off, &len, &err),
                 0);
    ms_shuffle_path(path, sizeof path, s_dir, "t", 0, 13, "data");
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, (long)(off + len - 1), SEEK_SET);
    int c = fgetc(f);
    fseek(f, (long)(off + len - 1), SEEK_SET);
    fputc(c ^ 0x01, f);
    fclose(f);
    s_seen_t seen;
    ms_fetch_failure_t fail;
    cr_assert_eq(s_fetch(20, 1, &seen, &fail, &err), MS_ERR_FETCH);
    cr_assert_eq(fail.map, 13, "blamed map %d: %s", fail.map, err.msg);
    cr_assert(strstr(err.msg, "CRC"), "%s", err.msg);
}

/* Large blocks are served from a mapping of the data file; any offset in
 * the file (not page-aligned) must come back byte for byte. */
typedef struct {
    const msgpack_sbuffer *want;
    int calls;
} s_whole_t;

static int s_check_whole(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    (void)map;
    (void)err;
    s_whole_t *w = arg;
    cr_assert_eq(len, w->want->size);
    cr_assert_eq(memcmp(raw, w->want->data, len), 0);
    w->calls++;
    return 0;
}

static void s_write_sizes(int map, msgpack_sbuffer *parts, const size_t *sizes,
                          int nparts)
{
    uint64_t written;
    ms_error_t err = {0};
    for (int p = 0; p < nparts; p++) {
        msgpack_sbuffer_init(&parts[p]);
        for (size_t i = 0; i < sizes[p]; i++) {
            char c = (char)(i * 31 + (size_t)p * 7 + (i >> 9));
            msgpack_sbuffer_write(&parts[p], &c, 1);
        }
    }
    cr_assert_eq(ms_shuffle_write(s_dir, "t", 0, map, parts, nparts,
                                  MS_CODEC_NONE, 1, &written, &err),
                 0, "%s", err.msg);
}

static int s_fetch_whole(int map, int partition, const msgpack_sbuffer *want,
                         ms_fetch_failure_t *fail, ms_error_t *err)
{
    ms_map_loc_t loc = {map, ms_shuffle_server_endpoint(s_server)};
    s_whole_t w = {want, 0};
    uint64_t bytes = 0;
    int rc = ms_shuffle_fetch(s_zctx, "t", 0, partition, &loc, 1, 10000,
                              s_check_whole, &w, &bytes, fail, err);
    if (rc == 0) cr_assert_eq(w.calls, 1);
    return rc;
}

Test(fetch, large_blocks_come_back_whole_from_any_offset)
{
    const size_t sizes[] = {1001, 200000, 65536, 70001, 3};
    msgpack_sbuffer parts[5];
    s_write_sizes(0, parts, sizes, 5);
    for (int p = 0; p < 5; p++) {
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        cr_assert_eq(s_fetch_whole(0, p, &parts[p], &fail, &err), 0,
                     "partition %d: %s", p, err.msg);
        msgpack_sbuffer_destroy(&parts[p]);
    }
}

Test(fetch, a_data_file_shorter_than_its_index_is_a_failure)
{
    const size_t sizes[] = {100, 300000};
    msgpack_sbuffer parts[2];
    char path[4096];
    s_write_sizes(0, parts, sizes, 2);
    for (int p = 0; p < 2; p++)
        msgpack_sbuffer_destroy(&parts[p]);
    s_write_sizes(1, parts, sizes, 2);
    ms_shuffle_path(path, sizeof path, s_dir, "t", 0, 0, "data");
    cr_assert_eq(truncate(path, 200000), 0);
    ms_fetch_failure_t fail;
    ms_error_t err = {0};
    cr_assert_eq(s_fetch_whole(0, 1, &parts[1], &fail, &err), MS_ERR_FETCH);
    cr_assert(strstr(err.msg, "shorter"), "%s", err.msg);
    /* The server is still there for the intact output. */
    cr_assert_eq(s_fetch_whole(1, 1, &parts[1], &fail, &err), 0, "%s", err.msg);
    for (int p = 0; p < 2; p++)
        msgpack_sbuffer_destroy(&parts[p]);
}
