/* Job file parsing (DESIGN.md "Job file"): JSON in, a job spec out, every
 * field type- and range-checked and every error naming its JSON path, such
 * as "query.aggregates[1].fn". Columns stay names: the planner resolves
 * them against the input's schema. */
#include "driver/jobfile.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

#define S_PATH_MAX 256
#define S_MAX_FILE_BYTES (16 << 20)
#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define S_USAGE(err, ...) ms_error_set((err), MS_ERR_USAGE, __VA_ARGS__)

typedef int s_query_fn(ms_query_spec_t *q, json_t *obj, const char *path,
                       ms_error_t *err);
typedef int s_spec_fn(ms_job_spec_t *spec, json_t *root, ms_error_t *err);

/* ---- small helpers ------------------------------------------------------- */

/* Paths are made of our own key names and indices only, so they fit. */
static void s_path_key(char *buf, const char *path, const char *key)
{
    int n = snprintf(buf, S_PATH_MAX, "%s%s%s", path, *path ? "." : "", key);
    assert(n < S_PATH_MAX);
    (void)n;
}

static int s_nomem(ms_error_t *err)
{
    return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
}

/* calloc that never returns NULL for an empty list, so NULL means NOMEM. */
static void *s_calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size);
}

static int s_dup(char **dst, const char *src, ms_error_t *err)
{
    *dst = strdup(src);
    return *dst ? 0 : s_nomem(err);
}

/* Allocates printf output into *dst. */
__attribute__((format(printf, 3, 4))) static int
s_dup_printf(char **dst, ms_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(dst, fmt, ap);
    va_end(ap);
    if (rc >= 0) return 0;
    *dst = NULL;
    return s_nomem(err);
}

/* The shortest "%.*g" text that reads back as d, so that 10.05 stays
 * "10.05" and 10.0 becomes "10" rather than "1e+01". */
static void s_shortest_real(char *buf, size_t size, double d)
{
    char tmp[64];
    buf[0] = '\0';
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) != d) continue;
        if (buf[0] == '\0' || strlen(tmp) < strlen(buf))
            snprintf(buf, size, "%s", tmp);
    }
}

static bool s_is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

/* Text of a string, number or boolean; NULL on allocation failure. */
static char *s_scalar_text(const json_t *v)
{
    char buf[64];
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (json_is_boolean(v)) return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
    else
        s_shortest_real(buf, sizeof buf, json_real_value(v));
    return strdup(buf);
}

/* ---- typed field access -------------------------------------------------- */

/* What a field must be; JSON_TRUE stands for either boolean. */
static const char *const s_type_names[] = {
    [JSON_OBJECT] = "an object",    [JSON_ARRAY] = "an array",
    [JSON_STRING] = "a string",     [JSON_INTEGER] = "an integer",
    [JSON_REAL] = "a number",       [JSON_TRUE] = "true or false",
    [JSON_FALSE] = "true or false", [JSON_NULL] = "null",
};

static bool s_has_type(const json_t *v, json_type type)
{
    if (type == JSON_TRUE) return json_is_boolean(v);
    return json_typeof(v) == type;
}

static int s_check_type(const json_t *v, json_type type, const char *path,
                        ms_error_t *err)
{
    if (s_has_type(v, type)) return 0;
    return S_USAGE(err, "%s: expected %s", path, s_type_names[type]);
}

/* *out = obj.key, or NULL when absent and not required. */
static int s_field(json_t *obj, const char *key, json_type type, bool required,
                   const char *path, json_t **out, ms_error_t *err)
{
    char fpath[S_PATH_MAX];
    s_path_key(fpath, path, key);
    *out = json_object_get(obj, key);
    if (!*out && required)
        return S_USAGE(err, "missing required field %s", fpath);
    return *out ? s_check_type(*out, type, fpath, err) : 0;
}

/* A string field; *out stays as it was when the field is absent. */
static int s_get_str(json_t *obj, const char *key, bool required,
                     const char *path, const char **out, ms_error_t *err)
{
    json_t *v;
    int rc = s_field(obj, key, JSON_STRING, required, path, &v, err);
    if (rc == 0 && v) *out = json_string_value(v);
    return rc;
}

static int s_check_name(const char *name, const char *path, const char *key,
                        ms_error_t *err)
{
    if (*name) return 0;
    char fpath[S_PATH_MAX];
    s_path_key(fpath, path, key);
    return S_USAGE(err, "%s: expected a non-empty string", fpath);
}

/* A non-empty string field, copied into *out (untouched when absent). */
static int s_get_name(json_t *obj, const char *key, bool required,
                      const char *path, char **out, ms_error_t *err)
{
    const char *s = NULL;
    int rc = s_get_str(obj, key, required, path, &s, err);
    if (rc || !s) return rc;
    if ((rc = s_check_name(s, path, key, err))) return rc;
    free(*out);
    return s_dup(out, s, err);
}

