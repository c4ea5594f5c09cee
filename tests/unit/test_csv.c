/* Behaviour of the CSV split reader, line lookup and schema inference, on
 * real files in a temporary directory. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/csv.h"

static char s_dir[64];
static char s_paths[16][128];
static int s_npaths;

static void s_setup(void)
{
    strcpy(s_dir, "/tmp/ms_test_csv_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    s_npaths = 0;
}

static void s_teardown(void)
{
    for (int i = 0; i < s_npaths; i++)
        unlink(s_paths[i]);
    rmdir(s_dir);
}

TestSuite(csv, .init = s_setup, .fini = s_teardown);
TestSuite(csv_split, .init = s_setup, .fini = s_teardown);
TestSuite(csv_infer, .init = s_setup, .fini = s_teardown);

static const char *s_file(const char *data, size_t len)
{
    cr_assert_lt(s_npaths, 16);
    char *path = s_paths[s_npaths];
    snprintf(path, sizeof s_paths[0], "%s/f%d.csv", s_dir, s_npaths);
    s_npaths++;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

static const char *s_text_file(const char *text)
{
    return s_file(text, strlen(text));
}

static ms_csv_opts_t s_opts(bool header)
{
    return (ms_csv_opts_t){',', '"', header, MS_CSV_PERMISSIVE};
}

/* Reads the split into text: one line per record, fields joined by '|',
 * "!" for a malformed record. Returns the reader's byte count. */
static int64_t s_read_split(const char *path, int64_t start, int64_t end,
                            const ms_csv_opts_t *opts, char *out, size_t size)
{
    ms_csv_reader_t *r;
    ms_error_t err = {0};
    cr_assert_eq(ms_csv_reader_new(&r, path, start, end, opts, &err), 0, "%s",
                 err.msg);
    ms_field_t fields[16];
    int n, rc;
    size_t used = 0;
    out[0] = '\0';
    while ((rc = ms_csv_reader_next(r, fields, 16, &n, &err)) != 0) {
        cr_assert(rc == 1 || rc == MS_ERR_MALFORMED, "rc %d: %s", rc, err.msg);
        if (rc == MS_ERR_MALFORMED) {
            used += snprintf(out + used, size - used, "!\n");
            continue;
        }
        for (int i = 0; i < n && i < 16; i++)
            used += snprintf(out + used, size - used, "%s%.*s", i ? "|" : "",
                             (int)fields[i].len, fields[i].p);
        used += snprintf(out + used, size - used, "\n");
        cr_assert_lt(used, size);
    }
    int64_t bytes = ms_csv_reader_bytes(r);
    ms_csv_reader_destroy(&r);
    cr_assert_null(r);
    return bytes;
}

static const char *s_read(const char *text, bool header)
{
    static char out[4096];
    ms_csv_opts_t opts = s_opts(header);
    s_read_split(s_text_file(text), 0, -1, &opts, out, sizeof out);
    return out;
}

/* ---- tokenising ---- */

Test(csv, fields_are_separated_by_the_delimiter)
{
    cr_assert_str_eq(s_read("a,b,c\n1,2,3\n", false), "a|b|c\n1|2|3\n");
}

Test(csv, crlf_line_endings_are_stripped)
{
    cr_assert_str_eq(s_read("a,b\r\n1,2\r\n", false), "a|b\n1|2\n");
}

Test(csv, only_one_carriage_return_is_stripped)
{
    cr_assert_str_eq(s_read("a\r\r\n", false), "a\r\n");
}

Test(csv, blank_lines_are_not_records)
{
    cr_assert_str_eq(s_read("\na\n\r\n\nb\n\n", false), "a\nb\n");
}

Test(csv, last_line_without_newline_is_a_record)
{
    cr_assert_str_eq(s_read("a,b\nc,d", false), "a|b\nc|d\n");
}

Test(csv, empty_file_has_no_records)
{
    cr_assert_str_eq(s_read("", false), "");
}

