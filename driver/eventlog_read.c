/* Reading an event log back: one line into one ms_event_t, the exact
 * inverse of eventlog.c's writer, and a whole file through a listener (for
 * `minispark report` and tests). A log is outside bytes (truncated, edited
 * or not ours), so every field is type- and range-checked. */
#include "driver/eventlog.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Our longest line is a task end, well under 1 KiB; a longer one is not
 * ours, and reading it would let one line take any amount of memory. */
#define S_MAX_LINE (1 << 20)

/* ---- fields -------------------------------------------------------------- */

static int s_field(json_t *o, const char *key, json_t **out, ms_error_t *err)
{
    *out = json_object_get(o, key);
    if (!*out)
        return ms_error_set(err, MS_ERR_MALFORMED, "missing \"%s\"", key);
    return 0;
}

/* Every number the writer puts down is a count, an id or a time: never
 * negative. */
static int s_i64(json_t *o, const char *key, int64_t max, int64_t *out,
                 ms_error_t *err)
{
    json_t *v;
    int rc = s_field(o, key, &v, err);
    if (rc < 0) return rc;
    if (!json_is_integer(v))
        return ms_error_set(err, MS_ERR_MALFORMED, "\"%s\" is not an integer",
                            key);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > max)
        return ms_error_set(err, MS_ERR_MALFORMED, "\"%s\" out of range: %lld",
                            key, (long long)x);
    *out = x;
    return 0;
}

static int s_time(json_t *o, const char *key, int64_t *out, ms_error_t *err)
{
    return s_i64(o, key, INT64_MAX, out, err);
}

static int s_int(json_t *o, const char *key, int *out, ms_error_t *err)
{
    int64_t x = 0;
    int rc = s_i64(o, key, INT_MAX, &x, err);
    *out = (int)x;
    return rc;
}

static int s_str(json_t *o, const char *key, const char **out, ms_error_t *err)
{
    json_t *v;
    int rc = s_field(o, key, &v, err);
    if (rc < 0) return rc;
    if (!json_is_string(v))
        return ms_error_set(err, MS_ERR_MALFORMED, "\"%s\" is not a string",
                            key);
    *out = json_string_value(v);
    return 0;
}

static int s_obj(json_t *o, const char *key, json_t **out, ms_error_t *err)
{
    int rc = s_field(o, key, out, err);
    if (rc == 0 && !json_is_object(*out))
        return ms_error_set(err, MS_ERR_MALFORMED, "\"%s\" is not an object",
                            key);
    return rc;
}

static int s_bool(json_t *o, const char *key, bool *out, ms_error_t *err)
{
    json_t *v;
    int rc = s_field(o, key, &v, err);
    if (rc < 0) return rc;
    if (!json_is_boolean(v))
        return ms_error_set(err, MS_ERR_MALFORMED, "\"%s\" is not a boolean",
                            key);
    *out = json_is_true(v);
    return 0;
}

/* Executor ids are written as strings of digits, as Spark's are. */
static int s_exec(json_t *o, const char *key, int *out, ms_error_t *err)
{
    const char *s;
    int rc = s_str(o, key, &s, err);
    if (rc < 0) return rc;
    size_t n = strlen(s);
    long long id = 0;
    for (size_t i = 0; i < n && n <= 10; i++) {
        if (s[i] < '0' || s[i] > '9') break;
        id = id * 10 + (s[i] - '0');
        if (i + 1 == n && id <= INT_MAX) {
            *out = (int)id;
            return 0;
        }
    }
    /* %.32s: the id is quoted for people; the rest of a long one is noise. */
    return ms_error_set(err, MS_ERR_MALFORMED,
                        "\"%s\" is not an executor id: \"%.32s\"", key, s);
}

/* Names the object an error happened in (errors nest outwards). */
static int s_in(ms_error_t *err, const char *key, int rc)
{
    if (rc < 0) ms_error_prefix(err, "\"%s\"", key);
    return rc;
}

/* ---- events -------------------------------------------------------------- */

typedef int s_parse_fn(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                       ms_error_t *err);

