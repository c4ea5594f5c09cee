/* The shuffle server's request handling, without a socket and on a clock
 * driven by hand: who is served (registered applications only), what bad
 * requests get, and how bytes in flight are bounded per client and in
 * total (fetches wait, clients that do not read are dropped). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"
#include "shuffle/fetch.h"
#include "shuffle/files.h"
#include "shuffle/server.h"

#define S_BLOCK 1000 /* raw bytes of each block */
#define S_MAPS 4

static char s_dir[64];
static void *s_zctx;
static ms_shuffle_server_t *s_server;

static void s_write_outputs(const char *app)
{
    for (int m = 0; m < S_MAPS; m++) {
        msgpack_sbuffer parts[2];
        uint64_t written;
        ms_error_t err = {0};
        for (int p = 0; p < 2; p++) {
            msgpack_sbuffer_init(&parts[p]);
            for (int i = 0; i < S_BLOCK; i++)
                msgpack_sbuffer_write(&parts[p], "x", 1);
        }
        cr_assert_eq(ms_shuffle_write(s_dir, app, 0, m, parts, 2, MS_CODEC_NONE,
                                      1, &written, &err),
                     0, "%s", err.msg);
        for (int p = 0; p < 2; p++)
            msgpack_sbuffer_destroy(&parts[p]);
    }
}