Test(csv, header_line_is_not_a_record)
{
    cr_assert_str_eq(s_read("x,y\n1,2\n", true), "1|2\n");
    cr_assert_str_eq(s_read("x,y\n", true), "");
}

Test(csv, blank_header_line_is_still_the_header)
{
    cr_assert_str_eq(s_read("\n1,2\n", true), "1|2\n");
}

Test(csv, quoted_delimiter_is_part_of_field)
{
    cr_assert_str_eq(s_read("\"a,b\",c\n", false), "a,b|c\n");
}

Test(csv, doubled_quote_is_one_literal_quote)
{
    cr_assert_str_eq(s_read("\"say \"\"hi\"\"\",\"\"\"\"\n", false),
                     "say \"hi\"|\"\n");
}

Test(csv, empty_and_empty_quoted_fields_both_have_length_zero)
{
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_field_t f[4];
    int n;
    cr_assert_eq(
        ms_csv_reader_new(&r, s_text_file("\"\",,x\n"), 0, -1, &opts, NULL), 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, NULL), 1);
    cr_assert_eq(n, 3);
    cr_assert_eq(f[0].len, 0);
    cr_assert_eq(f[1].len, 0);
    cr_assert_eq(f[2].len, 1);
    ms_csv_reader_destroy(&r);
}

Test(csv, trailing_delimiter_gives_an_empty_last_field)
{
    cr_assert_str_eq(s_read("a,\n\"b\",\n,\n", false), "a|\nb|\n|\n");
}

Test(csv, quote_inside_an_unquoted_field_is_an_ordinary_byte)
{
    cr_assert_str_eq(s_read("a\"b,c\"\n", false), "a\"b|c\"\n");
}

Test(csv, text_after_a_closing_quote_is_malformed)
{
    cr_assert_str_eq(s_read("\"ab\"c,d\nok\n", false), "!\nok\n");
}

Test(csv, unterminated_quote_is_malformed_and_reading_goes_on)
{
    cr_assert_str_eq(s_read("1,\"open\n2,x\n", false), "!\n2|x\n");
}

Test(csv, newline_inside_quotes_is_not_supported)
{
    /* The first half is an unterminated quote; in the second the quote is
     * not a field's first byte, so it is ordinary. */
    cr_assert_str_eq(s_read("\"a\nb\",c\n", false), "!\nb\"|c\n");
}

Test(csv, malformed_record_reports_its_offset_and_path)
{
    ms_csv_opts_t opts = s_opts(false);
    const char *path = s_text_file("ok\n\"bad\n");
    ms_csv_reader_t *r;
    ms_error_t err = {0};
    ms_field_t f[4];
    int n;
    cr_assert_eq(ms_csv_reader_new(&r, path, 0, -1, &opts, &err), 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, &err), 1);
    cr_assert_eq(ms_csv_reader_offset(r), 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, &err), MS_ERR_MALFORMED);
    cr_assert_eq(ms_csv_reader_offset(r), 3);
    cr_assert_not_null(strstr(err.msg, path));
    cr_assert_eq(ms_csv_line_at(path, ms_csv_reader_offset(r)), 2);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, &err), 0);
    ms_csv_reader_destroy(&r);
}

Test(csv, disabled_quoting_treats_quotes_as_bytes)
{
    ms_csv_opts_t opts = {';', '\0', false, MS_CSV_PERMISSIVE};
    char out[256];
    s_read_split(s_text_file("\"a;b\";c\n"), 0, -1, &opts, out, sizeof out);
    cr_assert_str_eq(out, "\"a|b\"|c\n");
}

Test(csv, other_delimiters_and_quote_chars)
{
    ms_csv_opts_t opts = {'\t', '\'', false, MS_CSV_PERMISSIVE};
    char out[256];
    s_read_split(s_text_file("'a\tb'\t'it''s'\tc,d\n"), 0, -1, &opts, out,
                 sizeof out);
    cr_assert_str_eq(out, "a\tb|it's|c,d\n");
}

