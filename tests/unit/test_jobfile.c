/* Behaviour of the job file parser: what it accepts, and that every refusal
 * names the JSON path of the offending field. Job files are written with
 * single quotes here and turned into JSON by s_json, for readability. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/jobfile.h"

#define S_INPUT "'input': {'path': 'events.csv'}"
#define S_MIN_QUERY "'group_by': [], 'aggregates': [{'fn': 'count'}]"

/* Single quotes to double quotes (no test text needs an apostrophe). */
static char *s_json(const char *text)
{
    char *json = strdup(text);
    cr_assert_not_null(json);
    for (char *p = json; *p; p++)
        if (*p == '\'') *p = '"';
    return json;
}

static int s_parse(const char *text, ms_job_spec_t **spec, ms_error_t *err)
{
    char *json = s_json(text);
    int rc = ms_job_spec_parse(spec, json, strlen(json), "job.json", err);
    free(json);
    return rc;
}

static ms_job_spec_t *s_parse_ok(const char *text)
{
    ms_error_t err = {0};
    ms_job_spec_t *spec = NULL;
    cr_assert_eq(s_parse(text, &spec, &err), 0, "%s", err.msg);
    cr_assert_not_null(spec);
    return spec;
}

/* A query object's fields, wrapped into a whole job file. */
static ms_job_spec_t *s_query_ok(const char *query)
{
    char text[4096];
    snprintf(text, sizeof text, "{" S_INPUT ", 'query': {%s}}", query);
    return s_parse_ok(text);
}

static void s_expect_error(const char *text, const char *fragment)
{
    ms_error_t err = {0};
    ms_job_spec_t *spec = (ms_job_spec_t *)1;
    int rc = s_parse(text, &spec, &err);
    cr_assert_eq(rc, MS_ERR_USAGE, "accepted: %s", text);
    cr_assert_null(spec);
    cr_assert(strstr(err.msg, fragment), "expected '%s' in: %s", fragment,
              err.msg);
}

static void s_query_error(const char *query, const char *fragment)
{
    char text[4096];
    snprintf(text, sizeof text, "{" S_INPUT ", 'query': {%s}}", query);
    s_expect_error(text, fragment);
}

/* examples/NAME, found from this file's own path (absolute under CMake;
 * relative to the repository root when compiled by hand from there). */
static void s_example_path(char *buf, size_t size, const char *name)
{
    const char *here = __FILE__;
    const char *tests = strstr(here, "tests/unit/");
    int root = tests ? (int)(tests - here) : 0;
    snprintf(buf, size, "%.*sexamples/%s", root, here, name);
}

Test(jobfile, parses_the_design_example)
{
    ms_job_spec_t *spec = s_parse_ok(
        "{'app_name': 'dynamic-allocation-big-events',"
        " 'input': {'path': 'datasets/big_events_50k.csv', 'format': 'csv',"
        "  'header': true, 'infer_schema': true, 'delimiter': ',',"
        "  'quote': '\\'', 'mode': 'PERMISSIVE'},"
        " 'query': {"
        "  'filter': [{'column': 'amount', 'op': '>=', 'value': 10}],"
        "  'group_by': ['country', 'device'],"
        "  'aggregates': [{'fn': 'count', 'as': 'event_count'},"
        "   {'fn': 'sum', 'column': 'amount', 'as': 'total_amount'}],"
        "  'order_by': [{'column': 'total_amount', 'desc': true}],"
        "  'limit': 100},"
        " 'shuffle_partitions': 8,"
        " 'output': {'path': 'out/result.csv', 'format': 'csv'},"
        " 'conf': {'spark.dynamicAllocation.enabled': 'true',"
        "  'spark.dynamicAllocation.maxExecutors': '20'}}");
    cr_assert_str_eq(spec->app_name, "dynamic-allocation-big-events");
    cr_assert_str_eq(spec->input_path, "datasets/big_events_50k.csv");
    cr_assert_eq(spec->csv.quote, '"');
    cr_assert_eq(spec->shuffle_partitions, 8);
    cr_assert_eq(spec->nqueries, 1);
    const ms_query_spec_t *q = &spec->queries[0];
    cr_assert_eq(q->nfilters, 1);
    cr_assert_str_eq(q->filters[0].column, "amount");
    cr_assert_eq(q->filters[0].op, MS_OP_GE);
    cr_assert_eq(q->filters[0].nvalues, 1);
    cr_assert_eq(q->filters[0].values[0].kind, MS_LIT_NUMBER);
    cr_assert_str_eq(q->filters[0].values[0].text, "10");
    cr_assert_eq(q->nkeys, 2);
    cr_assert_str_eq(q->keys[1].as, "device");
    cr_assert_eq(q->naggs, 2);
    cr_assert_eq(q->aggs[0].fn, MS_AGG_COUNT);
    cr_assert_null(q->aggs[0].column);
    cr_assert_str_eq(q->aggs[1].as, "total_amount");
    cr_assert_eq(q->norder, 1);
    cr_assert(q->order[0].desc);
    cr_assert_eq(q->limit, 100);
    cr_assert_str_eq(q->output_path, "out/result.csv");
    cr_assert_str_eq(ms_conf_get(spec->conf, "spark.dynamicAllocation."
                                             "maxExecutors"),
                     "20");
    ms_job_spec_destroy(&spec);
    cr_assert_null(spec);
}

