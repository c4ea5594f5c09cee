/* Spark-style configuration: an insertion-ordered list of string pairs, the
 * spark-defaults.conf reader, and the typed getters with Spark's value
 * syntax. It knows no key's meaning or default: callers pass those. */
#include "common/conf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_TEST_PREFIX "minispark.test."

typedef struct {
    char *key;
    char *value;
} s_entry_t;

struct ms_conf {
    int count;
    int cap;
    s_entry_t *entries;
};

/* Multiplier of a unit suffix; a divisor > 1 scales down ("us" to ms). */
typedef struct {
    const char *suffix;
    int64_t mul;
    int64_t div;
} s_unit_t;

static const s_unit_t s_time_units[] = {
    {"us", 1, 1000},   {"ms", 1, 1},      {"s", 1000, 1},     {"m", 60000, 1},
    {"min", 60000, 1}, {"h", 3600000, 1}, {"d", 86400000, 1},
};

static const s_unit_t s_size_units[] = {
    {"b", 1, 1},
    {"k", INT64_C(1) << 10, 1},
    {"kb", INT64_C(1) << 10, 1},
    {"m", INT64_C(1) << 20, 1},
    {"mb", INT64_C(1) << 20, 1},
    {"g", INT64_C(1) << 30, 1},
    {"gb", INT64_C(1) << 30, 1},
    {"t", INT64_C(1) << 40, 1},
    {"tb", INT64_C(1) << 40, 1},
    {"p", INT64_C(1) << 50, 1},
    {"pb", INT64_C(1) << 50, 1},
};

#define S_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

ms_conf_t *ms_conf_new(void)
{
    return calloc(1, sizeof(ms_conf_t));
}

void ms_conf_destroy(ms_conf_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_conf_t *self = *self_p;
    for (int i = 0; i < self->count; i++) {
        free(self->entries[i].key);
        free(self->entries[i].value);
    }
    free(self->entries);
    free(self);
    *self_p = NULL;
}

static s_entry_t *s_find(const ms_conf_t *self, const char *key)
{
    for (int i = 0; self && i < self->count; i++)
        if (strcmp(self->entries[i].key, key) == 0) return &self->entries[i];
    return NULL;
}

static bool s_testing(void)
{
    const char *env = getenv("MINISPARK_TESTING");
    return env && strcmp(env, "1") == 0;
}

static int s_append(ms_conf_t *self, char *key, char *value)
{
    if (self->count == self->cap) {
        int cap = self->cap ? self->cap * 2 : 16;
        s_entry_t *grown = realloc(self->entries, cap * sizeof *grown);
        if (!grown) return MS_ERR_NOMEM;
        self->entries = grown;
        self->cap = cap;
    }
    self->entries[self->count++] = (s_entry_t){key, value};
    return 0;
}

