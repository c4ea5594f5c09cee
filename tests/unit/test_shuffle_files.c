/* Behaviour of map output files in a shuffle directory: what a write leaves
 * behind, reading each partition's block back, the errors for missing and
 * damaged outputs, and removal of exactly one application's files. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shuffle/block.h"
#include "shuffle/files.h"

static char s_dir[64];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ms_test_shuffle_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    DIR *d = opendir(s_dir);
    if (!d) return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", s_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(s_dir);
}

TestSuite(shuffle_files, .init = s_setup, .fini = s_teardown);

/* Names of the directory's entries, sorted, joined by spaces. */
static const char *s_listing(void)
{
    static char out[8192];
    char *names[256];
    int n = 0;
    DIR *d = opendir(s_dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256)
        if (de->d_name[0] != '.') names[n++] = strdup(de->d_name);
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(out, " ");
        strcat(out, names[i]);
        free(names[i]);
    }
    return out;
}

static off_t s_size(const char *app, int shuffle, int map, const char *ext)
{
    char path[4096];
    struct stat st;
    ms_shuffle_path(path, sizeof path, s_dir, app, shuffle, map, ext);
    cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
    return st.st_size;
}

/* nparts partitions; those in `empty` (a bit mask) get no rows. Partition p
 * holds p + 1 rows ["p<p>-<i>", i]. */
static msgpack_sbuffer *s_parts(int nparts, unsigned empty)
{
    msgpack_sbuffer *parts = calloc((size_t)nparts, sizeof *parts);
    for (int p = 0; p < nparts; p++) {
        msgpack_sbuffer_init(&parts[p]);
        if (empty & (1u << p)) continue;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &parts[p], msgpack_sbuffer_write);
        for (int i = 0; i <= p; i++) {
            char key[32];
            int n = snprintf(key, sizeof key, "p%d-%d", p, i);
            msgpack_pack_array(&pk, 2);
            msgpack_pack_str(&pk, (size_t)n);
            msgpack_pack_str_body(&pk, key, (size_t)n);
            msgpack_pack_int(&pk, i);
        }
    }
    return parts;
}

static void s_parts_free(msgpack_sbuffer *parts, int nparts)
{
    for (int p = 0; p < nparts; p++)
        msgpack_sbuffer_destroy(&parts[p]);
    free(parts);
}

static void s_write(const char *app, int shuffle, int map,
                    msgpack_sbuffer *parts, int nparts, ms_codec_t codec)
{
    uint64_t written = 0;
    ms_error_t err = {0};
    cr_assert_eq(ms_shuffle_write(s_dir, app, shuffle, map, parts, nparts,
                                  codec, 6, &written, &err),
                 0, "%s", err.msg);
    cr_assert_eq(written, (uint64_t)(s_size(app, shuffle, map, "data") +
                                     s_size(app, shuffle, map, "index")));
}

/* Writes a one-partition output for app. */
static void s_write_small(const char *app, int shuffle, int map)
{
    msgpack_sbuffer *parts = s_parts(1, 0);
    s_write(app, shuffle, map, parts, 1, MS_CODEC_NONE);
    s_parts_free(parts, 1);
}

static void s_expect_block(const char *app, int shuffle, int map, int p,
                           const msgpack_sbuffer *want)
{
    uint8_t *blk = (uint8_t *)1, *raw;
    size_t len = 99, raw_len;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, app, shuffle, map, p, &blk, &len, &err), 0,
        "partition %d: %s", p, err.msg);
    if (want->size == 0) {
        cr_assert_null(blk, "partition %d should be empty", p);
        cr_assert_eq(len, 0);
        return;
    }
    cr_assert_eq(ms_block_decode(blk, len, &raw, &raw_len, &err), 0,
                 "partition %d: %s", p, err.msg);
    cr_assert_eq(raw_len, want->size, "partition %d", p);
    cr_assert_eq(memcmp(raw, want->data, raw_len), 0, "partition %d", p);
    free(raw);
    free(blk);
}