Test(jobfile, applies_defaults)
{
    ms_job_spec_t *spec =
        s_parse_ok("{" S_INPUT ", 'query': {" S_MIN_QUERY "}}");
    cr_assert_str_eq(spec->app_name, "minispark");
    cr_assert_eq(spec->csv.delimiter, ',');
    cr_assert_eq(spec->csv.quote, '"');
    cr_assert(spec->csv.header);
    cr_assert_eq(spec->csv.mode, MS_CSV_PERMISSIVE);
    cr_assert(spec->infer_schema);
    cr_assert_eq(spec->shuffle_partitions, 0);
    cr_assert_not_null(spec->conf);
    cr_assert_not(ms_conf_entry(spec->conf, 0, NULL, NULL));
    const ms_query_spec_t *q = &spec->queries[0];
    cr_assert_eq(q->nfilters, 0);
    cr_assert_eq(q->nkeys, 0);
    cr_assert_eq(q->norder, 0);
    cr_assert_eq(q->limit, -1);
    cr_assert_eq(q->pause_after_ms, 0);
    cr_assert_null(q->output_path);
    cr_assert_str_eq(q->aggs[0].as, "count(1)");
    ms_job_spec_destroy(&spec);
}

Test(jobfile, destroy_accepts_null)
{
    ms_job_spec_t *spec = NULL;
    ms_job_spec_destroy(&spec);
    ms_job_spec_destroy(NULL);
}

Test(jobfile, examples_parse)
{
    const char *names[] = {"agg.json", "agg_by_day.json"};
    for (size_t i = 0; i < 2; i++) {
        char path[4096];
        ms_error_t err = {0};
        ms_job_spec_t *spec = NULL;
        s_example_path(path, sizeof path, names[i]);
        cr_assert_eq(ms_job_spec_load(&spec, path, &err), 0, "%s", err.msg);
        ms_job_spec_destroy(&spec);
    }
}

Test(jobfile, load_of_missing_file_is_input_error_naming_path)
{
    ms_error_t err = {0};
    ms_job_spec_t *spec = NULL;
    int rc = ms_job_spec_load(&spec, "/nonexistent/job.json", &err);
    cr_assert_eq(rc, MS_ERR_INPUT);
    cr_assert_null(spec);
    cr_assert(strstr(err.msg, "/nonexistent/job.json"), "%s", err.msg);
}

Test(jobfile, load_names_the_file_in_errors)
{
    char path[] = "/tmp/test_jobfile_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert(write(fd, "{\"input\": 1}", 12) == 12);
    close(fd);
    ms_error_t err = {0};
    ms_job_spec_t *spec = NULL;
    cr_assert_eq(ms_job_spec_load(&spec, path, &err), MS_ERR_USAGE);
    unlink(path);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
    cr_assert(strstr(err.msg, "input: expected an object"), "%s", err.msg);
}

Test(jobfile, malformed_json_names_line_and_column)
{
    s_expect_error("{\n  'input': {'path': 'x'},\n  'query': {,}\n}",
                   "job.json:3:");
    s_expect_error("", "job.json:");
}

