/* Typed values: strict parsers for one CSV field per column type, the total
 * order used by aggregates and sorting, and output formatting that matches
 * the Python reference (repr of floats). Not a general number library: the
 * accepted syntax is deliberately narrow so that every engine agrees. */
#include "common/value.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const int64_t ms_pow10[19] = {
    1LL,
    10LL,
    100LL,
    1000LL,
    10000LL,
    100000LL,
    1000000LL,
    10000000LL,
    100000000LL,
    1000000000LL,
    10000000000LL,
    100000000000LL,
    1000000000000LL,
    10000000000000LL,
    100000000000000LL,
    1000000000000000LL,
    10000000000000000LL,
    100000000000000000LL,
    1000000000000000000LL,
};

/* Decimals keep at most this many significant digits (Spark's long-backed
 * DecimalType precision), which leaves sums headroom in an int64. */
#define S_DECIMAL_MAX_DIGITS 18

static const char *const s_type_names[] = {
    [MS_TYPE_NULL] = "null",           [MS_TYPE_INT64] = "int64",
    [MS_TYPE_DECIMAL] = "decimal",     [MS_TYPE_DOUBLE] = "double",
    [MS_TYPE_TIMESTAMP] = "timestamp", [MS_TYPE_STRING] = "string",
};

const char *ms_type_name(ms_type_t type)
{
    if ((unsigned)type >= sizeof s_type_names / sizeof s_type_names[0])
        return "unknown";
    return s_type_names[type];
}

static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- int64 ------------------------------------------------------------ */

bool ms_parse_int64(const char *p, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (p[0] == '+' || p[0] == '-')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == len) return false;
    /* Accumulate the magnitude unsigned so that INT64_MIN is reachable. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (!s_is_digit(p[i])) return false;
        unsigned digit = (unsigned)(p[i] - '0');
        if (v > (limit - digit) / 10) return false;
        v = v * 10 + digit;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* ---- decimal ---------------------------------------------------------- */

/* The shape of a decimal literal `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)`:
 * where its integer and fraction digits are, and how many integer digits
 * are significant (leading zeros are not). Shared with ms_parse_decimal so
 * that schema inference can decide a column's scale without storing values. */
typedef struct {
    bool neg;
    const char *int_p;
    size_t int_len;
    size_t int_sig; /* integer digits without leading zeros */
    const char *frac_p;
    size_t frac_len;
} s_decimal_shape_t;

static size_t s_span_digits(const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && s_is_digit(p[n]))
        n++;
    return n;
}

static bool s_decimal_shape(const char *p, size_t len, s_decimal_shape_t *s)
{
    size_t i = 0;
    s->neg = false;
    if (len > 0 && (p[0] == '+' || p[0] == '-')) {
        s->neg = p[0] == '-';
        i = 1;
    }
    s->int_p = p + i;
    s->int_len = s_span_digits(p + i, len - i);
    i += s->int_len;
    s->frac_p = p + i;
    s->frac_len = 0;
    if (i < len && p[i] == '.') {
        i++;
        s->frac_p = p + i;
        s->frac_len = s_span_digits(p + i, len - i);
        i += s->frac_len;
    }
    if (i != len || s->int_len + s->frac_len == 0) return false;
    size_t lead = 0;
    while (lead < s->int_len && s->int_p[lead] == '0')
        lead++;
    s->int_sig = s->int_len - lead;
    return true;
}

/* Whether a literal of this shape fits at scale: no more fraction digits
 * than scale and at most 18 significant digits once scaled. */
static bool s_decimal_fits(const s_decimal_shape_t *s, int scale)
{
    if (scale < 0 || scale > S_DECIMAL_MAX_DIGITS) return false;
    if (s->frac_len > (size_t)scale) return false;
    return s->int_sig + (size_t)scale <= S_DECIMAL_MAX_DIGITS;
}

bool ms_parse_decimal(const char *p, size_t len, int scale, int64_t *out)
{
    s_decimal_shape_t s;
    if (!s_decimal_shape(p, len, &s) || !s_decimal_fits(&s, scale))
        return false;
    /* At most 18 significant digits: no overflow is possible below. */
    int64_t v = 0;
    for (size_t i = s.int_len - s.int_sig; i < s.int_len; i++)
        v = v * 10 + (s.int_p[i] - '0');
    for (size_t i = 0; i < s.frac_len; i++)
        v = v * 10 + (s.frac_p[i] - '0');
    v *= ms_pow10[scale - (int)s.frac_len];
    *out = s.neg ? -v : v;
    return true;
}

/* ---- double ----------------------------------------------------------- */

static bool s_text_is(const char *p, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(p, word, len) == 0;
}