static int s_get_bool(json_t *obj, const char *key, const char *path, bool *out,
                      ms_error_t *err)
{
    json_t *v;
    int rc = s_field(obj, key, JSON_TRUE, false, path, &v, err);
    if (rc == 0 && v) *out = json_is_true(v);
    return rc;
}

/* An integer field >= min; *out stays as it was when the field is absent. */
static int s_get_int(json_t *obj, const char *key, int64_t min, int64_t max,
                     const char *path, int64_t *out, ms_error_t *err)
{
    json_t *v;
    int rc = s_field(obj, key, JSON_INTEGER, false, path, &v, err);
    if (rc || !v) return rc;
    if (json_integer_value(v) < min || json_integer_value(v) > max) {
        char fpath[S_PATH_MAX];
        s_path_key(fpath, path, key);
        if (max == INT64_MAX)
            return S_USAGE(err, "%s: expected an integer >= %lld", fpath,
                           (long long)min);
        return S_USAGE(err, "%s: expected an integer from %lld to %lld", fpath,
                       (long long)min, (long long)max);
    }
    *out = json_integer_value(v);
    return 0;
}

/* Strict: a misspelt key ("fitler") must not silently drop a filter. */
static int s_check_keys(json_t *obj, const char *path, const char *const *known,
                        ms_error_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (ok) continue;
        char list[256] = "";
        for (int i = 0; known[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? ", " : "", known[i]);
        return S_USAGE(err, "unknown key '%s' at %s (known keys: %s)", key,
                       *path ? path : "the top level", list);
    }
    return 0;
}

/* ---- lists --------------------------------------------------------------- */

/* A JSON array field being walked; item_path names the current entry. */
typedef struct {
    json_t *arr;
    size_t n;
    char path[S_PATH_MAX];
    char item_path[S_PATH_MAX];
} s_list_t;

/* Opens obj.key as a list of min to max entries; l->arr is NULL when the
 * field is absent and not required. */
static int s_list_open(s_list_t *l, json_t *obj, const char *key, bool required,
                       size_t min, size_t max, const char *path,
                       ms_error_t *err)
{
    int rc = s_field(obj, key, JSON_ARRAY, required, path, &l->arr, err);
    if (rc || !l->arr) return rc;
    s_path_key(l->path, path, key);
    l->n = json_array_size(l->arr);
    if (l->n > max)
        return S_USAGE(err, "%s: %zu entries, more than the %zu allowed",
                       l->path, l->n, max);
    if (l->n < min)
        return S_USAGE(err, "%s: expected at least %zu entr%s", l->path, min,
                       min == 1 ? "y" : "ies");
    return 0;
}

static json_t *s_list_item(s_list_t *l, size_t i)
{
    int n = snprintf(l->item_path, S_PATH_MAX, "%s[%zu]", l->path, i);
    assert(n < S_PATH_MAX);
    (void)n;
    return json_array_get(l->arr, i);
}

/* ---- filters ------------------------------------------------------------- */

static int s_parse_literal(ms_literal_t *lit, json_t *v, const char *path,
                           ms_error_t *err)
{
    if (json_is_null(v))
        return S_USAGE(err,
                       "%s: null never compares equal; use \"op\": "
                       "\"is_null\" or \"not_null\"",
                       path);
    if (!s_is_scalar(v))
        return S_USAGE(err, "%s: expected a number, string or boolean", path);
    lit->kind = json_is_string(v)    ? MS_LIT_STRING
                : json_is_boolean(v) ? MS_LIT_BOOL
                                     : MS_LIT_NUMBER;
    lit->text = s_scalar_text(v);
    return lit->text ? 0 : s_nomem(err);
}

/* = != < <= > >=: exactly one scalar "value". */
static int s_values_one(ms_filter_spec_t *f, json_t *obj, const char *path,
                        ms_error_t *err)
{
    char vpath[S_PATH_MAX];
    if (json_object_get(obj, "values"))
        return S_USAGE(err,
                       "%s.values: only \"op\": \"in\" takes a list; "
                       "use \"value\"",
                       path);
    json_t *v = json_object_get(obj, "value");
    if (!v) return S_USAGE(err, "missing required field %s.value", path);
    if (!(f->values = s_calloc(1, sizeof *f->values))) return s_nomem(err);
    f->nvalues = 1;
    s_path_key(vpath, path, "value");
    return s_parse_literal(&f->values[0], v, vpath, err);
}

/* in: a non-empty list under "value" or "values". */
static int s_values_list(ms_filter_spec_t *f, json_t *obj, const char *path,
                         ms_error_t *err)
{
    bool has_value = json_object_get(obj, "value") != NULL;
    if (has_value && json_object_get(obj, "values"))
        return S_USAGE(err, "%s: give \"value\" or \"values\", not both", path);
    s_list_t l;
    int rc = s_list_open(&l, obj, has_value ? "value" : "values", true, 1,
                         MS_PLAN_MAX_VALUES, path, err);
    if (rc) return rc;
    if (!(f->values = s_calloc(l.n, sizeof *f->values))) return s_nomem(err);
    f->nvalues = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_literal(&f->values[i], v, l.item_path, err);
    }
    return rc;
}

