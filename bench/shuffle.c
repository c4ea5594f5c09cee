/* `minispark bench shuffle`: synthetic map outputs written by the real
 * shuffle writer, served by the real shuffle server over loopback and
 * fetched and merged by real reduce tasks, all in this process (server on
 * its own thread). Reports raw (uncompressed) bytes per second for each
 * phase with one task at a time, then write and fetch again with as many
 * tasks at once as there are cores (as local[*] would run them), and
 * zlib's own compression speed on the same bytes for scale. */
#include "bench/bench.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zmq.h>

#include "common/auth.h"
#include "common/clock.h"
#include "common/conf.h"
#include "common/mp.h"
#include "common/plan.h"
#include "common/task.h"
#include "executor/tasks.h"
#include "shuffle/fetch.h"
#include "shuffle/files.h"
#include "shuffle/migrate.h"
#include "shuffle/server.h"

static const char s_usage[] =
    "usage: minispark bench shuffle [--maps M] [--partitions R]\n"
    "                               [--keys K] [--width W]\n"
    "                               [--codec none|zlib|lz4] [--level L]\n"
    "                               [--tasks T]\n"
    "\n"
    "Writes M map outputs of K distinct keys each (keys W bytes long, with a\n"
    "count and a sum per key) into R partitions, serves them with the\n"
    "shuffle server over loopback and runs the R reduce tasks, one after\n"
    "another. Then writes and fetches the same bytes again with T tasks at a\n"
    "time (threads; T 1 skips this), timed by the wall clock. Last, moves\n"
    "the M outputs one after another as a decommissioned executor does: to\n"
    "a second shuffle server (PUT_OUTPUT, checked on arrival), then into a\n"
    "fallback folder. Defaults: M 8,\n"
    "R 8, K 200000, W 16, zlib level 1, T the number of online cores.\n"
    "With MINISPARK_AUTH_SECRET in the environment the server and the\n"
    "fetchers use CURVE (spark.authenticate), to measure its cost.\n";

typedef struct {
    int maps, partitions, keys, width, level, tasks;
    ms_codec_t codec;
} s_opts_t;

/* One string key column and count(*), sum(v): the partial rows a group-by
 * with W-byte keys sends through the shuffle. */
static ms_plan_t *s_plan(const s_opts_t *o)
{
    ms_plan_t *plan = ms_plan_new();
    if (!plan) return NULL;
    plan->schema.ncols = 2;
    snprintf(plan->schema.cols[0].name, MS_CSV_NAME_MAX, "k");
    plan->schema.cols[0].type.type = MS_TYPE_STRING;
    snprintf(plan->schema.cols[1].name, MS_CSV_NAME_MAX, "v");
    plan->schema.cols[1].type.type = MS_TYPE_INT64;
    plan->nkeys = 1;
    plan->keys = calloc(1, sizeof *plan->keys);
    plan->naggs = 2;
    plan->aggs = calloc(2, sizeof *plan->aggs);
    plan->input_path = strdup("-");
    if (!plan->keys || !plan->aggs || !plan->input_path) goto fail;
    plan->keys[0] =
        (ms_key_t){.col = 0, .type = {MS_TYPE_STRING, 0}, .name = strdup("k")};
    plan->aggs[0] = (ms_agg_t){.fn = MS_AGG_COUNT,
                               .col = -1,
                               .type = {MS_TYPE_INT64, 0},
                               .name = strdup("n")};
    plan->aggs[1] = (ms_agg_t){.fn = MS_AGG_SUM,
                               .col = 1,
                               .in = {MS_TYPE_INT64, 0},
                               .type = {MS_TYPE_INT64, 0},
                               .name = strdup("s")};
    plan->num_partitions = o->partitions;
    plan->codec = o->codec;
    plan->zlib_level = o->level;
    if (ms_plan_finish(plan, NULL) == 0) return plan;
fail:
    ms_plan_destroy(&plan);
    return NULL;
}

/* Map m's rows, packed per partition: key i is "k<i>" padded to W bytes;
 * partitions are dealt round robin (the writer does not care why). */