int ms_conf_set(ms_conf_t *self, const char *key, const char *value,
                ms_error_t *err)
{
    if (!key || !*key)
        return ms_error_set(err, MS_ERR_USAGE, "empty configuration key");
    if (!value)
        return ms_error_set(err, MS_ERR_USAGE, "%s: missing value", key);
    /* minispark.test.* keys inject faults: never honour them by accident. */
    if (strncmp(key, S_TEST_PREFIX, strlen(S_TEST_PREFIX)) == 0 && !s_testing())
        return ms_error_set(err, MS_ERR_USAGE,
                            "%s: test hooks are only accepted when "
                            "MINISPARK_TESTING=1",
                            key);
    char *copy = strdup(value);
    if (!copy) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    s_entry_t *old = s_find(self, key);
    if (old) {
        free(old->value);
        old->value = copy;
        return 0;
    }
    char *kcopy = strdup(key);
    if (!kcopy || s_append(self, kcopy, copy) != 0) {
        free(kcopy);
        free(copy);
        return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

int ms_conf_set_pair(ms_conf_t *self, const char *pair, ms_error_t *err)
{
    const char *eq = pair ? strchr(pair, '=') : NULL;
    if (!eq)
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid --conf '%s': expected KEY=VALUE",
                            pair ? pair : "");
    char *key = strndup(pair, (size_t)(eq - pair));
    if (!key) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    int rc = ms_conf_set(self, key, eq + 1, err);
    free(key);
    return rc;
}

/* Trims blanks at both ends in place; returns the first non-blank. */
static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* One line of spark-defaults.conf, already trimmed and not a comment. As
 * in Java properties the key ends at the first blank or '=', and blanks
 * around a '=' separator belong to neither side. */
static int s_load_line(ms_conf_t *self, char *line, ms_error_t *err)
{
    size_t klen = strcspn(line, " \t\f\v\r=");
    char *rest = line + klen;
    if (*rest == '\0')
        return ms_error_set(err, MS_ERR_USAGE,
                            "expected 'key value' or 'key=value', got '%s'",
                            line);
    bool has_eq = *rest == '=';
    *rest++ = '\0';
    rest = s_trim(rest);
    if (!has_eq && *rest == '=') rest = s_trim(rest + 1);
    if (klen == 0) return ms_error_set(err, MS_ERR_USAGE, "line has no key");
    return ms_conf_set(self, line, rest, err);
}

static int s_load_stream(ms_conf_t *self, FILE *f, const char *path,
                         ms_error_t *err)
{
    char *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (long lineno = 1; rc == 0 && getline(&buf, &cap, f) >= 0; lineno++) {
        char *line = s_trim(buf);
        if (*line == '\0' || *line == '#') continue;
        rc = s_load_line(self, line, err);
        if (rc && err) ms_error_prefix(err, "%s:%ld", path, lineno);
    }
    if (rc == 0 && ferror(f))
        rc = ms_error_set(err, MS_ERR_IO, "cannot read %s: %s", path,
                          strerror(errno));
    free(buf);
    return rc;
}

int ms_conf_load_file(ms_conf_t *self, const char *path, ms_error_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f && errno == ENOENT) return 0;
    if (!f)
        return ms_error_set(err, MS_ERR_IO, "cannot open %s: %s", path,
                            strerror(errno));
    int rc = s_load_stream(self, f, path, err);
    fclose(f);
    return rc;
}

const char *ms_conf_get(const ms_conf_t *self, const char *key)
{
    const s_entry_t *e = s_find(self, key);
    return e ? e->value : NULL;
}

bool ms_conf_entry(const ms_conf_t *self, int i, const char **key,
                   const char **value)
{
    if (!self || i < 0 || i >= self->count) return false;
    if (key) *key = self->entries[i].key;
    if (value) *value = self->entries[i].value;
    return true;
}

/* ---- value syntax -------------------------------------------------------- */

/* Spark trims a value before parsing it; so do we, without copying. */
static void s_span(const char *text, const char **start, size_t *len)
{
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    *start = text;
    *len = n;
}

static bool s_span_is(const char *p, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(p, word, len) == 0;
}

static bool s_is_infinity(const char *p, size_t len)
{
    return s_span_is(p, len, "infinity") || s_span_is(p, len, "inf");
}

/* Reads [sign] digits from p[0..len) with overflow checks; *used is the
 * number of bytes consumed. */
static bool s_digits(const char *p, size_t len, bool allow_sign, int64_t *out,
                     size_t *used)
{
    size_t i = 0;
    bool neg = false;
    if (allow_sign && i < len && (p[i] == '-' || p[i] == '+'))
        neg = p[i++] == '-';
    size_t first = i;
    int64_t v = 0;
    for (; i < len && isdigit((unsigned char)p[i]); i++) {
        int d = p[i] - '0';
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, neg ? -d : d, &v))
            return false;
    }
    if (i == first) return false;
    *out = v;
    *used = i;
    return true;
}

/* "<digits><unit>" with a unit from the table, or bare digits in `bare`
 * units. No sign is accepted: a negative duration or size is never valid,
 * and Spark's "-0" is not worth a special case. */
static bool s_parse_units(const char *text, const s_unit_t *units, int n,
                          int64_t bare, int64_t *out)
{
    const char *p;
    size_t len, used;
    int64_t v;
    s_span(text, &p, &len);
    if (!s_digits(p, len, false, &v, &used)) return false;
    if (used == len) return bare > 0 && !__builtin_mul_overflow(v, bare, out);
    for (int i = 0; i < n; i++) {
        if (!s_span_is(p + used, len - used, units[i].suffix)) continue;
        if (__builtin_mul_overflow(v, units[i].mul, &v)) return false;
        *out = v / units[i].div;
        return true;
    }
    return false;
}

