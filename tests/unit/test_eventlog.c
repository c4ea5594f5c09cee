/* The event log read back: every event type survives writer -> parser ->
 * writer unchanged, malformed lines (not JSON, wrong types, missing
 * fields, numbers out of range, bad executor ids) are refused as
 * MS_ERR_MALFORMED with a reason, unknown events are skipped, and a whole
 * file replays with errors naming its line. */
#include <criterion/criterion.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/eventlog.h"

#define T0 INT64_C(1795309323456)

static char s_dir[64];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/ms_eventlog_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(eventlog, .init = s_setup, .fini = s_teardown);

/* The whole file, malloc'ed. */
static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* What the writer makes of ev: one line, without its newline. */
static char *s_write(const ms_event_t *ev)
{
    ms_error_t err;
    ms_eventlog_t *log = NULL;
    cr_assert_eq(ms_eventlog_open(&log, s_dir, "app-test", &err), 0, "%s",
                 err.msg);
    ms_eventlog_listener(log, ev);
    char path[256];
    snprintf(path, sizeof path, "%s", ms_eventlog_path(log));
    ms_eventlog_close(&log);
    char *text = s_slurp(path);
    size_t n = strlen(text);
    cr_assert(n > 0 && text[n - 1] == '\n', "one line: \"%s\"", text);
    text[n - 1] = '\0';
    cr_assert_null(strchr(text, '\n'), "one line: \"%s\"", text);
    return text;
}

typedef struct {
    ms_event_t ev;
    ms_task_metrics_t m;
    json_t *doc;
} s_parsed_t;

static int s_parse(const char *line, s_parsed_t *p, ms_error_t *err)
{
    memset(err, 0, sizeof *err);
    return ms_eventlog_parse_line(line, strlen(line), &p->ev, &p->m, &p->doc,
                                  err);
}

/* Writes ev, parses the line, writes the result again: the two lines must
 * be the same bytes. The parsed event is left in *p. */
static void s_round_trip(const ms_event_t *ev, s_parsed_t *p)
{
    char *line = s_write(ev);
    ms_error_t err;
    int rc = s_parse(line, p, &err);
    cr_assert_eq(rc, 0, "%s: %s", line, err.msg);
    cr_assert_not_null(p->doc);
    cr_assert_eq(p->ev.type, ev->type);
    cr_assert_eq(p->ev.time_ms, ev->time_ms);
    char *again = s_write(&p->ev);
    cr_assert_str_eq(again, line);
    free(again);
    free(line);
}

/* ---- round trips --------------------------------------------------------- */

Test(eventlog, application_start_and_end)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_APP_START,
                     .time_ms = T0,
                     .app_id = "app-20261122010203-0001",
                     .app_name = "dynamic-allocation-demo \"q\" \xc3\xa9"};
    s_round_trip(&ev, &p);
    cr_assert_str_eq(p.ev.app_id, ev.app_id);
    cr_assert_str_eq(p.ev.app_name, ev.app_name);
    json_decref(p.doc);
    ms_event_t end = {.type = MS_EV_APP_END, .time_ms = T0 + 5000};
    s_round_trip(&end, &p);
    json_decref(p.doc);
}

Test(eventlog, job_start_and_end)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_JOB_START,
                     .time_ms = T0,
                     .job = 3,
                     .stage_ids = {6, 7},
                     .shuffle = 3};
    s_round_trip(&ev, &p);
    cr_assert_eq(p.ev.job, 3);
    cr_assert_eq(p.ev.stage_ids[0], 6);
    cr_assert_eq(p.ev.stage_ids[1], 7);
    cr_assert_eq(p.ev.shuffle, -1, "not in the log");
    json_decref(p.doc);
    for (int ok = 0; ok < 2; ok++) {
        ms_event_t end = {
            .type = MS_EV_JOB_END, .time_ms = T0 + 9, .job = 3, .success = ok};
        s_round_trip(&end, &p);
        cr_assert_eq(p.ev.job, 3);
        cr_assert_eq(p.ev.success, ok);
        json_decref(p.doc);
    }
}

