/* CSV reading for one byte-range split of a file, one line per record, and
 * schema inference from a sample of records. Memory stays bounded whatever
 * the file size: one read buffer, grown only for long lines. Not a writer,
 * and not a full RFC 4180 reader: a newline inside quotes makes the record
 * malformed, because a split reader that starts mid-file cannot know
 * whether the newline it starts after was quoted. */
#include "common/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Reads are this large (less for a small file); a line longer than the
 * buffer grows it, up to the cap, beyond which the line is refused rather
 * than eating the memory. Fuzzing builds may shrink the chunks so that
 * small inputs cross chunk boundaries too. */
#ifndef MS_CSV_CHUNK
#define MS_CSV_CHUNK (1 << 20)
#endif
#ifndef MS_CSV_CHUNK_MIN
#define MS_CSV_CHUNK_MIN 4096
#endif
#define S_CHUNK MS_CSV_CHUNK
#define S_CHUNK_MIN MS_CSV_CHUNK_MIN
#define S_LINE_MAX (64 << 20)
/* The buffer has this many spare bytes past cap, so the vector scan may
 * load a whole block at the end of the data (the excess is masked off),
 * and callers may read MS_CSV_FIELD_SLACK bytes past a field. */
#define S_PAD 16
_Static_assert(S_PAD >= MS_CSV_FIELD_SLACK, "field slack");

struct ms_csv_reader {
    int fd;
    char *path;
    ms_csv_opts_t opts;
    int64_t end;        /* records start before this offset */
    bool header_record; /* infer_schema: return that line, even blank */
    bool done;
    bool eof; /* nothing more to read from the file */
    char *buf;
    size_t cap;
    size_t pos;      /* first unconsumed byte */
    size_t len;      /* bytes valid in buf */
    size_t scan;     /* no '\n' in buf[pos, scan) */
    int64_t buf_off; /* file offset of buf[0] */
    int64_t rec_off; /* file offset of the last record returned */
    int64_t bytes;   /* bytes of lines consumed */
    bool expect;     /* id holds what the file was at planning */
    ms_file_id_t id;
};

/* ---- buffering -------------------------------------------------------- */

/* A UTF-8 byte order mark before the first line is not text, as in Spark's
 * reader: it is dropped from the line. */
static bool s_bom(const char *p, size_t n)
{
    return n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0;
}

/* Makes room after the unconsumed bytes (moving them to the front, growing
 * the buffer when they fill it) and reads once more from the file. */
