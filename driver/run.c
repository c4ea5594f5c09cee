/* The `run` subcommand: command line, configuration layers, planning every
 * query up front (so a bad job fails before any process starts), running
 * the application and mapping errors to exit codes. */
#include "driver/driver.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/agg.h"
#include "common/conf.h"
#include "common/conf_keys.h"
#include "common/csv.h"
#include "common/fsutil.h"
#include "driver/app.h"
#include "driver/console.h"
#include "driver/job.h"
#include "driver/jobfile.h"
#include "driver/output.h"
#include "driver/planner.h"

static const char s_usage[] =
    "usage: minispark run JOB.json [--master MASTER] [--conf KEY=VALUE]...\n"
    "                     [--output PATH] [--ui-port N | --no-ui]\n"
    "                     [--event-log DIR] [--quiet]\n"
    "\n"
    "Runs the job file's query (or each of its \"jobs\" in turn) on a driver,\n"
    "executor processes and a shuffle service, prints the result as a table\n"
    "and a summary, and writes it as CSV when an output path is given.\n"
    "\n"
    "  --master MASTER     local[N], local[*] (default), local, or\n"
    "                      workers://HOST:PORT[,HOST:PORT...]: executors\n"
    "                      started by `minispark worker` agents (the input\n"
    "                      path must be readable at the same path there)\n"
    "  --conf KEY=VALUE    a Spark configuration key; beats the job file's\n"
    "                      \"conf\" and conf/spark-defaults.conf\n"
    "  --output PATH       write the result CSV here (atomically; never\n"
    "                      over the input or the job file)\n"
    "  --ui-port N         serve the live web UI on port N (default 4040,\n"
    "                      or the next free one)\n"
    "  --no-ui             no web UI\n"
    "  --event-log DIR     write the event log to DIR/<appId>.jsonl\n"
    "  --quiet             print errors only\n"
    "\n"
    "Exit codes: 0 success, 2 bad usage or job file, 3 input error,\n"
    "4 job failed at run time, 130 interrupted.\n";

typedef struct {
    const char *job_path, *output, *master, *event_log, *ui_port;
    bool no_ui;
    bool quiet;
    int nconfs;
    const char *confs[256];
} s_opts_t;

static int s_exit_code(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MS_ERR_USAGE:
        return 2;
    case MS_ERR_INPUT:
    case MS_ERR_MALFORMED:
        return 3;
    case MS_ERR_INTERRUPTED:
        return 130;
    default:
        return 4;
    }
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"master", required_argument, 0, 'm'},
        {"conf", required_argument, 0, 'c'},
        {"output", required_argument, 0, 'o'},
        {"quiet", no_argument, 0, 'q'},
        {"event-log", required_argument, 0, 'e'},
        {"ui-port", required_argument, 0, 'u'},
        {"no-ui", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    memset(o, 0, sizeof *o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            o->master = optarg;
            break;
        case 'o':
            o->output = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'e':
            o->event_log = optarg;
            break;
        case 'u':
            o->ui_port = optarg;
            break;
        case 'n':
            o->no_ui = true;
            break;
        case 'h':
            fputs(s_usage, stdout);
            return 1;
        case 'c':
            if (o->nconfs == 256) return -1;
            o->confs[o->nconfs++] = optarg;
            break;
        default:
            return -1;
        }
    }
    if (optind != argc - 1) return -1;
    o->job_path = argv[optind];
    return 0;
}

/* Built-in defaults < spark-defaults.conf < job "conf" < command line. */
static int s_build_conf(const s_opts_t *o, const ms_job_spec_t *spec,
                        ms_conf_t *conf, ms_error_t *err)
{
    char path[PATH_MAX + 32], exe[PATH_MAX];
    const char *dir = getenv("MINISPARK_CONF_DIR");
    if (dir) {
        snprintf(path, sizeof path, "%s/spark-defaults.conf", dir);
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        snprintf(path, sizeof path, "%s/../conf/spark-defaults.conf",
                 dirname(exe));
    }
    int rc = ms_conf_load_file(conf, path, err);
    const char *k, *v;
    for (int i = 0; rc == 0 && ms_conf_entry(spec->conf, i, &k, &v); i++)
        rc = ms_conf_set(conf, k, v, err);
    if (rc == 0 && o->master)
        rc = ms_conf_set(conf, "spark.master", o->master, err);
    if (rc == 0 && o->ui_port)
        rc = ms_conf_set(conf, "spark.ui.port", o->ui_port, err);
    if (rc == 0 && o->no_ui)
        rc = ms_conf_set(conf, "spark.ui.enabled", "false", err);
    if (rc == 0 && o->event_log) {
        rc = ms_conf_set(conf, "spark.eventLog.enabled", "true", err);
        if (rc == 0)
            rc = ms_conf_set(conf, "spark.eventLog.dir", o->event_log, err);
    }
    for (int i = 0; rc == 0 && i < o->nconfs; i++)
        rc = ms_conf_set_pair(conf, o->confs[i], err);
    return rc;
}