/* is_null, not_null: no value at all. */
static int s_values_none(ms_filter_spec_t *f, json_t *obj, const char *path,
                         ms_error_t *err)
{
    (void)f;
    if (json_object_get(obj, "value") || json_object_get(obj, "values"))
        return S_USAGE(err, "%s: \"%s\" takes no value", path,
                       json_string_value(json_object_get(obj, "op")));
    return 0;
}

static const struct {
    const char *name;
    ms_op_t op;
    int (*values)(ms_filter_spec_t *f, json_t *obj, const char *path,
                  ms_error_t *err);
} s_ops[] = {
    {"=", MS_OP_EQ, s_values_one},
    {"==", MS_OP_EQ, s_values_one},
    {"!=", MS_OP_NE, s_values_one},
    {"<", MS_OP_LT, s_values_one},
    {"<=", MS_OP_LE, s_values_one},
    {">", MS_OP_GT, s_values_one},
    {">=", MS_OP_GE, s_values_one},
    {"in", MS_OP_IN, s_values_list},
    {"is_null", MS_OP_IS_NULL, s_values_none},
    {"not_null", MS_OP_NOT_NULL, s_values_none},
};

static const char *const s_filter_keys[] = {"column", "op", "value", "values",
                                            NULL};

static int s_parse_filter(ms_filter_spec_t *f, json_t *obj, const char *path,
                          ms_error_t *err)
{
    const char *op = NULL;
    int rc = s_check_type(obj, JSON_OBJECT, path, err);
    if (rc == 0) rc = s_check_keys(obj, path, s_filter_keys, err);
    if (rc == 0) rc = s_get_name(obj, "column", true, path, &f->column, err);
    if (rc == 0) rc = s_get_str(obj, "op", true, path, &op, err);
    if (rc) return rc;
    for (size_t i = 0; i < S_COUNT(s_ops); i++) {
        if (strcmp(op, s_ops[i].name) != 0) continue;
        f->op = s_ops[i].op;
        return s_ops[i].values(f, obj, path, err);
    }
    return S_USAGE(err,
                   "%s.op: unknown operator '%s' (expected one of =, !=, <, "
                   "<=, >, >=, in, is_null, not_null)",
                   path, op);
}

static int s_parse_filters(ms_query_spec_t *q, json_t *obj, const char *path,
                           ms_error_t *err)
{
    s_list_t l;
    int rc =
        s_list_open(&l, obj, "filter", false, 0, MS_PLAN_MAX_ITEMS, path, err);
    if (rc || !l.arr) return rc;
    if (!(q->filters = s_calloc(l.n, sizeof *q->filters))) return s_nomem(err);
    q->nfilters = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_filter(&q->filters[i], v, l.item_path, err);
    }
    return rc;
}

/* ---- group_by ------------------------------------------------------------ */

static const struct {
    const char *name;
    ms_trunc_t unit;
} s_truncs[] = {
    {"hour", MS_TRUNC_HOUR},
    {"day", MS_TRUNC_DAY},
    {"month", MS_TRUNC_MONTH},
};

static int s_parse_trunc(ms_key_spec_t *k, const char *unit, const char *path,
                         ms_error_t *err)
{
    for (size_t i = 0; i < S_COUNT(s_truncs); i++) {
        if (strcmp(unit, s_truncs[i].name) != 0) continue;
        k->kind = MS_KEY_TRUNC;
        k->trunc = s_truncs[i].unit;
        /* Spark's name for date_trunc('day', event_time). */
        return s_dup_printf(&k->as, err, "date_trunc(%s, %s)", unit, k->column);
    }
    return S_USAGE(err, "%s.trunc: expected hour, day or month, not '%s'", path,
                   unit);
}

static int s_parse_mod(ms_key_spec_t *k, json_t *obj, const char *path,
                       ms_error_t *err)
{
    int rc = s_get_int(obj, "mod", 1, INT64_MAX, path, &k->mod, err);
    if (rc) return rc;
    k->kind = MS_KEY_MOD;
    return s_dup_printf(&k->as, err, "(%s %% %lld)", k->column,
                        (long long)k->mod);
}

static const char *const s_key_keys[] = {"column", "trunc", "mod", "as", NULL};