Test(shuffle_files, every_partition_reads_back_including_empty_ones)
{
    const ms_codec_t codecs[] = {MS_CODEC_NONE, MS_CODEC_ZLIB};
    for (int c = 0; c < 2; c++) {
        /* Partitions 0, 2, 3 and 6 are empty: first, middle, adjacent, last. */
        msgpack_sbuffer *parts = s_parts(7, 0x4d);
        s_write("app-1", 4, c, parts, 7, codecs[c]);
        for (int p = 0; p < 7; p++)
            s_expect_block("app-1", 4, c, p, &parts[p]);
        s_parts_free(parts, 7);
    }
}

Test(shuffle_files, index_holds_r_plus_one_offsets_that_cover_the_data)
{
    msgpack_sbuffer *parts = s_parts(5, 0x02);
    s_write("app-1", 0, 3, parts, 5, MS_CODEC_ZLIB);
    cr_assert_eq(s_size("app-1", 0, 3, "index"), 6 * 8);
    char path[4096];
    uint8_t le[48];
    ms_shuffle_path(path, sizeof path, s_dir, "app-1", 0, 3, "index");
    FILE *f = fopen(path, "rb");
    cr_assert_eq(fread(le, 1, sizeof le, f), sizeof le);
    fclose(f);
    uint64_t prev = 0;
    for (int i = 0; i <= 5; i++) {
        uint64_t off = 0;
        for (int b = 7; b >= 0; b--)
            off = off << 8 | le[i * 8 + b];
        if (i == 0) cr_assert_eq(off, 0);
        cr_assert_geq(off, prev, "offsets go backwards at %d", i);
        if (i == 2) cr_assert_eq(off, prev, "empty partition 1 has bytes");
        prev = off;
        uint64_t range_off, range_len;
        ms_error_t err = {0};
        if (i < 5) {
            cr_assert_eq(ms_shuffle_block_range(s_dir, "app-1", 0, 3, i,
                                                &range_off, &range_len, &err),
                         0);
            cr_assert_eq(range_off, off);
        }
    }
    cr_assert_eq(prev, (uint64_t)s_size("app-1", 0, 3, "data"));
    s_parts_free(parts, 5);
}

Test(shuffle_files, write_leaves_only_the_data_and_index_files)
{
    msgpack_sbuffer *parts = s_parts(3, 0);
    s_write("app-1", 2, 9, parts, 3, MS_CODEC_ZLIB);
    cr_assert_str_eq(s_listing(),
                     "shuffle_app-1_2_9.data shuffle_app-1_2_9.index");
    /* A second attempt of the same map replaces the first in place. */
    s_write("app-1", 2, 9, parts, 3, MS_CODEC_NONE);
    cr_assert_str_eq(s_listing(),
                     "shuffle_app-1_2_9.data shuffle_app-1_2_9.index");
    for (int p = 0; p < 3; p++)
        s_expect_block("app-1", 2, 9, p, &parts[p]);
    s_parts_free(parts, 3);
}

Test(shuffle_files, all_empty_partitions_give_an_empty_data_file)
{
    msgpack_sbuffer *parts = s_parts(4, 0xf);
    s_write("app-1", 0, 0, parts, 4, MS_CODEC_ZLIB);
    cr_assert_eq(s_size("app-1", 0, 0, "data"), 0);
    cr_assert_eq(s_size("app-1", 0, 0, "index"), 5 * 8);
    for (int p = 0; p < 4; p++)
        s_expect_block("app-1", 0, 0, p, &parts[p]);
    s_parts_free(parts, 4);
}

Test(shuffle_files, missing_output_is_not_found)
{
    uint8_t *blk = (uint8_t *)1;
    size_t len = 99;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 0, 0, 0, &blk, &len, &err),
        MS_ERR_NOTFOUND);
    cr_assert_null(blk);
    cr_assert_eq(len, 0);
    cr_assert(strstr(err.msg, "shuffle_app-1_0_0.index"), "%s", err.msg);
    /* Another map of the same shuffle does not stand in for it. */
    s_write_small("app-1", 0, 1);
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 0, 0, 0, &blk, &len, &err),
        MS_ERR_NOTFOUND);
}