Test(eventlog, stage_submitted_and_completed)
{
    s_parsed_t p;
    for (int done = 0; done < 2; done++) {
        ms_event_t ev = {.type = done ? MS_EV_STAGE_COMPLETED
                                      : MS_EV_STAGE_SUBMITTED,
                         .time_ms = T0 + done,
                         .job = 0,
                         .stage = 1,
                         .stage_name = "reduce",
                         .ntasks = 16};
        s_round_trip(&ev, &p);
        cr_assert_eq(p.ev.stage, 1);
        cr_assert_str_eq(p.ev.stage_name, "reduce");
        cr_assert_eq(p.ev.ntasks, 16);
        json_decref(p.doc);
    }
}

Test(eventlog, task_start)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_TASK_START,
                     .time_ms = T0,
                     .stage = 0,
                     .stage_name = "map",
                     .task_id = 5000000000LL,
                     .index = 17,
                     .attempt = 1,
                     .launch_ms = T0 - 1,
                     .exec = 12,
                     .host = "10.0.0.7"};
    s_round_trip(&ev, &p);
    cr_assert_eq(p.ev.stage, 0);
    cr_assert_eq(p.ev.task_id, 5000000000LL);
    cr_assert_eq(p.ev.index, 17);
    cr_assert_eq(p.ev.attempt, 1);
    cr_assert_eq(p.ev.launch_ms, T0 - 1);
    cr_assert_eq(p.ev.exec, 12);
    cr_assert_str_eq(p.ev.host, "10.0.0.7");
    cr_assert_null(p.ev.metrics);
    json_decref(p.doc);
}

Test(eventlog, task_end_success_with_metrics)
{
    s_parsed_t p;
    ms_task_metrics_t m = {.records_read = 202,
                           .bytes_read = 8225,
                           .malformed = 3,
                           .dropped = 1,
                           .shuffle_written = 2528,
                           .shuffle_fetched = 77,
                           .run_ms = 2};
    ms_event_t ev = {.type = MS_EV_TASK_END,
                     .time_ms = T0,
                     .stage = 0,
                     .stage_name = "map",
                     .task_id = 1,
                     .index = 0,
                     .launch_ms = T0 - 2,
                     .exec = 1,
                     .host = "127.0.0.1",
                     .success = true,
                     .metrics = &m};
    s_round_trip(&ev, &p);
    cr_assert(p.ev.success);
    cr_assert_null(p.ev.failure);
    cr_assert_str_eq(p.ev.stage_name, "map");
    cr_assert_eq(p.ev.metrics, &p.m);
    cr_assert_eq(p.m.records_read, 202);
    cr_assert_eq(p.m.bytes_read, 8225);
    cr_assert_eq(p.m.malformed, 3);
    cr_assert_eq(p.m.dropped, 1);
    cr_assert_eq(p.m.shuffle_written, 2528);
    cr_assert_eq(p.m.shuffle_fetched, 77);
    cr_assert_eq(p.m.run_ms, 2);
    cr_assert_eq(p.m.rows_out, 0, "not in the log");
    json_decref(p.doc);
}

Test(eventlog, task_end_failure_without_metrics)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_TASK_END,
                     .time_ms = T0,
                     .stage = 1,
                     .stage_name = "reduce",
                     .task_id = 9,
                     .index = 2,
                     .attempt = 3,
                     .launch_ms = T0 - 2,
                     .exec = 4,
                     .host = "127.0.0.1",
                     .success = false,
                     .failure = "fetch failed: executor 2 gone"};
    s_round_trip(&ev, &p);
    cr_assert(!p.ev.success);
    cr_assert_str_eq(p.ev.failure, "fetch failed: executor 2 gone");
    cr_assert_str_eq(p.ev.stage_name, "reduce");
    cr_assert_eq(p.ev.attempt, 3);
    cr_assert_null(p.ev.metrics);
    json_decref(p.doc);
}

Test(eventlog, task_end_metrics_optional_for_the_caller)
{
    ms_task_metrics_t m = {.bytes_read = 1};
    ms_event_t ev = {.type = MS_EV_TASK_END,
                     .time_ms = T0,
                     .stage_name = "map",
                     .exec = 1,
                     .success = true,
                     .metrics = &m};
    char *line = s_write(&ev);
    ms_event_t out;
    json_t *doc;
    ms_error_t err;
    cr_assert_eq(
        ms_eventlog_parse_line(line, strlen(line), &out, NULL, &doc, &err), 0);
    cr_assert_null(out.metrics);
    json_decref(doc);
    free(line);
}