Test(jobfile, duplicate_keys_are_refused)
{
    s_expect_error("{" S_INPUT ", " S_INPUT ", 'query': {" S_MIN_QUERY "}}",
                   "duplicate");
}

Test(jobfile, top_level_must_be_an_object)
{
    s_expect_error("[1, 2]", "top level");
}

Test(jobfile, unknown_key_names_its_path)
{
    s_query_error(S_MIN_QUERY ", 'fitler': []",
                  "unknown key 'fitler' at query");
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "}, 'extra': 1}",
                   "unknown key 'extra' at the top level");
    s_query_error("'group_by': [], 'aggregates': [{'fn': 'count', 'alias': "
                  "'n'}]",
                  "unknown key 'alias' at query.aggregates[0]");
    s_expect_error("{'input': {'path': 'x', 'sep': ';'}, 'query': {" S_MIN_QUERY
                   "}}",
                   "unknown key 'sep' at input");
}

Test(jobfile, wrong_type_names_its_path)
{
    s_query_error(S_MIN_QUERY ", 'limit': '10'", "query.limit: expected an "
                                                 "integer");
    s_query_error(S_MIN_QUERY ", 'limit': 10.0", "query.limit: expected an "
                                                 "integer");
    s_query_error(S_MIN_QUERY ", 'limit': -1", "query.limit");
    s_query_error("'group_by': 'country', 'aggregates': [{'fn': 'count'}]",
                  "query.group_by: expected an array");
    s_expect_error(
        "{'input': {'path': 'x', 'header': 'yes'}, 'query': {" S_MIN_QUERY "}}",
        "input.header: expected true or false");
    s_expect_error("{" S_INPUT ", 'query': []}", "query: expected an object");
}

Test(jobfile, missing_required_fields_are_named)
{
    s_query_error("'aggregates': [{'fn': 'count'}]",
                  "missing required field query.group_by");
    s_query_error("'group_by': []", "missing required field query.aggregates");
    s_query_error("'group_by': [], 'aggregates': []", "query.aggregates");
    s_expect_error("{'query': {" S_MIN_QUERY "}}",
                   "missing required field input");
    s_expect_error("{'input': {}, 'query': {" S_MIN_QUERY "}}",
                   "missing required field input.path");
    s_expect_error("{'input': {'path': ''}, 'query': {" S_MIN_QUERY "}}",
                   "input.path");
    s_expect_error("{" S_INPUT "}", "query");
}

Test(jobfile, query_and_jobs_are_exclusive)
{
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY
                   "}, 'jobs': [{" S_MIN_QUERY "}]}",
                   "\"jobs\"");
}

Test(jobfile, input_options_are_parsed)
{
    ms_job_spec_t *spec = s_parse_ok(
        "{'input': {'path': 'x.csv', 'format': 'CSV', 'header': false,"
        " 'infer_schema': false, 'delimiter': ';', 'quote': '',"
        " 'mode': 'dropMalformed'}, 'query': {" S_MIN_QUERY "}}");
    cr_assert_eq(spec->csv.delimiter, ';');
    cr_assert_eq(spec->csv.quote, '\0');
    cr_assert_not(spec->csv.header);
    cr_assert_not(spec->infer_schema);
    cr_assert_eq(spec->csv.mode, MS_CSV_DROPMALFORMED);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, input_options_are_validated)
{
    static const struct {
        const char *input;
        const char *fragment;
    } cases[] = {
        {"'format': 'parquet'", "input.format"},
        {"'delimiter': ';;'", "input.delimiter"},
        {"'delimiter': ''", "input.delimiter"},
        {"'quote': 'ab'", "input.quote"},
        {"'delimiter': '\\n'", "input.delimiter"},
        {"'mode': 'LENIENT'", "input.mode"},
        {"'delimiter': '|', 'quote': '|'", "input.quote"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{'input': {'path': 'x', %s}, 'query': {" S_MIN_QUERY "}}",
                 cases[i].input);
        s_expect_error(text, cases[i].fragment);
    }
}

Test(jobfile, shuffle_partitions_must_be_positive)
{
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY
                   "}, 'shuffle_partitions': 0}",
                   "shuffle_partitions");
}