static int s_app_start(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                       ms_error_t *err)
{
    const char *user;
    (void)m;
    int rc = s_str(o, "App Name", &ev->app_name, err);
    if (rc == 0) rc = s_str(o, "App ID", &ev->app_id, err);
    if (rc == 0) rc = s_str(o, "User", &user, err);
    return rc;
}

static int s_app_end(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                     ms_error_t *err)
{
    (void)o, (void)ev, (void)m, (void)err;
    return 0;
}

static int s_stage_ids(json_t *o, ms_event_t *ev, ms_error_t *err)
{
    json_t *ids;
    int rc = s_field(o, "Stage IDs", &ids, err);
    if (rc < 0) return rc;
    if (!json_is_array(ids) || json_array_size(ids) != 2)
        return ms_error_set(err, MS_ERR_MALFORMED,
                            "\"Stage IDs\" is not an array of two ids");
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_array_get(ids, i);
        json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
        if (x < 0 || x > INT_MAX)
            return ms_error_set(err, MS_ERR_MALFORMED,
                                "\"Stage IDs\" holds something not a stage id");
        ev->stage_ids[i] = (int)x;
    }
    return 0;
}

static int s_job_start(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                       ms_error_t *err)
{
    int64_t t;
    (void)m;
    int rc = s_int(o, "Job ID", &ev->job, err);
    if (rc == 0) rc = s_time(o, "Submission Time", &t, err);
    if (rc == 0) rc = s_stage_ids(o, ev, err);
    return rc;
}

static int s_job_end(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                     ms_error_t *err)
{
    int64_t t;
    json_t *res;
    const char *result = NULL;
    (void)m;
    int rc = s_int(o, "Job ID", &ev->job, err);
    if (rc == 0) rc = s_time(o, "Completion Time", &t, err);
    if (rc == 0) rc = s_obj(o, "Job Result", &res, err);
    if (rc == 0)
        rc = s_in(err, "Job Result", s_str(res, "Result", &result, err));
    if (rc < 0) return rc;
    ev->success = strcmp(result, "JobSucceeded") == 0;
    if (!ev->success && strcmp(result, "JobFailed") != 0)
        return ms_error_set(err, MS_ERR_MALFORMED,
                            "unknown job result \"%.32s\"", result);
    return 0;
}

static int s_stage_info(json_t *info, ms_event_t *ev, ms_error_t *err)
{
    int64_t t;
    int rc = s_int(info, "Stage ID", &ev->stage, err);
    if (rc == 0) rc = s_int(info, "Stage Attempt ID", &ev->stage_attempt, err);
    if (rc == 0) rc = s_str(info, "Stage Name", &ev->stage_name, err);
    if (rc == 0) rc = s_int(info, "Number of Tasks", &ev->ntasks, err);
    if (rc == 0)
        rc = s_time(info,
                    ev->type == MS_EV_STAGE_COMPLETED ? "Completion Time"
                                                      : "Submission Time",
                    &t, err);
    return rc;
}

static int s_stage(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                   ms_error_t *err)
{
    json_t *info;
    (void)m;
    int rc = s_obj(o, "Stage Info", &info, err);
    if (rc == 0) rc = s_in(err, "Stage Info", s_stage_info(info, ev, err));
    return rc;
}

/* "Task Info"; failed is NULL for a task start, which has no end fields. */
static int s_task_info(json_t *info, ms_event_t *ev, bool *failed,
                       ms_error_t *err)
{
    int64_t t;
    int rc = s_i64(info, "Task ID", INT64_MAX, &ev->task_id, err);
    if (rc == 0) rc = s_int(info, "Index", &ev->index, err);
    if (rc == 0) rc = s_int(info, "Attempt", &ev->attempt, err);
    if (rc == 0) rc = s_time(info, "Launch Time", &ev->launch_ms, err);
    if (rc == 0) rc = s_exec(info, "Executor ID", &ev->exec, err);
    if (rc == 0) rc = s_str(info, "Host", &ev->host, err);
    if (rc == 0 && failed) rc = s_time(info, "Finish Time", &t, err);
    if (rc == 0 && failed) rc = s_bool(info, "Failed", failed, err);
    return rc;
}