Test(eventlog, executor_added_and_removed)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_EXECUTOR_ADDED,
                     .time_ms = T0,
                     .exec = 2147483647,
                     .host = "127.0.0.1",
                     .cores = 4,
                     .launch_ms = T0 - 40};
    s_round_trip(&ev, &p);
    cr_assert_eq(p.ev.exec, 2147483647);
    cr_assert_str_eq(p.ev.host, "127.0.0.1");
    cr_assert_eq(p.ev.cores, 4);
    cr_assert_eq(p.ev.launch_ms, T0 - 40);
    json_decref(p.doc);
    ms_event_t rm = {.type = MS_EV_EXECUTOR_REMOVED,
                     .time_ms = T0 + 1,
                     .exec = 2,
                     .reason = "removed by dynamic allocation: idle 1.0 s "
                               "(exited with code 0)"};
    s_round_trip(&rm, &p);
    cr_assert_eq(p.ev.exec, 2);
    cr_assert_str_eq(p.ev.reason, rm.reason);
    json_decref(p.doc);
}

Test(eventlog, allocation_decisions_with_and_without_executor)
{
    s_parsed_t p;
    ms_event_t ev = {.type = MS_EV_ALLOCATION,
                     .time_ms = T0,
                     .action = "target",
                     .exec = -1,
                     .old_target = 1,
                     .new_target = 2,
                     .pending = 258,
                     .running = 1,
                     .executors = 1,
                     .reason = "target 1 -> 2: 258 pending + 1 running tasks "
                               "need 259; backlog for 10 ms; step 1"};
    s_round_trip(&ev, &p);
    cr_assert_str_eq(p.ev.action, "target");
    cr_assert_eq(p.ev.exec, 0, "none");
    cr_assert_eq(p.ev.old_target, 1);
    cr_assert_eq(p.ev.new_target, 2);
    cr_assert_eq(p.ev.pending, 258);
    cr_assert_eq(p.ev.running, 1);
    cr_assert_eq(p.ev.executors, 1);
    cr_assert_str_eq(p.ev.reason, ev.reason);
    json_decref(p.doc);
    ms_event_t rm = {.type = MS_EV_ALLOCATION,
                     .time_ms = T0,
                     .action = "remove",
                     .exec = 4,
                     .old_target = 2,
                     .new_target = 2,
                     .reason = "remove executor 4: idle 1.0 s"};
    s_round_trip(&rm, &p);
    cr_assert_eq(p.ev.exec, 4);
    cr_assert_str_eq(p.ev.action, "remove");
    json_decref(p.doc);
}

Test(eventlog, real_lines_from_a_run_parse)
{
    const char *lines[] = {
        "{\"Event\":\"SparkListenerTaskEnd\",\"Timestamp\":1795309816764,"
        "\"Stage ID\":0,\"Stage Attempt ID\":0,\"Task "
        "Type\":\"ShuffleMapTask\","
        "\"Task End Reason\":{\"Reason\":\"Success\"},\"Task Info\":{\"Task "
        "ID\":1,\"Index\":0,\"Attempt\":0,\"Launch Time\":1795309816762,"
        "\"Executor ID\":\"1\",\"Host\":\"127.0.0.1\",\"Finish "
        "Time\":1795309816764,\"Failed\":false},\"Task Metrics\":{\"Executor "
        "Run Time\":2,\"Input Metrics\":{\"Bytes Read\":8225,\"Records "
        "Read\":202},\"Shuffle Write Metrics\":{\"Shuffle Bytes "
        "Written\":2528},\"Shuffle Read Metrics\":{\"Remote Bytes "
        "Read\":0},\"Minispark Malformed Records\":{\"Malformed\":0,"
        "\"Dropped\":0}}}\n",
        "{\"Event\":\"SparkListenerExecutorAdded\",\"Timestamp\":1795309816762,"
        "\"Executor ID\":\"1\",\"Executor Info\":{\"Host\":\"127.0.0.1\","
        "\"Total Cores\":1},\"Minispark Launch Time\":1795309816758}",
    };
    for (size_t i = 0; i < 2; i++) {
        s_parsed_t p;
        ms_error_t err;
        cr_assert_eq(s_parse(lines[i], &p, &err), 0, "%s", err.msg);
        cr_assert_eq(p.ev.exec, 1);
        json_decref(p.doc);
    }
}