static int s_fill(ms_csv_reader_t *self, ms_error_t *err)
{
    if (self->pos > 0) {
        memmove(self->buf, self->buf + self->pos, self->len - self->pos);
        self->buf_off += (int64_t)self->pos;
        self->len -= self->pos;
        self->scan -= self->pos;
        self->pos = 0;
    }
    if (self->len == self->cap) {
        if (self->cap >= S_LINE_MAX)
            return ms_error_set(err, MS_ERR_INPUT,
                                "%s: line at byte %lld is longer than %d MiB",
                                self->path, (long long)self->buf_off,
                                S_LINE_MAX >> 20);
        size_t cap = self->cap * 2 < S_LINE_MAX ? self->cap * 2 : S_LINE_MAX;
        char *grown = realloc(self->buf, cap + S_PAD);
        if (!grown) return ms_error_set(err, MS_ERR_NOMEM, "%s", self->path);
        self->buf = grown;
        self->cap = cap;
    }
    ssize_t n;
    do {
        n = pread(self->fd, self->buf + self->len, self->cap - self->len,
                  self->buf_off + (int64_t)self->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return ms_error_set(err, MS_ERR_IO, "%s: read: %s", self->path,
                            strerror(errno));
    int64_t at = self->buf_off + (int64_t)self->len;
    if (n == 0 && self->expect && at < self->id.size)
        return ms_error_set(err, MS_ERR_INPUT,
                            "%s changed while the job ran (it ends at byte "
                            "%lld, %lld bytes at planning)",
                            self->path, (long long)at,
                            (long long)self->id.size);
    if (n == 0) self->eof = true;
    self->len += (size_t)n;
    return 0;
}

/* Finds the end of the line at pos, reading more as needed. Returns 1 with
 * *nl the index of its '\n' (or len for a last line without one), 0 when
 * the buffer is empty at the end of the file, or a negative error. */
static int s_find_line(ms_csv_reader_t *self, size_t *nl, ms_error_t *err)
{
    for (;;) {
        char *hit =
            memchr(self->buf + self->scan, '\n', self->len - self->scan);
        if (hit) {
            *nl = (size_t)(hit - self->buf);
            return 1;
        }
        self->scan = self->len;
        if (self->eof) {
            *nl = self->len;
            return self->pos < self->len;
        }
        int rc = s_fill(self, err);
        if (rc < 0) return rc;
    }
}

/* A split that does not start the file begins after the first '\n' at or
 * after start - 1: the record that straddles start belongs to the split
 * before. Bytes skipped are dropped as they are scanned, so a huge line
 * here does not grow the buffer. */
static int s_skip_partial_line(ms_csv_reader_t *self, ms_error_t *err)
{
    for (;;) {
        char *hit = memchr(self->buf + self->pos, '\n', self->len - self->pos);
        if (hit) {
            self->pos = self->scan = (size_t)(hit - self->buf) + 1;
            return 0;
        }
        self->pos = self->scan = self->len;
        if (self->eof) {
            self->done = true;
            return 0;
        }
        int rc = s_fill(self, err);
        if (rc < 0) return rc;
    }
}

/* ---- tokenising ------------------------------------------------------- */

/* Splits a line that holds no quote char: fields end at each delimiter. */
static int s_split_plain(const ms_csv_opts_t *opts, char *p, size_t n,
                         ms_field_t *fields, int max_fields)
{
    char *end = p + n;
    int count = 0;
    for (;;) {
        char *d = memchr(p, opts->delimiter, (size_t)(end - p));
        char *stop = d ? d : end;
        if (count < max_fields) {
            fields[count].p = p;
            fields[count].len = (uint32_t)(stop - p);
        }
        count++;
        if (!d) return count;
        p = d + 1;
    }
}

/* One quoted field starting at *pp (on its opening quote). Doubled quotes
 * are undone in place: the line is already consumed, and the unescaped text
 * is never longer, so no scratch copy is needed. Moves *pp past the closing
 * quote; returns false when there is none. */
static bool s_quoted_field(char q, char **pp, char *end, ms_field_t *f)
{
    char *src = *pp + 1, *dst = src;
    f->p = src;
    for (;;) {
        char *hit = memchr(src, q, (size_t)(end - src));
        if (!hit) return false;
        size_t run = (size_t)(hit - src);
        if (dst != src) memmove(dst, src, run);
        dst += run;
        if (hit + 1 < end && hit[1] == q) {
            *dst++ = q;
            src = hit + 2;
            continue;
        }
        f->len = (uint32_t)(dst - f->p);
        *pp = hit + 1;
        return true;
    }
}

/* The careful path, for lines that contain the quote char somewhere. */
static int s_split_quoted(const ms_csv_opts_t *opts, char *p, size_t n,
                          ms_field_t *fields, int max_fields)
{
    char *end = p + n;
    int count = 0;
    for (;;) {
        ms_field_t f;
        if (p < end && *p == opts->quote) {
            if (!s_quoted_field(opts->quote, &p, end, &f))
                return MS_ERR_MALFORMED;
            if (p < end && *p != opts->delimiter) return MS_ERR_MALFORMED;
        } else {
            char *d = memchr(p, opts->delimiter, (size_t)(end - p));
            f.p = p;
            f.len = (uint32_t)((d ? d : end) - p);
            p = d ? d : end;
        }
        if (count < max_fields) fields[count] = f;
        count++;
        if (p == end) return count;
        p++; /* the delimiter */
    }
}

static int s_tokenize(const ms_csv_opts_t *opts, char *p, size_t n,
                      ms_field_t *fields, int max_fields)
{
    if (opts->quote && memchr(p, opts->quote, n))
        return s_split_quoted(opts, p, n, fields, max_fields);
    return s_split_plain(opts, p, n, fields, max_fields);
}

/* ---- the reader ------------------------------------------------------- */

static int s_check_opts(const ms_csv_opts_t *opts, ms_error_t *err)
{
    char d = opts->delimiter, q = opts->quote;
    if (d == '\0' || d == '\n' || d == '\r' || q == '\n' || q == '\r' ||
        (q && q == d))
        return ms_error_set(err, MS_ERR_USAGE,
                            "csv: invalid delimiter or quote character");
    return 0;
}

/* A whole chunk for what is left of a small file would be wasted; one
 * byte more than what is left lets the end of the file show without
 * growing the buffer. */
static size_t s_chunk_size(int fd, int64_t from)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size - from >= S_CHUNK) return S_CHUNK;
    if (st.st_size - from < S_CHUNK_MIN) return S_CHUNK_MIN;
    return (size_t)(st.st_size - from) + 1;
}

