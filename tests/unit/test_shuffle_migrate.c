/* Moving map outputs: what a directory lists, what a receiver accepts
 * (only whole, consistent outputs, leaving no file behind otherwise), the
 * server's PUT_OUTPUT handling without a socket, a put to a real server
 * thread and to a fallback folder, and reducers reading such a folder. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/mp.h"
#include "common/plan.h"
#include "common/proto.h"
#include "shuffle/block.h"
#include "shuffle/fetch.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"
#include "shuffle/server.h"

#define S_APP "app-7"
#define S_PARTS 3

static char s_src[64], s_dst[64];
static void *s_zctx;
/* Destroyed by the teardown, so that a failed assertion does not leave a
 * socket open and zmq_ctx_term waiting for it forever. */
static ms_shuffle_server_t *s_srv;

static void s_setup(void)
{
    snprintf(s_src, sizeof s_src, "/tmp/ms-test-migrate-src-XXXXXX");
    snprintf(s_dst, sizeof s_dst, "/tmp/ms-test-migrate-dst-XXXXXX");
    cr_assert_not_null(mkdtemp(s_src));
    cr_assert_not_null(mkdtemp(s_dst));
    s_zctx = zmq_ctx_new();
}

static int s_rm(const char *path, const struct stat *st, int flag,
                struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void s_teardown(void)
{
    ms_shuffle_server_destroy(&s_srv);
    zmq_ctx_term(s_zctx);
    nftw(s_src, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    nftw(s_dst, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(migrate, .init = s_setup, .fini = s_teardown);

/* ---- outputs --------------------------------------------------------------
 */

/* Map m's partition p: (m * 5 + p + 1) * 3 copies of "m<m>p<p>;", except
 * partition 1 of an even map, which is empty. */
static size_t s_rows(int m, int p, uint8_t *buf)
{
    char row[32];
    size_t len = 0;
    int n = snprintf(row, sizeof row, "m%dp%d;", m, p);
    for (int i = 0; i < (m * 5 + p + 1) * 3 && !(p == 1 && m % 2 == 0); i++) {
        memcpy(buf + len, row, (size_t)n);
        len += (size_t)n;
    }
    return len;
}

static void s_write_map(const char *dir, int shuffle, int m, ms_codec_t codec)
{
    msgpack_sbuffer parts[S_PARTS];
    uint8_t rows[4096];
    uint64_t written;
    ms_error_t err = {0};
    for (int p = 0; p < S_PARTS; p++) {
        msgpack_sbuffer_init(&parts[p]);
        size_t n = s_rows(m, p, rows);
        if (n) msgpack_sbuffer_write(&parts[p], (const char *)rows, n);
    }
    cr_assert_eq(ms_shuffle_write(dir, S_APP, shuffle, m, parts, S_PARTS, codec,
                                  1, &written, &err),
                 0, "%s", err.msg);
    for (int p = 0; p < S_PARTS; p++)
        msgpack_sbuffer_destroy(&parts[p]);
}

typedef struct {
    uint8_t *index, *data;
    size_t ilen, dlen;
} s_out_t;

static uint8_t *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *buf = malloc(*len + 1);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static s_out_t s_load(const char *dir, int shuffle, int map)
{
    char path[4096];
    s_out_t o;
    ms_shuffle_path(path, sizeof path, dir, S_APP, shuffle, map, "index");
    o.index = s_slurp(path, &o.ilen);
    ms_shuffle_path(path, sizeof path, dir, S_APP, shuffle, map, "data");
    o.data = s_slurp(path, &o.dlen);
    return o;
}

static void s_free(s_out_t *o)
{
    free(o->index);
    free(o->data);
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The file names in dir, sorted, separated by spaces. */
static const char *s_listing(const char *dir)
{
    static char buf[4096];
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    cr_assert_geq(n, 0);
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            if (buf[0]) strcat(buf, " ");
            strcat(buf, names[i]->d_name);
        }
        free(names[i]);
    }
    free(names);
    return buf;
}

/* Puts o as (shuffle 0, map) into dir, its data cut into pieces of piece
 * bytes (0: one piece). */
static int s_put(const char *dir, int map, const s_out_t *o, size_t piece,
                 ms_error_t *err)
{
    struct iovec iov[4096];
    int n = 0;
    size_t step = piece ? piece : o->dlen;
    for (size_t off = 0; off < o->dlen; off += step, n++) {
        size_t k = o->dlen - off < step ? o->dlen - off : step;
        iov[n] = (struct iovec){o->data + off, k};
    }
    return ms_shuffle_put(dir, S_APP, 0, map, o->index, o->ilen, iov, n, err);
}

/* Every partition of (shuffle 0, map) reads back from dir as written. */
static void s_expect_map(const char *dir, int map)
{
    for (int p = 0; p < S_PARTS; p++) {
        uint8_t *blk, *raw, want[4096];
        size_t len, raw_len, n = s_rows(map, p, want);
        ms_error_t err = {0};
        cr_assert_eq(
            ms_shuffle_read_block(dir, S_APP, 0, map, p, &blk, &len, &err), 0,
            "%s", err.msg);
        cr_assert_eq(ms_block_decode(blk, len, &raw, &raw_len, &err), 0, "%s",
                     err.msg);
        cr_assert_eq(raw_len, n, "map %d partition %d", map, p);
        cr_assert(n == 0 || memcmp(raw, want, n) == 0);
        free(blk);
        free(raw);
    }
}

/* ---- listing --------------------------------------------------------------
 */

static void s_touch(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
}

Test(migrate, list_gives_committed_outputs_of_the_app_sorted)
{
    const char *names[] = {
        "shuffle_app-7_1_0.index",  "shuffle_app-7_0_10.index",
        "shuffle_app-7_0_2.index",  "shuffle_app-7_0_1.index",
        "shuffle_app-7_0_3.data",   "shuffle_app-7_0_4.index.tmp.12",
        "shuffle_app-7_00_5.index", "shuffle_app-7_0_5.indexx",
        "shuffle_app-7_x_5.index",  "shuffle_app-7_0_5_6.index",
        "shuffle_app-7_-1_5.index", "shuffle_app-7_0_2147483648.index",
        "shuffle_app-77_0_0.index", "shuffle_app-7_0_.index",
        "shuffle_app-8_0_0.index",  "shuffle_app-7_0_2147483647.index",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        s_touch(s_src, names[i]);
    ms_output_ref_t *refs;
    int n;
    ms_error_t err = {0};
    cr_assert_eq(ms_shuffle_list_outputs(s_src, S_APP, &refs, &n, &err), 0,
                 "%s", err.msg);
    const ms_output_ref_t want[] = {
        {0, 1}, {0, 2}, {0, 10}, {0, 2147483647}, {1, 0}};
    cr_assert_eq(n, 5);
    for (int i = 0; i < n; i++)
        cr_assert(refs[i].shuffle == want[i].shuffle &&
                      refs[i].map == want[i].map,
                  "%d: (%d, %d)", i, refs[i].shuffle, refs[i].map);
    free(refs);
}

Test(migrate, list_of_a_missing_dir_is_empty_and_bad_ids_refused)
{
    ms_output_ref_t *refs;
    int n = 1;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/none", s_src);
    cr_assert_eq(ms_shuffle_list_outputs(dir, S_APP, &refs, &n, NULL), 0);
    cr_assert_eq(n, 0);
    cr_assert_null(refs);
    cr_assert_eq(ms_shuffle_list_outputs(s_src, "a_b", &refs, &n, NULL),
                 MS_ERR_USAGE);
}

/* ---- put ------------------------------------------------------------------
 */

Test(migrate, put_stores_an_output_that_reads_back_whole)
{
    ms_error_t err = {0};
    for (int m = 0; m < 4; m++) {
        s_write_map(s_src, 0, m, m % 2 ? MS_CODEC_ZLIB : MS_CODEC_NONE);
        s_out_t o = s_load(s_src, 0, m);
        /* pieces of 7 bytes: every block spans several */
        cr_assert_eq(s_put(s_dst, m, &o, m < 2 ? 0 : 7, &err), 0, "%s",
                     err.msg);
        s_free(&o);
        s_expect_map(s_dst, m);
    }
    cr_assert_str_eq(
        s_listing(s_dst),
        "shuffle_app-7_0_0.data shuffle_app-7_0_0.index shuffle_app-7_0_1.data "
        "shuffle_app-7_0_1.index shuffle_app-7_0_2.data "
        "shuffle_app-7_0_2.index "
        "shuffle_app-7_0_3.data shuffle_app-7_0_3.index");
}

Test(migrate, put_replaces_an_older_copy)
{
    ms_error_t err = {0};
    s_write_map(s_src, 0, 1, MS_CODEC_NONE);
    s_write_map(s_src, 0, 2, MS_CODEC_LZ4);
    s_out_t one = s_load(s_src, 0, 1), two = s_load(s_src, 0, 2);
    cr_assert_eq(s_put(s_dst, 1, &two, 0, &err), 0, "%s", err.msg);
    cr_assert_eq(s_put(s_dst, 1, &one, 0, &err), 0, "%s", err.msg);
    s_expect_map(s_dst, 1);
    s_free(&one);
    s_free(&two);
}

Test(migrate, put_of_an_output_with_only_empty_partitions)
{
    /* as many partitions as a plan may have */
    size_t len = 8 * (MS_PLAN_MAX_PARTITIONS + 1);
    uint8_t *index = calloc(1, len);
    ms_error_t err = {0};
    cr_assert_eq(ms_shuffle_put(s_dst, S_APP, 3, 4, index, len, NULL, 0, &err),
                 0, "%s", err.msg);
    free(index);
    cr_assert_str_eq(s_listing(s_dst),
                     "shuffle_app-7_3_4.data shuffle_app-7_3_4.index");
}

/* Puts o (mutated) and expects MS_ERR_CORRUPT for the reason said in
 * err, and no file at all. */
static void s_expect_refused(const s_out_t *o, size_t piece, const char *why,
                             const char *reason)
{
    ms_error_t err = {0};
    cr_assert_eq(s_put(s_dst, 0, o, piece, &err), MS_ERR_CORRUPT,
                 "accepted: %s", why);
    cr_assert(strstr(err.msg, reason), "%s: %s", why, err.msg);
    cr_assert_str_eq(s_listing(s_dst), "", "%s left files", why);
}

static s_out_t s_stored_map(void)
{
    s_write_map(s_src, 0, 1, MS_CODEC_NONE);
    return s_load(s_src, 0, 1);
}

Test(migrate, put_refuses_a_short_or_odd_index)
{
    s_out_t o = s_stored_map();
    size_t len = o.ilen;
    o.ilen = 8;
    s_expect_refused(&o, 0, "one offset", "offsets");
    o.ilen = 0;
    s_expect_refused(&o, 0, "no index", "offsets");
    o.ilen = len - 3;
    s_expect_refused(&o, 0, "odd index", "offsets");
    s_free(&o);
}

Test(migrate, put_refuses_offsets_not_starting_at_zero)
{
    s_out_t o = s_stored_map();
    s_put64(o.index, 1);
    s_expect_refused(&o, 0, "first offset 1", "does not start at 0");
    s_free(&o);
}

Test(migrate, put_refuses_offsets_going_backwards)
{
    s_out_t o = s_stored_map();
    s_put64(o.index + 8, o.dlen - 1);
    s_put64(o.index + 16, 5);
    s_expect_refused(&o, 0, "decreasing offsets", "backwards at partition 1");
    s_free(&o);
}

Test(migrate, put_refuses_data_of_another_length_than_the_index_says)
{
    s_out_t o = s_stored_map();
    o.dlen--;
    s_expect_refused(&o, 0, "short data", "the data holds");
    o.data = realloc(o.data, o.dlen + 2);
    o.dlen += 2;
    s_expect_refused(&o, 0, "long data", "the data holds");
    s_free(&o);
}

Test(migrate, put_refuses_a_block_with_a_bad_crc_or_magic)
{
    s_out_t o = s_stored_map();
    o.data[MS_BLOCK_HEADER + 3] ^= 1;
    s_expect_refused(&o, 0, "body byte flipped", "partition 0: CRC");
    s_expect_refused(&o, 7, "body byte flipped, in pieces", "partition 0: CRC");
    o.data[MS_BLOCK_HEADER + 3] ^= 1;
    o.data[o.dlen - 1] ^= 0x40;
    s_expect_refused(&o, 5, "last byte flipped, in pieces", "partition 2: CRC");
    o.data[o.dlen - 1] ^= 0x40;
    o.data[0] ^= 0xff;
    s_expect_refused(&o, 0, "bad magic", "partition 0: bad block header");
    s_free(&o);
}

Test(migrate, put_refuses_more_partitions_than_a_plan_may_have)
{
    size_t len = 8 * (MS_PLAN_MAX_PARTITIONS + 2);
    s_out_t o = {calloc(1, len), NULL, len, 0};
    s_expect_refused(&o, 0, "too many partitions", "offsets");
    s_free(&o);
}

/* (Criterion runs each test in its own process: the close stays here.) */
Test(migrate, put_is_refused_once_outputs_are_closed)
{
    ms_error_t err = {0};
    s_out_t o = s_stored_map();
    ms_shuffle_outputs_close();
    cr_assert_eq(s_put(s_dst, 0, &o, 0, &err), MS_ERR_FAILED);
    cr_assert_str_eq(s_listing(s_dst), "");
    s_free(&o);
}

/* ---- the server's PUT_OUTPUT ----------------------------------------------
 */

static ms_shuffle_server_t *s_server(bool standalone)
{
    ms_error_t err = {0};
    cr_assert_eq(ms_shuffle_server_new(&s_srv, s_zctx, "inproc://migrate-test",
                                       s_dst, &err),
                 0, "%s", err.msg);
    if (standalone)
        cr_assert_eq(ms_shuffle_server_reap_apps(s_srv, 60000, NULL), 0);
    return s_srv;
}

static void s_frame(zmq_msg_t *f, const void *p, size_t n)
{
    zmq_msg_init_size(f, n);
    if (n) memcpy(zmq_msg_data(f), p, n);
}

/* Handles b (freed) then the extra frames from client "exec-2". */
static int s_handle(ms_shuffle_server_t *srv, ms_msg_builder_t *b,
                    zmq_msg_t *extra, int nextra, ms_shuffle_reply_t *r)
{
    zmq_msg_t frames[3 + MS_SHUFFLE_PUT_MAX_CHUNKS + 1];
    s_frame(&frames[0], "exec-2", 6);
    s_frame(&frames[1], b->sb.data, b->sb.size);
    ms_msg_builder_free(b);
    for (int i = 0; i < nextra; i++)
        frames[2 + i] = extra[i];
    int rc = ms_shuffle_server_handle(srv, frames, 2 + nextra, 0, r);
    ms_frames_close(frames, 2 + nextra);
    return rc;
}

static void s_put_header(ms_msg_builder_t *b, int64_t req, const char *app,
                         int map, uint64_t len)
{
    ms_msg_begin(b, MS_MSG_PUT_OUTPUT, 5);
    msgpack_pack_int64(&b->pk, req);
    ms_mp_pack_str(&b->pk, app);
    msgpack_pack_int(&b->pk, 0);
    msgpack_pack_int(&b->pk, map);
    msgpack_pack_uint64(&b->pk, len);
}

/* A PUT of o as (0, map) of app, data in frames of chunk bytes, announcing
 * len bytes; its status, and its message in text. */
static int64_t s_server_put(ms_shuffle_server_t *srv, const char *app, int map,
                            const s_out_t *o, size_t chunk, uint64_t len,
                            char *text)
{
    ms_msg_builder_t b;
    zmq_msg_t extra[1 + MS_SHUFFLE_PUT_MAX_CHUNKS + 1];
    ms_shuffle_reply_t r;
    int n = 1;
    s_put_header(&b, 42, app, map, len);
    s_frame(&extra[0], o->index, o->ilen);
    for (size_t off = 0; off < o->dlen; off += chunk, n++)
        s_frame(&extra[n], o->data + off,
                o->dlen - off < chunk ? o->dlen - off : chunk);
    cr_assert_eq(s_handle(srv, &b, extra, n, &r), 1);
    ms_msg_t m;
    int64_t req, status;
    cr_assert_eq(ms_msg_parse(&m, r.frames[0].data, r.frames[0].len, NULL), 0);
    cr_assert_eq(m.type, MS_MSG_PUT_DONE);
    cr_assert_eq(m.nf, 3);
    cr_assert(ms_mp_int(&m.f[0], 0, INT64_MAX, &req));
    cr_assert(ms_mp_int(&m.f[1], INT32_MIN, 0, &status));
    cr_assert(ms_mp_str(&m.f[2], text, 1024));
    cr_assert_eq(r.n, 1);
    ms_msg_free(&m);
    ms_shuffle_reply_release(&r);
    return status;
}

static void s_register(ms_shuffle_server_t *srv, const char *app)
{
    ms_msg_builder_t b;
    ms_shuffle_reply_t r;
    ms_msg_begin(&b, MS_MSG_PING, 1);
    ms_mp_pack_str(&b.pk, app);
    cr_assert_eq(s_handle(srv, &b, NULL, 0, &r), 1);
    ms_shuffle_reply_release(&r);
}

Test(migrate, server_stores_a_put_of_a_registered_app)
{
    ms_shuffle_server_t *srv = s_server(true);
    char text[1024];
    s_write_map(s_src, 0, 3, MS_CODEC_ZLIB);
    s_out_t o = s_load(s_src, 0, 3);
    cr_assert_eq(s_server_put(srv, S_APP, 3, &o, 5, o.dlen, text),
                 MS_ERR_NOTFOUND, "an unregistered application's put taken");
    cr_assert(strstr(text, "not registered"), "%s", text);
    cr_assert_str_eq(s_listing(s_dst), "");
    s_register(srv, S_APP);
    cr_assert_eq(s_server_put(srv, S_APP, 3, &o, 5, o.dlen, text), 0, "%s",
                 text);
    s_expect_map(s_dst, 3);
    s_free(&o);
}

Test(migrate, an_executors_server_takes_puts_until_it_refuses_them)
{
    ms_shuffle_server_t *srv = s_server(false);
    char text[1024];
    s_out_t o = s_stored_map();
    cr_assert_eq(
        s_server_put(srv, S_APP, 1, &o, MS_SHUFFLE_PUT_CHUNK, o.dlen, text), 0,
        "%s", text);
    s_expect_map(s_dst, 1);
    ms_shuffle_server_refuse_puts(srv);
    cr_assert_eq(
        s_server_put(srv, S_APP, 2, &o, MS_SHUFFLE_PUT_CHUNK, o.dlen, text),
        MS_ERR_FAILED);
    cr_assert(strstr(text, "decommissioning"), "%s", text);
    cr_assert_str_eq(s_listing(s_dst),
                     "shuffle_app-7_0_1.data shuffle_app-7_0_1.index");
    s_free(&o);
}

Test(migrate, server_refuses_a_put_whose_frames_do_not_add_up)
{
    ms_shuffle_server_t *srv = s_server(false);
    char text[1024];
    s_out_t o = s_stored_map();
    cr_assert_eq(s_server_put(srv, S_APP, 1, &o, 9, o.dlen + 1, text),
                 MS_ERR_PROTO, "longer than announced");
    cr_assert_eq(s_server_put(srv, S_APP, 1, &o, 9, o.dlen - 1, text),
                 MS_ERR_PROTO, "shorter than announced");
    /* one data frame a byte: more frames than a put may have */
    s_out_t many = o;
    many.dlen = MS_SHUFFLE_PUT_MAX_CHUNKS + 1;
    many.data = calloc(1, many.dlen);
    cr_assert_eq(s_server_put(srv, S_APP, 1, &many, 1, many.dlen, text),
                 MS_ERR_PROTO, "too many frames");
    free(many.data);
    s_out_t big = o;
    big.dlen = MS_SHUFFLE_PUT_CHUNK + 1;
    big.data = calloc(1, big.dlen);
    cr_assert_eq(s_server_put(srv, S_APP, 1, &big, big.dlen, big.dlen, text),
                 MS_ERR_PROTO, "frame over a chunk");
    free(big.data);
    o.data[MS_BLOCK_HEADER] ^= 1;
    cr_assert_eq(s_server_put(srv, S_APP, 1, &o, 9, o.dlen, text),
                 MS_ERR_CORRUPT);
    cr_assert(strstr(text, "CRC"), "%s", text);
    cr_assert_str_eq(s_listing(s_dst), "");
    s_free(&o);
}

/* The status of a reply that must be PUT_DONE. */
static int64_t s_done_status(ms_shuffle_reply_t *r)
{
    ms_msg_t m;
    int64_t status = 1;
    cr_assert_eq(ms_msg_parse(&m, r->frames[0].data, r->frames[0].len, NULL),
                 0);
    cr_assert_eq(m.type, MS_MSG_PUT_DONE);
    cr_assert(ms_mp_int(&m.f[1], INT32_MIN, 0, &status));
    ms_msg_free(&m);
    ms_shuffle_reply_release(r);
    return status;
}

Test(migrate, server_answers_malformed_puts_with_an_error)
{
    ms_shuffle_server_t *srv = s_server(false);
    s_out_t o = s_stored_map();
    ms_msg_builder_t b;
    ms_shuffle_reply_t r;
    zmq_msg_t extra[2];
    /* four fields */
    ms_msg_begin(&b, MS_MSG_PUT_OUTPUT, 4);
    msgpack_pack_int(&b.pk, 1);
    ms_mp_pack_str(&b.pk, S_APP);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_int(&b.pk, 0);
    s_frame(&extra[0], o.index, o.ilen);
    s_frame(&extra[1], o.data, o.dlen);
    cr_assert_eq(s_handle(srv, &b, extra, 2, &r), 1);
    cr_assert_eq(s_done_status(&r), MS_ERR_PROTO);
    /* the shuffle a string, then a bad app id */
    const char *apps[] = {S_APP, "../x"};
    for (int i = 0; i < 2; i++) {
        ms_msg_begin(&b, MS_MSG_PUT_OUTPUT, 5);
        msgpack_pack_int(&b.pk, 1);
        ms_mp_pack_str(&b.pk, apps[i]);
        if (i == 0)
            ms_mp_pack_str(&b.pk, "0");
        else
            msgpack_pack_int(&b.pk, 0);
        msgpack_pack_int(&b.pk, 0);
        msgpack_pack_uint64(&b.pk, o.dlen);
        s_frame(&extra[0], o.index, o.ilen);
        s_frame(&extra[1], o.data, o.dlen);
        cr_assert_eq(s_handle(srv, &b, extra, 2, &r), 1);
        cr_assert_eq(s_done_status(&r), MS_ERR_PROTO);
    }
    /* no index frame */
    s_put_header(&b, 1, S_APP, 0, 0);
    cr_assert_eq(s_handle(srv, &b, NULL, 0, &r), 1);
    cr_assert_eq(s_done_status(&r), MS_ERR_PROTO);
    cr_assert_str_eq(s_listing(s_dst), "");
    s_free(&o);
}

Test(migrate, other_requests_with_extra_frames_stay_malformed)
{
    ms_shuffle_server_t *srv = s_server(false);
    ms_msg_builder_t b;
    ms_shuffle_reply_t r;
    zmq_msg_t extra[1];
    ms_msg_t m;
    int64_t status;
    ms_msg_begin(&b, MS_MSG_PING, 0);
    s_frame(&extra[0], "x", 1);
    cr_assert_eq(s_handle(srv, &b, extra, 1, &r), 1);
    cr_assert_eq(ms_msg_parse(&m, r.frames[0].data, r.frames[0].len, NULL), 0);
    cr_assert_eq(m.type, MS_MSG_BLOCKS);
    cr_assert(ms_mp_int(&m.f[1], INT32_MIN, 0, &status));
    cr_assert_eq(status, MS_ERR_PROTO);
    ms_msg_free(&m);
    ms_shuffle_reply_release(&r);
}

/* ---- over the network, and through a folder -------------------------------
 */

typedef struct {
    int partition;
    int calls[8];
} s_seen_t;

static int s_check_rows(void *arg, int map, const uint8_t *raw, size_t len,
                        ms_error_t *err)
{
    (void)err;
    s_seen_t *seen = arg;
    uint8_t want[4096];
    size_t n = s_rows(map, seen->partition, want);
    cr_assert(map >= 0 && map < 8);
    cr_assert_eq(len, n, "map %d", map);
    cr_assert_eq(memcmp(raw, want, n), 0);
    seen->calls[map]++;
    return 0;
}

/* Fetches every partition of the maps at locs and checks the rows. */
static void s_fetch_all(const ms_map_loc_t *locs, int n)
{
    for (int p = 0; p < S_PARTS; p++) {
        s_seen_t seen = {.partition = p};
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        uint64_t bytes = 0;
        cr_assert_eq(ms_shuffle_fetch(s_zctx, S_APP, 0, p, locs, n, 10000,
                                      s_check_rows, &seen, &bytes, &fail, &err),
                     0, "%s", err.msg);
        for (int i = 0; i < n; i++)
            cr_assert_eq(seen.calls[locs[i].map],
                         p == 1 && locs[i].map % 2 == 0 ? 0 : 1);
    }
}

static ms_shuffle_server_t *s_server_thread(void)
{
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_server_new(&s_srv, s_zctx, "tcp://127.0.0.1:*", s_dst, &err),
        0, "%s", err.msg);
    cr_assert_eq(ms_shuffle_server_start(s_srv), 0);
    return s_srv;
}

Test(migrate, put_remote_then_the_server_serves_the_output)
{
    ms_shuffle_server_t *srv = s_server_thread();
    const char *ep = ms_shuffle_server_endpoint(srv);
    ms_error_t err = {0};
    uint64_t bytes = 0;
    ms_map_loc_t locs[3];
    for (int m = 0; m < 3; m++) {
        s_write_map(s_src, 0, m, m == 1 ? MS_CODEC_ZLIB : MS_CODEC_NONE);
        s_out_t o = s_load(s_src, 0, m);
        cr_assert_eq(ms_shuffle_put_remote(s_zctx, ep, s_src, S_APP, 0, m,
                                           10000, &bytes, &err),
                     0, "%s", err.msg);
        cr_assert_eq(bytes, o.ilen + o.dlen);
        s_free(&o);
        locs[m] = (ms_map_loc_t){m, ep};
    }
    s_fetch_all(locs, 3);
}

Test(migrate, put_remote_gives_the_servers_refusal)
{
    ms_shuffle_server_t *srv = s_server_thread();
    ms_error_t err = {0};
    uint64_t bytes = 1;
    s_write_map(s_src, 0, 1, MS_CODEC_NONE);
    ms_shuffle_server_refuse_puts(srv);
    cr_assert_eq(ms_shuffle_put_remote(s_zctx, ms_shuffle_server_endpoint(srv),
                                       s_src, S_APP, 0, 1, 10000, &bytes, &err),
                 MS_ERR_FAILED);
    cr_assert(strstr(err.msg, "decommissioning"), "%s", err.msg);
    cr_assert_eq(bytes, 0);
    cr_assert_eq(ms_shuffle_put_remote(s_zctx, ms_shuffle_server_endpoint(srv),
                                       s_src, S_APP, 0, 9, 10000, &bytes, &err),
                 MS_ERR_NOTFOUND, "a missing output sent");
    cr_assert_str_eq(s_listing(s_dst), "");
}

/* A port bound and not listening: connections to it are refused. */
static int s_dead_port(int *fd)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(*fd, 0);
    cr_assert_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
    return ntohs(a.sin_port);
}

Test(migrate, put_remote_to_nobody_times_out_in_time)
{
    char ep[64];
    int fd;
    ms_error_t err = {0};
    uint64_t bytes;
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", s_dead_port(&fd));
    s_write_map(s_src, 0, 1, MS_CODEC_NONE);
    int64_t t0 = ms_clock_now_ms();
    cr_assert_eq(ms_shuffle_put_remote(s_zctx, ep, s_src, S_APP, 0, 1, 300,
                                       &bytes, &err),
                 MS_ERR_TIMEOUT, "%s", err.msg);
    int64_t took = ms_clock_now_ms() - t0;
    cr_assert(took >= 290 && took < 2000, "took %lld ms", (long long)took);
    close(fd);
}

Test(migrate, put_fallback_stores_a_checked_copy_in_the_apps_folder)
{
    char fallback[128], folder[160], loc[4096], real[4096], cwd[4096];
    ms_error_t err = {0};
    uint64_t bytes;
    snprintf(fallback, sizeof fallback, "%s/shared/fallback", s_src);
    snprintf(folder, sizeof folder, "%s/" S_APP, fallback);
    cr_assert_eq(
        ms_shuffle_put_fallback(s_src, S_APP, 0, 1, fallback, &bytes, &err),
        MS_ERR_NOTFOUND, "a missing output stored");
    for (int m = 1; m < 3; m++) {
        s_write_map(s_src, 0, m, m == 2 ? MS_CODEC_LZ4 : MS_CODEC_NONE);
        s_out_t o = s_load(s_src, 0, m);
        cr_assert_eq(
            ms_shuffle_put_fallback(s_src, S_APP, 0, m, fallback, &bytes, &err),
            0, "%s", err.msg);
        cr_assert_eq(bytes, o.ilen + o.dlen);
        s_free(&o);
        s_expect_map(folder, m);
    }
    ms_shuffle_fallback_location(loc, sizeof loc, fallback, S_APP);
    cr_assert_not_null(realpath(folder, real));
    cr_assert(strncmp(loc, "file://", 7) == 0 && strcmp(loc + 7, real) == 0,
              "%s", loc);
    /* a relative folder, not created yet, is made absolute */
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    ms_shuffle_fallback_location(loc, sizeof loc, "no-such/fb", S_APP);
    snprintf(real, sizeof real, "file://%s/no-such/fb/" S_APP, cwd);
    cr_assert_str_eq(loc, real);
}

Test(migrate, reducers_read_a_fallback_folder_and_a_server_in_one_fetch)
{
    ms_shuffle_server_t *srv = s_server_thread();
    const char *ep = ms_shuffle_server_endpoint(srv);
    char loc[4096];
    ms_error_t err = {0};
    uint64_t bytes;
    for (int m = 0; m < 4; m++) {
        s_write_map(s_src, 0, m, m == 2 ? MS_CODEC_ZLIB : MS_CODEC_NONE);
        cr_assert_eq(m % 2 ? ms_shuffle_put_fallback(s_src, S_APP, 0, m, s_dst,
                                                     &bytes, &err)
                           : ms_shuffle_put_remote(s_zctx, ep, s_src, S_APP, 0,
                                                   m, 10000, &bytes, &err),
                     0, "%s", err.msg);
    }
    ms_shuffle_fallback_location(loc, sizeof loc, s_dst, S_APP);
    ms_map_loc_t locs[4] = {{0, ep}, {1, loc}, {2, ep}, {3, loc}};
    s_fetch_all(locs, 4);
}

Test(migrate, a_missing_or_corrupt_block_in_a_folder_is_a_fetch_failure)
{
    char loc[4096], path[4096];
    ms_error_t err = {0};
    uint64_t bytes;
    ms_fetch_failure_t fail;
    s_seen_t seen = {.partition = 0};
    s_write_map(s_src, 0, 1, MS_CODEC_NONE);
    cr_assert_eq(
        ms_shuffle_put_fallback(s_src, S_APP, 0, 1, s_dst, &bytes, &err), 0,
        "%s", err.msg);
    ms_shuffle_fallback_location(loc, sizeof loc, s_dst, S_APP);
    ms_map_loc_t locs[2] = {{1, loc}, {5, loc}};
    cr_assert_eq(ms_shuffle_fetch(s_zctx, S_APP, 0, 0, locs, 2, 10000,
                                  s_check_rows, &seen, &bytes, &fail, &err),
                 MS_ERR_FETCH);
    cr_assert_eq(fail.map, 5);
    cr_assert_str_eq(fail.endpoint, loc);
    cr_assert(!fail.unreachable);
    cr_assert(strstr(err.msg, "shuffle_app-7_0_5.index"), "%s", err.msg);
    /* a flipped byte in the folder's copy */
    snprintf(path, sizeof path, "%s/" S_APP "/shuffle_" S_APP "_0_1.data",
             s_dst);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fseek(f, MS_BLOCK_HEADER + 2, SEEK_SET);
    fputc('!', f);
    fclose(f);
    cr_assert_eq(ms_shuffle_fetch(s_zctx, S_APP, 0, 0, locs, 1, 10000,
                                  s_check_rows, &seen, &bytes, &fail, &err),
                 MS_ERR_FETCH);
    cr_assert_eq(fail.map, 1);
    cr_assert(!fail.unreachable);
    cr_assert(strstr(err.msg, "CRC"), "%s", err.msg);
}
