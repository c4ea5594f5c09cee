/* Event log writer (jansson). Field names follow Spark's JsonProtocol so
 * that tools reading Spark event logs find what they expect. */
#include "driver/eventlog.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/utf8.h"

struct ms_eventlog {
    FILE *f;
    char path[4200];
};

int ms_eventlog_open(ms_eventlog_t **out, const char *dir, const char *app_id,
                     ms_error_t *err)
{
    ms_eventlog_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "event log");
    snprintf(self->path, sizeof self->path, "%s/%s.jsonl", dir, app_id);
    if (ms_mkdirs(dir) < 0 || !(self->f = fopen(self->path, "w"))) {
        ms_error_set(err, MS_ERR_IO, "cannot write event log %s: %s",
                     self->path, strerror(errno));
        free(self);
        return MS_ERR_IO;
    }
    *out = self;
    return 0;
}

void ms_eventlog_close(ms_eventlog_t **self_p)
{
    if (!self_p || !*self_p) return;
    fclose((*self_p)->f);
    free(*self_p);
    *self_p = NULL;
}

const char *ms_eventlog_path(const ms_eventlog_t *self)
{
    return self->path;
}

/* ---- building events
 * ------------------------------------------------------------ */

static json_t *s_exec_id(int exec)
{
    char id[16];
    snprintf(id, sizeof id, "%d", exec);
    return json_string(id);
}

static json_t *s_stage_info(const ms_event_t *ev, bool done)
{
    json_t *o = json_pack("{s:i, s:i, s:s, s:i}", "Stage ID", ev->stage,
                          "Stage Attempt ID", ev->stage_attempt, "Stage Name",
                          ev->stage_name, "Number of Tasks", ev->ntasks);
    json_object_set_new(o, done ? "Completion Time" : "Submission Time",
                        json_integer(ev->time_ms));
    return o;
}

static json_t *s_task_info(const ms_event_t *ev, bool done)
{
    json_t *o = json_pack(
        "{s:I, s:i, s:i, s:I, s:o, s:s}", "Task ID", (json_int_t)ev->task_id,
        "Index", ev->index, "Attempt", ev->attempt, "Launch Time",
        (json_int_t)ev->launch_ms, "Executor ID", s_exec_id(ev->exec), "Host",
        ev->host ? ev->host : "");
    if (done) {
        json_object_set_new(o, "Finish Time", json_integer(ev->time_ms));
        json_object_set_new(o, "Failed", json_boolean(!ev->success));
    }
    return o;
}

static json_t *s_metrics(const ms_task_metrics_t *m)
{
    return json_pack(
        "{s:I, s:I, s:I, s:{s:I, s:I}, s:{s:I}, s:{s:I}, "
        "s:{s:I, s:I}}",
        "Executor Run Time", (json_int_t)m->run_ms, "Memory Bytes Spilled",
        (json_int_t)m->memory_spilled, "Disk Bytes Spilled",
        (json_int_t)m->disk_spilled, "Input Metrics", "Bytes Read",
        (json_int_t)m->bytes_read, "Records Read", (json_int_t)m->records_read,
        "Shuffle Write Metrics", "Shuffle Bytes Written",
        (json_int_t)m->shuffle_written, "Shuffle Read Metrics",
        "Remote Bytes Read", (json_int_t)m->shuffle_fetched,
        "Minispark Malformed Records", "Malformed", (json_int_t)m->malformed,
        "Dropped", (json_int_t)m->dropped);
}

static json_t *s_task_end(const ms_event_t *ev)
{
    json_t *o = json_pack("{s:i, s:i, s:s}", "Stage ID", ev->stage,
                          "Stage Attempt ID", ev->stage_attempt, "Task Type",
                          strcmp(ev->stage_name, "map") == 0 ? "ShuffleMapTask"
                                                             : "ResultTask");
    json_object_set_new(
        o, "Task End Reason",
        ev->success ? json_pack("{s:s}", "Reason", "Success")
                    : json_pack("{s:s, s:s}", "Reason", "ExceptionFailure",
                                "Description", ev->failure ? ev->failure : ""));
    json_object_set_new(o, "Task Info", s_task_info(ev, true));
    if (ev->metrics)
        json_object_set_new(o, "Task Metrics", s_metrics(ev->metrics));
    return o;
}

static json_t *s_allocation(const ms_event_t *ev)
{
    json_t *o =
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:s}", "Action", ev->action,
                  "Old Target", ev->old_target, "New Target", ev->new_target,
                  "Pending Tasks", ev->pending, "Running Tasks", ev->running,
                  "Executors", ev->executors, "Reason", ev->reason);
    if (ev->exec > 0)
        json_object_set_new(o, "Executor ID", s_exec_id(ev->exec));
    return o;
}

