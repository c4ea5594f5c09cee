/* Result rows: decoding, ordering, table and CSV output. */
#include "driver/result.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/agg.h"
#include "common/fsutil.h"
#include "common/mp.h"
#include "common/rows.h"

struct ms_result {
    const ms_plan_t *plan;
    int ncols;
    ms_coltype_t *types; /* [ncols] */
    const char **names;  /* [ncols] */
    ms_value_t *vals;    /* rows x ncols */
    int64_t nrows, cap;
    char **strs; /* owned copies of string and wide decimal bytes */
    int64_t nstrs, strs_cap;
};

ms_result_t *ms_result_new(const ms_plan_t *plan)
{
    ms_result_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->plan = plan;
    self->ncols = plan->nkeys + plan->naggs;
    self->types = calloc((size_t)self->ncols, sizeof *self->types);
    self->names = calloc((size_t)self->ncols, sizeof *self->names);
    if (!self->types || !self->names) {
        ms_result_destroy(&self);
        return NULL;
    }
    for (int i = 0; i < plan->nkeys; i++) {
        self->types[i] = plan->keys[i].type;
        self->names[i] = plan->keys[i].name;
    }
    for (int a = 0; a < plan->naggs; a++) {
        self->types[plan->nkeys + a] = plan->aggs[a].type;
        self->names[plan->nkeys + a] = plan->aggs[a].name;
    }
    return self;
}

void ms_result_destroy(ms_result_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_result_t *self = *self_p;
    for (int64_t i = 0; i < self->nstrs; i++)
        free(self->strs[i]);
    free(self->strs);
    free(self->vals);
    free(self->types);
    free(self->names);
    free(self);
    *self_p = NULL;
}

int64_t ms_result_count(const ms_result_t *self)
{
    return self->nrows;
}

static ms_value_t *s_new_row(ms_result_t *self)
{
    if (self->nrows == self->cap) {
        int64_t cap = self->cap ? self->cap * 2 : 256;
        ms_value_t *v =
            realloc(self->vals, (size_t)(cap * self->ncols) * sizeof *v);
        if (!v) return NULL;
        self->vals = v;
        self->cap = cap;
    }
    return &self->vals[self->nrows++ * self->ncols];
}

/* Copies a string's or a wide decimal's borrowed bytes. */
static int s_own_bytes(ms_result_t *self, ms_value_t *v)
{
    if (self->nstrs == self->strs_cap) {
        int64_t cap = self->strs_cap ? self->strs_cap * 2 : 256;
        char **s = realloc(self->strs, (size_t)cap * sizeof *s);
        if (!s) return MS_ERR_NOMEM;
        self->strs = s;
        self->strs_cap = cap;
    }
    char *copy = malloc(v->len ? v->len : 1);
    if (!copy) return MS_ERR_NOMEM;
    if (v->len) memcpy(copy, v->s, v->len);
    self->strs[self->nstrs++] = copy;
    v->s = copy;
    return 0;
}

static int s_add_row(ms_result_t *self, const msgpack_object *o,
                     ms_error_t *err)
{
    const msgpack_object *items;
    if (!ms_mp_array(o, self->ncols, &items, NULL))
        return ms_error_set(err, MS_ERR_PROTO, "result row of wrong width");
    ms_value_t *row = s_new_row(self);
    if (!row) return ms_error_set(err, MS_ERR_NOMEM, "result rows");
    for (int c = 0; c < self->ncols; c++) {
        if (!ms_rows_value(self->plan, c, &items[c], &row[c])) {
            self->nrows--;
            return ms_error_set(err, MS_ERR_PROTO, "bad value for %s in result",
                                self->names[c]);
        }
        bool borrows =
            row[c].type == MS_TYPE_STRING ||
            (row[c].type == MS_TYPE_DECIMAL && row[c].len == MS_VALUE_WIDE);
        if (borrows && s_own_bytes(self, &row[c]) < 0)
            return ms_error_set(err, MS_ERR_NOMEM, "result strings");
    }
    return 0;
}

int ms_result_add(ms_result_t *self, const void *buf, size_t len,
                  ms_error_t *err)
{
    ms_mp_seq_t seq;
    msgpack_object row;
    int rc = ms_mp_seq_init(&seq, buf, len)
                 ? 0
                 : ms_error_set(err, MS_ERR_PROTO, "malformed result rows");
    for (int got; rc == 0 && (got = ms_mp_seq_next(&seq, &row)) != 0;)
        rc = got < 0
                 ? ms_error_set(err, MS_ERR_PROTO, "undecodable result rows")
                 : s_add_row(self, &row, err);
    ms_mp_seq_destroy(&seq);
    return rc;
}

/* ---- ordering -------------------------------------------------------------
 */

static int s_cmp_rows(const void *a, const void *b, void *arg)
{
    return ms_rows_cmp(arg, a, b);
}

int ms_result_finish(ms_result_t *self, ms_error_t *err)
{
    const ms_plan_t *plan = self->plan;
    if (plan->nkeys == 0 && self->nrows == 0) {
        ms_value_t *row = s_new_row(self);
        if (!row) return ms_error_set(err, MS_ERR_NOMEM, "result rows");
        ms_agg_empty_result(plan, row);
    }
    /* qsort_r sorts fixed-size elements; rows are ncols values wide. */
    size_t width = (size_t)self->ncols * sizeof(ms_value_t);
    if (self->nrows > 1)
        qsort_r(self->vals, (size_t)self->nrows, width, s_cmp_rows,
                (void *)plan);
    if (plan->limit >= 0 && self->nrows > plan->limit)
        self->nrows = plan->limit;
    return 0;
}