Test(shuffle_files, index_without_its_data_file_is_not_found)
{
    s_write_small("app-1", 0, 0);
    char path[4096];
    ms_shuffle_path(path, sizeof path, s_dir, "app-1", 0, 0, "data");
    cr_assert_eq(unlink(path), 0);
    uint8_t *blk;
    size_t len;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 0, 0, 0, &blk, &len, &err),
        MS_ERR_NOTFOUND);
}

Test(shuffle_files, truncated_data_file_is_corrupt)
{
    msgpack_sbuffer *parts = s_parts(3, 0);
    s_write("app-1", 1, 1, parts, 3, MS_CODEC_ZLIB);
    char path[4096];
    ms_shuffle_path(path, sizeof path, s_dir, "app-1", 1, 1, "data");
    off_t size = s_size("app-1", 1, 1, "data");
    cr_assert_eq(truncate(path, size - 1), 0);
    uint8_t *blk = (uint8_t *)1;
    size_t len = 99;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 1, 1, 2, &blk, &len, &err),
        MS_ERR_CORRUPT);
    cr_assert_null(blk);
    /* Earlier partitions are still whole. */
    s_expect_block("app-1", 1, 1, 0, &parts[0]);
    cr_assert_eq(truncate(path, 0), 0);
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 1, 1, 0, &blk, &len, &err),
        MS_ERR_CORRUPT);
    s_parts_free(parts, 3);
}

Test(shuffle_files, partition_outside_the_index_is_corrupt)
{
    msgpack_sbuffer *parts = s_parts(3, 0);
    s_write("app-1", 0, 0, parts, 3, MS_CODEC_NONE);
    uint8_t *blk;
    size_t len;
    ms_error_t err = {0};
    const int bad[] = {3, 4, 1000, -1};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ms_shuffle_read_block(s_dir, "app-1", 0, 0, bad[i], &blk,
                                           &len, &err),
                     MS_ERR_CORRUPT, "partition %d", bad[i]);
    s_parts_free(parts, 3);
}

Test(shuffle_files, index_with_offsets_going_backwards_is_corrupt)
{
    s_write_small("app-1", 0, 0);
    char path[4096];
    ms_shuffle_path(path, sizeof path, s_dir, "app-1", 0, 0, "index");
    uint8_t le[16] = {0};
    le[0] = 200; /* offsets 200, 0 */
    FILE *f = fopen(path, "wb");
    fwrite(le, 1, sizeof le, f);
    fclose(f);
    uint8_t *blk;
    size_t len;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_read_block(s_dir, "app-1", 0, 0, 0, &blk, &len, &err),
        MS_ERR_CORRUPT);
}

/* ---- removing an application's files ----------------------------------- */

static int s_exists(const char *app, int shuffle, int map, const char *ext)
{
    char path[4096];
    ms_shuffle_path(path, sizeof path, s_dir, app, shuffle, map, ext);
    return access(path, F_OK) == 0;
}

