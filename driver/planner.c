/* Query resolution and type checking. */
#include "driver/planner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ms_plan_t *plan;
    const char *prefix; /* "query" or "jobs[i]" */
    ms_error_t *err;
} s_ctx_t;

static void s_list_columns(const ms_schema_t *schema, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < schema->ncols && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "",
                              schema->cols[i].name);
    if (schema->ncols == 0) snprintf(buf, size, "(none)");
}

/* Index of a named column. With an empty input, unknown names are added
 * with an unknown type. */
static int s_column(s_ctx_t *c, const char *name, const char *path)
{
    ms_schema_t *schema = &c->plan->schema;
    int i = ms_schema_find(schema, name);
    if (i >= 0) return i;
    if (schema->ncols == 0 || schema->cols[0].type.type == MS_TYPE_NULL) {
        if (schema->ncols < MS_CSV_MAX_COLUMNS &&
            strlen(name) < MS_CSV_NAME_MAX) {
            ms_column_t *col = &schema->cols[schema->ncols];
            snprintf(col->name, sizeof col->name, "%s", name);
            col->type.type = MS_TYPE_NULL;
            col->type.scale = 0;
            return schema->ncols++;
        }
    }
    char cols[2048];
    s_list_columns(schema, cols, sizeof cols);
    return ms_error_set(c->err, MS_ERR_USAGE,
                        "unknown column '%s' in %s.%s; available columns: %s",
                        name, c->prefix, path, cols);
}

static const char *s_type_text(ms_coltype_t t, char *buf, size_t size)
{
    if (t.type == MS_TYPE_DECIMAL)
        snprintf(buf, size, "decimal (scale %d)", t.scale);
    else
        snprintf(buf, size, "%s", ms_type_name(t.type));
    return buf;
}

static int s_literal(s_ctx_t *c, const ms_literal_t *lit, ms_coltype_t t,
                     const char *path, ms_value_t *out)
{
    char tb[64];
    memset(out, 0, sizeof *out);
    if (t.type == MS_TYPE_NULL) return 0; /* empty input: never compared */
    size_t len = strlen(lit->text);
    if (t.type == MS_TYPE_STRING || ms_value_parse(lit->text, len, t, out)) {
        if (t.type == MS_TYPE_STRING) {
            out->type = MS_TYPE_STRING;
            out->len = (uint32_t)len;
        }
        if (out->type != MS_TYPE_STRING) return 0;
        char *copy = malloc(len + 1);
        if (!copy) return ms_error_set(c->err, MS_ERR_NOMEM, "filter literal");
        memcpy(copy, lit->text, len + 1);
        out->s = copy;
        return 0;
    }
    return ms_error_set(c->err, MS_ERR_USAGE,
                        "%s.%s: '%s' is not a valid %s value", c->prefix, path,
                        lit->text, s_type_text(t, tb, sizeof tb));
}

static int s_filters(s_ctx_t *c, const ms_query_spec_t *q)
{
    ms_plan_t *plan = c->plan;
    char path[64];
    plan->filters = calloc((size_t)q->nfilters + 1, sizeof *plan->filters);
    if (!plan->filters) return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
    for (int i = 0; i < q->nfilters; i++) {
        const ms_filter_spec_t *fs = &q->filters[i];
        ms_filter_t *f = &plan->filters[plan->nfilters++];
        snprintf(path, sizeof path, "filter[%d].column", i);
        if ((f->col = s_column(c, fs->column, path)) < 0) return f->col;
        f->op = fs->op;
        f->values = calloc((size_t)fs->nvalues + 1, sizeof *f->values);
        if (!f->values) return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
        snprintf(path, sizeof path, "filter[%d].value", i);
        for (int j = 0; j < fs->nvalues; j++) {
            int rc =
                s_literal(c, &fs->values[j], plan->schema.cols[f->col].type,
                          path, &f->values[f->nvalues]);
            if (rc < 0) return rc;
            f->nvalues++;
        }
    }
    return 0;
}

static int s_keys(s_ctx_t *c, const ms_query_spec_t *q)
{
    ms_plan_t *plan = c->plan;
    char path[64], tb[64];
    plan->keys = calloc((size_t)q->nkeys + 1, sizeof *plan->keys);
    if (!plan->keys) return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
    for (int i = 0; i < q->nkeys; i++) {
        const ms_key_spec_t *ks = &q->keys[i];
        ms_key_t *k = &plan->keys[plan->nkeys++];
        snprintf(path, sizeof path, "group_by[%d]", i);
        if ((k->col = s_column(c, ks->column, path)) < 0) return k->col;
        if (!(k->name = strdup(ks->as)))
            return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
        k->kind = ks->kind;
        k->trunc = ks->trunc;
        k->mod = ks->mod;
        ms_coltype_t t = plan->schema.cols[k->col].type;
        ms_type_t need = ks->kind == MS_KEY_TRUNC ? MS_TYPE_TIMESTAMP
                         : ks->kind == MS_KEY_MOD ? MS_TYPE_INT64
                                                  : t.type;
        if (t.type != need && t.type != MS_TYPE_NULL)
            return ms_error_set(
                c->err, MS_ERR_USAGE,
                "%s.%s: %s needs a %s column, but '%s' is %s", c->prefix, path,
                ks->kind == MS_KEY_TRUNC ? "trunc" : "mod", ms_type_name(need),
                ks->column, s_type_text(t, tb, sizeof tb));
        k->type = t;
        if (ks->kind != MS_KEY_COLUMN) k->type.type = need;
    }
    return 0;
}