static void s_pack_map(const s_opts_t *o, int m, msgpack_sbuffer *parts,
                       size_t *raw)
{
    char key[256];
    for (int i = 0; i < o->keys; i++) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &parts[i % o->partitions],
                            msgpack_sbuffer_write);
        int n = snprintf(key, sizeof key, "k%d", i);
        if (n < o->width) memset(key + n, '.', (size_t)(o->width - n));
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str(&pk, (size_t)o->width);
        msgpack_pack_str_body(&pk, key, (size_t)o->width);
        msgpack_pack_int64(&pk, 1);
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int64(&pk, m + i);
        msgpack_pack_int64(&pk, 1);
    }
    for (int p = 0; p < o->partitions; p++)
        *raw += parts[p].size;
}

/* Writes every map output; returns seconds spent in the writer, and the
 * seconds zlib's own compress2 needs for the same bytes. */
static int s_write(const s_opts_t *o, const char *dir, size_t *raw,
                   double *secs, double *zlib_secs)
{
    msgpack_sbuffer *parts = calloc((size_t)o->partitions, sizeof *parts);
    if (!parts) return -1;
    ms_error_t err = {0};
    int rc = 0;
    *secs = *zlib_secs = 0;
    for (int m = 0; m < o->maps && rc == 0; m++) {
        for (int p = 0; p < o->partitions; p++)
            msgpack_sbuffer_init(&parts[p]);
        s_pack_map(o, m, parts, raw);
        uint64_t written;
        double t0 = (double)ms_clock_now_us() / 1e6;
        rc = ms_shuffle_write(dir, "bench", 0, m, parts, o->partitions,
                              o->codec, o->level, &written, &err);
        *secs += (double)ms_clock_now_us() / 1e6 - t0;
        for (int p = 0; p < o->partitions && o->codec == MS_CODEC_ZLIB; p++) {
            uLongf cap = compressBound((uLong)parts[p].size);
            Bytef *z = malloc(cap);
            t0 = (double)ms_clock_now_us() / 1e6;
            if (z)
                compress2(z, &cap, (const Bytef *)parts[p].data,
                          (uLong)parts[p].size, o->level);
            *zlib_secs += (double)ms_clock_now_us() / 1e6 - t0;
            free(z);
        }
        for (int p = 0; p < o->partitions; p++)
            msgpack_sbuffer_destroy(&parts[p]);
    }
    if (rc < 0) fprintf(stderr, "minispark bench: %s\n", err.msg);
    free(parts);
    return rc;
}

static int s_count_block(void *arg, int map, const uint8_t *raw, size_t len,
                         ms_error_t *err)
{
    (void)map;
    (void)raw;
    (void)err;
    *(uint64_t *)arg += len;
    return 0;
}

/* Fetches every partition without merging: the transport alone (serve,
 * loopback, CRC check, decompression). Returns seconds. */
static int s_fetch_only(const s_opts_t *o, void *zctx, const char *endpoint,
                        double *secs)
{
    ms_map_loc_t *locs = calloc((size_t)o->maps, sizeof *locs);
    if (!locs) return -1;
    for (int m = 0; m < o->maps; m++)
        locs[m] = (ms_map_loc_t){m, endpoint};
    uint64_t raw = 0, bytes = 0;
    int rc = 0;
    double t0 = (double)ms_clock_now_us() / 1e6;
    for (int p = 0; p < o->partitions && rc == 0; p++) {
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        rc = ms_shuffle_fetch(zctx, "bench", 0, p, locs, o->maps, 60000,
                              s_count_block, &raw, &bytes, &fail, &err);
        if (rc < 0) fprintf(stderr, "minispark bench: %s\n", err.msg);
    }
    *secs = (double)ms_clock_now_us() / 1e6 - t0;
    free(locs);
    return rc;
}

/* Runs the reduce tasks against the server; returns seconds. */
static int s_reduce(const s_opts_t *o, void *zctx, const ms_plan_t *plan,
                    const char *endpoint, double *secs, uint64_t *groups)
{
    ms_task_loc_t *locs = calloc((size_t)o->maps, sizeof *locs);
    char *plan_buf = NULL;
    size_t plan_len = 0;
    if (!locs || ms_plan_pack(plan, &plan_buf, &plan_len) < 0) {
        free(locs);
        return -1;
    }
    for (int m = 0; m < o->maps; m++)
        locs[m] = (ms_task_loc_t){m, (char *)endpoint};
    int rc = 0;
    double t0 = (double)ms_clock_now_us() / 1e6;
    for (int p = 0; p < o->partitions && rc == 0; p++) {
        ms_task_t t = {.kind = MS_TASK_REDUCE,
                       .partition = p,
                       .fetch_timeout_ms = 60000,
                       .nlocs = o->maps,
                       .locs = locs,
                       .plan = plan_buf,
                       .plan_len = plan_len};
        ms_task_metrics_t m = {0};
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        msgpack_sbuffer rows;
        msgpack_sbuffer_init(&rows);
        /* plan->agg_memory is 0: nothing spills, so no spill dir is used */
        rc = ms_reduce_task_run(zctx, &t, plan, "bench", "/tmp", &rows, &m,
                                &fail, &err);
        if (rc < 0) fprintf(stderr, "minispark bench: %s\n", err.msg);
        *groups += (uint64_t)m.rows_out;
        msgpack_sbuffer_destroy(&rows);
    }
    *secs = (double)ms_clock_now_us() / 1e6 - t0;
    free(plan_buf);
    free(locs);
    return rc;
}