/* ---- output
 * ------------------------------------------------------------------ */

static void s_cell(const ms_value_t *v, char *buf, size_t size)
{
    if (v->type == MS_TYPE_NULL)
        snprintf(buf, size, "NULL");
    else
        ms_value_format(buf, size, v);
}

/* Data may hold terminal control sequences (a \x1b[2J in a CSV field
 * would clear the screen): on a terminal, C0 and C1 controls and DEL are
 * shown as escapes instead. Pipes and files get the bytes as they are. */
static void s_escape(char *cell, size_t size)
{
    char out[512];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)cell;
    for (; *p && n + 7 < sizeof out; p++) {
        bool c1 = p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F;
        if (*p >= 0x20 && *p != 0x7F && !c1) {
            out[n++] = (char)*p;
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            out[n++] = '\\';
            out[n++] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
        } else {
            n += (size_t)snprintf(out + n, sizeof out - n,
                                  c1 ? "\\u%04x" : "\\x%02x", c1 ? p[1] : *p);
            p += c1;
        }
    }
    out[n] = '\0';
    snprintf(cell, size, "%s", out);
}

/* Spark's show() cuts cells longer than 20 characters to 17 plus "...". */
static void s_truncate(char *cell)
{
    if (strlen(cell) > 20) strcpy(cell + 17, "...");
}

static void s_rule(FILE *out, const int *width, int ncols)
{
    for (int c = 0; c < ncols; c++) {
        fputc('+', out);
        for (int i = 0; i < width[c]; i++)
            fputc('-', out);
    }
    fputs("+\n", out);
}

/* A cell as the table shows it. */
static void s_show_cell(const ms_value_t *v, bool tty, char *buf, size_t size)
{
    s_cell(v, buf, size);
    if (tty) s_escape(buf, size);
    s_truncate(buf);
}

static void s_show_name(const char *name, bool tty, char *buf, size_t size)
{
    snprintf(buf, size, "%s", name);
    if (tty) s_escape(buf, size);
    s_truncate(buf);
}

void ms_result_show(const ms_result_t *self, FILE *out, int64_t max_rows)
{
    int64_t shown = self->nrows < max_rows ? self->nrows : max_rows;
    bool tty = isatty(fileno(out));
    int *width = calloc((size_t)self->ncols, sizeof *width);
    char cell[512];
    if (!width) return;
    for (int c = 0; c < self->ncols; c++) {
        s_show_name(self->names[c], tty, cell, sizeof cell);
        width[c] = (int)strlen(cell);
        for (int64_t r = 0; r < shown; r++) {
            s_show_cell(&self->vals[r * self->ncols + c], tty, cell,
                        sizeof cell);
            if ((int)strlen(cell) > width[c]) width[c] = (int)strlen(cell);
        }
    }
    s_rule(out, width, self->ncols);
    for (int c = 0; c < self->ncols; c++) {
        s_show_name(self->names[c], tty, cell, sizeof cell);
        fprintf(out, "|%*s", width[c], cell);
    }
    fputs("|\n", out);
    s_rule(out, width, self->ncols);
    for (int64_t r = 0; r < shown; r++) {
        for (int c = 0; c < self->ncols; c++) {
            s_show_cell(&self->vals[r * self->ncols + c], tty, cell,
                        sizeof cell);
            fprintf(out, "|%*s", width[c], cell);
        }
        fputs("|\n", out);
    }
    s_rule(out, width, self->ncols);
    if (shown < self->nrows)
        fprintf(out, "only showing top %lld rows\n", (long long)shown);
    free(width);
}

static void s_csv_field(FILE *f, const ms_value_t *v)
{
    char buf[128];
    if (v->type == MS_TYPE_NULL) return;
    if (v->type != MS_TYPE_STRING) {
        ms_value_format(buf, sizeof buf, v);
        fputs(buf, f);
        return;
    }
    int quote = 0;
    for (uint32_t i = 0; i < v->len && !quote; i++)
        quote = strchr(",\"\r\n", v->s[i]) != NULL && v->s[i] != '\0';
    if (!quote) {
        fwrite(v->s, 1, v->len, f);
        return;
    }
    fputc('"', f);
    for (uint32_t i = 0; i < v->len; i++) {
        if (v->s[i] == '"') fputc('"', f);
        fputc(v->s[i], f);
    }
    fputc('"', f);
}

static int s_write_rows(FILE *f, void *arg)
{
    const ms_result_t *self = arg;
    for (int c = 0; c < self->ncols; c++) {
        ms_value_t name = {.type = MS_TYPE_STRING,
                           .len = (uint32_t)strlen(self->names[c]),
                           .s = self->names[c]};
        if (c) fputc(',', f);
        s_csv_field(f, &name);
    }
    fputc('\n', f);
    for (int64_t r = 0; r < self->nrows; r++) {
        for (int c = 0; c < self->ncols; c++) {
            if (c) fputc(',', f);
            s_csv_field(f, &self->vals[r * self->ncols + c]);
        }
        fputc('\n', f);
    }
    return 0;
}

int ms_result_write_csv(const ms_result_t *self, const char *path,
                        ms_error_t *err)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", path);
    if (strchr(parent, '/')) ms_mkdirs(dirname(parent)); /* e.g. out/ */
    return ms_write_atomic(path, s_write_rows, (void *)self, err);
}