static int s_open(ms_csv_reader_t *self, const char *path, int64_t start,
                  ms_error_t *err)
{
    struct stat st;
    self->fd = ms_open_regular(path, &st, err);
    if (self->fd < 0) return self->fd;
    /* Reading starts one byte early, at the '\n' that may end the record
     * before the split; the first chunk is read lazily by next(). */
    self->buf_off = start > 0 ? start - 1 : 0;
    self->cap = s_chunk_size(self->fd, self->buf_off);
    self->buf = malloc(self->cap + S_PAD);
    if (!self->buf) return ms_error_set(err, MS_ERR_NOMEM, "%s", path);
    if (start == 0) return 0;
    return s_skip_partial_line(self, err);
}

int ms_csv_reader_new(ms_csv_reader_t **out, const char *path, int64_t start,
                      int64_t end, const ms_csv_opts_t *opts, ms_error_t *err)
{
    *out = NULL;
    int rc = s_check_opts(opts, err);
    if (rc < 0) return rc;
    if (start < 0) start = 0;
    ms_csv_reader_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "%s", path);
    self->fd = -1;
    self->opts = *opts;
    self->end = end < 0 ? INT64_MAX : end;
    self->rec_off = start;
    self->path = strdup(path);
    if (!self->path) {
        rc = ms_error_set(err, MS_ERR_NOMEM, "%s", path);
        goto fail_destroy;
    }
    rc = s_open(self, path, start, err);
    if (rc < 0) goto fail_destroy;
    *out = self;
    return 0;

fail_destroy:
    ms_csv_reader_destroy(&self);
    return rc;
}

void ms_csv_reader_destroy(ms_csv_reader_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_csv_reader_t *self = *self_p;
    if (self->fd >= 0) close(self->fd);
    free(self->buf);
    free(self->path);
    free(self);
    *self_p = NULL;
}

/* Takes the next line that starts inside the split: *line and *n exclude
 * the '\n' and one '\r' before it. Returns 1, 0 at the end of the split, or
 * a negative error. */
static int s_next_line(ms_csv_reader_t *self, char **line, size_t *n,
                       ms_error_t *err)
{
    size_t nl;
    int rc = self->done ? 0 : s_find_line(self, &nl, err);
    if (rc <= 0 || self->buf_off + (int64_t)self->pos >= self->end) {
        if (rc >= 0) self->done = true;
        return rc < 0 ? rc : 0;
    }
    *line = self->buf + self->pos;
    *n = nl - self->pos;
    self->rec_off = self->buf_off + (int64_t)self->pos;
    if (self->rec_off == 0 && s_bom(*line, *n)) {
        *line += 3;
        *n -= 3;
    }
    size_t next = nl < self->len ? nl + 1 : nl;
    self->bytes += (int64_t)(next - self->pos);
    self->pos = self->scan = next;
    if (*n > 0 && (*line)[*n - 1] == '\r') (*n)--;
    return 1;
}

#ifdef __SSE2__
/* The common case in one pass: a line with no quote char whose '\n' is
 * already in the buffer. Sixteen bytes at a time, delimiters and the
 * newline are found together and fields cut at each delimiter. Returns the
 * field count with *nl the index of the '\n', or -1 to take the general
 * path (a quote char in the line, or no '\n' in the buffer yet). */