/* {"column": ..., "trunc" | "mod": ..., "as": ...}: a derived key. */
static int s_parse_key_object(ms_key_spec_t *k, json_t *obj, const char *path,
                              ms_error_t *err)
{
    const char *trunc = NULL;
    int rc = s_check_keys(obj, path, s_key_keys, err);
    if (rc == 0) rc = s_get_name(obj, "column", true, path, &k->column, err);
    if (rc == 0) rc = s_get_str(obj, "trunc", false, path, &trunc, err);
    if (rc) return rc;
    if (trunc && json_object_get(obj, "mod"))
        return S_USAGE(err, "%s: give \"trunc\" or \"mod\", not both", path);
    if (trunc)
        rc = s_parse_trunc(k, trunc, path, err);
    else if (json_object_get(obj, "mod"))
        rc = s_parse_mod(k, obj, path, err);
    else
        rc = s_dup(&k->as, k->column, err);
    if (rc == 0) rc = s_get_name(obj, "as", false, path, &k->as, err);
    return rc;
}

static int s_parse_key(ms_key_spec_t *k, json_t *v, const char *path,
                       ms_error_t *err)
{
    k->kind = MS_KEY_COLUMN;
    if (json_is_object(v)) return s_parse_key_object(k, v, path, err);
    if (!json_is_string(v))
        return S_USAGE(err, "%s: expected a column name or an object", path);
    if (!*json_string_value(v))
        return S_USAGE(err, "%s: expected a non-empty string", path);
    int rc = s_dup(&k->column, json_string_value(v), err);
    return rc ? rc : s_dup(&k->as, k->column, err);
}

static int s_parse_keys(ms_query_spec_t *q, json_t *obj, const char *path,
                        ms_error_t *err)
{
    s_list_t l;
    int rc =
        s_list_open(&l, obj, "group_by", true, 0, MS_PLAN_MAX_ITEMS, path, err);
    if (rc) return rc;
    if (!(q->keys = s_calloc(l.n, sizeof *q->keys))) return s_nomem(err);
    q->nkeys = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_key(&q->keys[i], v, l.item_path, err);
    }
    return rc;
}

/* ---- aggregates ---------------------------------------------------------- */

/* name_fmt gives Spark's default output name from the column. */
static const struct {
    const char *name;
    ms_agg_fn_t fn;
    const char *name_fmt;
    bool needs_column;
} s_aggs[] = {
    {"count", MS_AGG_COUNT, "count(%s)", false},
    {"sum", MS_AGG_SUM, "sum(%s)", true},
    {"min", MS_AGG_MIN, "min(%s)", true},
    {"max", MS_AGG_MAX, "max(%s)", true},
    {"avg", MS_AGG_AVG, "avg(%s)", true},
    {"count_distinct", MS_AGG_COUNT_DISTINCT, "count(DISTINCT %s)", true},
};

static const char *const s_agg_keys[] = {"fn", "column", "as", NULL};

static int s_agg_fn(const char *fn, const char *path, int *index,
                    ms_error_t *err)
{
    for (size_t i = 0; i < S_COUNT(s_aggs); i++) {
        if (strcmp(fn, s_aggs[i].name) != 0) continue;
        *index = (int)i;
        return 0;
    }
    return S_USAGE(err,
                   "%s.fn: unknown function '%s' (expected count, sum, min, "
                   "max, avg or count_distinct)",
                   path, fn);
}

static int s_parse_agg(ms_agg_spec_t *a, json_t *obj, const char *path,
                       ms_error_t *err)
{
    const char *fn = NULL;
    int idx = 0;
    int rc = s_check_type(obj, JSON_OBJECT, path, err);
    if (rc == 0) rc = s_check_keys(obj, path, s_agg_keys, err);
    if (rc == 0) rc = s_get_str(obj, "fn", true, path, &fn, err);
    if (rc == 0) rc = s_agg_fn(fn, path, &idx, err);
    if (rc == 0)
        rc = s_get_name(obj, "column", s_aggs[idx].needs_column, path,
                        &a->column, err);
    if (rc) return rc;
    a->fn = s_aggs[idx].fn;
    rc = s_dup_printf(&a->as, err, s_aggs[idx].name_fmt,
                      a->column ? a->column : "1");
    return rc ? rc : s_get_name(obj, "as", false, path, &a->as, err);
}

static int s_parse_aggs(ms_query_spec_t *q, json_t *obj, const char *path,
                        ms_error_t *err)
{
    s_list_t l;
    int rc = s_list_open(&l, obj, "aggregates", true, 1, MS_PLAN_MAX_ITEMS,
                         path, err);
    if (rc) return rc;
    if (!(q->aggs = s_calloc(l.n, sizeof *q->aggs))) return s_nomem(err);
    q->naggs = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_agg(&q->aggs[i], v, l.item_path, err);
    }
    return rc;
}

/* ---- output names -------------------------------------------------------- */

/* Output column i: the keys first, then the aggregates. */
static const char *s_output_name(const ms_query_spec_t *q, int i)
{
    return i < q->nkeys ? q->keys[i].as : q->aggs[i - q->nkeys].as;
}