/* `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`; validated here
 * because strtod also takes hex, "inf", "nan(...)" and leading blanks. */
static bool s_double_syntax(const char *p, size_t len)
{
    size_t mant = len;
    for (size_t i = 0; i < len; i++) {
        if (p[i] == 'e' || p[i] == 'E') {
            mant = i;
            break;
        }
    }
    s_decimal_shape_t s;
    if (!s_decimal_shape(p, mant, &s)) return false;
    if (mant == len) return true;
    size_t i = mant + 1;
    if (i < len && (p[i] == '+' || p[i] == '-')) i++;
    return i < len && s_span_digits(p + i, len - i) == len - i;
}

bool ms_parse_double(const char *p, size_t len, double *out)
{
    if (s_text_is(p, len, "NaN")) {
        *out = NAN;
        return true;
    }
    if (s_text_is(p, len, "Infinity") || s_text_is(p, len, "+Infinity")) {
        *out = INFINITY;
        return true;
    }
    if (s_text_is(p, len, "-Infinity")) {
        *out = -INFINITY;
        return true;
    }
    if (!s_double_syntax(p, len)) return false;
    /* Fields are not NUL-terminated; strtod needs a terminated copy. Long
     * literals are legal (and rare), so they get a heap copy. */
    char small[128];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, p, len);
    copy[len] = '\0';
    /* Out-of-range literals become +-inf or +-0, like Java and Python. */
    *out = strtod(copy, NULL);
    if (copy != small) free(copy);
    return true;
}

/* ---- timestamp -------------------------------------------------------- */