static int s_fast_split(const ms_csv_reader_t *self, ms_field_t *fields,
                        int max_fields, size_t *nl)
{
    const char *start = self->buf + self->pos, *end = self->buf + self->len;
    const char *field = start;
    const __m128i vd = _mm_set1_epi8(self->opts.delimiter);
    const __m128i vn = _mm_set1_epi8('\n');
    const __m128i vq = _mm_set1_epi8(self->opts.quote);
    int count = 0;
    for (const char *p = start; p < end; p += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)p);
        unsigned md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, vd));
        unsigned mn = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, vn));
        unsigned mq = self->opts.quote
                          ? (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, vq))
                          : 0;
        unsigned live = end - p >= 16 ? 0xFFFFu : (1u << (end - p)) - 1;
        md &= live;
        mn &= live;
        mq &= live;
        unsigned upto = mn ? (mn & -mn) - 1 : live; /* bytes before '\n' */
        if (mq & upto) return -1;
        for (md &= upto; md; md &= md - 1) {
            const char *d = p + __builtin_ctz(md);
            if (count < max_fields)
                fields[count] = (ms_field_t){field, (uint32_t)(d - field)};
            count++;
            field = d + 1;
        }
        if (mn) {
            const char *e = p + __builtin_ctz(mn);
            if (count < max_fields)
                fields[count] = (ms_field_t){field, (uint32_t)(e - field)};
            *nl = (size_t)(e - self->buf);
            return count + 1;
        }
    }
    return -1;
}

/* Consumes the line that s_fast_split found: the bookkeeping of
 * s_next_line. Returns 0 past the end of the split, 1 for a record, 2 for
 * a line to skip (header, blank). */
static int s_take_fast(ms_csv_reader_t *self, ms_field_t *fields,
                       int max_fields, int *count, size_t nl)
{
    size_t n = nl - self->pos;
    if (self->buf_off + (int64_t)self->pos >= self->end) {
        self->done = true;
        return 0;
    }
    self->rec_off = self->buf_off + (int64_t)self->pos;
    self->bytes += (int64_t)(nl + 1 - self->pos);
    self->pos = self->scan = nl + 1;
    bool is_header = self->rec_off == 0 && self->opts.header;
    if (is_header && !self->header_record) return 2;
    /* One '\r' before the '\n' is not data (CRLF). */
    if (n > 0 && self->buf[nl - 1] == '\r') {
        n--;
        int last = *count - 1;
        if (last < max_fields) fields[last].len--;
    }
    if (self->rec_off == 0 && max_fields > 0 &&
        s_bom(fields[0].p, fields[0].len)) {
        fields[0].p += 3;
        fields[0].len -= 3;
        n -= 3;
    }
    if (n == 0 && !is_header) return 2;
    return 1;
}
#endif

static int s_next(ms_csv_reader_t *self, ms_field_t *fields, int max_fields,
                  int *nfields, ms_error_t *err)
{
    char *line;
    size_t n;
    int rc;
#ifdef __SSE2__
    while (!self->done) {
        size_t nl;
        int count = s_fast_split(self, fields, max_fields, &nl);
        if (count < 0) break;
        rc = s_take_fast(self, fields, max_fields, &count, nl);
        if (rc == 2) continue;
        if (rc == 1) *nfields = count;
        return rc;
    }
#endif
    while ((rc = s_next_line(self, &line, &n, err)) == 1) {
        bool is_header = self->rec_off == 0 && self->opts.header;
        if (is_header && !self->header_record) continue;
        if (n == 0 && !is_header) continue; /* blank lines are not records */
        int count = s_tokenize(&self->opts, line, n, fields, max_fields);
        if (count < 0)
            return ms_error_set(err, MS_ERR_MALFORMED,
                                "%s: malformed record at byte %lld "
                                "(unterminated quote or text after one)",
                                self->path, (long long)self->rec_off);
        *nfields = count;
        return 1;
    }
    return rc;
}