/* ---- malformed and unknown ----------------------------------------------- */

static void s_assert_malformed(const char *line, const char *why)
{
    s_parsed_t p = {.doc = (json_t *)1};
    ms_error_t err;
    int rc = s_parse(line, &p, &err);
    cr_assert_eq(rc, MS_ERR_MALFORMED, "accepted (%d): %s", rc, line);
    cr_assert_eq(err.code, MS_ERR_MALFORMED);
    cr_assert_null(p.doc, "no document on error");
    cr_assert(why == NULL || strstr(err.msg, why), "\"%s\" does not say \"%s\"",
              err.msg, why);
}

#define EV(name, body) "{\"Event\":\"" name "\",\"Timestamp\":5" body "}"

Test(eventlog, malformed_lines_are_refused_with_a_reason)
{
    s_assert_malformed("", "not JSON");
    s_assert_malformed("not json", "not JSON");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\"",
                       "not JSON");
    s_assert_malformed("[1,2]", "not a JSON object");
    s_assert_malformed("{}", "missing \"Event\"");
    s_assert_malformed("{\"Event\":7}", "\"Event\" is not a string");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\"}",
                       "SparkListenerApplicationEnd: missing \"Timestamp\"");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\","
                       "\"Timestamp\":\"5\"}",
                       "not an integer");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\","
                       "\"Timestamp\":-1}",
                       "out of range");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\","
                       "\"Timestamp\":5.5}",
                       "not an integer");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\","
                       "\"Timestamp\":1e400}",
                       "not JSON");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationEnd\","
                       "\"Timestamp\":99999999999999999999999}",
                       "not JSON");
    s_assert_malformed(
        "{\"Event\":\"SparkListenerApplicationEnd\","
        "\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":5}",
        "not JSON");
    s_assert_malformed(EV("SparkListenerJobStart",
                          ",\"Job ID\":3000000000,"
                          "\"Submission Time\":5,\"Stage IDs\":[0,1]"),
                       "\"Job ID\" out of range: 3000000000");
    s_assert_malformed(EV("SparkListenerJobStart",
                          ",\"Job ID\":1,"
                          "\"Submission Time\":5,\"Stage IDs\":[0,1,2]"),
                       "\"Stage IDs\"");
    s_assert_malformed(EV("SparkListenerJobStart",
                          ",\"Job ID\":1,"
                          "\"Submission Time\":5,\"Stage IDs\":[0,\"1\"]"),
                       "\"Stage IDs\"");
    s_assert_malformed(EV("SparkListenerJobEnd",
                          ",\"Job ID\":1,"
                          "\"Completion Time\":5,\"Job Result\":{\"Result\":"
                          "\"JobMaybe\"}"),
                       "unknown job result");
    s_assert_malformed(EV("SparkListenerStageSubmitted",
                          ",\"Stage Info\":"
                          "{\"Stage ID\":0,\"Stage Attempt ID\":0,\"Stage "
                          "Name\":\"map\",\"Number of Tasks\":null,"
                          "\"Submission Time\":5}"),
                       "SparkListenerStageSubmitted: \"Stage Info\": \"Number "
                       "of Tasks\" is not an integer");
    s_assert_malformed(EV("SparkListenerStageCompleted",
                          ",\"Stage Info\":"
                          "{\"Stage ID\":0,\"Stage Attempt ID\":0,\"Stage "
                          "Name\":\"map\",\"Number of Tasks\":1,"
                          "\"Submission Time\":5}"),
                       "missing \"Completion Time\"");
    s_assert_malformed(EV("SparkListenerStageSubmitted", ",\"Stage Info\":[]"),
                       "\"Stage Info\" is not an object");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"abc\",\"Removed Reason\":\"x\""),
                       "\"Executor ID\" is not an executor id: \"abc\"");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"\",\"Removed Reason\":\"x\""),
                       "executor id");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"-1\",\"Removed Reason\":\"x\""),
                       "executor id");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"2147483648\",\"Removed Reason\":\"x\""),
                       "executor id");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"99999999999999999999\",\"Removed Reason\":\"x\""),
                       "executor id");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "\"1 \",\"Removed Reason\":\"x\""),
                       "executor id");
    s_assert_malformed(EV("SparkListenerExecutorRemoved",
                          ",\"Executor ID\":"
                          "1,\"Removed Reason\":\"x\""),
                       "not a string");
    s_assert_malformed(EV("SparkListenerExecutorAdded",
                          ",\"Executor ID\":\"1\","
                          "\"Executor Info\":{\"Host\":\"h\",\"Total Cores\":"
                          "true},\"Minispark Launch Time\":1"),
                       "\"Executor Info\": \"Total Cores\" is not an integer");
    s_assert_malformed(
        EV("MinisparkAllocationDecision",
           ",\"Action\":\"add\","
           "\"Old Target\":1,\"New Target\":2,\"Pending Tasks\":0,"
           "\"Running Tasks\":0,\"Executors\":1,\"Reason\":\"r\","
           "\"Executor ID\":\"x1\""),
        "executor id");
    s_assert_malformed("{\"Event\":\"SparkListenerApplicationStart\","
                       "\"Timestamp\":5,\"App Name\":\"a\\u0000b\","
                       "\"App ID\":\"x\",\"User\":\"\"}",
                       "not JSON");
}