/* ---- input and plans ------------------------------------------------------
 */

static int s_has_records(const ms_job_spec_t *spec, ms_error_t *err)
{
    ms_csv_reader_t *r;
    ms_field_t f[1];
    int nf;
    int rc = ms_csv_reader_new(&r, spec->input_path, 0, -1, &spec->csv, err);
    if (rc < 0) return rc;
    rc = ms_csv_reader_next(r, f, 1, &nf, err);
    ms_csv_reader_destroy(&r);
    return rc == 0 ? 0 : 1;
}

/* The input must be a regular file whose size says how much there is to
 * read: splits are byte ranges of it. A FIFO or device has no such size
 * (and opening a FIFO would wait for a writer); nor do /proc and /sys
 * files, which say 0 bytes and yet have content. */
static int s_stat_input(const char *path, ms_file_id_t *id, ms_error_t *err)
{
    struct stat st;
    char byte;
    int fd = ms_open_regular(path, &st, err);
    if (fd < 0) {
        ms_error_prefix(err, "cannot read input");
        return MS_ERR_INPUT;
    }
    ssize_t n = st.st_size == 0 ? read(fd, &byte, 1) : 0;
    close(fd);
    if (n > 0)
        return ms_error_set(err, MS_ERR_INPUT,
                            "cannot read input %s: its size is 0 but it has "
                            "content (a /proc or /sys file?); copy it to a "
                            "regular file first",
                            path);
    ms_file_id_of(&st, id);
    return 0;
}

static int s_schema(ms_job_spec_t *spec, const ms_conf_t *conf,
                    ms_schema_t *schema, ms_file_id_t *id, ms_error_t *err)
{
    char real[PATH_MAX];
    int64_t sample;
    if (!realpath(spec->input_path, real))
        return ms_error_set(err, MS_ERR_INPUT, "cannot read input %s: %s",
                            spec->input_path, strerror(errno));
    free(spec->input_path);
    spec->input_path = strdup(real);
    int rc = s_stat_input(real, id, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "minispark.csv.sampleRows", &sample, err);
    if (rc == 0)
        rc = ms_csv_infer_schema(real, &spec->csv, spec->infer_schema,
                                 (int)sample, schema, err);
    if (rc < 0) return rc == MS_ERR_USAGE ? rc : MS_ERR_INPUT;
    /* Without a single record no value is ever read: types are unknown. */
    rc = s_has_records(spec, err);
    if (rc == 0)
        for (int i = 0; i < schema->ncols; i++)
            schema->cols[i].type = (ms_coltype_t){MS_TYPE_NULL, 0};
    return rc < 0 ? MS_ERR_INPUT : 0;
}

/* Every output is checked before any task runs: a wrong one must not cost
 * the whole run, and none may be the input or the job file. */
static int s_check_outputs(const ms_job_spec_t *spec, const s_opts_t *o,
                           ms_error_t *err)
{
    const char *keep[] = {spec->input_path, o->job_path};
    int rc = 0;
    for (int q = 0; rc == 0 && q < spec->nqueries; q++) {
        const char *out = o->output ? o->output : spec->queries[q].output_path;
        if (out) rc = ms_output_check(out, keep, 2, err);
    }
    return rc;
}

/* A task's share of its executor's memory for aggregation state, as Spark
 * sizes its execution memory: spark.executor.memory x spark.memory.fraction,
 * split between the tasks an executor runs at once. */
