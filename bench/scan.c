/* `minispark bench scan`: the map side alone (read, parse, filter, partial
 * aggregation, and the map output write, which is tiny for low-cardinality
 * keys) over a whole file as one split, on one core, in this process. */
#include "bench/bench.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/csv.h"
#include "common/plan.h"
#include "common/task.h"
#include "driver/jobfile.h"
#include "driver/planner.h"
#include "executor/tasks.h"
#include "shuffle/files.h"

/* Q1 of the benchmarks: the seed query. */
static const char s_q1[] =
    "{\"input\": {\"path\": \"-\"}, \"query\": {"
    "\"filter\": [{\"column\": \"amount\", \"op\": \">=\", \"value\": 10}],"
    "\"group_by\": [\"country\", \"device\"],"
    "\"aggregates\": [{\"fn\": \"count\"},"
    "{\"fn\": \"sum\", \"column\": \"amount\"}]}, \"shuffle_partitions\": 8}";

static const char s_usage[] =
    "usage: minispark bench scan FILE [--job JOB.json] [--runs N]\n"
    "       minispark bench shuffle [options]   (see bench shuffle --help)\n"
    "\n"
    "Runs the map side of a query (the seed query, or the first query of\n"
    "JOB.json, on FILE) over the whole file as one task on one core, N times\n"
    "(default 5), and prints MB/s and rows/s of each run and the median.\n";

typedef struct {
    const char *file, *job;
    int runs;
} s_opts_t;

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int s_plan(const s_opts_t *o, ms_plan_t **plan, ms_error_t *err)
{
    ms_job_spec_t *spec = NULL;
    ms_schema_t *schema = calloc(1, sizeof *schema);
    int rc = schema ? 0 : MS_ERR_NOMEM;
    if (rc == 0)
        rc = o->job ? ms_job_spec_load(&spec, o->job, err)
                    : ms_job_spec_parse(&spec, s_q1, strlen(s_q1), "Q1", err);
    if (rc == 0)
        rc = ms_csv_infer_schema(o->file, &spec->csv, spec->infer_schema, 20000,
                                 schema, err);
    ms_planner_opts_t po = {.num_partitions =
                                spec && spec->shuffle_partitions
                                    ? (int)spec->shuffle_partitions
                                    : 8,
                            .codec = MS_CODEC_ZLIB,
                            .zlib_level = 1};
    struct stat st;
    if (rc == 0 && stat(o->file, &st) < 0)
        rc =
            ms_error_set(err, MS_ERR_INPUT, "%s: %s", o->file, strerror(errno));
    if (rc == 0) ms_file_id_of(&st, &po.input_id);
    if (rc == 0) rc = ms_planner_build(spec, 0, schema, &po, plan, err);
    if (rc == 0) {
        free((*plan)->input_path);
        (*plan)->input_path = strdup(o->file);
    }
    free(schema);
    ms_job_spec_destroy(&spec);
    return rc;
}

/* One run; *secs and the task's metrics are filled. */
static int s_run_once(const ms_plan_t *plan, const char *dir, int64_t size,
                      double *secs, ms_task_metrics_t *m, ms_error_t *err)
{
    ms_task_t task = {.kind = MS_TASK_MAP, .split_end = size};
    memset(m, 0, sizeof *m);
    double t0 = (double)ms_clock_now_us() / 1e6;
    int rc = ms_map_task_run(&task, plan, "bench", dir, m, err);
    *secs = (double)ms_clock_now_us() / 1e6 - t0;
    int removed;
    ms_shuffle_remove_app(dir, "bench", &removed);
    return rc;
}

static int s_scan(const s_opts_t *o)
{
    ms_error_t err = {0};
    ms_plan_t *plan = NULL;
    struct stat st;
    char dir[] = "/tmp/minispark-bench-XXXXXX";
    if (stat(o->file, &st) < 0) {
        fprintf(stderr, "minispark bench: cannot read %s: %s\n", o->file,
                strerror(errno));
        return 3;
    }
    if (s_plan(o, &plan, &err) < 0 || !mkdtemp(dir)) {
        fprintf(stderr, "minispark bench: %s\n",
                err.msg[0] ? err.msg : strerror(errno));
        ms_plan_destroy(&plan);
        return err.code == MS_ERR_USAGE ? 2 : 3;
    }
    double rates[64];
    int rc = 0;
    printf("minispark bench scan: %s (%lld bytes), one core, %d runs\n",
           o->file, (long long)st.st_size, o->runs);
    for (int i = 0; i < o->runs && rc == 0; i++) {
        double secs;
        ms_task_metrics_t m;
        rc = s_run_once(plan, dir, st.st_size, &secs, &m, &err);
        if (rc < 0) break;
        rates[i] = (double)m.bytes_read / secs / 1e6;
        printf("run %d: %.3f s, %.0f MB/s, %.1f M rows/s\n", i + 1, secs,
               rates[i], (double)m.records_read / secs / 1e6);
    }
    rmdir(dir);
    ms_plan_destroy(&plan);
    if (rc < 0) {
        fprintf(stderr, "minispark bench: %s\n", err.msg);
        return 4;
    }
    qsort(rates, (size_t)o->runs, sizeof rates[0], s_cmp_double);
    printf("median: %.0f MB/s per core\n", rates[o->runs / 2]);
    return 0;
}

int ms_bench_main(int argc, char **argv)
{
    static const struct option opts[] = {{"job", required_argument, 0, 'j'},
                                         {"runs", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    s_opts_t o = {.runs = 5};
    int c;
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        fputs(s_usage, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "shuffle") == 0)
        return ms_bench_shuffle_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "scan") != 0) goto usage;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            o.job = optarg;
        else if (c == 'r')
            o.runs = atoi(optarg);
        else if (c == 'h') {
            fputs(s_usage, stdout);
            return 0;
        } else
            goto usage;
    }
    if (optind != argc - 1 || o.runs < 1 || o.runs > 64) goto usage;
    o.file = argv[optind];
    return s_scan(&o);
usage:
    fputs(s_usage, stderr);
    return 2;
}