static void s_output_path(char *buf, const ms_query_spec_t *q, const char *path,
                          int i)
{
    if (i < q->nkeys)
        snprintf(buf, S_PATH_MAX, "%s.group_by[%d]", path, i);
    else
        snprintf(buf, S_PATH_MAX, "%s.aggregates[%d]", path, i - q->nkeys);
}

static int s_check_unique_names(ms_query_spec_t *q, json_t *obj,
                                const char *path, ms_error_t *err)
{
    (void)obj;
    int n = q->nkeys + q->naggs;
    for (int i = 1; i < n; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(s_output_name(q, i), s_output_name(q, j)) != 0) continue;
            char pi[S_PATH_MAX], pj[S_PATH_MAX];
            s_output_path(pi, q, path, i);
            s_output_path(pj, q, path, j);
            return S_USAGE(err,
                           "%s and %s both produce the output column '%s'; "
                           "rename one with \"as\"",
                           pj, pi, s_output_name(q, i));
        }
    }
    return 0;
}

/* ---- order_by ------------------------------------------------------------ */

static int s_check_output_name(const ms_query_spec_t *q, const char *name,
                               const char *path, ms_error_t *err)
{
    char list[512] = "";
    int n = q->nkeys + q->naggs;
    for (int i = 0; i < n; i++) {
        if (strcmp(name, s_output_name(q, i)) == 0) return 0;
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                 s_output_name(q, i));
    }
    return S_USAGE(err,
                   "%s: '%s' is not an output column; order_by can use: %s",
                   path, name, list);
}

static const char *const s_order_keys[] = {"column", "desc", NULL};

static int s_parse_order_entry(ms_order_spec_t *o, const ms_query_spec_t *q,
                               json_t *v, const char *path, ms_error_t *err)
{
    char cpath[S_PATH_MAX];
    int rc = 0;
    snprintf(cpath, sizeof cpath, "%s", path);
    if (json_is_string(v)) {
        rc = s_dup(&o->column, json_string_value(v), err);
    } else if (json_is_object(v)) {
        rc = s_check_keys(v, path, s_order_keys, err);
        if (rc == 0) rc = s_get_name(v, "column", true, path, &o->column, err);
        if (rc == 0) rc = s_get_bool(v, "desc", path, &o->desc, err);
        s_path_key(cpath, path, "column");
    } else {
        rc = S_USAGE(err, "%s: expected a column name or an object", path);
    }
    return rc ? rc : s_check_output_name(q, o->column, cpath, err);
}

static int s_parse_order(ms_query_spec_t *q, json_t *obj, const char *path,
                         ms_error_t *err)
{
    s_list_t l;
    int rc = s_list_open(&l, obj, "order_by", false, 0, MS_PLAN_MAX_ITEMS, path,
                         err);
    if (rc || !l.arr) return rc;
    if (!(q->order = s_calloc(l.n, sizeof *q->order))) return s_nomem(err);
    q->norder = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_order_entry(&q->order[i], q, v, l.item_path, err);
    }
    return rc;
}

/* ---- limit, pause_after, output ------------------------------------------ */

static int s_parse_limit(ms_query_spec_t *q, json_t *obj, const char *path,
                         ms_error_t *err)
{
    return s_get_int(obj, "limit", 0, INT64_MAX, path, &q->limit, err);
}

static int s_pause_number(ms_query_spec_t *q, json_t *v, const char *ppath,
                          ms_error_t *err)
{
    double secs = json_number_value(v);
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= INT64_MAX / 1000) {
        q->pause_after_ms = json_integer_value(v) * 1000;
        return 0;
    }
    if (json_is_real(v) && secs >= 0 && secs <= 9e15) {
        q->pause_after_ms = llround(secs * 1000);
        return 0;
    }
    return S_USAGE(err, "%s: expected a non-negative number of seconds", ppath);
}

/* "20s" in Spark's syntax (a bare number means seconds), or a number. */
static int s_parse_pause(ms_query_spec_t *q, json_t *obj, const char *path,
                         ms_error_t *err)
{
    char ppath[S_PATH_MAX];
    json_t *v = json_object_get(obj, "pause_after");
    if (!v) return 0;
    s_path_key(ppath, path, "pause_after");
    if (json_is_number(v)) return s_pause_number(q, v, ppath, err);
    if (!json_is_string(v))
        return S_USAGE(err, "%s: expected a duration such as \"20s\"", ppath);
    const char *text = json_string_value(v);
    if (ms_parse_duration_ms(text, 1000, &q->pause_after_ms) &&
        q->pause_after_ms != MS_CONF_INFINITE)
        return 0;
    return S_USAGE(err,
                   "%s: invalid duration '%s': expected a duration such as "
                   "500ms, 20s, 2min",
                   ppath, text);
}

static const char *const s_output_keys[] = {"path", "format", NULL};