static int s_agg_memory(const ms_conf_t *conf, int64_t *out, ms_error_t *err)
{
    int64_t memory, cores, cpus;
    double fraction;
    int rc = ms_conf_key_int(conf, "spark.executor.memory", &memory, err);
    if (rc == 0)
        rc =
            ms_conf_key_fraction(conf, "spark.memory.fraction", &fraction, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "spark.executor.cores", &cores, err);
    if (rc == 0) rc = ms_conf_key_int(conf, "spark.task.cpus", &cpus, err);
    if (rc < 0) return rc;
    if (memory < (1 << 20))
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid value '%s' for spark.executor.memory: "
                            "expected at least 1m",
                            ms_conf_get(conf, "spark.executor.memory"));
    if (!(fraction > 0 && fraction <= 1))
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid value '%s' for spark.memory.fraction: "
                            "expected a number in (0, 1]",
                            ms_conf_get(conf, "spark.memory.fraction"));
    int64_t slots = cores / cpus > 0 ? cores / cpus : 1;
    *out = (int64_t)((double)memory * fraction) / slots;
    return 0;
}

static int s_planner_opts(const ms_job_spec_t *spec, const ms_conf_t *conf,
                          ms_planner_opts_t *po, ms_error_t *err)
{
    int64_t parts = spec->shuffle_partitions, level;
    bool compress;
    int rc = 0;
    if (!parts)
        rc = ms_conf_key_int(conf, "spark.sql.shuffle.partitions", &parts, err);
    if (rc == 0)
        rc = ms_conf_key_bool(conf, "spark.shuffle.compress", &compress, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "spark.io.compression.zlib.level", &level,
                             err);
    if (rc < 0) return rc;
    const char *codec = ms_conf_get(conf, "spark.io.compression.codec");
    if (!codec || strcmp(codec, "zlib") == 0)
        po->codec = MS_CODEC_ZLIB;
    else if (strcmp(codec, "lz4") == 0)
        po->codec = MS_CODEC_LZ4;
    else if (strcmp(codec, "none") == 0)
        po->codec = MS_CODEC_NONE;
    else
        return ms_error_set(
            err, MS_ERR_USAGE,
            "invalid value '%s' for spark.io.compression.codec: "
            "expected zlib, lz4 or none",
            codec);
    if (!compress) po->codec = MS_CODEC_NONE;
    po->num_partitions = (int)parts;
    po->zlib_level = (int)level;
    return s_agg_memory(conf, &po->agg_memory, err);
}

/* ---- running
 * ------------------------------------------------------------------ */

static void s_summary(const ms_app_t *app)
{
    const ms_app_totals_t *t = &app->totals;
    double wall = (double)(ms_clock_now_ms() - app->start_ms) / 1000.0;
    double exec_s = 0;
    int64_t now = ms_clock_now_ms();
    for (int i = 0; i < app->nexecs; i++) {
        const ms_exec_t *ex = &app->execs[i];
        exec_s +=
            (double)((ex->ended_ms ? ex->ended_ms : now) - ex->launched_ms);
    }
    char in[32], rate[32], wr[32], rd[32], scan[32], spill[48] = "";
    ms_console_bytes(in, sizeof in, (double)t->bytes_read);
    ms_console_bytes(rate, sizeof rate,
                     wall > 0 ? (double)t->bytes_read / wall : 0);
    ms_console_bytes(wr, sizeof wr, (double)t->shuffle_written);
    ms_console_bytes(rd, sizeof rd, (double)t->shuffle_fetched);
    if (t->disk_spilled) {
        char b[32];
        ms_console_bytes(b, sizeof b, (double)t->disk_spilled);
        snprintf(spill, sizeof spill, " (%s spilled)", b);
    }
    ms_console_bytes(
        scan, sizeof scan,
        t->map_ms ? (double)t->bytes_read * 1000.0 / (double)t->map_ms : 0);
    printf("%s finished in %.2f s: %lld rows read (%s, %s/s), %lld malformed "
           "(%lld dropped); shuffle %s written, %s fetched%s; %d executors "
           "at peak, %.2f executor-seconds; map side %s/s per core.\n",
           app->app_id, wall, (long long)t->records_read, in, rate,
           (long long)t->malformed, (long long)t->dropped, wr, rd, spill,
           app->peak_execs, exec_s / 1000.0, scan);
}