/* At the end of its split a task checks the file once more: a file that
 * grew, or was rewritten in place, since planning gives another answer. */
int ms_csv_reader_next(ms_csv_reader_t *self, ms_field_t *fields,
                       int max_fields, int *nfields, ms_error_t *err)
{
    int rc = s_next(self, fields, max_fields, nfields, err);
    if (rc != 0 || !self->expect) return rc;
    struct stat st;
    self->expect = false;
    if (fstat(self->fd, &st) < 0)
        return ms_error_set(err, MS_ERR_IO, "%s: stat: %s", self->path,
                            strerror(errno));
    return ms_file_id_check(&self->id, &st, self->path, err);
}

int ms_csv_reader_expect(ms_csv_reader_t *self, const ms_file_id_t *id,
                         ms_error_t *err)
{
    struct stat st;
    if (fstat(self->fd, &st) < 0)
        return ms_error_set(err, MS_ERR_IO, "%s: stat: %s", self->path,
                            strerror(errno));
    self->id = *id;
    self->expect = true;
    return ms_file_id_check(id, &st, self->path, err);
}

int64_t ms_csv_reader_offset(const ms_csv_reader_t *self)
{
    return self->rec_off;
}

int64_t ms_csv_reader_bytes(const ms_csv_reader_t *self)
{
    return self->bytes;
}

/* ---- line numbers ----------------------------------------------------- */

static int64_t s_count_newlines(const char *p, size_t n)
{
    int64_t count = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        count++;
        p++;
    }
    return count;
}

int64_t ms_csv_line_at(const char *path, int64_t offset)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    enum { S_STEP = 64 << 10 }; /* error path only: speed hardly matters */
    char *buf = malloc(S_STEP);
    int64_t line = 1, pos = 0;
    while (buf && pos < offset) {
        size_t want = offset - pos < S_STEP ? (size_t)(offset - pos) : S_STEP;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0) line = -1;
            break;
        }
        line += s_count_newlines(buf, (size_t)n);
        pos += n;
    }
    if (!buf) line = -1;
    free(buf);
    close(fd);
    return line;
}

/* ---- schema inference ------------------------------------------------- */

/* What the non-empty fields of one column have allowed so far. */
typedef struct {
    int voters;
    bool int64, decimal, dbl, timestamp;
    bool plain;   /* every voter is [+-]digits[.digits]: a number to sum */
    int max_frac; /* most fraction digits among decimal voters */
    int max_int;  /* most significant integer digits among them */
} s_votes_t;

/* Mirrors ms_parse_decimal's limit: at most 18 significant digits once
 * scaled, so a value with k integer digits fits scales up to 18 - k. */
#define S_DECIMAL_DIGITS 18

/* A decimal voter must parse at its own number of fraction digits; whether
 * it still fits at the column's final scale (the largest among voters) is
 * decided at the end from its count of significant integer digits. */
static void s_vote_decimal(s_votes_t *v, const char *p, size_t len)
{
    const char *dot = memchr(p, '.', len);
    size_t frac = dot ? len - (size_t)(dot - p) - 1 : 0;
    int64_t ignored;
    if (frac > MS_DECIMAL_MAX_SCALE ||
        !ms_parse_decimal(p, len, (int)frac, &ignored)) {
        v->decimal = false;
        return;
    }
    /* Significant integer digits: after any sign and leading zeros. */
    size_t i = p[0] == '+' || p[0] == '-';
    while (i < len && p[i] == '0')
        i++;
    int digits = (int)((dot ? (size_t)(dot - p) : len) - i);
    if ((int)frac > v->max_frac) v->max_frac = (int)frac;
    if (digits > v->max_int) v->max_int = digits;
}

/* `[+-]?[0-9]+(\.[0-9]*)?|[+-]?\.[0-9]+` of any length. */
static bool s_plain_number(const char *p, size_t len)
{
    size_t i = len > 0 && (p[0] == '+' || p[0] == '-'), digits = 0;
    bool dot = false;
    for (; i < len; i++) {
        if (p[i] == '.' && !dot)
            dot = true;
        else if (p[i] >= '0' && p[i] <= '9')
            digits++;
        else
            return false;
    }
    return digits > 0;
}