/* The "format" fields: csv is the only format, in any case as in Spark. */
static int s_check_format(json_t *obj, const char *path, ms_error_t *err)
{
    const char *format = "csv";
    int rc = s_get_str(obj, "format", false, path, &format, err);
    if (rc || strcasecmp(format, "csv") == 0) return rc;
    return S_USAGE(err, "%s.format: only \"csv\" is supported, not '%s'", path,
                   format);
}

/* obj.output = {"path": ..., "format": "csv"} into *out_path. */
static int s_parse_output_field(json_t *obj, const char *path, char **out_path,
                                ms_error_t *err)
{
    char opath[S_PATH_MAX];
    json_t *out;
    int rc = s_field(obj, "output", JSON_OBJECT, false, path, &out, err);
    if (rc || !out) return rc;
    s_path_key(opath, path, "output");
    rc = s_check_keys(out, opath, s_output_keys, err);
    if (rc == 0) rc = s_get_name(out, "path", true, opath, out_path, err);
    return rc ? rc : s_check_format(out, opath, err);
}

static int s_parse_job_output(ms_query_spec_t *q, json_t *obj, const char *path,
                              ms_error_t *err)
{
    return s_parse_output_field(obj, path, &q->output_path, err);
}

/* ---- queries ------------------------------------------------------------- */

static const char *const s_query_keys[] = {"filter",   "group_by", "aggregates",
                                           "order_by", "limit",    NULL};
static const char *const s_job_keys[] = {"filter",   "group_by", "aggregates",
                                         "order_by", "limit",    "pause_after",
                                         "output",   NULL};

/* In dependency order: order_by checks names made by group_by and
 * aggregates. "pause_after" and "output" are absent from a plain query
 * because s_check_keys refused them. */
static s_query_fn *const s_query_parsers[] = {
    s_parse_filters, s_parse_keys,  s_parse_aggs,  s_check_unique_names,
    s_parse_order,   s_parse_limit, s_parse_pause, s_parse_job_output,
};

static int s_parse_query(ms_query_spec_t *q, json_t *obj, const char *path,
                         bool is_job, ms_error_t *err)
{
    q->limit = -1;
    int rc = s_check_type(obj, JSON_OBJECT, path, err);
    if (rc == 0)
        rc = s_check_keys(obj, path, is_job ? s_job_keys : s_query_keys, err);
    for (size_t i = 0; i < S_COUNT(s_query_parsers) && rc == 0; i++)
        rc = s_query_parsers[i](q, obj, path, err);
    return rc;
}

static int s_parse_jobs(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    s_list_t l;
    int rc = s_list_open(&l, root, "jobs", true, 1, INT32_MAX, "", err);
    if (rc) return rc;
    if (json_object_get(root, "output"))
        return S_USAGE(err, "output: with \"jobs\", put an \"output\" object "
                            "in each job instead");
    if (!(spec->queries = s_calloc(l.n, sizeof *spec->queries)))
        return s_nomem(err);
    spec->nqueries = (int)l.n;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        json_t *v = s_list_item(&l, i);
        rc = s_parse_query(&spec->queries[i], v, l.item_path, true, err);
    }
    return rc;
}

static int s_parse_single_query(ms_job_spec_t *spec, json_t *root,
                                ms_error_t *err)
{
    json_t *query;
    int rc = s_field(root, "query", JSON_OBJECT, true, "", &query, err);
    if (rc) return rc;
    if (!(spec->queries = s_calloc(1, sizeof *spec->queries)))
        return s_nomem(err);
    spec->nqueries = 1;
    rc = s_parse_query(&spec->queries[0], query, "query", false, err);
    if (rc) return rc;
    return s_parse_output_field(root, "", &spec->queries[0].output_path, err);
}

static int s_parse_queries(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    bool has_query = json_object_get(root, "query") != NULL;
    bool has_jobs = json_object_get(root, "jobs") != NULL;
    if (has_query && has_jobs)
        return S_USAGE(err, "give either \"query\" or \"jobs\", not both");
    if (!has_query && !has_jobs)
        return S_USAGE(err, "missing required field query (or jobs)");
    return has_jobs ? s_parse_jobs(spec, root, err)
                    : s_parse_single_query(spec, root, err);
}

/* ---- input --------------------------------------------------------------- */

static const struct {
    const char *name;
    ms_csv_mode_t mode;
} s_modes[] = {
    {"PERMISSIVE", MS_CSV_PERMISSIVE},
    {"DROPMALFORMED", MS_CSV_DROPMALFORMED},
    {"FAILFAST", MS_CSV_FAILFAST},
};

static int s_parse_mode(ms_job_spec_t *spec, json_t *in, ms_error_t *err)
{
    const char *mode = NULL;
    int rc = s_get_str(in, "mode", false, "input", &mode, err);
    if (rc || !mode) return rc;
    for (size_t i = 0; i < S_COUNT(s_modes); i++) {
        if (strcasecmp(mode, s_modes[i].name) != 0) continue;
        spec->csv.mode = s_modes[i].mode;
        return 0;
    }
    return S_USAGE(err,
                   "input.mode: expected PERMISSIVE, DROPMALFORMED or "
                   "FAILFAST, not '%s'",
                   mode);
}

