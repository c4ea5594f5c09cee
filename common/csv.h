/* CSV reading: record-aligned byte-range splits, RFC 4180 quoting, and
 * schema inference from a sample. Records are single lines: a newline
 * inside quotes makes the record malformed, because a split reader cannot
 * know whether a newline it starts at is quoted. Not a writer. */
#ifndef MS_CSV_H
#define MS_CSV_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "common/value.h"

typedef enum {
    MS_CSV_PERMISSIVE = 0,    /* bad field -> null, row kept */
    MS_CSV_DROPMALFORMED = 1, /* bad row dropped and counted */
    MS_CSV_FAILFAST = 2,      /* first bad row fails the read */
} ms_csv_mode_t;

typedef struct {
    char delimiter; /* default ',' */
    char quote;     /* default '"'; '\0' disables quoting */
    bool header;    /* the file's first line names the columns */
    ms_csv_mode_t mode;
} ms_csv_opts_t;

/* One field of the current record. Bytes are valid until the next call to
 * ms_csv_reader_next; a quoted field has its quotes removed. The
 * MS_CSV_FIELD_SLACK bytes after a field's end may be read too (their
 * values are unspecified), so that callers can load whole words. */
#define MS_CSV_FIELD_SLACK 8
typedef struct {
    const char *p;
    uint32_t len;
} ms_field_t;

#define MS_CSV_MAX_COLUMNS 256
#define MS_CSV_NAME_MAX 128

typedef struct {
    char name[MS_CSV_NAME_MAX];
    ms_coltype_t type;
    /* Inferred double although every sampled value is a plain decimal:
     * some have more than 18 digits, so sums of it are inexact. */
    bool wide_decimal;
} ms_column_t;

typedef struct {
    int ncols;
    ms_column_t cols[MS_CSV_MAX_COLUMNS];
} ms_schema_t;

typedef struct ms_csv_reader ms_csv_reader_t;

/* Opens path for the records that start in [start, end) (end < 0: to end of
 * file). A record starts at offset 0 or right after a '\n'. The header line
 * is skipped when opts->header. Returns 0 or a negative error (IO, with the
 * path in err). */
int ms_csv_reader_new(ms_csv_reader_t **out, const char *path, int64_t start,
                      int64_t end, const ms_csv_opts_t *opts, ms_error_t *err);
void ms_csv_reader_destroy(ms_csv_reader_t **self_p);

/* Reads the next record into fields[0..*nfields). At most max_fields are
 * returned; *nfields is the true count even when larger (the extra fields
 * are skipped). Returns 1 for a record, 0 at the end of the split,
 * MS_ERR_MALFORMED for a record that cannot be tokenised (unterminated
 * quote, text after a closing quote; the reader stays usable and moves past
 * it), or another negative error. */
int ms_csv_reader_next(ms_csv_reader_t *self, ms_field_t *fields,
                       int max_fields, int *nfields, ms_error_t *err);

/* Makes the reader check that its file is still the one planned (id):
 * now, whenever reading ends before id->size bytes, and once more when the
 * split is done. Each finding is MS_ERR_INPUT naming the file. */
int ms_csv_reader_expect(ms_csv_reader_t *self, const ms_file_id_t *id,
                         ms_error_t *err);

/* Byte offset in the file where the current record starts. */
int64_t ms_csv_reader_offset(const ms_csv_reader_t *self);
/* Bytes consumed so far (for input metrics). */
int64_t ms_csv_reader_bytes(const ms_csv_reader_t *self);

/* 1-based line number of the line that starts at byte offset (counts
 * newlines before it; slow, for error messages only). */
int64_t ms_csv_line_at(const char *path, int64_t offset);

/* Reads the header (or numbers the columns _c0, _c1, ... as Spark does) and,
 * when infer is true, infers each column's type from up to sample_rows
 * records: int64, decimal (scale = most fraction digits seen, at most
 * MS_DECIMAL_MAX_SCALE), double, timestamp, else string. Empty fields are
 * nulls and do not vote; a column of only nulls is a string. Without infer
 * every column is a string. An empty file has no columns. */
int ms_csv_infer_schema(const char *path, const ms_csv_opts_t *opts, bool infer,
                        int sample_rows, ms_schema_t *out, ms_error_t *err);

/* Column index of name, or -1. */
int ms_schema_find(const ms_schema_t *schema, const char *name);

#endif