Test(eventlog, task_end_contradictions_are_refused)
{
    const char *base =
        "{\"Event\":\"SparkListenerTaskEnd\",\"Timestamp\":5,\"Stage ID\":0,"
        "\"Stage Attempt ID\":0,\"Task Type\":\"%s\",\"Task End Reason\":"
        "{\"Reason\":\"%s\"},\"Task Info\":{\"Task ID\":1,\"Index\":0,"
        "\"Attempt\":0,\"Launch Time\":1,\"Executor ID\":\"1\",\"Host\":\"h\","
        "\"Finish Time\":5,\"Failed\":%s}}";
    char line[1024];
    snprintf(line, sizeof line, base, "ShuffleMapTask", "Success", "true");
    s_assert_malformed(line, "\"Failed\" contradicts");
    snprintf(line, sizeof line, base, "ShuffleMapTask", "ExceptionFailure",
             "false");
    s_assert_malformed(line, "\"Failed\" contradicts");
    snprintf(line, sizeof line, base, "SpeculativeTask", "Success", "false");
    s_assert_malformed(line, "unknown task type");
    /* Spark's other end reasons read as failures, named by the reason. */
    snprintf(line, sizeof line, base, "ResultTask", "TaskKilled", "true");
    s_parsed_t p;
    ms_error_t err;
    cr_assert_eq(s_parse(line, &p, &err), 0, "%s", err.msg);
    cr_assert(!p.ev.success);
    cr_assert_str_eq(p.ev.failure, "TaskKilled");
    json_decref(p.doc);
}

/* Replaces the value at o[key] by one of another JSON type. */
static json_t *s_other_type(json_t *v)
{
    if (json_is_string(v)) return json_integer(7);
    if (json_is_object(v)) return json_string("{}");
    if (json_is_array(v)) return json_object();
    return json_string("7");
}

static bool s_optional(const char *event, const char *key)
{
    return strcmp(key, "Task Metrics") == 0 ||
           strcmp(key, "Description") == 0 ||
           strcmp(key, "Memory Bytes Spilled") == 0 ||
           strcmp(key, "Disk Bytes Spilled") == 0 ||
           (strcmp(event, "MinisparkAllocationDecision") == 0 &&
            strcmp(key, "Executor ID") == 0);
}

/* Parses root as one line: 0 or the error code. */
static int s_parse_doc(json_t *root)
{
    char *line = json_dumps(root, JSON_COMPACT);
    s_parsed_t p;
    ms_error_t err;
    int rc = s_parse(line, &p, &err);
    if (rc == 0) json_decref(p.doc);
    free(line);
    return rc;
}

/* Every field of obj (recursively) removed, then retyped, in the line's
 * document root: each must make the line malformed unless optional. */