Test(shuffle_files, remove_app_removes_only_that_apps_files)
{
    const char *apps[] = {"a", "a-b", "ab", "b-a", "app-1", "app-10", "app-2"};
    for (int i = 0; i < 7; i++) {
        s_write_small(apps[i], 0, 0);
        s_write_small(apps[i], 1, 3);
    }
    char other[4096];
    snprintf(other, sizeof other, "%s/notes.txt", s_dir);
    fclose(fopen(other, "w"));

    int removed = -1;
    cr_assert_eq(ms_shuffle_remove_app(s_dir, "a", &removed), 0);
    cr_assert_eq(removed, 4);
    cr_assert(!s_exists("a", 0, 0, "data") && !s_exists("a", 1, 3, "index"));
    for (int i = 1; i < 7; i++)
        cr_assert(s_exists(apps[i], 0, 0, "data") &&
                      s_exists(apps[i], 1, 3, "index"),
                  "removing 'a' took %s's files", apps[i]);

    cr_assert_eq(ms_shuffle_remove_app(s_dir, "app-1", &removed), 0);
    cr_assert_eq(removed, 4);
    cr_assert(s_exists("app-10", 0, 0, "data"), "app-10 lost its files");
    cr_assert(s_exists("app-2", 1, 3, "index"), "app-2 lost its files");
    cr_assert_eq(access(other, F_OK), 0, "a foreign file was removed");

    /* Removing again finds nothing. */
    cr_assert_eq(ms_shuffle_remove_app(s_dir, "app-1", &removed), 0);
    cr_assert_eq(removed, 0);
}

Test(shuffle_files, remove_app_refuses_unsafe_ids)
{
    s_write_small("a", 0, 0);
    const char *bad[] = {"", "../x", "a/b", "*", "a_b", "."};
    for (int i = 0; i < 6; i++) {
        int removed = -1;
        cr_assert_eq(ms_shuffle_remove_app(s_dir, bad[i], &removed),
                     MS_ERR_USAGE, "'%s'", bad[i]);
        cr_assert_eq(removed, 0);
    }
    cr_assert(s_exists("a", 0, 0, "data"));
}

Test(shuffle_files, remove_app_in_a_missing_dir_removes_nothing)
{
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope", s_dir);
    int removed = -1;
    cr_assert_eq(ms_shuffle_remove_app(missing, "app-1", &removed), 0);
    cr_assert_eq(removed, 0);
}

Test(shuffle_files, valid_app_id_is_letters_digits_and_dashes)
{
    char id[128];
    cr_assert(ms_shuffle_valid_app_id("app-1"));
    cr_assert(ms_shuffle_valid_app_id("A"));
    cr_assert(ms_shuffle_valid_app_id("app-20240101-0001"));
    memset(id, 'x', 63);
    id[63] = '\0';
    cr_assert(ms_shuffle_valid_app_id(id), "63 characters refused");
    const char *bad[] = {"",    "../x", "a/b", "a_b",         "a.b",
                         "a b", "..",   "a\n", "caf\xc3\xa9", "a\\b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!ms_shuffle_valid_app_id(bad[i]), "accepted '%s'", bad[i]);
    id[63] = 'x';
    id[64] = '\0';
    cr_assert(!ms_shuffle_valid_app_id(id), "64 characters accepted");
    memset(id, 'y', 127);
    id[127] = '\0';
    cr_assert(!ms_shuffle_valid_app_id(id), "127 characters accepted");
}

/* A stopping executor closes its outputs before removing them: a task
 * still running can then neither start an output nor put one in place.
 * (Criterion runs each test in its own process: the close stays here.) */
Test(shuffle_files, nothing_is_written_once_outputs_are_closed)
{
    ms_shuffle_writer_t *w = NULL, *late = NULL;
    ms_error_t err = {0};
    uint64_t bytes;
    cr_assert_eq(ms_shuffle_writer_open(&w, s_dir, "app-1", 0, 3, 2,
                                        MS_CODEC_NONE, 0, &err),
                 0, "%s", err.msg);
    cr_assert_eq(ms_shuffle_writer_add(w, 0, "rows", 4, &err), 0, "%s",
                 err.msg);
    ms_shuffle_outputs_close();
    cr_assert_lt(ms_shuffle_writer_commit(w, &bytes, &err), 0);
    cr_assert(strstr(err.msg, "stopping"), "%s", err.msg);
    ms_shuffle_writer_destroy(&w);
    cr_assert_lt(ms_shuffle_writer_open(&late, s_dir, "app-1", 0, 4, 2,
                                        MS_CODEC_NONE, 0, &err),
                 0);
    cr_assert_null(late);
    cr_assert_str_eq(s_listing(), "");
}