bool ms_parse_duration_ms(const char *text, int64_t unit_ms, int64_t *out)
{
    const char *p;
    size_t len;
    s_span(text, &p, &len);
    if (s_is_infinity(p, len)) {
        *out = MS_CONF_INFINITE;
        return true;
    }
    return s_parse_units(text, s_time_units, S_COUNT(s_time_units), unit_ms,
                         out);
}

bool ms_parse_size(const char *text, int64_t unit, int64_t *out)
{
    return s_parse_units(text, s_size_units, S_COUNT(s_size_units), unit, out);
}

/* ---- typed getters ------------------------------------------------------- */

static int s_invalid(ms_error_t *err, const char *key, const char *value,
                     const char *expected)
{
    return ms_error_set(err, MS_ERR_USAGE,
                        "invalid value '%s' for %s: expected %s", value, key,
                        expected);
}

int ms_conf_bool(const ms_conf_t *self, const char *key, bool def, bool *out,
                 ms_error_t *err)
{
    const char *v = ms_conf_get(self, key), *p;
    size_t len;
    if (!v) {
        *out = def;
        return 0;
    }
    s_span(v, &p, &len);
    if (s_span_is(p, len, "true") || s_span_is(p, len, "false")) {
        *out = s_span_is(p, len, "true");
        return 0;
    }
    return s_invalid(err, key, v, "true or false");
}

static bool s_parse_int(const char *text, int64_t max, int64_t *out)
{
    const char *p;
    size_t len, used;
    s_span(text, &p, &len);
    if (max == MS_CONF_INFINITE && s_is_infinity(p, len)) {
        *out = MS_CONF_INFINITE;
        return true;
    }
    return s_digits(p, len, true, out, &used) && used == len;
}

int ms_conf_int(const ms_conf_t *self, const char *key, int64_t def,
                int64_t min, int64_t max, int64_t *out, ms_error_t *err)
{
    const char *v = ms_conf_get(self, key);
    int64_t n;
    if (!v) {
        *out = def;
        return 0;
    }
    if (s_parse_int(v, max, &n) && n >= min && n <= max) {
        *out = n;
        return 0;
    }
    char expected[96];
    if (max == MS_CONF_INFINITE)
        snprintf(expected, sizeof expected,
                 "an integer of at least %lld, or infinity", (long long)min);
    else
        snprintf(expected, sizeof expected, "an integer between %lld and %lld",
                 (long long)min, (long long)max);
    return s_invalid(err, key, v, expected);
}

int ms_conf_double(const ms_conf_t *self, const char *key, double def,
                   double *out, ms_error_t *err)
{
    const char *v = ms_conf_get(self, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    double d = strtod(v, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == v || *end != '\0' || !isfinite(d))
        return s_invalid(err, key, v, "a number such as 0.5 or 2");
    *out = d;
    return 0;
}

int ms_conf_duration_ms(const ms_conf_t *self, const char *key, int64_t unit_ms,
                        int64_t def, int64_t *out, ms_error_t *err)
{
    const char *v = ms_conf_get(self, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (ms_parse_duration_ms(v, unit_ms, out)) return 0;
    return s_invalid(err, key, v, "a duration such as 500ms, 5s, 2min");
}

int ms_conf_timeout_ms(const ms_conf_t *self, const char *key, int64_t unit_ms,
                       int64_t def, int64_t *out, ms_error_t *err)
{
    const char *v = ms_conf_get(self, key);
    int rc = ms_conf_duration_ms(self, key, unit_ms, def, out, err);
    if (rc < 0) return rc;
    if (*out < 1)
        return s_invalid(err, key, v ? v : "(default)",
                         "a timeout of at least 1ms");
    if (*out >= MS_CONF_TIMEOUT_LIMIT_MS) *out = MS_CONF_INFINITE;
    return 0;
}

int ms_conf_size(const ms_conf_t *self, const char *key, int64_t unit,
                 int64_t def, int64_t *out, ms_error_t *err)
{
    const char *v = ms_conf_get(self, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (ms_parse_size(v, unit, out)) return 0;
    return s_invalid(err, key, v, "a size such as 64k, 128m, 1g");
}

int ms_conf_local_dir(const ms_conf_t *self, const char **out, ms_error_t *err)
{
    const char *dir = ms_conf_get(self, "spark.local.dir");
    if (dir && !*dir)
        return ms_error_set(err, MS_ERR_USAGE,
                            "invalid value '' for spark.local.dir: expected "
                            "a folder");
    *out = dir ? dir : "/tmp";
    return 0;
}