/* A one-byte string field (delimiter, quote); "" gives '\0' if allowed.
 * A newline is refused: records are single lines. */
static int s_parse_char(json_t *in, const char *key, bool allow_empty,
                        char *out, ms_error_t *err)
{
    const char *s = NULL;
    int rc = s_get_str(in, key, false, "input", &s, err);
    if (rc || !s) return rc;
    size_t len = strlen(s);
    if ((len == 1 && s[0] != '\n' && s[0] != '\r') ||
        (len == 0 && allow_empty)) {
        *out = s[0];
        return 0;
    }
    return S_USAGE(err,
                   "input.%s: expected a single character other than "
                   "a newline%s",
                   key, allow_empty ? ", or \"\" for none" : "");
}

static const char *const s_input_keys[] = {
    "path",      "format", "header", "infer_schema",
    "delimiter", "quote",  "mode",   NULL};

static int s_parse_input_fields(ms_job_spec_t *spec, json_t *in,
                                ms_error_t *err)
{
    int rc = s_check_keys(in, "input", s_input_keys, err);
    if (rc == 0)
        rc = s_get_name(in, "path", true, "input", &spec->input_path, err);
    if (rc == 0) rc = s_check_format(in, "input", err);
    if (rc == 0) rc = s_get_bool(in, "header", "input", &spec->csv.header, err);
    if (rc == 0)
        rc = s_get_bool(in, "infer_schema", "input", &spec->infer_schema, err);
    if (rc == 0)
        rc = s_parse_char(in, "delimiter", false, &spec->csv.delimiter, err);
    if (rc == 0) rc = s_parse_char(in, "quote", true, &spec->csv.quote, err);
    if (rc == 0) rc = s_parse_mode(spec, in, err);
    return rc;
}

static int s_parse_input(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    json_t *in;
    int rc = s_field(root, "input", JSON_OBJECT, true, "", &in, err);
    if (rc) return rc;
    rc = s_parse_input_fields(spec, in, err);
    if (rc == 0 && spec->csv.quote && spec->csv.quote == spec->csv.delimiter)
        rc = S_USAGE(err, "input.quote: must differ from input.delimiter");
    return rc;
}

/* ---- top level ----------------------------------------------------------- */

static int s_parse_app_name(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    return s_get_name(root, "app_name", false, "", &spec->app_name, err);
}

static int s_parse_partitions(ms_job_spec_t *spec, json_t *root,
                              ms_error_t *err)
{
    return s_get_int(root, "shuffle_partitions", 1, MS_PLAN_MAX_PARTITIONS, "",
                     &spec->shuffle_partitions, err);
}

/* ms_conf_set's message starts with the bare key; say it once instead, as
 * its JSON path "conf.KEY". */
static int s_conf_error(const char *key, int rc, ms_error_t *err)
{
    if (!err) return rc;
    char why[sizeof err->msg];
    size_t klen = strlen(key);
    const char *msg = err->msg;
    if (strncmp(msg, key, klen) == 0 && strncmp(msg + klen, ": ", 2) == 0)
        msg += klen + 2;
    snprintf(why, sizeof why, "%s", msg);
    return ms_error_set(err, rc, "conf.%s: %s", key, why);
}

static int s_conf_entry(ms_conf_t *conf, const char *key, json_t *v,
                        ms_error_t *err)
{
    if (!s_is_scalar(v))
        return S_USAGE(err, "conf.%s: expected a string, number or boolean",
                       key);
    char *text = s_scalar_text(v);
    if (!text) return s_nomem(err);
    int rc = ms_conf_set(conf, key, text, err);
    free(text);
    return rc ? s_conf_error(key, rc, err) : 0;
}

/* In file order, so that the conf keeps the order the user wrote. */
static int s_parse_conf(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    json_t *conf, *v;
    const char *key;
    int rc = s_field(root, "conf", JSON_OBJECT, false, "", &conf, err);
    if (rc || !conf) return rc;
    json_object_foreach(conf, key, v)
    {
        if ((rc = s_conf_entry(spec->conf, key, v, err))) return rc;
    }
    return 0;
}

static const char *const s_top_keys[] = {
    "app_name",           "input",  "query", "jobs",
    "shuffle_partitions", "output", "conf",  NULL};

static s_spec_fn *const s_spec_parsers[] = {
    s_parse_app_name,   s_parse_input, s_parse_queries,
    s_parse_partitions, s_parse_conf,
};

static int s_parse_root(ms_job_spec_t *spec, json_t *root, ms_error_t *err)
{
    if (!json_is_object(root))
        return S_USAGE(err, "the top level must be a JSON object");
    int rc = s_check_keys(root, "", s_top_keys, err);
    for (size_t i = 0; i < S_COUNT(s_spec_parsers) && rc == 0; i++)
        rc = s_spec_parsers[i](spec, root, err);
    return rc;
}