int64_t ms_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's days_from_civil: years start in March so that the
     * leap day is the last day of the year. */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400; /* [0, 399] */
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void ms_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Exactly n digits at p; no sign, no blanks. */
static bool s_fixed_digits(const char *p, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (!s_is_digit(p[i])) return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned s_days_in_month(unsigned y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static bool s_parse_date(const char *p, int64_t *days)
{
    unsigned y, m, d;
    if (!s_fixed_digits(p, 4, &y) || p[4] != '-' ||
        !s_fixed_digits(p + 5, 2, &m) || p[7] != '-' ||
        !s_fixed_digits(p + 8, 2, &d))
        return false;
    /* Year 0 does not exist for Python's datetime, the reference. */
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > s_days_in_month(y, m))
        return false;
    *days = ms_days_from_civil(y, m, d);
    return true;
}

static bool s_parse_time(const char *p, int64_t *secs)
{
    unsigned h, mi, s;
    if (!s_fixed_digits(p, 2, &h) || p[2] != ':' ||
        !s_fixed_digits(p + 3, 2, &mi) || p[5] != ':' ||
        !s_fixed_digits(p + 6, 2, &s))
        return false;
    if (h > 23 || mi > 59 || s > 59) return false;
    *secs = h * 3600 + mi * 60 + s;
    return true;
}

bool ms_parse_timestamp(const char *p, size_t len, int64_t *out)
{
    int64_t days, secs = 0;
    if (len != 10 && len != 19) return false;
    if (!s_parse_date(p, &days)) return false;
    if (len == 19 && (p[10] != ' ' || !s_parse_time(p + 11, &secs)))
        return false;
    *out = days * 86400 + secs;
    return true;
}

/* ---- typed values ----------------------------------------------------- */

bool ms_value_parse(const char *p, size_t len, ms_coltype_t t, ms_value_t *out)
{
    memset(out, 0, sizeof *out);
    bool ok = true;
    switch (t.type) {
    case MS_TYPE_INT64:
        ok = ms_parse_int64(p, len, &out->i);
        break;
    case MS_TYPE_DECIMAL:
        ok = ms_parse_decimal(p, len, t.scale, &out->i);
        out->scale = (uint8_t)t.scale;
        break;
    case MS_TYPE_DOUBLE:
        ok = ms_parse_double(p, len, &out->d);
        break;
    case MS_TYPE_TIMESTAMP:
        ok = ms_parse_timestamp(p, len, &out->i);
        break;
    case MS_TYPE_STRING:
        if (len > UINT32_MAX) return false;
        out->s = p;
        out->len = (uint32_t)len;
        break;
    default:
        /* An unknown column type: the value is NULL, which is not an error. */
        return true;
    }
    out->type = ok ? (uint8_t)t.type : MS_TYPE_NULL;
    return ok;
}

static int s_cmp_i64(int64_t a, int64_t b)
{
    return (a > b) - (a < b);
}

/* 10^n for n in [0, 38]. */
static ms_i128_t s_pow10_i128(int n)
{
    ms_i128_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* x * 10^n, or false when that leaves 128 bits. */
static bool s_scale_up(ms_i128_t x, int n, ms_i128_t *out)
{
    if (n < 0 || n > MS_DECIMAL_RESULT_DIGITS) return false;
    return !__builtin_mul_overflow(x, s_pow10_i128(n), out);
}

/* Decimals of one column share a scale; differing scales are compared
 * exactly all the same. A value too large to bring to the other's scale is
 * beyond it by magnitude, so its sign decides. */
static int s_cmp_decimal(const ms_value_t *a, const ms_value_t *b)
{
    if (a->scale == b->scale && a->len != MS_VALUE_WIDE &&
        b->len != MS_VALUE_WIDE)
        return s_cmp_i64(a->i, b->i);
    ms_i128_t x = ms_value_i128(a), y = ms_value_i128(b);
    if (a->scale < b->scale && !s_scale_up(x, b->scale - a->scale, &x))
        return x < 0 ? -1 : 1;
    if (b->scale < a->scale && !s_scale_up(y, a->scale - b->scale, &y))
        return y < 0 ? 1 : -1;
    return (x > y) - (x < y);
}

/* Spark's order for doubles: NaN equals NaN and sorts above everything. */
static int s_cmp_double(double a, double b)
{
    bool an = isnan(a), bn = isnan(b);
    if (an || bn) return an - bn;
    return (a > b) - (a < b);
}

static int s_cmp_string(const ms_value_t *a, const ms_value_t *b)
{
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return (a->len > b->len) - (a->len < b->len);
}

int ms_value_cmp(const ms_value_t *a, const ms_value_t *b)
{
    if (a->type != b->type) return (a->type > b->type) - (a->type < b->type);
    switch (a->type) {
    case MS_TYPE_INT64:
    case MS_TYPE_TIMESTAMP:
        return s_cmp_i64(a->i, b->i);
    case MS_TYPE_DECIMAL:
        return s_cmp_decimal(a, b);
    case MS_TYPE_DOUBLE:
        return s_cmp_double(a->d, b->d);
    case MS_TYPE_STRING:
        return s_cmp_string(a, b);
    default:
        return 0; /* NULL equals NULL */
    }
}

/* ---- formatting ------------------------------------------------------- */

void ms_i128_store(uint8_t p[16], ms_i128_t x)
{
    unsigned __int128 u = (unsigned __int128)x;
    for (int i = 15; i >= 0; i--, u >>= 8)
        p[i] = (uint8_t)u;
}

ms_i128_t ms_i128_load(const uint8_t p[16])
{
    unsigned __int128 u = 0;
    for (int i = 0; i < 16; i++)
        u = u << 8 | p[i];
    return (ms_i128_t)u;
}

ms_i128_t ms_value_i128(const ms_value_t *v)
{
    if (v->len == MS_VALUE_WIDE && v->type == MS_TYPE_DECIMAL)
        return ms_i128_load((const uint8_t *)v->s);
    return v->i;
}

void ms_value_set_decimal(ms_value_t *v, ms_i128_t x, int scale,
                          uint8_t buf[16])
{
    memset(v, 0, sizeof *v);
    v->type = MS_TYPE_DECIMAL;
    v->scale = (uint8_t)scale;
    if (x >= INT64_MIN && x <= INT64_MAX) {
        v->i = (int64_t)x;
        return;
    }
    ms_i128_store(buf, x);
    v->len = MS_VALUE_WIDE;
    v->s = (const char *)buf;
}

bool ms_i128_fits_digits(ms_i128_t x, int digits)
{
    if (digits < 0 || digits > MS_DECIMAL_RESULT_DIGITS) return false;
    /* Most results fit 64 bits, and 2^63 < 10^19: no power to compute. */
    if (digits >= 19 && x >= INT64_MIN && x <= INT64_MAX) return true;
    ms_i128_t lim = s_pow10_i128(digits);
    return x < lim && x > -lim;
}

int ms_format_i128(char *buf, size_t size, ms_i128_t x, int scale)
{
    /* Digits least significant first; 10^38 < 2^127, so 40 are enough
     * with the zeros a small value needs before its point. */
    char digits[48];
    unsigned __int128 mag =
        x < 0 ? -(unsigned __int128)x : (unsigned __int128)x;
    int n = 0;
    if (scale < 0 || scale > MS_DECIMAL_RESULT_DIGITS) scale = 0;
    do {
        digits[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag > 0 || n <= scale);
    char text[64];
    int t = 0;
    if (x < 0) text[t++] = '-';
    while (n > 0) {
        if (n == scale) text[t++] = '.';
        text[t++] = digits[--n];
    }
    text[t] = '\0';
    return snprintf(buf, size, "%s", text);
}

static int s_format_timestamp(char *buf, size_t size, int64_t t)
{
    /* Floor division, so that times before 1970 land on the right day. */
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    ms_civil_from_days(days, &y, &m, &d);
    return snprintf(buf, size, "%04" PRId64 "-%02u-%02u %02d:%02d:%02d", y, m,
                    d, (int)(secs / 3600), (int)(secs / 60 % 60),
                    (int)(secs % 60));
}

static int s_format_string(char *buf, size_t size, const ms_value_t *v)
{
    if (size > 0) {
        size_t n = v->len < size - 1 ? v->len : size - 1;
        if (n) memcpy(buf, v->s, n);
        buf[n] = '\0';
    }
    return (int)v->len;
}

int ms_value_format(char *buf, size_t size, const ms_value_t *v)
{
    switch (v->type) {
    case MS_TYPE_INT64:
        return snprintf(buf, size, "%" PRId64, v->i);
    case MS_TYPE_DECIMAL:
        return ms_format_i128(buf, size, ms_value_i128(v), v->scale);
    case MS_TYPE_DOUBLE:
        return ms_format_double(buf, size, v->d);
    case MS_TYPE_TIMESTAMP:
        return s_format_timestamp(buf, size, v->i);
    case MS_TYPE_STRING:
        return s_format_string(buf, size, v);
    default:
        return snprintf(buf, size, "null");
    }
}

/* "d.ddde+xx" as printed by "%e": the digits, and the exponent returned. */
static int s_split_digits(const char *text, char *digits)
{
    size_t n = 0;
    for (; *text != 'e'; text++)
        if (*text != '.') digits[n++] = *text;
    digits[n] = '\0';
    return atoi(text + 1);
}

static bool s_round_trips(const char *digits, int exp, double d)
{
    char text[48];
    snprintf(text, sizeof text, "%c.%se%d", digits[0], digits + 1, exp);
    return strtod(text, NULL) == d;
}

/* Adds one unit in the last digit, carrying into the exponent on 9s. */
static void s_digits_up(char *digits, int *exp)
{
    size_t i = strlen(digits);
    while (i > 0 && digits[i - 1] == '9')
        digits[--i] = '0';
    if (i > 0) {
        digits[i - 1]++;
        return;
    }
    digits[0] = '1';
    (*exp)++;
}

/* Shortest significant digits of d > 0 that read back as d, as Python's
 * repr (David Gay's dtoa) finds them: the correctly rounded "%.*e" at 1, 2,
 * ... 17 digits, the first that round-trips. A power of two has a rounding
 * interval twice as wide above as below, so there the next decimal up may
 * round-trip when the nearest one, just below, does not. Writes the digits
 * without trailing zeros and returns the exponent of the first one. */
static int s_shortest_digits(double d, char *digits)
{
    char text[40];
    int e2, exp = 0;
    bool pow2 = frexp(d, &e2) == 0.5;
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(text, sizeof text, "%.*e", prec - 1, d);
        exp = s_split_digits(text, digits);
        if (s_round_trips(digits, exp, d)) break;
        if (!pow2) continue;
        s_digits_up(digits, &exp);
        if (s_round_trips(digits, exp, d)) break;
    }
    size_t n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    return exp;
}

/* Python's repr layout: positional for exponents in [-4, 16) with at least
 * one digit each side of the point, else "d[.ddd]e+XX". */
static void s_layout_double(char *out, bool neg, const char *digits, int exp)
{
    int n = (int)strlen(digits);
    char *o = out;
    if (neg) *o++ = '-';
    if (exp < -4 || exp >= 16) {
        *o++ = digits[0];
        if (n > 1) o += sprintf(o, ".%s", digits + 1);
        sprintf(o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return;
    }
    /* Digit i has weight 10^(exp - i); print weights hi down to lo. */
    int hi = exp > 0 ? exp : 0;
    int lo = exp - n + 1 < -1 ? exp - n + 1 : -1;
    for (int k = hi; k >= lo; k--) {
        int i = exp - k;
        *o++ = i >= 0 && i < n ? digits[i] : '0';
        if (k == 0) *o++ = '.';
    }
    *o = '\0';
}

int ms_format_double(char *buf, size_t size, double d)
{
    if (isnan(d)) return snprintf(buf, size, "NaN");
    if (isinf(d)) return snprintf(buf, size, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0) return snprintf(buf, size, signbit(d) ? "-0.0" : "0.0");
    char digits[24], text[48];
    int exp = s_shortest_digits(fabs(d), digits);
    s_layout_double(text, d < 0, digits, exp);
    return snprintf(buf, size, "%s", text);
}