static int s_task_common(json_t *o, ms_event_t *ev, bool *failed,
                         ms_error_t *err)
{
    json_t *info;
    int rc = s_int(o, "Stage ID", &ev->stage, err);
    if (rc == 0) rc = s_int(o, "Stage Attempt ID", &ev->stage_attempt, err);
    if (rc == 0) rc = s_obj(o, "Task Info", &info, err);
    if (rc == 0)
        rc = s_in(err, "Task Info", s_task_info(info, ev, failed, err));
    return rc;
}

static int s_task_start(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                        ms_error_t *err)
{
    (void)m;
    return s_task_common(o, ev, NULL, err);
}

static int s_metric(json_t *tm, const char *group, const char *key,
                    int64_t *out, ms_error_t *err)
{
    json_t *g;
    int rc = s_obj(tm, group, &g, err);
    if (rc == 0) rc = s_in(err, group, s_i64(g, key, INT64_MAX, out, err));
    return rc;
}

static int s_metrics(json_t *tm, ms_task_metrics_t *m, ms_error_t *err)
{
    int rc = s_i64(tm, "Executor Run Time", INT64_MAX, &m->run_ms, err);
    /* Logs written before spilling existed lack the spill metrics. */
    if (rc == 0 && json_object_get(tm, "Memory Bytes Spilled"))
        rc = s_i64(tm, "Memory Bytes Spilled", INT64_MAX, &m->memory_spilled,
                   err);
    if (rc == 0 && json_object_get(tm, "Disk Bytes Spilled"))
        rc = s_i64(tm, "Disk Bytes Spilled", INT64_MAX, &m->disk_spilled, err);
    if (rc == 0)
        rc = s_metric(tm, "Input Metrics", "Bytes Read", &m->bytes_read, err);
    if (rc == 0)
        rc = s_metric(tm, "Input Metrics", "Records Read", &m->records_read,
                      err);
    if (rc == 0)
        rc = s_metric(tm, "Shuffle Write Metrics", "Shuffle Bytes Written",
                      &m->shuffle_written, err);
    if (rc == 0)
        rc = s_metric(tm, "Shuffle Read Metrics", "Remote Bytes Read",
                      &m->shuffle_fetched, err);
    if (rc == 0)
        rc = s_metric(tm, "Minispark Malformed Records", "Malformed",
                      &m->malformed, err);
    if (rc == 0)
        rc = s_metric(tm, "Minispark Malformed Records", "Dropped", &m->dropped,
                      err);
    return rc;
}

/* The writer sends Success or ExceptionFailure; Spark's other reasons
 * read as failures. */
static int s_end_reason(json_t *o, ms_event_t *ev, ms_error_t *err)
{
    json_t *r;
    const char *reason = NULL;
    int rc = s_obj(o, "Task End Reason", &r, err);
    if (rc == 0)
        rc = s_in(err, "Task End Reason", s_str(r, "Reason", &reason, err));
    if (rc < 0) return rc;
    ev->success = strcmp(reason, "Success") == 0;
    if (ev->success) return 0;
    ev->failure = reason;
    if (json_object_get(r, "Description"))
        rc = s_in(err, "Task End Reason",
                  s_str(r, "Description", &ev->failure, err));
    return rc;
}

static int s_task_type(json_t *o, ms_event_t *ev, ms_error_t *err)
{
    const char *type;
    int rc = s_str(o, "Task Type", &type, err);
    if (rc < 0) return rc;
    if (strcmp(type, "ShuffleMapTask") == 0)
        ev->stage_name = "map";
    else if (strcmp(type, "ResultTask") == 0)
        ev->stage_name = "reduce";
    else
        return ms_error_set(err, MS_ERR_MALFORMED,
                            "unknown task type \"%.32s\"", type);
    return 0;
}