Test(jobfile, literals_keep_exact_text)
{
    ms_job_spec_t *spec =
        s_query_ok(S_MIN_QUERY ", 'filter': ["
                               "{'column': 'a', 'op': '=', 'value': 10.05},"
                               "{'column': 'a', 'op': '==', 'value': 1e21},"
                               "{'column': 'a', 'op': '!=', 'value': 10.0},"
                               "{'column': 'a', 'op': '<', 'value': -42},"
                               "{'column': 'a', 'op': '<=', 'value': 'US'},"
                               "{'column': 'a', 'op': '>', 'value': true},"
                               "{'column': 'a', 'op': '>=', 'value': 0.1}]");
    const ms_filter_spec_t *f = spec->queries[0].filters;
    cr_assert_str_eq(f[0].values[0].text, "10.05");
    cr_assert_eq(f[0].op, MS_OP_EQ);
    cr_assert_str_eq(f[1].values[0].text, "1e+21");
    cr_assert_eq(f[1].op, MS_OP_EQ);
    cr_assert_str_eq(f[2].values[0].text, "10");
    cr_assert_eq(f[2].op, MS_OP_NE);
    cr_assert_str_eq(f[3].values[0].text, "-42");
    cr_assert_eq(f[3].values[0].kind, MS_LIT_NUMBER);
    cr_assert_str_eq(f[4].values[0].text, "US");
    cr_assert_eq(f[4].values[0].kind, MS_LIT_STRING);
    cr_assert_str_eq(f[5].values[0].text, "true");
    cr_assert_eq(f[5].values[0].kind, MS_LIT_BOOL);
    cr_assert_str_eq(f[6].values[0].text, "0.1");
    cr_assert_eq(f[6].op, MS_OP_GE);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, in_takes_a_list_under_value_or_values)
{
    ms_job_spec_t *spec = s_query_ok(
        S_MIN_QUERY ", 'filter': ["
                    "{'column': 'c', 'op': 'in', 'values': ['US', 'DE', 3]},"
                    "{'column': 'c', 'op': 'in', 'value': ['FR']},"
                    "{'column': 'c', 'op': 'is_null'},"
                    "{'column': 'c', 'op': 'not_null'}]");
    const ms_filter_spec_t *f = spec->queries[0].filters;
    cr_assert_eq(f[0].op, MS_OP_IN);
    cr_assert_eq(f[0].nvalues, 3);
    cr_assert_str_eq(f[0].values[1].text, "DE");
    cr_assert_str_eq(f[0].values[2].text, "3");
    cr_assert_eq(f[1].nvalues, 1);
    cr_assert_eq(f[2].op, MS_OP_IS_NULL);
    cr_assert_eq(f[2].nvalues, 0);
    cr_assert_eq(f[3].op, MS_OP_NOT_NULL);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, filter_errors_name_their_path)
{
    static const struct {
        const char *filter;
        const char *fragment;
    } cases[] = {
        {"{'column': 'a', 'op': '>='}", "missing required field "
                                        "query.filter[0].value"},
        {"{'column': 'a', 'op': '=', 'value': null}", "is_null"},
        {"{'column': 'a', 'op': '=', 'value': [1]}", "query.filter[0].value"},
        {"{'column': 'a', 'op': '=', 'values': [1]}", "query.filter[0].values"},
        {"{'column': 'a', 'op': 'like', 'value': 1}", "query.filter[0].op"},
        {"{'op': '=', 'value': 1}", "query.filter[0].column"},
        {"{'column': 'a', 'value': 1}", "query.filter[0].op"},
        {"{'column': 'a', 'op': 'in', 'values': []}", "query.filter[0].values"},
        {"{'column': 'a', 'op': 'in', 'value': 'US'}", "query.filter[0].value"},
        {"{'column': 'a', 'op': 'in'}", "query.filter[0].values"},
        {"{'column': 'a', 'op': 'in', 'value': [1], 'values': [2]}",
         "query.filter[0]"},
        {"{'column': 'a', 'op': 'in', 'values': [1, null]}",
         "query.filter[0].values[1]"},
        {"{'column': 'a', 'op': 'in', 'values': [1, {}]}",
         "query.filter[0].values[1]"},
        {"{'column': 'a', 'op': 'is_null', 'value': 1}", "query.filter[0]"},
        {"'a >= 1'", "query.filter[0]: expected an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char query[512];
        snprintf(query, sizeof query, S_MIN_QUERY ", 'filter': [%s]",
                 cases[i].filter);
        s_query_error(query, cases[i].fragment);
    }
}

Test(jobfile, group_by_takes_names_and_derived_keys)
{
    ms_job_spec_t *spec =
        s_query_ok("'group_by': ['country',"
                   " {'column': 'event_time', 'trunc': 'hour'},"
                   " {'column': 'event_time', 'trunc': 'month', 'as': 'month'},"
                   " {'column': 'event_id', 'mod': 1000003},"
                   " {'column': 'device', 'as': 'dev'}],"
                   " 'aggregates': [{'fn': 'count'}]");
    const ms_key_spec_t *k = spec->queries[0].keys;
    cr_assert_eq(k[0].kind, MS_KEY_COLUMN);
    cr_assert_str_eq(k[0].as, "country");
    cr_assert_eq(k[1].kind, MS_KEY_TRUNC);
    cr_assert_eq(k[1].trunc, MS_TRUNC_HOUR);
    cr_assert_str_eq(k[1].as, "date_trunc(hour, event_time)");
    cr_assert_eq(k[2].trunc, MS_TRUNC_MONTH);
    cr_assert_str_eq(k[2].as, "month");
    cr_assert_eq(k[3].kind, MS_KEY_MOD);
    cr_assert_eq(k[3].mod, 1000003);
    cr_assert_str_eq(k[3].as, "(event_id % 1000003)");
    cr_assert_eq(k[4].kind, MS_KEY_COLUMN);
    cr_assert_str_eq(k[4].column, "device");
    cr_assert_str_eq(k[4].as, "dev");
    ms_job_spec_destroy(&spec);
}

Test(jobfile, group_by_errors_name_their_path)
{
    static const struct {
        const char *key;
        const char *fragment;
    } cases[] = {
        {"{'column': 't', 'trunc': 'week'}", "query.group_by[1].trunc"},
        {"{'column': 'n', 'mod': 0}", "query.group_by[1].mod"},
        {"{'column': 'n', 'mod': 'x'}", "query.group_by[1].mod"},
        {"{'column': 'n', 'mod': 2, 'trunc': 'day'}", "query.group_by[1]"},
        {"{'trunc': 'day'}", "missing required field "
                             "query.group_by[1].column"},
        {"{'column': 'n', 'as': ''}", "query.group_by[1].as"},
        {"''", "query.group_by[1]"},
        {"7", "query.group_by[1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char query[512];
        snprintf(query, sizeof query,
                 "'group_by': ['a', %s], 'aggregates': [{'fn': 'count'}]",
                 cases[i].key);
        s_query_error(query, cases[i].fragment);
    }
}

Test(jobfile, aggregates_get_spark_default_names)
{
    ms_job_spec_t *spec =
        s_query_ok("'group_by': [], 'aggregates': ["
                   "{'fn': 'count'}, {'fn': 'count', 'column': 'x'},"
                   "{'fn': 'sum', 'column': 'x'}, {'fn': 'min', 'column': 'x'},"
                   "{'fn': 'max', 'column': 'x'}, {'fn': 'avg', 'column': 'x'},"
                   "{'fn': 'count_distinct', 'column': 'x'}]");
    const ms_agg_spec_t *a = spec->queries[0].aggs;
    const char *names[] = {"count(1)", "count(x)", "sum(x)",           "min(x)",
                           "max(x)",   "avg(x)",   "count(DISTINCT x)"};
    const ms_agg_fn_t fns[] = {MS_AGG_COUNT,         MS_AGG_COUNT, MS_AGG_SUM,
                               MS_AGG_MIN,           MS_AGG_MAX,   MS_AGG_AVG,
                               MS_AGG_COUNT_DISTINCT};
    cr_assert_eq(spec->queries[0].naggs, 7);
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(a[i].as, names[i]);
        cr_assert_eq(a[i].fn, fns[i]);
    }
    cr_assert_null(a[0].column);
    cr_assert_str_eq(a[1].column, "x");
    ms_job_spec_destroy(&spec);
}

Test(jobfile, aggregate_errors_name_their_path)
{
    s_query_error("'group_by': [], 'aggregates': [{'fn': 'count'},"
                  " {'fn': 'median', 'column': 'x'}]",
                  "query.aggregates[1].fn");
    s_query_error("'group_by': [], 'aggregates': [{'fn': 'sum'}]",
                  "missing required field query.aggregates[0].column");
    s_query_error("'group_by': [], 'aggregates': [{'column': 'x'}]",
                  "missing required field query.aggregates[0].fn");
    s_query_error("'group_by': [], 'aggregates': [{'fn': 'sum', 'column': 3}]",
                  "query.aggregates[0].column: expected a string");
}

Test(jobfile, duplicate_output_names_name_both_paths)
{
    s_query_error("'group_by': ['country'], 'aggregates': ["
                  "{'fn': 'count', 'as': 'country'}]",
                  "query.group_by[0] and query.aggregates[0]");
    s_query_error("'group_by': [], 'aggregates': ["
                  "{'fn': 'sum', 'column': 'x'}, {'fn': 'sum', 'column': 'x'}]",
                  "query.aggregates[0] and query.aggregates[1]");
}

Test(jobfile, order_by_takes_names_and_objects)
{
    ms_job_spec_t *spec = s_query_ok(
        "'group_by': ['country'], 'aggregates': [{'fn': 'count'}],"
        " 'order_by': ['country', {'column': 'count(1)', 'desc': true},"
        " {'column': 'country', 'desc': false}]");
    const ms_order_spec_t *o = spec->queries[0].order;
    cr_assert_eq(spec->queries[0].norder, 3);
    cr_assert_str_eq(o[0].column, "country");
    cr_assert_not(o[0].desc);
    cr_assert_str_eq(o[1].column, "count(1)");
    cr_assert(o[1].desc);
    cr_assert_not(o[2].desc);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, order_by_unknown_column_lists_output_names)
{
    s_query_error("'group_by': ['country', 'device'], 'aggregates': ["
                  "{'fn': 'sum', 'column': 'amount', 'as': 'total'}],"
                  " 'order_by': [{'column': 'amount'}]",
                  "country, device, total");
    s_query_error("'group_by': ['country'], 'aggregates': [{'fn': 'count'}],"
                  " 'order_by': ['country', 'amount']",
                  "query.order_by[1]");
    s_query_error("'group_by': ['country'], 'aggregates': [{'fn': 'count'}],"
                  " 'order_by': [{'column': 'country', 'desc': 1}]",
                  "query.order_by[0].desc");
}

Test(jobfile, jobs_run_in_sequence_with_pauses_and_outputs)
{
    ms_job_spec_t *spec =
        s_parse_ok("{" S_INPUT ", 'jobs': ["
                   "{" S_MIN_QUERY ", 'pause_after': '20s',"
                   " 'output': {'path': 'out/a.csv'}},"
                   "{" S_MIN_QUERY ", 'pause_after': 1.5},"
                   "{" S_MIN_QUERY ", 'pause_after': 2},"
                   "{" S_MIN_QUERY ", 'pause_after': '500ms', 'limit': 3}]}");
    cr_assert_eq(spec->nqueries, 4);
    cr_assert_eq(spec->queries[0].pause_after_ms, 20000);
    cr_assert_str_eq(spec->queries[0].output_path, "out/a.csv");
    cr_assert_eq(spec->queries[1].pause_after_ms, 1500);
    cr_assert_null(spec->queries[1].output_path);
    cr_assert_eq(spec->queries[2].pause_after_ms, 2000);
    cr_assert_eq(spec->queries[3].pause_after_ms, 500);
    cr_assert_eq(spec->queries[3].limit, 3);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, jobs_errors_name_their_path)
{
    s_expect_error("{" S_INPUT ", 'jobs': []}", "jobs");
    s_expect_error("{" S_INPUT ", 'jobs': {}}", "jobs: expected an array");
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY "}, 3]}",
                   "jobs[1]: expected an object");
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY "}, {" S_MIN_QUERY
                   ", 'pause_after': 'soon'}]}",
                   "jobs[1].pause_after");
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY
                   ", 'pause_after': -1}]}",
                   "jobs[0].pause_after");
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY
                   ", 'pause_after': 'infinity'}]}",
                   "jobs[0].pause_after");
    s_expect_error("{" S_INPUT ", 'jobs': [{'group_by': [],"
                   " 'aggregates': [{'fn': 'nope'}]}]}",
                   "jobs[0].aggregates[0].fn");
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY
                   ", 'output': {'format': 'csv'}}]}",
                   "missing required field jobs[0].output.path");
}