static json_t *s_build(const ms_event_t *ev)
{
    switch (ev->type) {
    case MS_EV_APP_START:
        return json_pack("{s:s, s:s, s:s}", "App Name", ev->app_name, "App ID",
                         ev->app_id, "User",
                         getenv("USER") ? getenv("USER") : "");
    case MS_EV_APP_END:
        return json_object();
    case MS_EV_JOB_START:
        return json_pack("{s:i, s:I, s:[i,i]}", "Job ID", ev->job,
                         "Submission Time", (json_int_t)ev->time_ms,
                         "Stage IDs", ev->stage_ids[0], ev->stage_ids[1]);
    case MS_EV_JOB_END:
        return json_pack("{s:i, s:I, s:{s:s}}", "Job ID", ev->job,
                         "Completion Time", (json_int_t)ev->time_ms,
                         "Job Result", "Result",
                         ev->success ? "JobSucceeded" : "JobFailed");
    case MS_EV_STAGE_SUBMITTED:
    case MS_EV_STAGE_COMPLETED:
        return json_pack("{s:o}", "Stage Info",
                         s_stage_info(ev, ev->type == MS_EV_STAGE_COMPLETED));
    case MS_EV_TASK_START:
        return json_pack("{s:i, s:i, s:o}", "Stage ID", ev->stage,
                         "Stage Attempt ID", ev->stage_attempt, "Task Info",
                         s_task_info(ev, false));
    case MS_EV_TASK_END:
        return s_task_end(ev);
    case MS_EV_EXECUTOR_ADDED:
        return json_pack("{s:o, s:{s:s, s:i}, s:I}", "Executor ID",
                         s_exec_id(ev->exec), "Executor Info", "Host",
                         ev->host ? ev->host : "", "Total Cores", ev->cores,
                         "Minispark Launch Time", (json_int_t)ev->launch_ms);
    case MS_EV_EXECUTOR_REMOVED:
        return json_pack("{s:o, s:s}", "Executor ID", s_exec_id(ev->exec),
                         "Removed Reason", ev->reason ? ev->reason : "");
    case MS_EV_ALLOCATION:
        return s_allocation(ev);
    case MS_EV_SHUFFLE_REMOVED:
        return NULL;
    }
    return NULL;
}

static const char *const s_names[] = {
    [MS_EV_APP_START] = "SparkListenerApplicationStart",
    [MS_EV_APP_END] = "SparkListenerApplicationEnd",
    [MS_EV_JOB_START] = "SparkListenerJobStart",
    [MS_EV_JOB_END] = "SparkListenerJobEnd",
    [MS_EV_STAGE_SUBMITTED] = "SparkListenerStageSubmitted",
    [MS_EV_STAGE_COMPLETED] = "SparkListenerStageCompleted",
    [MS_EV_TASK_START] = "SparkListenerTaskStart",
    [MS_EV_TASK_END] = "SparkListenerTaskEnd",
    [MS_EV_EXECUTOR_ADDED] = "SparkListenerExecutorAdded",
    [MS_EV_EXECUTOR_REMOVED] = "SparkListenerExecutorRemoved",
    [MS_EV_ALLOCATION] = "MinisparkAllocationDecision",
    [MS_EV_SHUFFLE_REMOVED] = "",
};

/* jansson refuses invalid UTF-8, and a failure message or a reason may
 * hold any bytes: every string goes out cleaned, or the event would be
 * lost. */
typedef struct {
    char app_id[64], app_name[256], stage_name[32], failure[1024];
    char host[256], reason[1024], action[32];
} s_clean_t;

static const char *s_clean_str(char *buf, size_t size, const char *s)
{
    if (!s) return NULL;
    ms_utf8_copy(buf, size, s);
    return buf;
}

static ms_event_t s_cleaned(const ms_event_t *ev, s_clean_t *c)
{
    ms_event_t e = *ev;
    e.app_id = s_clean_str(c->app_id, sizeof c->app_id, ev->app_id);
    e.app_name = s_clean_str(c->app_name, sizeof c->app_name, ev->app_name);
    e.stage_name =
        s_clean_str(c->stage_name, sizeof c->stage_name, ev->stage_name);
    e.failure = s_clean_str(c->failure, sizeof c->failure, ev->failure);
    e.host = s_clean_str(c->host, sizeof c->host, ev->host);
    e.reason = s_clean_str(c->reason, sizeof c->reason, ev->reason);
    e.action = s_clean_str(c->action, sizeof c->action, ev->action);
    return e;
}

void ms_eventlog_listener(void *arg, const ms_event_t *raw)
{
    ms_eventlog_t *self = arg;
    s_clean_t clean;
    ms_event_t cleaned = s_cleaned(raw, &clean);
    const ms_event_t *ev = &cleaned;
    json_t *body = s_build(ev);
    if (!body) return;
    /* "Event" first, as in Spark's logs, then the event's own fields. */
    json_t *o = json_pack("{s:s, s:I}", "Event", s_names[ev->type], "Timestamp",
                          (json_int_t)ev->time_ms);
    json_object_update(o, body);
    json_decref(body);
    json_dumpf(o, self->f, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', self->f);
    fflush(self->f);
    json_decref(o);
}
