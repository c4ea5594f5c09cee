/* Behaviour of the planner: names resolved against a schema (or accepted
 * blindly for an empty input), functions checked against column types,
 * filter literals converted to the column's type, result types fixed, and
 * every refusal naming the JSON path. Job files are written with single
 * quotes and turned into JSON by s_json, for readability. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/jobfile.h"
#include "driver/planner.h"

enum { C_TS, C_COUNTRY, C_DEVICE, C_AMOUNT, C_ID, C_PRICE, C_NCOLS };

static ms_schema_t s_schema(void)
{
    static const struct {
        const char *name;
        ms_coltype_t type;
    } cols[C_NCOLS] = {
        {"ts", {MS_TYPE_TIMESTAMP, 0}},  {"country", {MS_TYPE_STRING, 0}},
        {"device", {MS_TYPE_STRING, 0}}, {"amount", {MS_TYPE_DECIMAL, 2}},
        {"id", {MS_TYPE_INT64, 0}},      {"price", {MS_TYPE_DOUBLE, 0}}};
    ms_schema_t s;
    memset(&s, 0, sizeof s);
    s.ncols = C_NCOLS;
    for (int c = 0; c < C_NCOLS; c++) {
        snprintf(s.cols[c].name, sizeof s.cols[c].name, "%s", cols[c].name);
        s.cols[c].type = cols[c].type;
    }
    return s;
}

static const ms_planner_opts_t s_opts = {.num_partitions = 7,
                                         .codec = MS_CODEC_ZLIB,
                                         .zlib_level = 3,
                                         .agg_memory = 1 << 20};

/* Single quotes to double quotes (no test text needs an apostrophe). */
static ms_job_spec_t *s_spec(const char *text)
{
    char *json = strdup(text);
    for (char *p = json; *p; p++)
        if (*p == '\'') *p = '"';
    ms_job_spec_t *spec = NULL;
    ms_error_t err = {0};
    cr_assert_eq(ms_job_spec_parse(&spec, json, strlen(json), "job.json", &err),
                 0, "%s\n%s", err.msg, json);
    free(json);
    return spec;
}

/* A job file whose query has the given fields. */
static ms_job_spec_t *s_query_spec(const char *query)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{'input': {'path': 'events.csv', 'delimiter': ';'}, "
             "'query': {%s}}",
             query);
    return s_spec(text);
}

static int s_build(const char *query, const ms_schema_t *schema,
                   ms_plan_t **plan, ms_error_t *err)
{
    ms_job_spec_t *spec = s_query_spec(query);
    *plan = NULL;
    int rc = ms_planner_build(spec, 0, schema, &s_opts, plan, err);
    ms_job_spec_destroy(&spec);
    return rc;
}

static ms_plan_t *s_build_ok(const char *query)
{
    ms_schema_t schema = s_schema();
    ms_plan_t *plan;
    ms_error_t err = {0};
    cr_assert_eq(s_build(query, &schema, &plan, &err), 0, "%s", err.msg);
    cr_assert_not_null(plan);
    return plan;
}

/* Expects MS_ERR_USAGE with every fragment (NULL-terminated) in the text. */
static void s_build_fails(const char *query, const char *const *fragments)
{
    ms_schema_t schema = s_schema();
    ms_plan_t *plan = (ms_plan_t *)1;
    ms_error_t err = {0};
    int rc = s_build(query, &schema, &plan, &err);
    if (rc == 0) ms_plan_destroy(&plan);
    cr_assert_eq(rc, MS_ERR_USAGE, "accepted: %s", query);
    cr_assert_null(plan);
    for (int i = 0; fragments[i]; i++)
        cr_assert(strstr(err.msg, fragments[i]), "expected '%s' in: %s",
                  fragments[i], err.msg);
}

#define S_FAILS(query, ...)                                                    \
    s_build_fails((query), (const char *const[]){__VA_ARGS__, NULL})

#define S_COUNT "'aggregates': [{'fn': 'count'}]"

static void s_expect_type(ms_coltype_t t, ms_type_t type, int scale)
{
    cr_assert_eq(t.type, type, "type %d, expected %d", t.type, type);
    cr_assert_eq(t.scale, scale, "scale %d, expected %d", t.scale, scale);
}

/* ---- resolving ------------------------------------------------------------
 */