static void s_mutate_all(json_t *root, json_t *obj, const char *event, int *n)
{
    char keys[16][64];
    int nkeys = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        cr_assert_lt(nkeys, 16);
        snprintf(keys[nkeys++], sizeof keys[0], "%s", key);
    }
    for (int k = 0; k < nkeys; k++) {
        v = json_incref(json_object_get(obj, keys[k]));
        json_object_del(obj, keys[k]);
        int rc = s_parse_doc(root);
        if (s_optional(event, keys[k]))
            cr_assert_eq(rc, 0, "without %s", keys[k]);
        else
            cr_assert_eq(rc, MS_ERR_MALFORMED, "%s: accepted without %s", event,
                         keys[k]);
        json_object_set_new(obj, keys[k], s_other_type(v));
        cr_assert_eq(s_parse_doc(root), MS_ERR_MALFORMED,
                     "%s: accepted %s retyped", event, keys[k]);
        json_object_set(obj, keys[k], v);
        *n += 2;
        if (json_is_object(v)) s_mutate_all(root, v, event, n);
        json_decref(v);
    }
}

Test(eventlog, every_missing_or_mistyped_field_is_refused)
{
    ms_task_metrics_t m = {.bytes_read = 1};
    ms_event_t events[] = {
        {.type = MS_EV_APP_START, .time_ms = 1, .app_id = "a", .app_name = "n"},
        {.type = MS_EV_JOB_START, .time_ms = 1, .stage_ids = {0, 1}},
        {.type = MS_EV_JOB_END, .time_ms = 1, .success = true},
        {.type = MS_EV_STAGE_SUBMITTED, .time_ms = 1, .stage_name = "map"},
        {.type = MS_EV_STAGE_COMPLETED, .time_ms = 1, .stage_name = "map"},
        {.type = MS_EV_TASK_START,
         .time_ms = 1,
         .stage_name = "map",
         .exec = 1},
        {.type = MS_EV_TASK_END,
         .time_ms = 1,
         .stage_name = "map",
         .exec = 1,
         .success = true,
         .metrics = &m},
        {.type = MS_EV_TASK_END,
         .time_ms = 1,
         .stage_name = "map",
         .exec = 1,
         .failure = "x"},
        {.type = MS_EV_EXECUTOR_ADDED, .time_ms = 1, .exec = 1, .host = "h"},
        {.type = MS_EV_EXECUTOR_REMOVED,
         .time_ms = 1,
         .exec = 1,
         .reason = "r"},
        {.type = MS_EV_ALLOCATION,
         .time_ms = 1,
         .action = "add",
         .exec = 3,
         .reason = "r"},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
        char *line = s_write(&events[i]);
        json_t *root = json_loads(line, 0, NULL);
        cr_assert_not_null(root);
        const char *event = json_string_value(json_object_get(root, "Event"));
        char name[64];
        snprintf(name, sizeof name, "%s", event);
        s_mutate_all(root, root, name, &n);
        json_decref(root);
        free(line);
    }
    cr_assert_gt(n, 150, "%d mutations", n);
}

Test(eventlog, unknown_events_are_skipped)
{
    const char *lines[] = {
        "{\"Event\":\"SparkListenerBlockManagerAdded\",\"Timestamp\":5}",
        "{\"Event\":\"SparkListenerEnvironmentUpdate\",\"JVM Information\":{}}",
        "{\"Event\":\"\"}",
    };
    for (size_t i = 0; i < 3; i++) {
        s_parsed_t p = {.doc = (json_t *)1};
        ms_error_t err;
        cr_assert_eq(s_parse(lines[i], &p, &err), 1, "%s", lines[i]);
        cr_assert_null(p.doc);
    }
}

Test(eventlog, parse_without_an_error_carrier)
{
    ms_event_t ev;
    json_t *doc;
    cr_assert_eq(
        ms_eventlog_parse_line("{\"Event\":1}", 11, &ev, NULL, &doc, NULL),
        MS_ERR_MALFORMED);
    cr_assert_eq(ms_eventlog_parse_line("nope", 4, &ev, NULL, &doc, NULL),
                 MS_ERR_MALFORMED);
}

Test(eventlog, length_is_honoured_not_the_terminator)
{
    const char *line =
        "{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":5}"
        "garbage";
    s_parsed_t p;
    ms_error_t err;
    int rc = ms_eventlog_parse_line(line, strlen(line) - 7, &p.ev, &p.m, &p.doc,
                                    &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    json_decref(p.doc);
    rc = ms_eventlog_parse_line(line, 20, &p.ev, &p.m, &p.doc, &err);
    cr_assert_eq(rc, MS_ERR_MALFORMED);
}

