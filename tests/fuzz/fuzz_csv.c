/* libFuzzer harness for the CSV reader and schema inference: any bytes, as
 * a file, must infer and read without crashing, and reading the file in
 * byte-range splits must yield exactly the records of reading it whole.
 * Fields are also parsed as the inferred types and their text must read
 * back as the same value. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/csv.h"

#define S_FIELDS 8 /* fewer than many inputs have: truncation is exercised */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} s_out_t;

static char s_dir[64], s_path[96];

static void s_remove_file(void)
{
    unlink(s_path);
    rmdir(s_dir);
}

static void s_check(bool ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_csv: %s\n", what);
    abort();
}

static void s_write_input(const uint8_t *data, size_t size)
{
    if (!s_dir[0]) {
        strcpy(s_dir, "/tmp/ms_fuzz_csv_XXXXXX");
        s_check(mkdtemp(s_dir) != NULL, "mkdtemp");
        snprintf(s_path, sizeof s_path, "%s/input.csv", s_dir);
        atexit(s_remove_file);
    }
    int fd = open(s_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    s_check(fd >= 0, "open temp file");
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        s_check(n > 0, "write temp file");
        done += (size_t)n;
    }
    close(fd);
}

static void s_put(s_out_t *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 256;
        o->p = realloc(o->p, o->cap);
        s_check(o->p != NULL, "out of memory");
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

/* A field parsed as its column's type must format to text that parses back
 * to an equal value. */
static void s_check_value(const ms_field_t *f, ms_coltype_t t)
{
    ms_value_t v, back;
    char text[64];
    if (f->len == 0 || !ms_value_parse(f->p, f->len, t, &v)) return;
    if (t.type == MS_TYPE_STRING) return;
    int n = ms_value_format(text, sizeof text, &v);
    s_check(n > 0 && n < (int)sizeof text, "value text length");
    s_check(ms_value_parse(text, (size_t)n, t, &back), "value text reparses");
    s_check(ms_value_cmp(&v, &back) == 0, "value round-trips");
}

static void s_check_offset(const uint8_t *data, int64_t off, int64_t start,
                           int64_t end)
{
    s_check(off >= start && (end < 0 || off < end), "record in its split");
    s_check(off == 0 || data[off - 1] == '\n', "record starts a line");
}

/* Appends each record of [start, end) to o (offset, status, field count,
 * then each stored field); returns the reader's byte count. */
static int64_t s_read_split(const uint8_t *data, int64_t start, int64_t end,
                            const ms_csv_opts_t *opts,
                            const ms_schema_t *schema, s_out_t *o)
{
    ms_csv_reader_t *r;
    ms_error_t err;
    ms_field_t fields[S_FIELDS];
    int n, rc;
    s_check(ms_csv_reader_new(&r, s_path, start, end, opts, &err) == 0,
            "reader opens");
    while ((rc = ms_csv_reader_next(r, fields, S_FIELDS, &n, &err)) != 0) {
        s_check(rc == 1 || rc == MS_ERR_MALFORMED, "only malformed errors");
        int64_t off = ms_csv_reader_offset(r);
        s_check_offset(data, off, start, end);
        s_put(o, &off, sizeof off);
        s_put(o, &rc, sizeof rc);
        if (rc != 1) continue;
        s_check(n >= 1, "a record has a field");
        s_put(o, &n, sizeof n);
        for (int i = 0; i < n && i < S_FIELDS; i++) {
            s_put(o, &fields[i].len, sizeof fields[i].len);
            s_put(o, fields[i].p, fields[i].len);
            if (i < schema->ncols)
                s_check_value(&fields[i], schema->cols[i].type);
        }
    }
    int64_t bytes = ms_csv_reader_bytes(r);
    ms_csv_reader_destroy(&r);
    return bytes;
}

/* Reads the file as splits cut at cuts[0..ncuts) (ascending) and checks
 * that together they give the whole file's records and bytes. */
static void s_check_splits(const uint8_t *data, size_t size,
                           const ms_csv_opts_t *opts, const ms_schema_t *schema,
                           const s_out_t *whole, const int64_t *cuts, int ncuts)
{
    s_out_t parts = {0};
    int64_t bytes = 0, start = 0;
    for (int i = 0; i <= ncuts; i++) {
        int64_t end = i < ncuts ? cuts[i] : -1;
        bytes += s_read_split(data, start, end, opts, schema, &parts);
        start = end;
    }
    s_check(parts.len == whole->len &&
                (parts.len == 0 || !memcmp(parts.p, whole->p, parts.len)),
            "splits yield the whole file's records");
    s_check(bytes == (int64_t)size, "splits consume every byte once");
    free(parts.p);
}

static void s_check_schema(const ms_schema_t *s)
{
    s_check(s->ncols >= 0 && s->ncols <= MS_CSV_MAX_COLUMNS, "column count");
    for (int i = 0; i < s->ncols; i++) {
        const ms_column_t *c = &s->cols[i];
        s_check(memchr(c->name, '\0', sizeof c->name) != NULL, "name ends");
        s_check(
            c->type.type != MS_TYPE_DECIMAL ||
                (c->type.scale >= 1 && c->type.scale <= MS_DECIMAL_MAX_SCALE),
            "decimal scale");
    }
}

/* The first line numbers of the whole read must match a direct count. */
static void s_check_line_numbers(const uint8_t *data, size_t size)
{
    int64_t line = 1;
    for (size_t off = 0; off <= size && off < 64; off++) {
        s_check(ms_csv_line_at(s_path, (int64_t)off) == line, "line_at");
        if (off < size && data[off] == '\n') line++;
    }
}

static void s_run(const uint8_t *data, size_t size, const ms_csv_opts_t *opts)
{
    ms_schema_t *schema = calloc(1, sizeof *schema);
    ms_error_t err;
    s_check(schema != NULL, "out of memory");
    int rc = ms_csv_infer_schema(s_path, opts, true, 100, schema, &err);
    s_check(rc == 0 || rc == MS_ERR_INPUT, "infer fails only on input");
    s_check_schema(schema);
    s_out_t whole = {0};
    int64_t bytes = s_read_split(data, 0, -1, opts, schema, &whole);
    s_check(bytes == (int64_t)size, "whole read consumes every byte");
    int64_t n = (int64_t)size;
    int64_t layouts[][3] = {
        {n / 2, 0, 0},
        {n / 3, 2 * n / 3, 0},
        {1, n / 4 + 1, n - 1 > n / 4 + 1 ? n - 1 : n / 4 + 1},
        {size ? data[0] % (n + 1) : 0, n, n + 5},
    };
    int ncuts[] = {1, 2, 3, 3};
    for (size_t i = 0; i < sizeof ncuts / sizeof ncuts[0]; i++)
        s_check_splits(data, size, opts, schema, &whole, layouts[i], ncuts[i]);
    free(whole.p);
    free(schema);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ms_csv_opts_t configs[] = {
        {',', '"', true, MS_CSV_PERMISSIVE},
        {',', '"', false, MS_CSV_PERMISSIVE},
        {';', '\'', false, MS_CSV_PERMISSIVE},
        {'\t', '\0', true, MS_CSV_PERMISSIVE},
    };
    s_write_input(data, size);
    s_check_line_numbers(data, size);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++)
        s_run(data, size, &configs[i]);
    return 0;
}