Test(planner, resolves_keys_and_aggregates_to_columns_and_result_types)
{
    ms_plan_t *p = s_build_ok(
        "'group_by': ['country', {'column': 'ts', 'trunc': 'day', 'as': 'day'},"
        "             {'column': 'id', 'mod': 10, 'as': 'bucket'}],"
        "'aggregates': [{'fn': 'count'}, {'fn': 'sum', 'column': 'amount'},"
        "  {'fn': 'avg', 'column': 'amount'}, {'fn': 'avg', 'column': 'id'},"
        "  {'fn': 'avg', 'column': 'price'}, {'fn': 'min', 'column': "
        "'country'},"
        "  {'fn': 'max', 'column': 'ts'}, {'fn': 'sum', 'column': 'price'},"
        "  {'fn': 'count_distinct', 'column': 'device', 'as': 'devices'},"
        "  {'fn': 'count', 'column': 'id'}]");
    cr_assert_eq(p->nkeys, 3);
    cr_assert_eq(p->keys[0].kind, MS_KEY_COLUMN);
    cr_assert_eq(p->keys[0].col, C_COUNTRY);
    s_expect_type(p->keys[0].type, MS_TYPE_STRING, 0);
    cr_assert_str_eq(p->keys[0].name, "country");
    cr_assert_eq(p->keys[1].kind, MS_KEY_TRUNC);
    cr_assert_eq(p->keys[1].col, C_TS);
    cr_assert_eq(p->keys[1].trunc, MS_TRUNC_DAY);
    s_expect_type(p->keys[1].type, MS_TYPE_TIMESTAMP, 0);
    cr_assert_str_eq(p->keys[1].name, "day");
    cr_assert_eq(p->keys[2].kind, MS_KEY_MOD);
    cr_assert_eq(p->keys[2].col, C_ID);
    cr_assert_eq(p->keys[2].mod, 10);
    s_expect_type(p->keys[2].type, MS_TYPE_INT64, 0);

    cr_assert_eq(p->naggs, 10);
    cr_assert_eq(p->aggs[0].col, -1);
    s_expect_type(p->aggs[0].type, MS_TYPE_INT64, 0);
    cr_assert_eq(p->aggs[1].col, C_AMOUNT);
    s_expect_type(p->aggs[1].in, MS_TYPE_DECIMAL, 2);
    s_expect_type(p->aggs[1].type, MS_TYPE_DECIMAL, 2);
    cr_assert_str_eq(p->aggs[1].name, "sum(amount)");
    s_expect_type(p->aggs[2].type, MS_TYPE_DECIMAL, 6);
    s_expect_type(p->aggs[3].type, MS_TYPE_DOUBLE, 0);
    s_expect_type(p->aggs[4].type, MS_TYPE_DOUBLE, 0);
    s_expect_type(p->aggs[5].type, MS_TYPE_STRING, 0);
    s_expect_type(p->aggs[6].type, MS_TYPE_TIMESTAMP, 0);
    s_expect_type(p->aggs[7].type, MS_TYPE_DOUBLE, 0);
    cr_assert_eq(p->aggs[8].col, C_DEVICE);
    s_expect_type(p->aggs[8].type, MS_TYPE_INT64, 0);
    cr_assert_str_eq(p->aggs[8].name, "devices");
    cr_assert_eq(p->aggs[9].col, C_ID);
    s_expect_type(p->aggs[9].type, MS_TYPE_INT64, 0);
    ms_plan_destroy(&p);
}

Test(planner, copies_input_options_and_shuffle_layout)
{
    ms_plan_t *p = s_build_ok("'group_by': ['device'], " S_COUNT);
    cr_assert_str_eq(p->input_path, "events.csv");
    cr_assert_eq(p->csv.delimiter, ';');
    cr_assert_eq(p->schema.ncols, C_NCOLS);
    cr_assert_str_eq(p->schema.cols[C_AMOUNT].name, "amount");
    cr_assert_eq(p->num_partitions, 7);
    cr_assert_eq(p->codec, MS_CODEC_ZLIB);
    cr_assert_eq(p->zlib_level, 3);
    /* Only the device column is read and checked. */
    for (int c = 0; c < C_NCOLS; c++)
        cr_assert_eq(p->referenced[c], c == C_DEVICE, "column %d", c);
    ms_plan_destroy(&p);
}

Test(planner, resolves_order_by_to_output_columns_with_the_limit)
{
    ms_plan_t *p = s_build_ok(
        "'group_by': ['device', 'country'], "
        "'aggregates': [{'fn': 'count', 'as': 'n'}, "
        "{'fn': 'sum', 'column': 'amount'}], "
        "'order_by': [{'column': 'sum(amount)', 'desc': true}, 'country', "
        "'n'], 'limit': 5");
    cr_assert_eq(p->norder, 3);
    cr_assert(p->order[0].col == 3 && p->order[0].desc);
    cr_assert(p->order[1].col == 1 && !p->order[1].desc);
    cr_assert(p->order[2].col == 2 && !p->order[2].desc);
    cr_assert_eq(p->limit, 5);
    ms_plan_destroy(&p);
    p = s_build_ok("'group_by': ['device'], " S_COUNT);
    cr_assert_eq(p->norder, 0);
    cr_assert_eq(p->limit, -1);
    ms_plan_destroy(&p);
}