/* ---- several tasks at a time ---------------------------------------------
 * Task i of T writes maps i, i + T, ... and then fetches partitions i,
 * i + T, ..., as T executor slots would. Rows are packed beforehand so that
 * only the writer and the fetch are timed. Shuffle 1, beside shuffle 0. */

typedef struct {
    const s_opts_t *o;
    const char *dir;
    void *zctx;
    msgpack_sbuffer *parts; /* maps x partitions */
    const ms_map_loc_t *locs;
    int first, rc;
    char why[256];
} s_task_t;

static void *s_write_task(void *arg)
{
    s_task_t *t = arg;
    const s_opts_t *o = t->o;
    ms_error_t err = {0};
    uint64_t written;
    for (int m = t->first; m < o->maps && t->rc == 0; m += o->tasks)
        t->rc = ms_shuffle_write(
            t->dir, "bench", 1, m, &t->parts[(size_t)m * (size_t)o->partitions],
            o->partitions, o->codec, o->level, &written, &err);
    if (t->rc < 0) snprintf(t->why, sizeof t->why, "%s", err.msg);
    return NULL;
}

static void *s_fetch_task(void *arg)
{
    s_task_t *t = arg;
    const s_opts_t *o = t->o;
    uint64_t raw = 0, bytes = 0;
    for (int p = t->first; p < o->partitions && t->rc == 0; p += o->tasks) {
        ms_fetch_failure_t fail;
        ms_error_t err = {0};
        t->rc =
            ms_shuffle_fetch(t->zctx, "bench", 1, p, t->locs, o->maps, 60000,
                             s_count_block, &raw, &bytes, &fail, &err);
        if (t->rc < 0) snprintf(t->why, sizeof t->why, "%s", err.msg);
    }
    return NULL;
}

/* Runs fn on o->tasks threads; returns wall-clock seconds. */
static int s_in_tasks(s_task_t *tasks, int n, void *(*fn)(void *), double *secs)
{
    pthread_t th[n];
    int started = 0, rc = 0;
    double t0 = (double)ms_clock_now_us() / 1e6;
    for (; started < n; started++)
        if (pthread_create(&th[started], NULL, fn, &tasks[started]) != 0) break;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    *secs = (double)ms_clock_now_us() / 1e6 - t0;
    for (int i = 0; i < n; i++) {
        if (tasks[i].rc < 0 && rc == 0) {
            fprintf(stderr, "minispark bench: %s\n", tasks[i].why);
            rc = tasks[i].rc;
        }
    }
    return started == n ? rc : -1;
}

static int s_parallel(const s_opts_t *o, void *zctx, const char *dir,
                      const char *endpoint, double *wsecs, double *fsecs)
{
    size_t nparts = (size_t)o->maps * (size_t)o->partitions;
    msgpack_sbuffer *parts = calloc(nparts, sizeof *parts);
    ms_map_loc_t *locs = calloc((size_t)o->maps, sizeof *locs);
    s_task_t *tasks = calloc((size_t)o->tasks, sizeof *tasks);
    size_t raw = 0;
    int rc = parts && locs && tasks ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < nparts; i++)
        msgpack_sbuffer_init(&parts[i]);
    for (int m = 0; rc == 0 && m < o->maps; m++) {
        s_pack_map(o, m, &parts[(size_t)m * (size_t)o->partitions], &raw);
        locs[m] = (ms_map_loc_t){m, endpoint};
    }
    for (int i = 0; rc == 0 && i < o->tasks; i++)
        tasks[i] = (s_task_t){o, dir, zctx, parts, locs, i, 0, ""};
    if (rc == 0) rc = s_in_tasks(tasks, o->tasks, s_write_task, wsecs);
    for (int i = 0; rc == 0 && i < o->tasks; i++)
        tasks[i].rc = 0;
    if (rc == 0) rc = s_in_tasks(tasks, o->tasks, s_fetch_task, fsecs);
    for (size_t i = 0; parts && i < nparts; i++)
        msgpack_sbuffer_destroy(&parts[i]);
    free(parts);
    free(locs);
    free(tasks);
    return rc;
}