Test(csv, delimiter_equal_to_quote_is_refused)
{
    ms_csv_opts_t opts = {'"', '"', false, MS_CSV_PERMISSIVE};
    ms_csv_reader_t *r = (ms_csv_reader_t *)&opts;
    ms_error_t err = {0};
    cr_assert_eq(ms_csv_reader_new(&r, s_text_file("a\n"), 0, -1, &opts, &err),
                 MS_ERR_USAGE);
    cr_assert_null(r);
}

Test(csv, extra_fields_are_counted_but_not_stored)
{
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_field_t f[2];
    int n;
    cr_assert_eq(
        ms_csv_reader_new(&r, s_text_file("a,b,\"c\",d\n"), 0, -1, &opts, NULL),
        0);
    cr_assert_eq(ms_csv_reader_next(r, f, 2, &n, NULL), 1);
    cr_assert_eq(n, 4);
    cr_assert(f[0].len == 1 && f[0].p[0] == 'a');
    cr_assert(f[1].len == 1 && f[1].p[0] == 'b');
    cr_assert_eq(ms_csv_reader_next(r, NULL, 0, &n, NULL), 0);
    ms_csv_reader_destroy(&r);
}

Test(csv, missing_file_is_an_error_naming_the_path)
{
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_error_t err = {0};
    int rc = ms_csv_reader_new(&r, "/nonexistent/x.csv", 0, -1, &opts, &err);
    cr_assert_lt(rc, 0);
    cr_assert_eq(err.code, rc);
    cr_assert_not_null(strstr(err.msg, "/nonexistent/x.csv"));
    cr_assert_null(r);
}

Test(csv, destroy_of_null_is_a_no_op)
{
    ms_csv_reader_t *r = NULL;
    ms_csv_reader_destroy(&r);
    ms_csv_reader_destroy(NULL);
}

/* ---- big files ---- */

Test(csv, lines_straddling_read_chunks_come_out_whole)
{
    /* Lines of varying length over a few MiB, so that many cross the
     * reader's chunk boundaries. */
    size_t cap = 5 << 20, len = 0;
    char *data = malloc(cap);
    int lines = 0;
    while (len + 64 < cap) {
        len +=
            (size_t)sprintf(data + len, "%d,\"q,%d\",%.*s\n", lines, lines % 7,
                            lines % 23, "xxxxxxxxxxxxxxxxxxxxxxx");
        lines++;
    }
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_field_t f[4];
    int n, count = 0;
    cr_assert_eq(ms_csv_reader_new(&r, s_file(data, len), 0, -1, &opts, NULL),
                 0);
    while (ms_csv_reader_next(r, f, 4, &n, NULL) == 1) {
        char want[16];
        snprintf(want, sizeof want, "%d", count);
        cr_assert_eq(n, 3);
        cr_assert(f[0].len == strlen(want) && !memcmp(f[0].p, want, f[0].len));
        cr_assert_eq(f[1].len, 3);
        cr_assert_eq(f[2].len, (uint32_t)(count % 23));
        count++;
    }
    cr_assert_eq(count, lines);
    cr_assert_eq(ms_csv_reader_bytes(r), (int64_t)len);
    ms_csv_reader_destroy(&r);
    free(data);
}

Test(csv, a_line_longer_than_the_read_buffer_grows_it)
{
    size_t len = 3 << 20;
    char *data = malloc(len + 16);
    memset(data, 'x', len);
    strcpy(data + len, ",end\nnext\n");
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_field_t f[4];
    int n;
    cr_assert_eq(
        ms_csv_reader_new(&r, s_file(data, len + 10), 0, -1, &opts, NULL), 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, NULL), 1);
    cr_assert(n == 2 && f[0].len == len && f[1].len == 3);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, NULL), 1);
    cr_assert(n == 1 && f[0].len == 4);
    ms_csv_reader_destroy(&r);
    free(data);
}