static void s_setup(void)
{
    ms_error_t err = {0};
    snprintf(s_dir, sizeof s_dir, "/tmp/ms-test-server-XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    s_write_outputs("appA");
    s_zctx = zmq_ctx_new();
    cr_assert_eq(ms_shuffle_server_new(&s_server, s_zctx,
                                       "inproc://test-server", s_dir, &err),
                 0, "%s", err.msg);
    cr_assert_eq(ms_shuffle_server_reap_apps(s_server, 60000, NULL), 0);
}

static void s_teardown(void)
{
    int removed;
    ms_shuffle_server_destroy(&s_server);
    zmq_ctx_term(s_zctx);
    ms_shuffle_remove_app(s_dir, "appA", &removed);
    rmdir(s_dir);
}

TestSuite(shuffle_server, .init = s_setup, .fini = s_teardown);

/* Handles b (freed) from client peer at now_ms. */
static int s_handle(const char *peer, ms_msg_builder_t *b, int64_t now_ms,
                    ms_shuffle_reply_t *r)
{
    zmq_msg_t frames[2];
    zmq_msg_init_size(&frames[0], strlen(peer));
    memcpy(zmq_msg_data(&frames[0]), peer, strlen(peer));
    zmq_msg_init_size(&frames[1], b->sb.size);
    memcpy(zmq_msg_data(&frames[1]), b->sb.data, b->sb.size);
    ms_msg_builder_free(b);
    int rc = ms_shuffle_server_handle(s_server, frames, 2, now_ms, r);
    ms_frames_close(frames, 2);
    return rc;
}

static int s_fetch(const char *peer, const char *app, int64_t req,
                   int64_t now_ms, ms_shuffle_reply_t *r)
{
    ms_msg_builder_t b;
    ms_msg_begin(&b, MS_MSG_FETCH, 5);
    msgpack_pack_int64(&b.pk, req);
    ms_mp_pack_str(&b.pk, app);
    msgpack_pack_int(&b.pk, 0);
    msgpack_pack_int(&b.pk, 1);
    msgpack_pack_array(&b.pk, S_MAPS);
    for (int m = 0; m < S_MAPS; m++)
        msgpack_pack_int(&b.pk, m);
    return s_handle(peer, &b, now_ms, r);
}

static void s_register(const char *app)
{
    ms_msg_builder_t b;
    ms_shuffle_reply_t r;
    ms_msg_begin(&b, MS_MSG_PING, 1);
    ms_mp_pack_str(&b.pk, app);
    cr_assert_eq(s_handle("driver", &b, 0, &r), 1);
    ms_shuffle_reply_release(&r);
}

/* The status of a BLOCKS reply, and its request id in *req. */
static int64_t s_status(const ms_shuffle_reply_t *r, int64_t *req)
{
    ms_msg_t m;
    int64_t status = 1;
    cr_assert_eq(ms_msg_parse(&m, r->frames[0].data, r->frames[0].len, NULL),
                 0);
    cr_assert_eq(m.type, MS_MSG_BLOCKS);
    cr_assert(ms_mp_int(&m.f[0], 0, INT64_MAX, req));
    cr_assert(ms_mp_int(&m.f[1], INT32_MIN, 0, &status));
    ms_msg_free(&m);
    return status;
}

Test(shuffle_server,
     an_application_found_only_on_disk_is_served_once_registered)
{
    ms_shuffle_reply_t r;
    int64_t req;
    cr_assert_eq(s_fetch("exec-1", "appA", 7, 0, &r), 1);
    cr_assert_eq(s_status(&r, &req), MS_ERR_NOTFOUND,
                 "served an application no driver registered");
    cr_assert_eq(r.n, 1);
    ms_shuffle_reply_release(&r);
    s_register("appA");
    cr_assert_eq(s_fetch("exec-1", "appA", 8, 0, &r), 1);
    cr_assert_eq(s_status(&r, &req), 0);
    cr_assert_eq(req, 8);
    cr_assert_eq(r.n, 1 + S_MAPS);
    cr_assert_eq(ms_shuffle_server_apps(s_server), 1);
    ms_shuffle_reply_release(&r);
    cr_assert_eq(ms_shuffle_server_in_flight(s_server), 0);
}

Test(shuffle_server, empty_and_bad_ids_are_malformed_requests)
{
    ms_shuffle_reply_t r;
    int64_t req;
    const char *bad[] = {"", "a/b", "a_b", "..", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(s_fetch("exec-1", bad[i], 1, 0, &r), 1);
        cr_assert_eq(s_status(&r, &req), MS_ERR_PROTO, "id '%s'", bad[i]);
        ms_shuffle_reply_release(&r);
        ms_msg_builder_t b;
        ms_msg_begin(&b, MS_MSG_REMOVE_APP, 1);
        ms_mp_pack_str(&b.pk, bad[i]);
        cr_assert_eq(s_handle("driver", &b, 0, &r), 1);
        ms_msg_t m;
        int64_t removed = 0;
        cr_assert_eq(ms_msg_parse(&m, r.frames[0].data, r.frames[0].len, NULL),
                     0);
        cr_assert(ms_mp_int(&m.f[0], INT32_MIN, INT32_MAX, &removed));
        cr_assert_lt(removed, 0, "removing '%s' was accepted", bad[i]);
        ms_msg_free(&m);
        ms_shuffle_reply_release(&r);
        ms_msg_begin(&b, MS_MSG_APP_ALIVE, 1);
        ms_mp_pack_str(&b.pk, bad[i]);
        cr_assert_eq(s_handle("driver", &b, 0, &r), 0);
    }
    cr_assert_eq(ms_shuffle_server_apps(s_server), 0);
}

/* Each block of the test outputs is S_BLOCK raw bytes plus a header. */
static void s_limit(uint64_t client, uint64_t total)
{
    ms_shuffle_limits_t l = {client, total, 5000};
    ms_shuffle_server_limit(s_server, &l, NULL);
}

Test(shuffle_server, a_client_over_its_bound_waits_until_it_reads)
{
    ms_shuffle_reply_t r1, r2, r3, other;
    int64_t req;
    s_register("appA");
    s_limit(S_BLOCK, 1 << 30); /* one reply puts a client over */
    cr_assert_eq(s_fetch("exec-1", "appA", 1, 0, &r1), 1);
    uint64_t held = ms_shuffle_server_in_flight(s_server);
    cr_assert_geq(held, S_MAPS * S_BLOCK);
    cr_assert_eq(s_fetch("exec-1", "appA", 2, 0, &r2), 0, "not held back");
    cr_assert_eq(s_fetch("exec-1", "appA", 3, 0, &r3), 0);
    cr_assert_eq(ms_shuffle_server_next(s_server, 0, &r2), 0);
    /* Another client is not held back by the first. */
    cr_assert_eq(s_fetch("exec-2", "appA", 9, 0, &other), 1);
    cr_assert_eq(s_status(&other, &req), 0);
    ms_shuffle_reply_release(&other);
    cr_assert_eq(ms_shuffle_server_in_flight(s_server), held);
    ms_shuffle_reply_release(&r1); /* the client read it */
    cr_assert_eq(ms_shuffle_server_next(s_server, 0, &r2), 1);
    cr_assert_eq(s_status(&r2, &req), 0);
    cr_assert_eq(req, 2, "served out of order");
    cr_assert_eq(r2.n, 1 + S_MAPS);
    cr_assert_eq(ms_shuffle_server_next(s_server, 0, &r3), 0);
    ms_shuffle_reply_release(&r2);
    cr_assert_eq(ms_shuffle_server_next(s_server, 0, &r3), 1);
    cr_assert_eq(s_status(&r3, &req), 0);
    cr_assert_eq(req, 3);
    ms_shuffle_reply_release(&r3);
    cr_assert_eq(ms_shuffle_server_in_flight(s_server), 0);
}

Test(shuffle_server, a_client_that_never_reads_is_dropped)
{
    ms_shuffle_reply_t first, r;
    s_register("appA");
    s_limit(S_BLOCK, 1 << 30);
    cr_assert_eq(s_fetch("exec-1", "appA", 0, 0, &first), 1);
    for (int i = 1; i <= 64; i++)
        cr_assert_eq(s_fetch("exec-1", "appA", i, 0, &r), 0);
    /* The 65th waiting request drops it: its waiting ones are forgotten
     * and what it sends next is ignored. */
    cr_assert_eq(s_fetch("exec-1", "appA", 65, 0, &r), 0);
    ms_shuffle_reply_release(&first);
    cr_assert_eq(ms_shuffle_server_next(s_server, 0, &r), 0,
                 "served a dropped client");
    cr_assert_eq(ms_shuffle_server_in_flight(s_server), 0);
}

Test(shuffle_server, a_stalled_client_is_shed_when_the_total_is_full)
{
    ms_shuffle_reply_t stalled, reader, waits;
    int64_t req;
    s_register("appA");
    s_limit(1 << 30, S_MAPS * S_BLOCK); /* one reply fills it */
    cr_assert_eq(s_fetch("exec-2", "appA", 1, 0, &reader), 1);
    ms_shuffle_reply_release(&reader); /* exec-2 reads */
    cr_assert_eq(s_fetch("exec-1", "appA", 2, 0, &stalled), 1);
    cr_assert_eq(s_fetch("exec-2", "appA", 3, 1000, &waits), 0,
                 "served beyond the total");
    /* exec-1 reads nothing: once it has been quiet for the stall timeout
     * it is dropped, and ZeroMQ discards what it held for it (here, we
     * release it); then the waiting fetch goes. */
    cr_assert_eq(ms_shuffle_server_next(s_server, 4999, &waits), 0);
    cr_assert_eq(ms_shuffle_server_next(s_server, 5000, &waits), 0);
    cr_assert_eq(s_fetch("exec-1", "appA", 4, 5000, &reader), 0,
                 "a dropped client was heard");
    ms_shuffle_reply_release(&stalled);
    cr_assert_eq(ms_shuffle_server_next(s_server, 5000, &waits), 1);
    cr_assert_eq(s_status(&waits, &req), 0);
    cr_assert_eq(req, 3);
    ms_shuffle_reply_release(&waits);
    cr_assert_eq(ms_shuffle_server_next(s_server, 5000, &waits), 0);
    cr_assert_eq(s_fetch("exec-1", "appA", 5, 6000, &waits), 1,
                 "a client id used again after its drop is a new client");
    ms_shuffle_reply_release(&waits);
}

static int s_count_block(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    (void)map;
    (void)raw;
    (void)err;
    *(size_t *)arg += len;
    return 0;
}

Test(shuffle_server, a_reader_over_a_tiny_bound_is_paced_not_failed)
{
    ms_shuffle_server_t *tcp = NULL;
    ms_error_t err = {0};
    cr_assert_eq(
        ms_shuffle_server_new(&tcp, s_zctx, "tcp://127.0.0.1:*", s_dir, &err),
        0, "%s", err.msg);
    /* Every request but the first waits for the reply before it to be
     * taken by the network: the server must wake up for each. */
    ms_shuffle_limits_t l = {1, 1, 5000};
    ms_shuffle_server_limit(tcp, &l, NULL);
    cr_assert_eq(ms_shuffle_server_start(tcp), 0);
    ms_map_loc_t locs[S_MAPS * 8];
    for (int i = 0; i < S_MAPS * 8; i++)
        locs[i] = (ms_map_loc_t){i % S_MAPS, ms_shuffle_server_endpoint(tcp)};
    size_t got = 0;
    uint64_t bytes = 0;
    ms_fetch_failure_t fail;
    int rc = ms_shuffle_fetch(s_zctx, "appA", 0, 1, locs, S_MAPS * 8, 60000,
                              s_count_block, &got, &bytes, &fail, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(got, (size_t)S_MAPS * 8 * S_BLOCK);
    ms_shuffle_server_destroy(&tcp);
}