/* ---- public -------------------------------------------------------------- */

static ms_job_spec_t *s_spec_new(void)
{
    ms_job_spec_t *spec = calloc(1, sizeof *spec);
    if (!spec) return NULL;
    spec->app_name = strdup("minispark");
    spec->conf = ms_conf_new();
    spec->csv = (ms_csv_opts_t){.delimiter = ',',
                                .quote = '"',
                                .header = true,
                                .mode = MS_CSV_PERMISSIVE};
    spec->infer_schema = true;
    if (!spec->app_name || !spec->conf) ms_job_spec_destroy(&spec);
    return spec;
}

int ms_job_spec_parse(ms_job_spec_t **out, const char *text, size_t len,
                      const char *name, ms_error_t *err)
{
    json_error_t jerr;
    *out = NULL;
    if (!name) name = "job file";
    json_t *root = json_loadb(text ? text : "", text ? len : 0,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return S_USAGE(err, "%s:%d:%d: %s", name, jerr.line, jerr.column,
                       jerr.text);
    ms_job_spec_t *spec = s_spec_new();
    int rc = spec ? s_parse_root(spec, root, err) : s_nomem(err);
    if (rc == 0)
        *out = spec;
    else if (spec) {
        ms_job_spec_destroy(&spec);
        if (err) ms_error_prefix(err, "%s", name);
    }
    json_decref(root);
    return rc;
}

/* Reads the rest of f into a growing buffer, at most S_MAX_FILE_BYTES + 1
 * bytes so that the caller can tell an oversized file. */
static int s_slurp(FILE *f, char **buf, size_t *len)
{
    size_t cap = 0, n = 0;
    char *data = NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(data, cap);
            if (!grown) break;
            data = grown;
        }
        size_t want = cap - n;
        if (want > S_MAX_FILE_BYTES + 1 - n) want = S_MAX_FILE_BYTES + 1 - n;
        size_t got = fread(data + n, 1, want, f);
        n += got;
        if (got < want || n > S_MAX_FILE_BYTES) {
            *buf = data;
            *len = n;
            return 0;
        }
    }
    free(data);
    return MS_ERR_NOMEM;
}

/* Reads all of path; the size cap keeps a wrong path (a dataset, a device)
 * from being slurped into memory. */
static int s_read_file(const char *path, char **buf, size_t *len,
                       ms_error_t *err)
{
    struct stat st;
    int fd = ms_open_regular(path, &st, err);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (fd >= 0 && !f) close(fd);
    if (!f) {
        if (fd >= 0) ms_error_set(err, MS_ERR_NOMEM, "%s", path);
        ms_error_prefix(err, "cannot open job file");
        return err ? err->code = MS_ERR_INPUT : MS_ERR_INPUT;
    }
    int rc = s_slurp(f, buf, len);
    if (rc)
        rc = s_nomem(err);
    else if (ferror(f))
        rc = ms_error_set(err, MS_ERR_INPUT, "cannot read job file %s: %s",
                          path, strerror(errno));
    else if (*len > S_MAX_FILE_BYTES)
        rc =
            ms_error_set(err, MS_ERR_INPUT, "job file %s is larger than %d MiB",
                         path, S_MAX_FILE_BYTES >> 20);
    fclose(f);
    if (rc && *buf) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int ms_job_spec_load(ms_job_spec_t **out, const char *path, ms_error_t *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = s_read_file(path, &text, &len, err);
    if (rc) return rc;
    rc = ms_job_spec_parse(out, text, len, path, err);
    free(text);
    return rc;
}

static void s_filter_free(ms_filter_spec_t *f)
{
    free(f->column);
    for (int i = 0; i < f->nvalues; i++)
        free(f->values[i].text);
    free(f->values);
}

static void s_query_free(ms_query_spec_t *q)
{
    for (int i = 0; i < q->nfilters; i++)
        s_filter_free(&q->filters[i]);
    for (int i = 0; i < q->nkeys; i++) {
        free(q->keys[i].column);
        free(q->keys[i].as);
    }
    for (int i = 0; i < q->naggs; i++) {
        free(q->aggs[i].column);
        free(q->aggs[i].as);
    }
    for (int i = 0; i < q->norder; i++)
        free(q->order[i].column);
    free(q->filters);
    free(q->keys);
    free(q->aggs);
    free(q->order);
    free(q->output_path);
}

void ms_job_spec_destroy(ms_job_spec_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_job_spec_t *self = *self_p;
    for (int i = 0; i < self->nqueries; i++)
        s_query_free(&self->queries[i]);
    free(self->queries);
    free(self->app_name);
    free(self->input_path);
    ms_conf_destroy(&self->conf);
    free(self);
    *self_p = NULL;
}