/* Moves every map output of shuffle 0 in dir, one after another, to a
 * second server over loopback (peer), then into a fallback folder, as a
 * decommissioned executor does. Seconds of each and the bytes moved. */
static int s_migrate(const s_opts_t *o, void *zctx, const char *dir,
                     double *peer_secs, double *fallback_secs, uint64_t *bytes)
{
    char peer_dir[] = "/tmp/minispark-bench-XXXXXX";
    char fallback[] = "/tmp/minispark-bench-XXXXXX";
    ms_shuffle_server_t *peer = NULL;
    ms_error_t err = {0};
    int rc = mkdtemp(peer_dir) && mkdtemp(fallback) ? 0 : -1;
    if (rc == 0)
        rc = ms_shuffle_server_new(&peer, zctx, "tcp://127.0.0.1:*", peer_dir,
                                   &err);
    if (rc == 0) rc = ms_shuffle_server_start(peer);
    *bytes = 0;
    double t0 = (double)ms_clock_now_us() / 1e6;
    for (int m = 0; m < o->maps && rc == 0; m++) {
        uint64_t n;
        rc = ms_shuffle_put_remote(zctx, ms_shuffle_server_endpoint(peer), dir,
                                   "bench", 0, m, 60000, &n, &err);
        *bytes += n;
    }
    *peer_secs = (double)ms_clock_now_us() / 1e6 - t0;
    t0 = (double)ms_clock_now_us() / 1e6;
    for (int m = 0; m < o->maps && rc == 0; m++) {
        uint64_t n;
        rc = ms_shuffle_put_fallback(dir, "bench", 0, m, fallback, &n, &err);
    }
    *fallback_secs = (double)ms_clock_now_us() / 1e6 - t0;
    if (rc < 0 && err.msg[0]) fprintf(stderr, "minispark bench: %s\n", err.msg);
    ms_shuffle_server_destroy(&peer);
    char app_dir[sizeof fallback + 8];
    int removed;
    snprintf(app_dir, sizeof app_dir, "%s/bench", fallback);
    ms_shuffle_remove_app(peer_dir, "bench", &removed);
    ms_shuffle_remove_app(app_dir, "bench", &removed);
    rmdir(app_dir);
    rmdir(fallback);
    rmdir(peer_dir);
    return rc;
}