static void s_vote(s_votes_t *v, const ms_field_t *f)
{
    if (f->len == 0) return; /* a null has no say */
    int64_t i;
    double d;
    v->voters++;
    if (v->int64 && !ms_parse_int64(f->p, f->len, &i)) v->int64 = false;
    if (v->decimal) s_vote_decimal(v, f->p, f->len);
    if (v->dbl && !ms_parse_double(f->p, f->len, &d)) v->dbl = false;
    if (v->plain && !s_plain_number(f->p, f->len)) v->plain = false;
    if (v->timestamp && !ms_parse_timestamp(f->p, f->len, &i))
        v->timestamp = false;
}

/* The first type every voter satisfies, in the order Spark tries them. */
static ms_coltype_t s_elect(const s_votes_t *v)
{
    ms_coltype_t t = {MS_TYPE_STRING, 0};
    int scale = v->max_frac > 1 ? v->max_frac : 1;
    if (v->voters == 0) return t;
    if (v->int64)
        t.type = MS_TYPE_INT64;
    else if (v->decimal && v->max_int + scale <= S_DECIMAL_DIGITS)
        t = (ms_coltype_t){MS_TYPE_DECIMAL, scale};
    else if (v->dbl)
        t.type = MS_TYPE_DOUBLE;
    else if (v->timestamp)
        t.type = MS_TYPE_TIMESTAMP;
    return t;
}

/* Names the columns from the header line, or _c0, _c1, ... after the
 * first record. Fields of the line are in fields[0..n). */
/* Spark's CSVUtils.makeSafeHeader: an empty name becomes _c<index>, and
 * names that repeat each get their index appended: a,b,a -> a0,b,a2.
 * Column names are case-sensitive here (Spark with
 * spark.sql.caseSensitive), so a and A do not repeat. A clash that still
 * remains (a,a,a1) is an error rather than a column silently shadowed. */
static int s_safe_names(ms_schema_t *out, const char *path, ms_error_t *err)
{
    int n = out->ncols;
    bool dup[MS_CSV_MAX_COLUMNS] = {false};
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(out->cols[i].name, out->cols[j].name) == 0)
                dup[i] = dup[j] = true;
    for (int i = 0; i < n; i++) {
        char *name = out->cols[i].name;
        char safe[MS_CSV_NAME_MAX + 16];
        if (!name[0])
            snprintf(safe, sizeof safe, "_c%d", i);
        else if (dup[i])
            snprintf(safe, sizeof safe, "%.*s%d", MS_CSV_NAME_MAX - 8, name, i);
        else
            continue;
        snprintf(name, MS_CSV_NAME_MAX, "%s", safe);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(out->cols[i].name, out->cols[j].name) == 0)
                return ms_error_set(err, MS_ERR_INPUT,
                                    "%s: columns %d and %d are both named "
                                    "\"%s\" (after renaming duplicates)",
                                    path, i + 1, j + 1, out->cols[i].name);
    return 0;
}

static int s_name_columns(ms_schema_t *out, const ms_field_t *fields, int n,
                          bool header, const char *path, ms_error_t *err)
{
    if (n > MS_CSV_MAX_COLUMNS)
        return ms_error_set(err, MS_ERR_INPUT,
                            "%s: %d columns, more than the %d supported", path,
                            n, MS_CSV_MAX_COLUMNS);
    out->ncols = n;
    for (int i = 0; i < n; i++) {
        ms_column_t *col = &out->cols[i];
        if (header) {
            size_t len = fields[i].len < MS_CSV_NAME_MAX - 1
                             ? fields[i].len
                             : MS_CSV_NAME_MAX - 1;
            memcpy(col->name, fields[i].p, len);
            col->name[len] = '\0';
        } else {
            snprintf(col->name, sizeof col->name, "_c%d", i);
        }
        col->type = (ms_coltype_t){MS_TYPE_STRING, 0};
    }
    return header ? s_safe_names(out, path, err) : 0;
}