static int s_numeric(ms_type_t t)
{
    return t == MS_TYPE_INT64 || t == MS_TYPE_DECIMAL || t == MS_TYPE_DOUBLE ||
           t == MS_TYPE_NULL;
}

static const char *const s_fn_names[] = {"count", "sum", "min",
                                         "max",   "avg", "count_distinct"};

static int s_aggs(s_ctx_t *c, const ms_query_spec_t *q)
{
    ms_plan_t *plan = c->plan;
    char path[64], tb[64];
    plan->aggs = calloc((size_t)q->naggs + 1, sizeof *plan->aggs);
    if (!plan->aggs) return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
    for (int i = 0; i < q->naggs; i++) {
        const ms_agg_spec_t *as = &q->aggs[i];
        ms_agg_t *a = &plan->aggs[plan->naggs++];
        a->fn = as->fn;
        a->col = -1;
        if (!(a->name = strdup(as->as)))
            return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
        if (as->column) {
            snprintf(path, sizeof path, "aggregates[%d].column", i);
            if ((a->col = s_column(c, as->column, path)) < 0) return a->col;
            a->in = plan->schema.cols[a->col].type;
        }
        if ((as->fn == MS_AGG_SUM || as->fn == MS_AGG_AVG) &&
            !s_numeric(a->in.type))
            return ms_error_set(c->err, MS_ERR_USAGE,
                                "%s.aggregates[%d]: %s needs a numeric column, "
                                "but '%s' is %s",
                                c->prefix, i, s_fn_names[as->fn], as->column,
                                s_type_text(a->in, tb, sizeof tb));
        a->type = ms_agg_result_type(as->fn, a->in);
    }
    return 0;
}

/* order_by names output columns: the keys' and the aggregates' names. */
static int s_order(s_ctx_t *c, const ms_query_spec_t *q)
{
    ms_plan_t *plan = c->plan;
    plan->limit = q->limit;
    plan->order = calloc((size_t)q->norder + 1, sizeof *plan->order);
    if (!plan->order) return ms_error_set(c->err, MS_ERR_NOMEM, "plan");
    for (int i = 0; i < q->norder; i++) {
        int col = -1;
        for (int k = 0; k < plan->nkeys && col < 0; k++)
            if (strcmp(plan->keys[k].name, q->order[i].column) == 0) col = k;
        for (int a = 0; a < plan->naggs && col < 0; a++)
            if (strcmp(plan->aggs[a].name, q->order[i].column) == 0)
                col = plan->nkeys + a;
        if (col < 0)
            return ms_error_set(c->err, MS_ERR_USAGE,
                                "%s.order_by[%d]: '%s' is not an output column",
                                c->prefix, i, q->order[i].column);
        plan->order[plan->norder++] = (ms_order_t){col, q->order[i].desc};
    }
    return 0;
}

int ms_planner_build(const ms_job_spec_t *spec, int query,
                     const ms_schema_t *schema, const ms_planner_opts_t *opts,
                     ms_plan_t **out, ms_error_t *err)
{
    char prefix[32];
    if (spec->nqueries > 1)
        snprintf(prefix, sizeof prefix, "jobs[%d]", query);
    else
        snprintf(prefix, sizeof prefix, "query");
    ms_plan_t *plan = ms_plan_new();
    if (!plan) return ms_error_set(err, MS_ERR_NOMEM, "plan");
    s_ctx_t c = {plan, prefix, err};
    const ms_query_spec_t *q = &spec->queries[query];
    plan->schema = *schema;
    plan->csv = spec->csv;
    plan->num_partitions = opts->num_partitions;
    plan->codec = opts->codec;
    plan->zlib_level = opts->zlib_level;
    plan->agg_memory = opts->agg_memory;
    plan->input_id = opts->input_id;
    /* Absolute: executors on workers run in other folders, and the input
     * must be at the same path on every host. */
    plan->input_path = realpath(spec->input_path, NULL);
    if (!plan->input_path) plan->input_path = strdup(spec->input_path);
    int rc = plan->input_path ? 0 : MS_ERR_NOMEM;
    if (rc == 0) rc = s_filters(&c, q);
    if (rc == 0) rc = s_keys(&c, q);
    if (rc == 0) rc = s_aggs(&c, q);
    if (rc == 0) rc = s_order(&c, q);
    if (rc == 0) rc = ms_plan_finish(plan, err);
    if (rc < 0) {
        ms_plan_destroy(&plan);
        return rc;
    }
    *out = plan;
    return 0;
}