Test(jobfile, top_level_output_with_jobs_is_refused)
{
    s_expect_error("{" S_INPUT ", 'jobs': [{" S_MIN_QUERY "}],"
                   " 'output': {'path': 'out.csv'}}",
                   "each job");
}

Test(jobfile, query_refuses_job_only_keys)
{
    s_query_error(S_MIN_QUERY ", 'pause_after': '1s'",
                  "unknown key 'pause_after' at query");
    s_query_error(S_MIN_QUERY ", 'output': {'path': 'x'}",
                  "unknown key 'output' at query");
}

Test(jobfile, output_errors_name_their_path)
{
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'output': {'path': 'x', 'format': 'json'}}",
                   "output.format");
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'output': {'path': 'x', 'mode': 'overwrite'}}",
                   "unknown key 'mode' at output");
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'output': 'x.csv'}",
                   "output: expected an object");
}

Test(jobfile, conf_keeps_file_order_and_formats_scalars)
{
    ms_job_spec_t *spec =
        s_parse_ok("{" S_INPUT ", 'query': {" S_MIN_QUERY "}, 'conf': {"
                   "'spark.z': 'text', 'spark.a': 20, 'spark.m': true,"
                   " 'spark.r': 0.25, 'spark.f': false}}");
    const char *expect[][2] = {{"spark.z", "text"},
                               {"spark.a", "20"},
                               {"spark.m", "true"},
                               {"spark.r", "0.25"},
                               {"spark.f", "false"}};
    for (int i = 0; i < 5; i++) {
        const char *k, *v;
        cr_assert(ms_conf_entry(spec->conf, i, &k, &v));
        cr_assert_str_eq(k, expect[i][0]);
        cr_assert_str_eq(v, expect[i][1]);
    }
    cr_assert_not(ms_conf_entry(spec->conf, 5, NULL, NULL));
    ms_job_spec_destroy(&spec);
}