static int s_task_end(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                      ms_error_t *err)
{
    bool failed = false;
    json_t *tm;
    ms_task_metrics_t scratch; /* checked even when the caller wants none */
    int rc = s_task_common(o, ev, &failed, err);
    if (rc == 0) rc = s_task_type(o, ev, err);
    if (rc == 0) rc = s_end_reason(o, ev, err);
    if (rc < 0) return rc;
    if (failed == ev->success)
        return ms_error_set(err, MS_ERR_MALFORMED,
                            "\"Failed\" contradicts \"Task End Reason\"");
    if (!json_object_get(o, "Task Metrics")) return 0;
    rc = s_obj(o, "Task Metrics", &tm, err);
    if (rc == 0)
        rc = s_in(err, "Task Metrics", s_metrics(tm, m ? m : &scratch, err));
    if (rc == 0) ev->metrics = m;
    return rc;
}

static int s_exec_added(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                        ms_error_t *err)
{
    json_t *info;
    (void)m;
    int rc = s_exec(o, "Executor ID", &ev->exec, err);
    if (rc == 0) rc = s_obj(o, "Executor Info", &info, err);
    if (rc == 0)
        rc = s_in(err, "Executor Info", s_str(info, "Host", &ev->host, err));
    if (rc == 0)
        rc = s_in(err, "Executor Info",
                  s_int(info, "Total Cores", &ev->cores, err));
    if (rc == 0) rc = s_time(o, "Minispark Launch Time", &ev->launch_ms, err);
    return rc;
}

static int s_exec_removed(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                          ms_error_t *err)
{
    (void)m;
    int rc = s_exec(o, "Executor ID", &ev->exec, err);
    if (rc == 0) rc = s_str(o, "Removed Reason", &ev->reason, err);
    return rc;
}

static int s_allocation(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                        ms_error_t *err)
{
    (void)m;
    int rc = s_str(o, "Action", &ev->action, err);
    if (rc == 0) rc = s_int(o, "Old Target", &ev->old_target, err);
    if (rc == 0) rc = s_int(o, "New Target", &ev->new_target, err);
    if (rc == 0) rc = s_int(o, "Pending Tasks", &ev->pending, err);
    if (rc == 0) rc = s_int(o, "Running Tasks", &ev->running, err);
    if (rc == 0) rc = s_int(o, "Executors", &ev->executors, err);
    if (rc == 0) rc = s_str(o, "Reason", &ev->reason, err);
    /* Absent when the decision is about no one executor. */
    if (rc == 0 && json_object_get(o, "Executor ID"))
        rc = s_exec(o, "Executor ID", &ev->exec, err);
    return rc;
}

static const struct {
    const char *name;
    ms_event_type_t type;
    s_parse_fn *fn;
} s_events[] = {
    {"SparkListenerApplicationStart", MS_EV_APP_START, s_app_start},
    {"SparkListenerApplicationEnd", MS_EV_APP_END, s_app_end},
    {"SparkListenerJobStart", MS_EV_JOB_START, s_job_start},
    {"SparkListenerJobEnd", MS_EV_JOB_END, s_job_end},
    {"SparkListenerStageSubmitted", MS_EV_STAGE_SUBMITTED, s_stage},
    {"SparkListenerStageCompleted", MS_EV_STAGE_COMPLETED, s_stage},
    {"SparkListenerTaskStart", MS_EV_TASK_START, s_task_start},
    {"SparkListenerTaskEnd", MS_EV_TASK_END, s_task_end},
    {"SparkListenerExecutorAdded", MS_EV_EXECUTOR_ADDED, s_exec_added},
    {"SparkListenerExecutorRemoved", MS_EV_EXECUTOR_REMOVED, s_exec_removed},
    {"MinisparkAllocationDecision", MS_EV_ALLOCATION, s_allocation},
};