Test(csv, a_line_beyond_the_size_cap_is_an_input_error)
{
    size_t len = (64 << 20) + 10;
    char *data = malloc(len);
    memset(data, 'x', len);
    ms_csv_opts_t opts = s_opts(false);
    ms_csv_reader_t *r;
    ms_error_t err = {0};
    ms_field_t f[4];
    int n;
    const char *path = s_file(data, len);
    free(data);
    cr_assert_eq(ms_csv_reader_new(&r, path, 0, -1, &opts, &err), 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, &err), MS_ERR_INPUT);
    cr_assert_not_null(strstr(err.msg, path));
    ms_csv_reader_destroy(&r);
}

/* ---- splits ---- */

static const char s_mixed[] = "h1,h2\n"
                              "1,\"a,b\"\n"
                              "\n"
                              "22,\"un\"\"q\"\r\n"
                              "333,\"bad\n"
                              "4444,x\r\n"
                              "\r\n"
                              "55555,\"\"\n"
                              "6,last";

Test(csv_split, every_pair_of_splits_yields_the_whole_file)
{
    const char *path = s_text_file(s_mixed);
    int64_t size = (int64_t)strlen(s_mixed);
    for (int header = 0; header <= 1; header++) {
        ms_csv_opts_t opts = s_opts(header);
        char whole[1024], a[1024], b[1024], joined[2048];
        int64_t whole_bytes = s_read_split(path, 0, -1, &opts, whole, 1024);
        cr_assert_eq(whole_bytes, size);
        for (int64_t cut = 0; cut <= size + 1; cut++) {
            int64_t bytes = s_read_split(path, 0, cut, &opts, a, sizeof a) +
                            s_read_split(path, cut, -1, &opts, b, sizeof b);
            snprintf(joined, sizeof joined, "%s%s", a, b);
            cr_assert_str_eq(joined, whole, "cut at %lld", (long long)cut);
            cr_assert_eq(bytes, size, "cut at %lld", (long long)cut);
        }
    }
}

Test(csv_split, split_starting_mid_line_begins_at_the_next_line)
{
    ms_csv_opts_t opts = s_opts(false);
    char out[256];
    s_read_split(s_text_file("aaa\nbbb\nccc\n"), 1, -1, &opts, out, 256);
    cr_assert_str_eq(out, "bbb\nccc\n");
}

Test(csv_split, split_starting_right_after_a_newline_includes_that_line)
{
    ms_csv_opts_t opts = s_opts(false);
    char out[256];
    s_read_split(s_text_file("aaa\nbbb\nccc\n"), 4, 5, &opts, out, 256);
    cr_assert_str_eq(out, "bbb\n");
}

Test(csv_split, last_record_may_extend_past_the_split_end)
{
    ms_csv_opts_t opts = s_opts(false);
    char out[256];
    s_read_split(s_text_file("aaa\nbbb\nccc\n"), 0, 5, &opts, out, 256);
    cr_assert_str_eq(out, "aaa\nbbb\n");
}

Test(csv_split, split_past_the_end_of_the_file_is_empty)
{
    ms_csv_opts_t opts = s_opts(false);
    char out[256];
    s_read_split(s_text_file("aaa\n"), 100, 200, &opts, out, 256);
    cr_assert_str_eq(out, "");
}

Test(csv_split, header_belongs_to_the_first_split_only)
{
    ms_csv_opts_t opts = s_opts(true);
    char out[256];
    const char *path = s_text_file("x\n1\n2\n");
    s_read_split(path, 0, 2, &opts, out, 256);
    cr_assert_str_eq(out, "");
    s_read_split(path, 2, -1, &opts, out, 256);
    cr_assert_str_eq(out, "1\n2\n");
}