Test(planner, unknown_column_names_it_and_lists_the_available_ones)
{
    const char *available =
        "available columns: ts, country, device, amount, id, price";
    S_FAILS("'group_by': ['contry'], " S_COUNT, "'contry'", "query.group_by[0]",
            available);
    S_FAILS("'group_by': ['country', {'column': 'tss', 'trunc': 'day', "
            "'as': 'd'}], " S_COUNT,
            "'tss'", "query.group_by[1]", available);
    S_FAILS("'group_by': [], 'aggregates': [{'fn': 'count'}, "
            "{'fn': 'sum', 'column': 'amt'}]",
            "'amt'", "query.aggregates[1].column", available);
    S_FAILS("'filter': [{'column': 'Country', 'op': '=', 'value': 'DE'}], "
            "'group_by': [], " S_COUNT,
            "'Country'", "query.filter[0].column", available);
}

Test(planner, errors_in_a_jobs_file_name_the_job)
{
    ms_job_spec_t *spec =
        s_spec("{'input': {'path': 'e.csv'}, 'jobs': ["
               "  {'group_by': ['country'], 'aggregates': [{'fn': 'count'}]},"
               "  {'group_by': ['nope'], 'aggregates': [{'fn': 'count'}]}]}");
    ms_schema_t schema = s_schema();
    ms_plan_t *plan = NULL;
    ms_error_t err = {0};
    cr_assert_eq(ms_planner_build(spec, 0, &schema, &s_opts, &plan, &err), 0,
                 "%s", err.msg);
    ms_plan_destroy(&plan);
    cr_assert_eq(ms_planner_build(spec, 1, &schema, &s_opts, &plan, &err),
                 MS_ERR_USAGE);
    cr_assert_null(plan);
    cr_assert(strstr(err.msg, "jobs[1].group_by[0]"), "%s", err.msg);
    ms_job_spec_destroy(&spec);
}

/* ---- type checks
 * --------------------------------------------------------------- */

Test(planner, trunc_needs_a_timestamp_column)
{
    const char *const cols[] = {"country", "amount", "id", "price"};
    for (int i = 0; i < 4; i++) {
        char q[512];
        snprintf(q, sizeof q,
                 "'group_by': [{'column': '%s', 'trunc': 'hour', 'as': "
                 "'h'}], " S_COUNT,
                 cols[i]);
        S_FAILS(q, "query.group_by[0]", "trunc", "timestamp", cols[i]);
    }
}

Test(planner, mod_needs_an_int64_column)
{
    const char *const cols[] = {"country", "amount", "ts", "price"};
    for (int i = 0; i < 4; i++) {
        char q[512];
        snprintf(
            q, sizeof q,
            "'group_by': [{'column': '%s', 'mod': 4, 'as': 'm'}], " S_COUNT,
            cols[i]);
        S_FAILS(q, "query.group_by[0]", "mod", "int64", cols[i]);
    }
}

Test(planner, sum_and_avg_need_a_numeric_column)
{
    S_FAILS(
        "'group_by': [], 'aggregates': [{'fn': 'sum', 'column': 'country'}]",
        "query.aggregates[0]", "sum", "country", "string");
    S_FAILS("'group_by': [], 'aggregates': [{'fn': 'count'}, "
            "{'fn': 'avg', 'column': 'device'}]",
            "query.aggregates[1]", "avg", "device");
    S_FAILS("'group_by': [], 'aggregates': [{'fn': 'sum', 'column': 'ts'}]",
            "query.aggregates[0]", "sum", "ts", "timestamp");
}

Test(planner, min_max_and_count_distinct_take_any_column)
{
    ms_plan_t *p = s_build_ok(
        "'group_by': [], 'aggregates': ["
        "{'fn': 'min', 'column': 'device'}, {'fn': 'max', 'column': 'amount'},"
        "{'fn': 'count_distinct', 'column': 'ts'},"
        "{'fn': 'count_distinct', 'column': 'price'}]");
    s_expect_type(p->aggs[0].type, MS_TYPE_STRING, 0);
    s_expect_type(p->aggs[1].type, MS_TYPE_DECIMAL, 2);
    s_expect_type(p->aggs[2].type, MS_TYPE_INT64, 0);
    s_expect_type(p->aggs[3].type, MS_TYPE_INT64, 0);
    ms_plan_destroy(&p);
}

