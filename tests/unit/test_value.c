/* Behaviour of the typed value parsers, comparison and formatting. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/value.h"

static bool s_int(const char *text, int64_t *out)
{
    return ms_parse_int64(text, strlen(text), out);
}

static bool s_dec(const char *text, int scale, int64_t *out)
{
    return ms_parse_decimal(text, strlen(text), scale, out);
}

static bool s_dbl(const char *text, double *out)
{
    return ms_parse_double(text, strlen(text), out);
}

static bool s_ts(const char *text, int64_t *out)
{
    return ms_parse_timestamp(text, strlen(text), out);
}

static const char *s_fmt_double(double d)
{
    static char buf[64];
    int n = ms_format_double(buf, sizeof buf, d);
    cr_assert_eq(n, (int)strlen(buf));
    return buf;
}

static const char *s_fmt(ms_value_t v)
{
    static char buf[64];
    int n = ms_value_format(buf, sizeof buf, &v);
    cr_assert_eq(n, (int)strlen(buf));
    return buf;
}

/* ---- int64 ---- */

Test(int64, accepts_signed_digits)
{
    int64_t v;
    cr_assert(s_int("0", &v) && v == 0);
    cr_assert(s_int("-42", &v) && v == -42);
    cr_assert(s_int("+7", &v) && v == 7);
    cr_assert(s_int("007", &v) && v == 7);
}

Test(int64, accepts_the_extremes_and_refuses_one_past)
{
    int64_t v;
    cr_assert(s_int("9223372036854775807", &v) && v == INT64_MAX);
    cr_assert(s_int("-9223372036854775808", &v) && v == INT64_MIN);
    cr_assert_not(s_int("9223372036854775808", &v));
    cr_assert_not(s_int("-9223372036854775809", &v));
    cr_assert_not(s_int("99999999999999999999999", &v));
}

Test(int64, refuses_blanks_signs_alone_and_other_text)
{
    int64_t v;
    const char *bad[] = {"",    "-",    "+",   " 1", "1 ", "1.0",
                         "1e3", "0x10", "--1", "1-", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_int(bad[i], &v), "accepted '%s'", bad[i]);
}

Test(int64, reads_only_the_given_length)
{
    int64_t v;
    cr_assert(ms_parse_int64("12,34", 2, &v) && v == 12);
}

/* ---- decimal ---- */

Test(decimal, stores_value_scaled_by_ten_to_the_scale)
{
    int64_t v;
    cr_assert(s_dec("1.5", 2, &v) && v == 150);
    cr_assert(s_dec("-0.05", 2, &v) && v == -5);
    cr_assert(s_dec("12", 2, &v) && v == 1200);
    cr_assert(s_dec("3.", 1, &v) && v == 30);
    cr_assert(s_dec(".25", 2, &v) && v == 25);
    cr_assert(s_dec("+.5", 1, &v) && v == 5);
    cr_assert(s_dec("-0", 0, &v) && v == 0);
}

Test(decimal, refuses_more_fraction_digits_than_scale)
{
    int64_t v;
    cr_assert_not(s_dec("1.234", 2, &v));
    cr_assert_not(s_dec("1.5", 0, &v));
    cr_assert(s_dec("1.230", 3, &v) && v == 1230);
}