Test(csv_split, offset_is_where_each_record_starts)
{
    ms_csv_opts_t opts = s_opts(true);
    ms_csv_reader_t *r;
    ms_field_t f[4];
    int n;
    cr_assert_eq(ms_csv_reader_new(&r, s_text_file("h\n\nab\r\ncd\n"), 0, -1,
                                   &opts, NULL),
                 0);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, NULL), 1);
    cr_assert_eq(ms_csv_reader_offset(r), 3);
    cr_assert_eq(ms_csv_reader_next(r, f, 4, &n, NULL), 1);
    cr_assert_eq(ms_csv_reader_offset(r), 7);
    cr_assert_eq(ms_csv_reader_bytes(r), 10);
    ms_csv_reader_destroy(&r);
}

/* ---- line numbers ---- */

Test(csv, line_at_counts_newlines_before_the_offset)
{
    const char *path = s_text_file("a\n\nbb\nc");
    cr_assert_eq(ms_csv_line_at(path, 0), 1);
    cr_assert_eq(ms_csv_line_at(path, 2), 2);
    cr_assert_eq(ms_csv_line_at(path, 3), 3);
    cr_assert_eq(ms_csv_line_at(path, 6), 4);
    cr_assert_eq(ms_csv_line_at("/nonexistent/x.csv", 0), -1);
}

/* ---- schema inference ---- */

static ms_schema_t s_schema;

static int s_infer(const char *text, bool header, bool infer, int rows)
{
    ms_csv_opts_t opts = s_opts(header);
    ms_error_t err = {0};
    return ms_csv_infer_schema(s_text_file(text), &opts, infer, rows, &s_schema,
                               &err);
}

static void s_assert_col(int i, const char *name, ms_type_t type, int scale)
{
    cr_assert_lt(i, s_schema.ncols);
    cr_assert_str_eq(s_schema.cols[i].name, name);
    cr_assert_eq(s_schema.cols[i].type.type, type, "column %s is %s", name,
                 ms_type_name(s_schema.cols[i].type.type));
    if (type == MS_TYPE_DECIMAL)
        cr_assert_eq(s_schema.cols[i].type.scale, scale);
}

Test(csv_infer, header_names_the_columns_and_samples_vote_types)
{
    cr_assert_eq(s_infer("id,ts,country,amount,ratio\n"
                         "1,2025-03-04 12:34:56,US,1.5,1e3\n"
                         "2,2025-03-05,FR,12.25,0.5\n",
                         true, true, 100),
                 0);
    cr_assert_eq(s_schema.ncols, 5);
    s_assert_col(0, "id", MS_TYPE_INT64, 0);
    s_assert_col(1, "ts", MS_TYPE_TIMESTAMP, 0);
    s_assert_col(2, "country", MS_TYPE_STRING, 0);
    s_assert_col(3, "amount", MS_TYPE_DECIMAL, 2);
    s_assert_col(4, "ratio", MS_TYPE_DOUBLE, 0);
}