Test(planner, avg_of_decimal_has_four_more_digits_of_scale)
{
    const int scales[][2] = {{0, 4}, {2, 6}, {5, 9}, {7, 9}, {9, 9}};
    for (int i = 0; i < 5; i++) {
        ms_schema_t schema = s_schema();
        schema.cols[C_AMOUNT].type.scale = scales[i][0];
        ms_plan_t *p;
        ms_error_t err = {0};
        cr_assert_eq(s_build("'group_by': [], 'aggregates': "
                             "[{'fn': 'avg', 'column': 'amount'},"
                             " {'fn': 'sum', 'column': 'amount'}]",
                             &schema, &p, &err),
                     0, "%s", err.msg);
        s_expect_type(p->aggs[0].in, MS_TYPE_DECIMAL, scales[i][0]);
        s_expect_type(p->aggs[0].type, MS_TYPE_DECIMAL, scales[i][1]);
        s_expect_type(p->aggs[1].type, MS_TYPE_DECIMAL, scales[i][0]);
        ms_plan_destroy(&p);
    }
}

/* ---- filter literals
 * ----------------------------------------------------------- */

static void s_expect_int_literal(const ms_filter_t *f, int j, ms_type_t type,
                                 int scale, int64_t i)
{
    cr_assert_gt(f->nvalues, j);
    cr_assert_eq(f->values[j].type, type, "value %d has type %d", j,
                 f->values[j].type);
    cr_assert_eq(f->values[j].scale, scale);
    cr_assert_eq(f->values[j].i, i, "value %d is %lld", j,
                 (long long)f->values[j].i);
}

Test(planner, filter_literals_take_the_column_type)
{
    ms_plan_t *p = s_build_ok(
        "'filter': ["
        "  {'column': 'amount', 'op': '>=', 'value': 10},"
        "  {'column': 'amount', 'op': '<', 'value': 10.05},"
        "  {'column': 'amount', 'op': 'in', 'value': [1, 2.5, -0.01]},"
        "  {'column': 'id', 'op': '!=', 'value': -3},"
        "  {'column': 'price', 'op': '>', 'value': 1.5},"
        "  {'column': 'ts', 'op': '>=', 'value': '2024-01-02 03:04:05'},"
        "  {'column': 'country', 'op': '=', 'value': 'DE'},"
        "  {'column': 'device', 'op': 'is_null'}],"
        "'group_by': [], " S_COUNT);
    cr_assert_eq(p->nfilters, 8);
    cr_assert_eq(p->filters[0].col, C_AMOUNT);
    cr_assert_eq(p->filters[0].op, MS_OP_GE);
    s_expect_int_literal(&p->filters[0], 0, MS_TYPE_DECIMAL, 2, 1000);
    s_expect_int_literal(&p->filters[1], 0, MS_TYPE_DECIMAL, 2, 1005);
    cr_assert_eq(p->filters[2].op, MS_OP_IN);
    cr_assert_eq(p->filters[2].nvalues, 3);
    s_expect_int_literal(&p->filters[2], 0, MS_TYPE_DECIMAL, 2, 100);
    s_expect_int_literal(&p->filters[2], 1, MS_TYPE_DECIMAL, 2, 250);
    s_expect_int_literal(&p->filters[2], 2, MS_TYPE_DECIMAL, 2, -1);
    s_expect_int_literal(&p->filters[3], 0, MS_TYPE_INT64, 0, -3);
    cr_assert_eq(p->filters[4].values[0].type, MS_TYPE_DOUBLE);
    cr_assert_eq(p->filters[4].values[0].d, 1.5);
    s_expect_int_literal(&p->filters[5], 0, MS_TYPE_TIMESTAMP, 0, 1704164645);
    const ms_value_t *de = &p->filters[6].values[0];
    cr_assert_eq(de->type, MS_TYPE_STRING);
    cr_assert_eq(de->len, 2);
    cr_assert_eq(memcmp(de->s, "DE", 2), 0);
    cr_assert_eq(p->filters[7].op, MS_OP_IS_NULL);
    cr_assert_eq(p->filters[7].nvalues, 0);
    /* Filtered columns are read even when nothing groups or sums them. */
    for (int c = 0; c < C_NCOLS; c++)
        cr_assert(p->referenced[c], "col %d", c);
    ms_plan_destroy(&p);
}