Test(decimal, refuses_bad_syntax)
{
    int64_t v;
    const char *bad[] = {"",   ".",  "-",   "-.",  "1..2", "1.2.3",
                         " 1", "1 ", "1e2", "NaN", "1,5",  "+-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_dec(bad[i], 2, &v), "accepted '%s'", bad[i]);
}

Test(decimal, keeps_at_most_eighteen_significant_digits)
{
    int64_t v;
    cr_assert(s_dec("999999999999999999", 0, &v) && v == 999999999999999999LL);
    cr_assert_not(s_dec("1000000000000000000", 0, &v));
    cr_assert(s_dec("999999999.999999999", 9, &v) && v == 999999999999999999LL);
    cr_assert_not(s_dec("1000000000", 9, &v));
    cr_assert(s_dec("-000000000000000000001.5", 1, &v) && v == -15);
    cr_assert_not(s_dec("9223372036854775807", 0, &v));
}

/* ---- double ---- */

Test(double, accepts_plain_fraction_and_exponent_forms)
{
    double d;
    cr_assert(s_dbl("1", &d) && d == 1.0);
    cr_assert(s_dbl("-2.5", &d) && d == -2.5);
    cr_assert(s_dbl(".5", &d) && d == 0.5);
    cr_assert(s_dbl("5.", &d) && d == 5.0);
    cr_assert(s_dbl("1e3", &d) && d == 1000.0);
    cr_assert(s_dbl("+1.5E-2", &d) && d == 0.015);
    cr_assert(s_dbl("2e+2", &d) && d == 200.0);
}

Test(double, accepts_java_style_special_values_only)
{
    double d;
    cr_assert(s_dbl("NaN", &d) && isnan(d));
    cr_assert(s_dbl("Infinity", &d) && isinf(d) && d > 0);
    cr_assert(s_dbl("+Infinity", &d) && isinf(d) && d > 0);
    cr_assert(s_dbl("-Infinity", &d) && isinf(d) && d < 0);
    const char *bad[] = {"nan",      "inf",  "-inf",  "INF",
                         "infinity", "-NaN", "NaN(1)"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_dbl(bad[i], &d), "accepted '%s'", bad[i]);
}

Test(double, refuses_what_strtod_alone_would_take)
{
    double d;
    const char *bad[] = {"",  " 1", "1 ",  "0x1p3", "1e", "1e+", "e5",
                         ".", "-",  ".e1", "1.5f",  "1d", "--1", "1e5.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_dbl(bad[i], &d), "accepted '%s'", bad[i]);
}

Test(double, reads_unterminated_field_without_running_past_it)
{
    double d;
    cr_assert(ms_parse_double("1.5e3,77", 3, &d) && d == 1.5);
}

Test(double, out_of_range_literals_become_infinity_or_zero)
{
    double d;
    cr_assert(s_dbl("1e999", &d) && isinf(d));
    cr_assert(s_dbl("-1e999", &d) && isinf(d) && d < 0);
    cr_assert(s_dbl("1e-999", &d) && d == 0);
}

Test(double, parses_long_literals)
{
    char text[400];
    memset(text, '0', sizeof text);
    text[0] = '1';
    text[1] = '.';
    text[sizeof text - 1] = '\0';
    double d;
    cr_assert(s_dbl(text, &d) && d == 1.0);
}

/* ---- timestamp ---- */

Test(timestamp, counts_seconds_since_the_epoch_utc)
{
    int64_t t;
    cr_assert(s_ts("1970-01-01 00:00:00", &t) && t == 0);
    cr_assert(s_ts("2025-03-04 12:34:56", &t) && t == 1741091696);
    cr_assert(s_ts("1969-12-31 23:59:59", &t) && t == -1);
    cr_assert(s_ts("2000-02-29 00:00:01", &t) && t == 951782401);
}

Test(timestamp, date_alone_means_midnight)
{
    int64_t t;
    cr_assert(s_ts("2025-03-04", &t) && t == 1741046400);
}

Test(timestamp, refuses_impossible_dates_and_times)
{
    int64_t t;
    const char *bad[] = {"2023-02-29",          "1900-02-29",
                         "2025-13-01",          "2025-00-10",
                         "2025-04-31",          "2025-01-00",
                         "2025-01-01 24:00:00", "2025-01-01 23:60:00",
                         "2025-01-01 23:59:60", "0000-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_ts(bad[i], &t), "accepted '%s'", bad[i]);
}

Test(timestamp, refuses_other_layouts)
{
    int64_t t;
    const char *bad[] = {"",
                         "2025-3-4",
                         "2025/03/04",
                         "2025-03-04T12:34:56",
                         "2025-03-04 12:34",
                         "2025-03-04 12:34:56.5",
                         " 2025-03-04",
                         "2025-03-04 ",
                         "+025-03-04",
                         "2025-03-04 1 :34:56"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(s_ts(bad[i], &t), "accepted '%s'", bad[i]);
}

Test(timestamp, civil_days_round_trip_over_many_years)
{
    for (int64_t z = -800000; z <= 800000; z += 7) {
        int64_t y;
        unsigned m, d;
        ms_civil_from_days(z, &y, &m, &d);
        cr_assert_eq(ms_days_from_civil(y, m, d), z);
    }
    cr_assert_eq(ms_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(ms_days_from_civil(2000, 3, 1), 11017);
    cr_assert_eq(ms_days_from_civil(1, 1, 1), -719162);
}

/* ---- ms_value_parse ---- */

Test(value, parses_by_column_type)
{
    ms_value_t v;
    cr_assert(
        ms_value_parse("12.3", 4, (ms_coltype_t){MS_TYPE_DECIMAL, 2}, &v));
    cr_assert(v.type == MS_TYPE_DECIMAL && v.scale == 2 && v.i == 1230);
    cr_assert(ms_value_parse("abc", 3, (ms_coltype_t){MS_TYPE_STRING, 0}, &v));
    cr_assert(v.type == MS_TYPE_STRING && v.len == 3 && v.s[0] == 'a');
    cr_assert(ms_value_parse("2.5", 3, (ms_coltype_t){MS_TYPE_DOUBLE, 0}, &v));
    cr_assert(v.type == MS_TYPE_DOUBLE && v.d == 2.5);
}

Test(value, unknown_column_type_gives_null_without_failing)
{
    ms_value_t v;
    cr_assert(ms_value_parse("42", 2, (ms_coltype_t){MS_TYPE_NULL, 0}, &v));
    cr_assert_eq(v.type, MS_TYPE_NULL);
}

Test(value, failed_parse_leaves_a_null)
{
    ms_value_t v;
    cr_assert_not(ms_value_parse("x", 1, (ms_coltype_t){MS_TYPE_INT64, 0}, &v));
    cr_assert_eq(v.type, MS_TYPE_NULL);
}

Test(value, type_names_are_lower_case_words)
{
    cr_assert_str_eq(ms_type_name(MS_TYPE_INT64), "int64");
    cr_assert_str_eq(ms_type_name(MS_TYPE_DECIMAL), "decimal");
    cr_assert_str_eq(ms_type_name(MS_TYPE_STRING), "string");
    cr_assert_str_eq(ms_type_name((ms_type_t)99), "unknown");
}

/* ---- comparison ---- */

static ms_value_t s_i(int64_t i)
{
    return (ms_value_t){.type = MS_TYPE_INT64, .i = i};
}

static ms_value_t s_d(double d)
{
    return (ms_value_t){.type = MS_TYPE_DOUBLE, .d = d};
}

static ms_value_t s_s(const char *s)
{
    return (ms_value_t){.type = MS_TYPE_STRING, .len = strlen(s), .s = s};
}

static int s_cmp(ms_value_t a, ms_value_t b)
{
    return ms_value_cmp(&a, &b);
}

Test(cmp, null_sorts_before_everything_and_equals_null)
{
    ms_value_t null = {.type = MS_TYPE_NULL};
    cr_assert_lt(s_cmp(null, s_i(INT64_MIN)), 0);
    cr_assert_gt(s_cmp(s_s(""), null), 0);
    cr_assert_eq(s_cmp(null, null), 0);
}

Test(cmp, integers_compare_numerically)
{
    cr_assert_lt(s_cmp(s_i(-5), s_i(3)), 0);
    cr_assert_gt(s_cmp(s_i(INT64_MAX), s_i(INT64_MIN)), 0);
    cr_assert_eq(s_cmp(s_i(7), s_i(7)), 0);
}

Test(cmp, strings_compare_bytewise_then_shorter_first)
{
    cr_assert_lt(s_cmp(s_s("ab"), s_s("abc")), 0);
    cr_assert_gt(s_cmp(s_s("b"), s_s("abc")), 0);
    cr_assert_lt(s_cmp(s_s(""), s_s("a")), 0);
    cr_assert_gt(s_cmp(s_s("\xff"), s_s("a")), 0);
    cr_assert_eq(s_cmp(s_s("same"), s_s("same")), 0);
}

Test(cmp, nan_is_greatest_and_equals_nan)
{
    cr_assert_gt(s_cmp(s_d(NAN), s_d(INFINITY)), 0);
    cr_assert_lt(s_cmp(s_d(INFINITY), s_d(NAN)), 0);
    cr_assert_eq(s_cmp(s_d(NAN), s_d(NAN)), 0);
    cr_assert_lt(s_cmp(s_d(-1.5), s_d(0.25)), 0);
    cr_assert_eq(s_cmp(s_d(-0.0), s_d(0.0)), 0);
}

Test(cmp, decimals_of_different_scales_compare_by_value)
{
    ms_value_t a = {.type = MS_TYPE_DECIMAL, .scale = 1, .i = 15};
    ms_value_t b = {.type = MS_TYPE_DECIMAL, .scale = 2, .i = 150};
    ms_value_t c = {.type = MS_TYPE_DECIMAL, .scale = 2, .i = 151};
    cr_assert_eq(ms_value_cmp(&a, &b), 0);
    cr_assert_lt(ms_value_cmp(&a, &c), 0);
}

/* ---- formatting ---- */

Test(format, integers_and_null)
{
    cr_assert_str_eq(s_fmt(s_i(-123)), "-123");
    cr_assert_str_eq(s_fmt(s_i(INT64_MIN)), "-9223372036854775808");
    cr_assert_str_eq(s_fmt((ms_value_t){.type = MS_TYPE_NULL}), "null");
}

Test(format, decimals_show_exactly_scale_fraction_digits)
{
    ms_value_t v = {.type = MS_TYPE_DECIMAL, .scale = 2, .i = -5};
    cr_assert_str_eq(s_fmt(v), "-0.05");
    v.i = 1230;
    cr_assert_str_eq(s_fmt(v), "12.30");
    v.i = 0;
    cr_assert_str_eq(s_fmt(v), "0.00");
    v.scale = 0;
    v.i = 42;
    cr_assert_str_eq(s_fmt(v), "42");
    v.scale = 9;
    v.i = INT64_MIN;
    cr_assert_str_eq(s_fmt(v), "-9223372036.854775808");
}

Test(format, timestamps_as_date_and_time)
{
    ms_value_t v = {.type = MS_TYPE_TIMESTAMP, .i = 1741091696};
    cr_assert_str_eq(s_fmt(v), "2025-03-04 12:34:56");
    v.i = -1;
    cr_assert_str_eq(s_fmt(v), "1969-12-31 23:59:59");
}

Test(format, strings_are_raw_bytes_and_truncate_like_snprintf)
{
    ms_value_t v = s_s("hello, \"world\"");
    cr_assert_str_eq(s_fmt(v), "hello, \"world\"");
    char small[6];
    cr_assert_eq(ms_value_format(small, sizeof small, &v), 14);
    cr_assert_str_eq(small, "hello");
    cr_assert_eq(ms_value_format(NULL, 0, &v), 14);
}

Test(format, values_round_trip_through_their_text)
{
    const char *texts[] = {"0.05", "-12.30", "2025-03-04 12:34:56", "123"};
    ms_coltype_t types[] = {{MS_TYPE_DECIMAL, 2},
                            {MS_TYPE_DECIMAL, 2},
                            {MS_TYPE_TIMESTAMP, 0},
                            {MS_TYPE_INT64, 0}};
    const char *want[] = {"0.05", "-12.30", "2025-03-04 12:34:56", "123"};
    for (int i = 0; i < 4; i++) {
        ms_value_t v;
        cr_assert(ms_value_parse(texts[i], strlen(texts[i]), types[i], &v));
        cr_assert_str_eq(s_fmt(v), want[i]);
    }
}

/* ---- doubles as Python's repr ---- */

Test(format_double, positional_with_at_least_one_fraction_digit)
{
    cr_assert_str_eq(s_fmt_double(3.0), "3.0");
    cr_assert_str_eq(s_fmt_double(0.0001), "0.0001");
    cr_assert_str_eq(s_fmt_double(123.456), "123.456");
    cr_assert_str_eq(s_fmt_double(0.1), "0.1");
    cr_assert_str_eq(s_fmt_double(-2.5), "-2.5");
    cr_assert_str_eq(s_fmt_double(1e15), "1000000000000000.0");
    cr_assert_str_eq(s_fmt_double(9007199254740993.0), "9007199254740992.0");
}

Test(format_double, shortest_digits_that_round_trip)
{
    cr_assert_str_eq(s_fmt_double(0.1 + 0.2), "0.30000000000000004");
    cr_assert_str_eq(s_fmt_double(1.0 / 3), "0.3333333333333333");
    cr_assert_str_eq(s_fmt_double(5e-324), "5e-324");
    cr_assert_str_eq(s_fmt_double(1.7976931348623157e308),
                     "1.7976931348623157e+308");
}

Test(format_double, scientific_outside_minus_four_to_sixteen)
{
    cr_assert_str_eq(s_fmt_double(1e16), "1e+16");
    cr_assert_str_eq(s_fmt_double(1.5e-5), "1.5e-05");
    cr_assert_str_eq(s_fmt_double(-2.5e20), "-2.5e+20");
    cr_assert_str_eq(s_fmt_double(1e100), "1e+100");
    cr_assert_str_eq(s_fmt_double(1.2345e-7), "1.2345e-07");
}

Test(format_double, powers_of_two_use_the_wider_interval_above)
{
    /* The nearest 16-digit decimal lies below and does not read back; the
     * one above does, and Python's repr picks it. */
    cr_assert_str_eq(s_fmt_double(ldexp(1.0, -1017)), "7.120236347223045e-307");
    cr_assert_str_eq(s_fmt_double(ldexp(1.0, -1007)), "7.291122019556398e-304");
}

Test(format_double, special_values_and_signed_zero)
{
    cr_assert_str_eq(s_fmt_double(NAN), "NaN");
    cr_assert_str_eq(s_fmt_double(INFINITY), "Infinity");
    cr_assert_str_eq(s_fmt_double(-INFINITY), "-Infinity");
    cr_assert_str_eq(s_fmt_double(0.0), "0.0");
    cr_assert_str_eq(s_fmt_double(-0.0), "-0.0");
}

Test(format_double, text_reads_back_as_the_same_double)
{
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double d;
        memcpy(&d, &x, sizeof d);
        if (isnan(d)) continue;
        const char *text = s_fmt_double(d);
        double back;
        cr_assert(s_dbl(text, &back), "'%s' does not parse", text);
        cr_assert(back == d, "'%s' reads back differently", text);
    }
}

Test(pow10, table_holds_powers_of_ten_up_to_eighteen)
{
    int64_t p = 1;
    for (int i = 0; i <= 18; i++) {
        cr_assert_eq(ms_pow10[i], p);
        if (i < 18) p *= 10;
    }
}

/* ---- 128-bit decimals (results of sum and avg over decimals) ----------- */

static const char *s_fmt_i128(ms_i128_t x, int scale)
{
    static char buf[64];
    int n = ms_format_i128(buf, sizeof buf, x, scale);
    cr_assert_eq(n, (int)strlen(buf));
    return buf;
}

static ms_i128_t s_e(int n)
{
    ms_i128_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

Test(decimal128, formats_every_digit_at_any_scale)
{
    cr_assert_str_eq(s_fmt_i128(0, 0), "0");
    cr_assert_str_eq(s_fmt_i128(0, 3), "0.000");
    cr_assert_str_eq(s_fmt_i128(-5, 2), "-0.05");
    cr_assert_str_eq(s_fmt_i128(123456, 3), "123.456");
    cr_assert_str_eq(s_fmt_i128(s_e(38) - 1, 0),
                     "99999999999999999999999999999999999999");
    cr_assert_str_eq(s_fmt_i128(-(s_e(38) - 1), 2),
                     "-999999999999999999999999999999999999.99");
    cr_assert_str_eq(s_fmt_i128(1, 38),
                     "0.00000000000000000000000000000000000001");
    /* The most negative 128-bit value has no positive counterpart. */
    ms_i128_t min = (ms_i128_t)((unsigned __int128)1 << 127);
    cr_assert_str_eq(s_fmt_i128(min, 0),
                     "-170141183460469231731687303715884105728");
}

Test(decimal128, set_keeps_what_fits_64_bits_inline)
{
    uint8_t buf[16];
    ms_value_t v;
    ms_value_set_decimal(&v, INT64_MAX, 2, buf);
    cr_assert_eq(v.len, 0);
    cr_assert_eq(v.i, INT64_MAX);
    ms_value_set_decimal(&v, (ms_i128_t)INT64_MIN - 1, 2, buf);
    cr_assert_eq(v.len, MS_VALUE_WIDE);
    cr_assert_eq((const uint8_t *)v.s, buf);
    cr_assert(ms_value_i128(&v) == (ms_i128_t)INT64_MIN - 1);
    char text[64];
    ms_value_format(text, sizeof text, &v);
    cr_assert_str_eq(text, "-92233720368547758.09");
}

Test(decimal128, bytes_are_big_endian_twos_complement)
{
    uint8_t b[16];
    ms_i128_store(b, -2);
    for (int i = 0; i < 15; i++)
        cr_assert_eq(b[i], 0xff);
    cr_assert_eq(b[15], 0xfe);
    ms_i128_store(b, (ms_i128_t)1 << 64);
    cr_assert_eq(b[7], 1);
    cr_assert(ms_i128_load(b) == (ms_i128_t)1 << 64);
}

Test(decimal128, wide_and_inline_values_compare_exactly)
{
    uint8_t b1[16], b2[16], b3[16];
    ms_value_t big, bigger, small, neg;
    ms_value_set_decimal(&big, (ms_i128_t)1 << 80, 2, b1);
    ms_value_set_decimal(&bigger, ((ms_i128_t)1 << 80) + 1, 2, b2);
    ms_value_set_decimal(&neg, -((ms_i128_t)1 << 80), 2, b3);
    ms_value_set_decimal(&small, INT64_MAX, 2, NULL);
    cr_assert_lt(ms_value_cmp(&big, &bigger), 0);
    cr_assert_gt(ms_value_cmp(&bigger, &big), 0);
    cr_assert_eq(ms_value_cmp(&big, &big), 0);
    cr_assert_gt(ms_value_cmp(&big, &small), 0);
    cr_assert_lt(ms_value_cmp(&neg, &small), 0);
    cr_assert_lt(ms_value_cmp(&small, &big), 0);
}

Test(decimal128, digit_limits)
{
    cr_assert(ms_i128_fits_digits(s_e(38) - 1, 38));
    cr_assert(!ms_i128_fits_digits(s_e(38), 38));
    cr_assert(!ms_i128_fits_digits(-s_e(38), 38));
    cr_assert(ms_i128_fits_digits(-(s_e(18) - 1), 18));
    cr_assert(!ms_i128_fits_digits(s_e(18), 18));
}