static int s_run_jobs(ms_app_t *app, const ms_job_spec_t *spec,
                      ms_plan_t **plans, const s_opts_t *o, ms_error_t *err)
{
    int64_t show;
    int rc = ms_conf_key_int(app->conf, "minispark.show.rows", &show, err);
    for (int q = 0; rc == 0 && q < spec->nqueries; q++) {
        const ms_query_spec_t *qs = &spec->queries[q];
        ms_job_opts_t jo = {q, o->output ? o->output : qs->output_path, show};
        rc = ms_job_run(app, plans[q], &jo, err);
        for (int64_t end = ms_clock_now_ms() + qs->pause_after_ms;
             rc == 0 && q + 1 < spec->nqueries && ms_clock_now_ms() < end;)
            rc = ms_app_pump(app, end - ms_clock_now_ms(), err);
    }
    return rc;
}

static void s_warn_inexact(const ms_plan_t *plan)
{
    char note[512];
    for (int a = 0; a < plan->naggs; a++)
        if (ms_agg_inexact_note(plan, a, note, sizeof note))
            fprintf(stderr, "minispark: warning: %s\n", note);
}

static int s_run(const s_opts_t *o, ms_error_t *err)
{
    ms_job_spec_t *spec = NULL;
    ms_conf_t *conf = ms_conf_new();
    ms_plan_t **plans = NULL;
    ms_schema_t *schema = calloc(1, sizeof *schema);
    ms_planner_opts_t po;
    ms_app_t app;
    bool started = false;
    int rc = conf && schema ? 0 : ms_error_set(err, MS_ERR_NOMEM, "setup");
    /* Before anything that may block (a job file or input on a slow or
     * hung mount), so that Ctrl-C is always answered. */
    ms_app_install_signals();
    if (rc == 0 && ms_job_spec_load(&spec, o->job_path, err) < 0)
        rc = err->code = MS_ERR_USAGE; /* the job file is usage, not input */
    if (rc == 0) rc = s_build_conf(o, spec, conf, err);
    if (rc == 0)
        rc = ms_conf_check(conf, o->quiet ? NULL : ms_conf_warn_stderr,
                           "minispark", err);
    if (rc == 0 && o->output && spec->nqueries > 1)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "--output needs a job file with "
                          "one query; give each of \"jobs\" "
                          "an \"output\" instead");
    if (rc == 0) rc = s_planner_opts(spec, conf, &po, err);
    if (rc == 0) rc = s_schema(spec, conf, schema, &po.input_id, err);
    if (rc == 0) rc = s_check_outputs(spec, o, err);
    if (rc == 0 && !(plans = calloc((size_t)spec->nqueries, sizeof *plans)))
        rc = ms_error_set(err, MS_ERR_NOMEM, "plans");
    for (int q = 0; rc == 0 && q < spec->nqueries; q++)
        rc = ms_planner_build(spec, q, schema, &po, &plans[q], err);
    for (int q = 0; rc == 0 && !o->quiet && q < spec->nqueries; q++)
        s_warn_inexact(plans[q]);
    if (ms_app_interrupted()) /* whatever planning made of it */
        rc = ms_error_set(err, MS_ERR_INTERRUPTED, "interrupted");
    if (rc == 0) {
        started = true;
        rc = ms_app_start(
            &app, conf, spec->app_name, o->quiet,
            &(ms_app_watcher_t){ms_console_listener, ms_console_progress}, err);
    }
    if (rc == 0) rc = s_run_jobs(&app, spec, plans, o, err);
    if (rc == 0) rc = ms_app_linger(&app, err);
    if (started) ms_app_stop(&app, rc == 0);
    if (rc == 0 && !o->quiet) s_summary(&app);
    if (started) ms_app_free(&app);
    for (int q = 0; plans && q < spec->nqueries; q++)
        ms_plan_destroy(&plans[q]);
    free(plans);
    free(schema);
    ms_job_spec_destroy(&spec);
    ms_conf_destroy(&conf);
    return rc;
}

int ms_driver_main(int argc, char **argv)
{
    s_opts_t o;
    int p = s_parse(argc, argv, &o);
    if (p > 0) return 0;
    if (p < 0) {
        fputs(s_usage, stderr);
        return 2;
    }
    ms_error_t err = {0};
    int rc = s_run(&o, &err);
    if (rc < 0) fprintf(stderr, "minispark: error: %s\n", err.msg);
    return s_exit_code(rc);
}