Test(planner, a_number_compared_to_a_string_column_is_its_text)
{
    ms_plan_t *p =
        s_build_ok("'filter': [{'column': 'country', 'op': '=', 'value': 42}], "
                   "'group_by': [], " S_COUNT);
    const ms_value_t *v = &p->filters[0].values[0];
    cr_assert_eq(v->type, MS_TYPE_STRING);
    cr_assert_eq(v->len, 2);
    cr_assert_eq(memcmp(v->s, "42", 2), 0);
    ms_plan_destroy(&p);
}

Test(planner, a_literal_that_does_not_fit_the_column_is_refused)
{
    S_FAILS("'filter': [{'column': 'amount', 'op': '=', 'value': 10.055}], "
            "'group_by': [], " S_COUNT,
            "query.filter[0].value", "10.055", "decimal");
    S_FAILS(
        "'filter': [{'column': 'country', 'op': '=', 'value': 'x'}, "
        "{'column': 'id', 'op': '>', 'value': 1.5}], 'group_by': [], " S_COUNT,
        "query.filter[1].value", "1.5", "int64");
    S_FAILS("'filter': [{'column': 'id', 'op': '=', 'value': 'abc'}], "
            "'group_by': [], " S_COUNT,
            "query.filter[0].value", "abc");
    S_FAILS("'filter': [{'column': 'id', 'op': 'in', 'value': [1, 2, 'x']}], "
            "'group_by': [], " S_COUNT,
            "query.filter[0].value", "'x'");
    S_FAILS("'filter': [{'column': 'ts', 'op': '<', 'value': 'yesterday'}], "
            "'group_by': [], " S_COUNT,
            "query.filter[0].value", "yesterday", "timestamp");
    S_FAILS("'filter': [{'column': 'id', 'op': '<', "
            "'value': 1e20}], 'group_by': [], " S_COUNT,
            "query.filter[0].value", "int64");
    S_FAILS("'filter': [{'column': 'price', 'op': '<', 'value': 'cheap'}], "
            "'group_by': [], " S_COUNT,
            "query.filter[0].value", "cheap", "double");
}

/* ---- empty input
 * ------------------------------------------------------------------ */

Test(planner, empty_schema_accepts_any_names)
{
    ms_schema_t empty;
    memset(&empty, 0, sizeof empty);
    ms_plan_t *p;
    ms_error_t err = {0};
    cr_assert_eq(
        s_build("'filter': [{'column': 'z', 'op': '=', 'value': 5}],"
                "'group_by': ['a', {'column': 't', 'trunc': 'day', 'as': 'd'},"
                "             {'column': 'm', 'mod': 3, 'as': 'mm'}],"
                "'aggregates': [{'fn': 'sum', 'column': 'x'},"
                "  {'fn': 'avg', 'column': 'y'}, {'fn': 'count'},"
                "  {'fn': 'count_distinct', 'column': 'a'}]",
                &empty, &p, &err),
        0, "%s", err.msg);
    /* Each distinct name got a column of unknown type, once. */
    cr_assert_eq(p->schema.ncols, 6);
    for (int c = 0; c < p->schema.ncols; c++)
        cr_assert_eq(p->schema.cols[c].type.type, MS_TYPE_NULL);
    cr_assert_eq(p->keys[0].col, p->aggs[3].col);
    cr_assert_str_eq(p->schema.cols[p->keys[0].col].name, "a");
    cr_assert_str_eq(p->schema.cols[p->aggs[0].col].name, "x");
    /* Derived keys still have their own output types. */
    s_expect_type(p->keys[1].type, MS_TYPE_TIMESTAMP, 0);
    s_expect_type(p->keys[2].type, MS_TYPE_INT64, 0);
    s_expect_type(p->aggs[2].type, MS_TYPE_INT64, 0);
    s_expect_type(p->aggs[3].type, MS_TYPE_INT64, 0);
    cr_assert_eq(p->filters[0].nvalues, 1);
    cr_assert_eq(p->filters[0].values[0].type, MS_TYPE_NULL);
    ms_plan_destroy(&p);
}

Test(planner, empty_schema_plan_survives_the_plan_codec)
{
    ms_schema_t empty;
    memset(&empty, 0, sizeof empty);
    ms_plan_t *p, *q = NULL;
    ms_error_t err = {0};
    cr_assert_eq(s_build("'group_by': ['a'], 'aggregates': "
                         "[{'fn': 'sum', 'column': 'x'}]",
                         &empty, &p, &err),
                 0, "%s", err.msg);
    char *buf;
    size_t len;
    cr_assert_eq(ms_plan_pack(p, &buf, &len), 0);
    cr_assert_eq(ms_plan_unpack(&q, buf, len, &err), 0, "%s", err.msg);
    cr_assert_eq(q->schema.ncols, 2);
    free(buf);
    ms_plan_destroy(&q);
    ms_plan_destroy(&p);
}