static int s_run(const s_opts_t *o)
{
    char dir[] = "/tmp/minispark-bench-XXXXXX";
    size_t raw = 0;
    double wsecs, zsecs, fsecs = 0, rsecs = 0, pwsecs = 0, pfsecs = 0;
    double msecs = 0, fbsecs = 0;
    uint64_t groups = 0, moved = 0;
    ms_error_t err = {0};
    ms_plan_t *plan = s_plan(o);
    void *zctx = zmq_ctx_new();
    ms_shuffle_server_t *server = NULL;
    int rc = plan && zctx && mkdtemp(dir) ? 0 : -1;
    if (rc == 0) rc = s_write(o, dir, &raw, &wsecs, &zsecs);
    if (rc == 0)
        rc = ms_shuffle_server_new(&server, zctx, "tcp://127.0.0.1:*", dir,
                                   &err);
    if (rc == 0) rc = ms_shuffle_server_start(server);
    if (rc == 0)
        rc = s_fetch_only(o, zctx, ms_shuffle_server_endpoint(server), &fsecs);
    if (rc == 0)
        rc = s_reduce(o, zctx, plan, ms_shuffle_server_endpoint(server), &rsecs,
                      &groups);
    if (rc == 0 && o->tasks > 1)
        rc = s_parallel(o, zctx, dir, ms_shuffle_server_endpoint(server),
                        &pwsecs, &pfsecs);
    if (rc == 0) rc = s_migrate(o, zctx, dir, &msecs, &fbsecs, &moved);
    ms_shuffle_server_destroy(&server);
    int removed;
    ms_shuffle_remove_app(dir, "bench", &removed);
    rmdir(dir);
    ms_plan_destroy(&plan);
    if (zctx) zmq_ctx_term(zctx);
    if (rc < 0) {
        if (err.msg[0]) fprintf(stderr, "minispark bench: %s\n", err.msg);
        return 4;
    }
    double mb = (double)raw / 1e6;
    printf("minispark bench shuffle: %d maps x %d partitions, %d keys of %d "
           "bytes per map, codec %s",
           o->maps, o->partitions, o->keys, o->width,
           o->codec == MS_CODEC_ZLIB  ? "zlib"
           : o->codec == MS_CODEC_LZ4 ? "lz4"
                                      : "none");
    if (o->codec == MS_CODEC_ZLIB) printf(" level %d", o->level);
    printf("\nraw shuffle bytes: %.1f MB, %llu groups after merging\n", mb,
           (unsigned long long)groups);
    printf("write (compress, CRC, files): %.0f MB/s\n", mb / wsecs);
    printf("serve + fetch (loopback, CRC, decompress): %.0f MB/s\n",
           mb / fsecs);
    printf("serve + fetch + merge in reduce tasks: %.0f MB/s\n", mb / rsecs);
    printf("end to end, write + fetch: %.0f MB/s, one task at a time\n",
           mb / (wsecs + fsecs));
    if (o->tasks > 1)
        printf("%d tasks at a time, wall clock: write %.0f MB/s, serve + "
               "fetch %.0f MB/s, end to end %.0f MB/s\n",
               o->tasks, mb / pwsecs, mb / pfsecs, mb / (pwsecs + pfsecs));
    if (o->codec == MS_CODEC_ZLIB)
        printf("zlib compress2 alone on the same bytes: %.0f MB/s (writer "
               "at %.2f of it)\n",
               mb / zsecs, zsecs / wsecs);
    printf("migrate %.1f MB of map output files, one after another: to a "
           "peer server %.0f MB/s, to a fallback folder %.0f MB/s\n",
           (double)moved / 1e6, (double)moved / 1e6 / msecs,
           (double)moved / 1e6 / fbsecs);
    return 0;
}

int ms_bench_shuffle_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"maps", required_argument, 0, 'm'},
        {"partitions", required_argument, 0, 'p'},
        {"keys", required_argument, 0, 'k'},
        {"width", required_argument, 0, 'w'},
        {"codec", required_argument, 0, 'c'},
        {"level", required_argument, 0, 'l'},
        {"tasks", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s_opts_t o = {
        8, 8, 200000, 16, 1, cores > 1 ? (int)cores : 1, MS_CODEC_ZLIB};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o.maps = atoi(optarg);
            break;
        case 'p':
            o.partitions = atoi(optarg);
            break;
        case 'k':
            o.keys = atoi(optarg);
            break;
        case 'w':
            o.width = atoi(optarg);
            break;
        case 'l':
            o.level = atoi(optarg);
            break;
        case 't':
            o.tasks = atoi(optarg);
            break;
        case 'c':
            if (strcmp(optarg, "none") == 0)
                o.codec = MS_CODEC_NONE;
            else if (strcmp(optarg, "zlib") == 0)
                o.codec = MS_CODEC_ZLIB;
            else if (strcmp(optarg, "lz4") == 0)
                o.codec = MS_CODEC_LZ4;
            else
                goto usage;
            break;
        case 'h':
            fputs(s_usage, stdout);
            return 0;
        default:
            goto usage;
        }
    }
    if (optind != argc || o.maps < 1 || o.maps > 1024 || o.partitions < 1 ||
        o.partitions > 4096 || o.keys < 1 || o.width < 8 || o.width > 255 ||
        o.level < 1 || o.level > 9 || o.tasks < 1 || o.tasks > 64)
        goto usage;
    ms_conf_t *conf = ms_conf_new();
    ms_error_t err = {0};
    int rc = conf ? ms_auth_conf(conf, &err) : MS_ERR_NOMEM;
    ms_conf_destroy(&conf);
    if (rc < 0) {
        fprintf(stderr, "minispark bench shuffle: %s\n", err.msg);
        return 2;
    }
    return s_run(&o);
usage:
    fputs(s_usage, stderr);
    return 2;
}