/* Everything infer_schema needs while it reads: kept off the stack, since
 * the field and vote arrays are a few kilobytes each. */
typedef struct {
    ms_csv_reader_t *reader;
    ms_field_t fields[MS_CSV_MAX_COLUMNS];
    s_votes_t votes[MS_CSV_MAX_COLUMNS];
} s_infer_t;

/* Reads the header line, or the first well-formed record when there is
 * none, into in->fields[0..*nfields) and names the columns after it.
 * Returns 1, 0 for a file without any line, or an error. */
static int s_read_names(s_infer_t *in, const char *path,
                        const ms_csv_opts_t *opts, ms_schema_t *out,
                        int *nfields, ms_error_t *err)
{
    int rc;
    do {
        rc = ms_csv_reader_next(in->reader, in->fields, MS_CSV_MAX_COLUMNS,
                                nfields, err);
    } while (rc == MS_ERR_MALFORMED && !opts->header);
    if (rc == MS_ERR_MALFORMED)
        return ms_error_set(err, MS_ERR_INPUT,
                            "%s: line 1: malformed header line", path);
    if (rc <= 0) return rc;
    rc = s_name_columns(out, in->fields, *nfields, opts->header, path, err);
    return rc < 0 ? rc : 1;
}

static void s_vote_record(s_infer_t *in, int nfields, int ncols)
{
    int n = nfields < ncols ? nfields : ncols;
    for (int i = 0; i < n; i++)
        s_vote(&in->votes[i], &in->fields[i]);
}

/* Votes up to sample_rows well-formed records, then elects the types. */
static int s_sample(s_infer_t *in, int sample_rows, int first_nfields,
                    ms_schema_t *out, ms_error_t *err)
{
    int ncols = out->ncols, nfields, rc = 1, sampled = 0;
    for (int i = 0; i < ncols; i++)
        in->votes[i] = (s_votes_t){.int64 = true,
                                   .decimal = true,
                                   .dbl = true,
                                   .timestamp = true,
                                   .plain = true};
    if (first_nfields >= 0 && sample_rows > 0) {
        s_vote_record(in, first_nfields, ncols);
        sampled++;
    }
    while (sampled < sample_rows) {
        rc = ms_csv_reader_next(in->reader, in->fields, MS_CSV_MAX_COLUMNS,
                                &nfields, err);
        if (rc == MS_ERR_MALFORMED) continue;
        if (rc <= 0) break;
        s_vote_record(in, nfields, ncols);
        sampled++;
    }
    if (rc < 0) return rc;
    for (int i = 0; i < ncols; i++) {
        out->cols[i].type = s_elect(&in->votes[i]);
        out->cols[i].wide_decimal =
            in->votes[i].plain && out->cols[i].type.type == MS_TYPE_DOUBLE;
    }
    return 0;
}

int ms_csv_infer_schema(const char *path, const ms_csv_opts_t *opts, bool infer,
                        int sample_rows, ms_schema_t *out, ms_error_t *err)
{
    out->ncols = 0;
    s_infer_t *in = calloc(1, sizeof *in);
    if (!in) return ms_error_set(err, MS_ERR_NOMEM, "%s", path);
    int nfields = 0;
    int rc = ms_csv_reader_new(&in->reader, path, 0, -1, opts, err);
    if (rc < 0) goto cleanup;
    /* The reader returns the header line as a record here, so that it is
     * tokenised by the very same rules as the data. */
    in->reader->header_record = true;
    rc = s_read_names(in, path, opts, out, &nfields, err);
    if (rc <= 0 || !infer) goto cleanup;
    /* Without a header the record that named the columns votes too. */
    rc = s_sample(in, sample_rows, opts->header ? -1 : nfields, out, err);

cleanup:
    ms_csv_reader_destroy(&in->reader);
    free(in);
    if (rc < 0) out->ncols = 0;
    return rc < 0 ? rc : 0;
}

int ms_schema_find(const ms_schema_t *schema, const char *name)
{
    for (int i = 0; i < schema->ncols; i++)
        if (strcmp(schema->cols[i].name, name) == 0) return i;
    return -1;
}