/* 0 and the event, 1 for an event we do not know, or an error. */
static int s_parse(json_t *o, ms_event_t *ev, ms_task_metrics_t *m,
                   ms_error_t *err)
{
    const char *name;
    int rc = s_str(o, "Event", &name, err);
    if (rc < 0) return rc;
    for (size_t i = 0; i < sizeof s_events / sizeof *s_events; i++) {
        if (strcmp(name, s_events[i].name) != 0) continue;
        ev->type = s_events[i].type;
        rc = s_time(o, "Timestamp", &ev->time_ms, err);
        if (rc == 0) rc = s_events[i].fn(o, ev, m, err);
        if (rc < 0) ms_error_prefix(err, "%s", name);
        return rc;
    }
    return 1;
}

int ms_eventlog_parse_line(const char *line, size_t len, ms_event_t *ev,
                           ms_task_metrics_t *metrics, json_t **doc,
                           ms_error_t *err)
{
    /* Prefixing needs a real carrier even when the caller passes none. */
    ms_error_t e = {0};
    json_error_t jerr;
    memset(ev, 0, sizeof *ev);
    ev->shuffle = -1; /* not logged */
    if (metrics) memset(metrics, 0, sizeof *metrics);
    *doc = NULL;
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return ms_error_set(err, MS_ERR_MALFORMED, "not JSON: %s (column %d)",
                            jerr.text, jerr.column);
    int rc = json_is_object(o)
                 ? s_parse(o, ev, metrics, &e)
                 : ms_error_set(&e, MS_ERR_MALFORMED, "not a JSON object");
    if (rc != 0) {
        json_decref(o);
        if (rc < 0 && err) *err = e;
        return rc;
    }
    *doc = o;
    return 0;
}

/* ---- whole files --------------------------------------------------------- */

/* One line, without its newline, into buf[cap]: 0 at the end of the file,
 * 1 for a line, 2 for one longer than cap (read to its end and dropped).
 * *nl says whether the line was finished. */
static int s_read_line(FILE *f, char *buf, size_t cap, size_t *len, bool *nl)
{
    size_t n = 0;
    bool too_long = false;
    int c;
    while ((c = getc_unlocked(f)) != EOF && c != '\n') {
        if (n < cap)
            buf[n++] = (char)c;
        else
            too_long = true;
    }
    *len = n;
    *nl = c == '\n';
    if (c == EOF && n == 0) return 0;
    return too_long ? 2 : 1;
}

static int s_replay(FILE *f, const char *path, char *buf, ms_listener_fn *fn,
                    void *arg, ms_error_t *err)
{
    ms_error_t e = {0};
    size_t len;
    bool nl;
    int r;
    for (long lineno = 1; (r = s_read_line(f, buf, S_MAX_LINE, &len, &nl));
         lineno++) {
        ms_event_t ev;
        ms_task_metrics_t m;
        json_t *doc = NULL;
        int rc = r == 2 ? ms_error_set(&e, MS_ERR_MALFORMED,
                                       "line longer than %d bytes", S_MAX_LINE)
                        : 0;
        if (len && buf[len - 1] == '\r') len--;
        if (rc == 0 && len == 0) continue;
        if (rc == 0) rc = ms_eventlog_parse_line(buf, len, &ev, &m, &doc, &e);
        /* The last line of a running (or killed) application's log may be
         * half written, as Spark's history server also allows. */
        if (rc < 0 && r == 1 && !nl) break;
        if (rc < 0) {
            ms_error_prefix(&e, "%s:%ld", path, lineno);
            return err ? (*err = e).code : e.code;
        }
        if (rc == 0) fn(arg, &ev);
        json_decref(doc);
    }
    if (ferror(f))
        return ms_error_set(err, MS_ERR_IO, "cannot read event log %s", path);
    return 0;
}

int ms_eventlog_replay(const char *path, ms_listener_fn *fn, void *arg,
                       ms_error_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ms_error_set(err, MS_ERR_IO, "cannot read event log %s: %s",
                            path, strerror(errno));
    char *buf = malloc(S_MAX_LINE);
    int rc = buf ? s_replay(f, path, buf, fn, arg, err)
                 : ms_error_set(err, MS_ERR_NOMEM, "event log line buffer");
    free(buf);
    fclose(f);
    return rc;
}