Test(jobfile, conf_errors_name_the_key)
{
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'conf': {'spark.a': {'b': 1}}}",
                   "conf.spark.a");
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'conf': {'spark.a': null}}",
                   "conf.spark.a");
    s_expect_error("{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                   " 'conf': ['spark.a']}",
                   "conf: expected an object");
}

Test(jobfile, conf_test_hooks_need_testing_env)
{
    const char *text = "{" S_INPUT ", 'query': {" S_MIN_QUERY "},"
                       " 'conf': {'minispark.test.killExecutor': '1'}}";
    unsetenv("MINISPARK_TESTING");
    s_expect_error(text, "conf.minispark.test.killExecutor");
    setenv("MINISPARK_TESTING", "1", 1);
    ms_job_spec_t *spec = s_parse_ok(text);
    ms_job_spec_destroy(&spec);
}

Test(jobfile, parse_without_error_carrier_still_fails_cleanly)
{
    ms_job_spec_t *spec = NULL;
    const char *text = "{\"input\": {}}";
    cr_assert_eq(ms_job_spec_parse(&spec, text, strlen(text), NULL, NULL),
                 MS_ERR_USAGE);
    cr_assert_null(spec);
}

Test(jobfile, parse_reads_only_len_bytes)
{
    char *json = s_json("{" S_INPUT ", 'query': {" S_MIN_QUERY "}}GARBAGE");
    ms_error_t err = {0};
    ms_job_spec_t *spec = NULL;
    size_t len = strlen(json) - strlen("GARBAGE");
    cr_assert_eq(ms_job_spec_parse(&spec, json, len, "j", &err), 0, "%s",
                 err.msg);
    ms_job_spec_destroy(&spec);
    free(json);
}