Test(csv_infer, without_header_columns_are_numbered_and_first_row_votes)
{
    cr_assert_eq(s_infer("x,1\n7,2\n", false, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 2);
    s_assert_col(0, "_c0", MS_TYPE_STRING, 0);
    s_assert_col(1, "_c1", MS_TYPE_INT64, 0);
}

Test(csv_infer, without_infer_every_column_is_a_string)
{
    cr_assert_eq(s_infer("a,b\n1,2\n", true, false, 100), 0);
    s_assert_col(0, "a", MS_TYPE_STRING, 0);
    s_assert_col(1, "b", MS_TYPE_STRING, 0);
}

Test(csv_infer, empty_fields_do_not_vote_and_null_columns_are_strings)
{
    cr_assert_eq(s_infer("a,b\n,\n5,\n\"\",\n", true, true, 100), 0);
    s_assert_col(0, "a", MS_TYPE_INT64, 0);
    s_assert_col(1, "b", MS_TYPE_STRING, 0);
}

Test(csv_infer, integers_mixed_with_fractions_are_decimal_of_largest_scale)
{
    cr_assert_eq(s_infer("a,b,c\n1,2.,3.125\n-4,5,.5\n", true, true, 100), 0);
    s_assert_col(0, "a", MS_TYPE_INT64, 0);
    s_assert_col(1, "b", MS_TYPE_DECIMAL, 1);
    s_assert_col(2, "c", MS_TYPE_DECIMAL, 3);
}

Test(csv_infer, decimal_that_would_not_fit_its_scale_is_double)
{
    cr_assert_eq(s_infer("a,b,c\n"
                         "0.1234567891,12345678901234567,123456789012345678\n"
                         "1,0.5,0.5\n",
                         true, true, 100),
                 0);
    s_assert_col(0, "a", MS_TYPE_DOUBLE, 0);  /* ten fraction digits */
    s_assert_col(1, "b", MS_TYPE_DECIMAL, 1); /* 17 + 1 digits */
    s_assert_col(2, "c", MS_TYPE_DOUBLE, 0);  /* 18 + 1 digits */
}

Test(csv_infer, integers_too_big_for_int64_are_double)
{
    cr_assert_eq(s_infer("a\n99999999999999999999\n", true, true, 100), 0);
    s_assert_col(0, "a", MS_TYPE_DOUBLE, 0);
}

/* Plain numbers too wide for a decimal are read as doubles, and the
 * column says so, for the driver to warn that sums of it are inexact;
 * a column that is double for other reasons does not. */
Test(csv_infer, too_wide_plain_numbers_are_flagged_as_wide_decimals)
{
    cr_assert_eq(s_infer("w,f,e,i,d,s\n"
                         "123456789012345678901234567890.5,0.1234567891,"
                         "1e3,99999999999999999999,1.5,x\n"
                         "-1,2,0.5,1,2,y\n",
                         true, true, 100),
                 0);
    const bool want[] = {true, true, false, true, false, false};
    const ms_type_t types[] = {MS_TYPE_DOUBLE, MS_TYPE_DOUBLE,  MS_TYPE_DOUBLE,
                               MS_TYPE_DOUBLE, MS_TYPE_DECIMAL, MS_TYPE_STRING};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(s_schema.cols[i].type.type, types[i], "column %d", i);
        cr_assert_eq(s_schema.cols[i].wide_decimal, want[i], "column %s",
                     s_schema.cols[i].name);
    }
}

Test(csv_infer, a_single_odd_value_makes_a_column_string)
{
    cr_assert_eq(s_infer("a,b\n2025-01-01,1\nsoon,x\n", true, true, 100), 0);
    s_assert_col(0, "a", MS_TYPE_STRING, 0);
    s_assert_col(1, "b", MS_TYPE_STRING, 0);
}

Test(csv_infer, only_sample_rows_records_vote)
{
    cr_assert_eq(s_infer("a\n1\n2\nx\n", true, true, 2), 0);
    s_assert_col(0, "a", MS_TYPE_INT64, 0);
    cr_assert_eq(s_infer("a\n1\n2\nx\n", true, true, 3), 0);
    s_assert_col(0, "a", MS_TYPE_STRING, 0);
}