/* ---- whole files --------------------------------------------------------- */

typedef struct {
    int n;
    ms_event_type_t types[16];
} s_seen_t;

static void s_count(void *arg, const ms_event_t *ev)
{
    s_seen_t *seen = arg;
    if (seen->n < 16) seen->types[seen->n] = ev->type;
    seen->n++;
}

static const char *s_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define L_START                                                                \
    "{\"Event\":\"SparkListenerApplicationStart\",\"Timestamp\":1,"            \
    "\"App Name\":\"n\",\"App ID\":\"a\",\"User\":\"u\"}"
#define L_END "{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":2}"
#define L_OTHER                                                                \
    "{\"Event\":\"SparkListenerLogStart\",\"Spark Version\":\"3.5\"}"

Test(eventlog, replay_delivers_every_known_event_in_order)
{
    s_seen_t seen = {0};
    ms_error_t err;
    const char *path =
        s_file("ok.jsonl", L_START "\n\n" L_OTHER "\r\n" L_END "\r\n");
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.types[0], MS_EV_APP_START);
    cr_assert_eq(seen.types[1], MS_EV_APP_END);
}

Test(eventlog, replay_names_file_and_line_of_a_bad_line)
{
    s_seen_t seen = {0};
    ms_error_t err;
    const char *path =
        s_file("bad.jsonl", L_START "\n" L_OTHER "\n{\"Event\":"
                                    "\"SparkListenerApplicationEnd\","
                                    "\"Timestamp\":\"x\"}\n" L_END "\n");
    char want[300];
    snprintf(want, sizeof want,
             "%s:3: SparkListenerApplicationEnd: \"Timestamp\" "
             "is not an integer",
             path);
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, &err),
                 MS_ERR_MALFORMED);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(seen.n, 1, "events before the bad line were delivered");
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, NULL),
                 MS_ERR_MALFORMED);
}

Test(eventlog, replay_forgives_a_half_written_last_line)
{
    s_seen_t seen = {0};
    ms_error_t err;
    const char *path =
        s_file("live.jsonl", L_START "\n{\"Event\":\"SparkListe");
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(seen.n, 1);
    /* ...but not a finished one. */
    path = s_file("done.jsonl", L_START "\n{\"Event\":\"SparkListe\n");
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, &err),
                 MS_ERR_MALFORMED);
}

Test(eventlog, replay_refuses_a_line_over_one_mebibyte)
{
    char path[256];
    snprintf(path, sizeof path, "%s/long.jsonl", s_dir);
    FILE *f = fopen(path, "wb");
    fputs(L_START
          "\n{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":2,"
          "\"Pad\":\"",
          f);
    for (int i = 0; i < (1 << 20); i++)
        fputc('x', f);
    fputs("\"}\n" L_END "\n", f);
    fclose(f);
    s_seen_t seen = {0};
    ms_error_t err;
    cr_assert_eq(ms_eventlog_replay(path, s_count, &seen, &err),
                 MS_ERR_MALFORMED);
    cr_assert(strstr(err.msg, ":2: line longer than"), "%s", err.msg);
    cr_assert_eq(seen.n, 1);
}

Test(eventlog, replay_of_a_missing_file_is_an_io_error)
{
    ms_error_t err;
    s_seen_t seen = {0};
    cr_assert_eq(
        ms_eventlog_replay("/nonexistent/x.jsonl", s_count, &seen, &err),
        MS_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/x.jsonl"), "%s", err.msg);
}

/* A removal reason or failure message may hold any bytes; the event must
 * still be written (cleaned) and read back, never dropped. */
Test(eventlog, invalid_utf8_is_cleaned_not_dropped)
{
    ms_event_t ev = {.type = MS_EV_EXECUTOR_REMOVED,
                     .time_ms = 1000,
                     .exec = 3,
                     .reason = "lost \xff\xfe (exit \xc0\x80)"};
    char *line = s_write(&ev);
    s_parsed_t p;
    ms_error_t err;
    cr_assert_eq(s_parse(line, &p, &err), 0, "%s: %s", line, err.msg);
    cr_assert_str_eq(p.ev.reason, "lost ?"
                                  "? (exit ?"
                                  "?)");
    json_decref(p.doc);
    free(line);
}