Test(csv_infer, malformed_records_are_skipped)
{
    cr_assert_eq(s_infer("\"x\n1\n\"y\"z\n2\n", false, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 1);
    s_assert_col(0, "_c0", MS_TYPE_INT64, 0);
}

Test(csv_infer, short_and_long_records_vote_for_the_columns_they_have)
{
    cr_assert_eq(s_infer("a,b\n1\n2,x,extra\n", true, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 2);
    s_assert_col(0, "a", MS_TYPE_INT64, 0);
    s_assert_col(1, "b", MS_TYPE_STRING, 0);
}

Test(csv_infer, quoted_header_names_follow_the_same_rules)
{
    cr_assert_eq(s_infer("\"a,b\",\"c\"\"d\"\r\n1,2\r\n", true, true, 100), 0);
    s_assert_col(0, "a,b", MS_TYPE_INT64, 0);
    s_assert_col(1, "c\"d", MS_TYPE_INT64, 0);
}

Test(csv_infer, malformed_header_is_an_input_error)
{
    cr_assert_eq(s_infer("\"a,b\n1\n", true, true, 100), MS_ERR_INPUT);
}

Test(csv_infer, empty_files_have_no_columns)
{
    cr_assert_eq(s_infer("", true, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 0);
    cr_assert_eq(s_infer("\n\n", false, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 0);
}

Test(csv_infer, header_only_file_has_string_columns)
{
    cr_assert_eq(s_infer("a,b\n", true, true, 100), 0);
    cr_assert_eq(s_schema.ncols, 2);
    s_assert_col(1, "b", MS_TYPE_STRING, 0);
}

Test(csv_infer, long_names_are_truncated)
{
    char text[400];
    memset(text, 'n', 300);
    strcpy(text + 300, "\n1\n");
    cr_assert_eq(s_infer(text, true, true, 100), 0);
    cr_assert_eq(strlen(s_schema.cols[0].name), MS_CSV_NAME_MAX - 1);
}

Test(csv_infer, too_many_columns_is_an_input_error)
{
    char text[2 * (MS_CSV_MAX_COLUMNS + 1) + 2];
    size_t len = 0;
    for (int i = 0; i <= MS_CSV_MAX_COLUMNS; i++) {
        text[len++] = 'c';
        text[len++] = ',';
    }
    text[len - 1] = '\n';
    text[len] = '\0';
    cr_assert_eq(s_infer(text, true, true, 100), MS_ERR_INPUT);
    cr_assert_eq(s_infer(text, false, true, 100), MS_ERR_INPUT);
    cr_assert_eq(s_schema.ncols, 0);
}

Test(csv_infer, missing_file_is_an_error)
{
    ms_csv_opts_t opts = s_opts(true);
    ms_error_t err = {0};
    cr_assert_lt(ms_csv_infer_schema("/nonexistent/x.csv", &opts, true, 10,
                                     &s_schema, &err),
                 0);
}

Test(csv_infer, schema_find_matches_names_exactly)
{
    cr_assert_eq(s_infer("id,Name,name\n", true, true, 100), 0);
    cr_assert_eq(ms_schema_find(&s_schema, "name"), 2);
    cr_assert_eq(ms_schema_find(&s_schema, "Name"), 1);
    cr_assert_eq(ms_schema_find(&s_schema, "ID"), -1);
    cr_assert_eq(ms_schema_find(&s_schema, "nam"), -1);
}

/* ---- byte order marks, repeated names, files that change ---- */

Test(csv, a_byte_order_mark_is_not_part_of_the_first_line)
{
    cr_assert_str_eq(s_read("\xEF\xBB\xBF"
                            "a,b\n1,2\n",
                            false),
                     "a|b\n1|2\n");
    cr_assert_str_eq(s_read("\xEF\xBB\xBF\"a\",b\n1,2\n", false), "a|b\n1|2\n");
    cr_assert_str_eq(s_read("\xEF\xBB\xBF"
                            "a,b\n1,2\n",
                            true),
                     "1|2\n");
    /* Only before the first line. */
    cr_assert_str_eq(s_read("a\n\xEF\xBB\xBF"
                            "b\n",
                            false),
                     "a\n\xEF\xBB\xBF"
                     "b\n");
}

Test(csv_split, splits_of_a_file_with_a_byte_order_mark_yield_it_whole)
{
    const char *text = "\xEF\xBB\xBF"
                       "k,v\n1,a\n22,b\n333,c\n";
    const char *path = s_text_file(text);
    int64_t size = (int64_t)strlen(text);
    ms_csv_opts_t opts = s_opts(false);
    char a[512], b[512], joined[1024];
    for (int64_t cut = 0; cut <= size; cut++) {
        s_read_split(path, 0, cut, &opts, a, sizeof a);
        s_read_split(path, cut, -1, &opts, b, sizeof b);
        snprintf(joined, sizeof joined, "%s%s", a, b);
        cr_assert_str_eq(joined, "k|v\n1|a\n22|b\n333|c\n", "cut at %lld",
                         (long long)cut);
    }
}

static int s_read_expecting(const char *path, const ms_file_id_t *id,
                            ms_error_t *err)
{
    ms_csv_reader_t *r;
    ms_csv_opts_t opts = s_opts(false);
    ms_field_t f[4];
    int n, rc = ms_csv_reader_new(&r, path, 0, -1, &opts, err);
    cr_assert_eq(rc, 0, "%s", err->msg);
    rc = ms_csv_reader_expect(r, id, err);
    while (rc >= 0 && (rc = ms_csv_reader_next(r, f, 4, &n, err)) == 1)
        ;
    ms_csv_reader_destroy(&r);
    return rc;
}

Test(csv, a_file_that_changed_since_planning_is_an_input_error)
{
    const char *path = s_text_file("a,1\nb,2\nc,3\n");
    struct stat st;
    ms_file_id_t id;
    ms_error_t err = {0};
    cr_assert_eq(stat(path, &st), 0);
    ms_file_id_of(&st, &id);
    cr_assert_eq(s_read_expecting(path, &id, &err), 0, "%s", err.msg);
    /* Shorter than planned: reading ends early. */
    ms_file_id_t longer = id;
    longer.size += 10;
    cr_assert_eq(s_read_expecting(path, &longer, &err), MS_ERR_INPUT);
    cr_assert(strstr(err.msg, "changed while the job ran"), "%s", err.msg);
    cr_assert(strstr(err.msg, path), "%s", err.msg);
    /* Another inode, or another modification time. */
    ms_file_id_t other = id;
    other.ino++;
    cr_assert_eq(s_read_expecting(path, &other, &err), MS_ERR_INPUT);
    cr_assert(strstr(err.msg, "replaced"), "%s", err.msg);
    other = id;
    other.mtime_ns--;
    cr_assert_eq(s_read_expecting(path, &other, &err), MS_ERR_INPUT);
    /* On another host only the size can be compared. */
    other.host++;
    other.ino++;
    cr_assert_eq(s_read_expecting(path, &other, &err), 0, "%s", err.msg);
}

Test(csv, fifos_and_folders_are_refused_without_blocking)
{
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/fifo", s_dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    ms_csv_reader_t *r = NULL;
    ms_csv_opts_t opts = s_opts(false);
    ms_error_t err = {0};
    cr_assert_eq(ms_csv_reader_new(&r, fifo, 0, -1, &opts, &err), MS_ERR_INPUT);
    cr_assert(strstr(err.msg, "is a FIFO"), "%s", err.msg);
    unlink(fifo);
    cr_assert_eq(ms_csv_reader_new(&r, s_dir, 0, -1, &opts, &err),
                 MS_ERR_INPUT);
    cr_assert(strstr(err.msg, "is a directory"), "%s", err.msg);
    cr_assert_null(r);
}

Test(csv_infer, repeated_and_empty_names_are_made_safe_as_spark_does)
{
    cr_assert_eq(s_infer("a,b,A,,a\n1,2,3,4,5\n", true, true, 100), 0);
    s_assert_col(0, "a0", MS_TYPE_INT64, 0);
    s_assert_col(1, "b", MS_TYPE_INT64, 0);
    s_assert_col(2, "A", MS_TYPE_INT64, 0);
    s_assert_col(3, "_c3", MS_TYPE_INT64, 0);
    s_assert_col(4, "a4", MS_TYPE_INT64, 0);
    cr_assert_eq(s_infer("\xEF\xBB\xBF"
                         "id,x\n1,2\n",
                         true, true, 100),
                 0);
    s_assert_col(0, "id", MS_TYPE_INT64, 0);
}

Test(csv_infer, names_that_still_clash_after_renaming_are_an_input_error)
{
    cr_assert_eq(s_infer("a,a,a1\n1,2,3\n", true, true, 100), MS_ERR_INPUT);
}
