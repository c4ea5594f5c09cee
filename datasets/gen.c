/* Synthetic events generator behind `minispark gen`. Every byte of output is
 * decided by integer arithmetic on our own PRNG (xoshiro256**, seeded by
 * splitmix64), never by rand() or floating point, so a seed names one file
 * on every machine. Rows are formatted by hand into a large buffer because
 * the benchmarks ask for tens of millions of them. */
#include "datasets/gen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DEFAULT_SEED 42
#define S_MAX_ROWS 1000000000000LL /* event_id stays well inside 20 digits */
#define S_BUF_SIZE (4u << 20)
#define S_ROW_MAX 96 /* longest row is ~55 bytes; flush before this is left */
#define S_YEAR_DAYS 365
#define S_DAY_SECS 86400
#define S_MIN_CENTS 50
#define S_MAX_CENTS 99999

/* Zipf-like weights floor(1e6 / (rank + 1)^1.1), computed once offline and
 * written down so that no floating point decides the output. */
static const char s_countries[][3] = {
    "US", "IN", "BR", "DE", "GB", "FR", "JP", "CN", "ID", "MX",
    "CA", "NG", "RU", "KR", "IT", "ES", "TR", "PH", "VN", "PL",
    "AR", "EG", "ZA", "NL", "AU", "SE", "CH", "BE", "PK", "TH",
};
static const uint32_t s_country_weights[] = {
    1000000, 466516, 298652, 217637, 170267, 139326, 117595, 101531,
    89193,   79432,  71526,  64998,  59519,  54860,  50851,  47366,
    44310,   41610,  39207,  37056,  35120,  33368,  31776,  30322,
    28991,   27767,  26637,  25593,  24624,  23722,
};
#define S_NCOUNTRIES (sizeof s_countries / sizeof s_countries[0])

static const struct {
    const char *name;
    uint32_t len;
    uint32_t weight; /* per mille */
} s_devices[] = {
    {"mobile", 6, 550}, {"desktop", 7, 280}, {"tablet", 6, 100},
    {"tv", 2, 45},      {"console", 7, 25},
};
#define S_NDEVICES (sizeof s_devices / sizeof s_devices[0])

/* Cumulative weights (upper bounds) and the "2025-MM-DD " prefix of every
 * day of the year, filled once per run. */
typedef struct {
    uint32_t country_cum[S_NCOUNTRIES];
    uint32_t device_cum[S_NDEVICES];
    char day_prefix[S_YEAR_DAYS][11];
    char two_digits[100][2];
} s_tables_t;

typedef struct {
    uint64_t s[4];
} s_rng_t;

static uint64_t s_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void s_rng_seed(s_rng_t *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = s_splitmix64(&seed);
}

static inline uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t s_rng_next(s_rng_t *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) for n < 2^32 by Lemire's multiply-shift on the top 32
 * bits: no division, no float, a bias far below anything a test can see. */
static inline uint32_t s_rng_below(s_rng_t *rng, uint32_t n)
{
    uint64_t hi = s_rng_next(rng) >> 32;
    return (uint32_t)((hi * n) >> 32);
}

static uint32_t s_pick(const uint32_t *cum, uint32_t n, uint32_t r)
{
    /* A linear scan: the weights are skewed, so it usually stops early. */
    uint32_t i = 0;
    while (i + 1 < n && r >= cum[i])
        i++;
    return i;
}

static void s_tables_init(s_tables_t *t)
{
    static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
    uint32_t acc = 0;
    for (size_t i = 0; i < S_NCOUNTRIES; i++)
        t->country_cum[i] = acc += s_country_weights[i];
    acc = 0;
    for (size_t i = 0; i < S_NDEVICES; i++)
        t->device_cum[i] = acc += s_devices[i].weight;
    for (int i = 0; i < 100; i++) {
        t->two_digits[i][0] = (char)('0' + i / 10);
        t->two_digits[i][1] = (char)('0' + i % 10);
    }
    int day = 0;
    for (int m = 0; m < 12; m++) {
        for (int d = 1; d <= mdays[m]; d++, day++) {
            char *p = t->day_prefix[day];
            memcpy(p, "2025-", 5);
            memcpy(p + 5, t->two_digits[m + 1], 2);
            p[7] = '-';
            memcpy(p + 8, t->two_digits[d], 2);
            p[10] = ' ';
        }
    }
}

/* event_id as a decimal string incremented in place: cheaper than
 * formatting a fresh integer for every row. */
typedef struct {
    char digits[24];
    int len;
} s_counter_t;

static void s_counter_inc(s_counter_t *c)
{
    int i = c->len - 1;
    while (i >= 0 && c->digits[i] == '9')
        c->digits[i--] = '0';
    if (i >= 0) {
        c->digits[i]++;
        return;
    }
    memmove(c->digits + 1, c->digits, (size_t)c->len);
    c->digits[0] = '1';
    c->len++;
}

static char *s_put_uint(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* One row; the order of the PRNG draws is part of the file format. */
static char *s_put_row(char *p, const s_tables_t *t, s_rng_t *rng,
                       const s_counter_t *id)
{
    uint32_t secs = s_rng_below(rng, S_YEAR_DAYS * S_DAY_SECS);
    uint32_t country =
        s_pick(t->country_cum, S_NCOUNTRIES,
               s_rng_below(rng, t->country_cum[S_NCOUNTRIES - 1]));
    uint32_t device = s_pick(t->device_cum, S_NDEVICES,
                             s_rng_below(rng, t->device_cum[S_NDEVICES - 1]));
    uint32_t cents =
        S_MIN_CENTS + s_rng_below(rng, S_MAX_CENTS - S_MIN_CENTS + 1);

    memcpy(p, id->digits, (size_t)id->len);
    p += id->len;
    *p++ = ',';
    memcpy(p, t->day_prefix[secs / S_DAY_SECS], 11);
    p += 11;
    uint32_t tod = secs % S_DAY_SECS;
    memcpy(p, t->two_digits[tod / 3600], 2);
    p[2] = ':';
    memcpy(p + 3, t->two_digits[tod / 60 % 60], 2);
    p[5] = ':';
    memcpy(p + 6, t->two_digits[tod % 60], 2);
    p[8] = ',';
    p += 9;
    memcpy(p, s_countries[country], 2);
    p[2] = ',';
    p += 3;
    memcpy(p, s_devices[device].name, s_devices[device].len);
    p += s_devices[device].len;
    *p++ = ',';
    p = s_put_uint(p, cents / 100);
    *p++ = '.';
    memcpy(p, t->two_digits[cents % 100], 2);
    p[2] = '\n';
    return p + 3;
}

static int s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int s_generate(int fd, int64_t rows, uint64_t seed)
{
    s_tables_t *t = malloc(sizeof *t);
    char *buf = malloc(S_BUF_SIZE);
    int rc = -1;
    if (!t || !buf) {
        errno = ENOMEM;
        goto out;
    }
    s_tables_init(t);
    s_rng_t rng;
    s_rng_seed(&rng, seed);
    s_counter_t id = {.digits = "1", .len = 1};

    static const char header[] = "event_id,event_time,country,device,amount\n";
    memcpy(buf, header, sizeof header - 1);
    char *p = buf + sizeof header - 1;
    for (int64_t i = 0; i < rows; i++) {
        if ((size_t)(p - buf) > S_BUF_SIZE - S_ROW_MAX) {
            if (s_write_all(fd, buf, (size_t)(p - buf)) < 0) goto out;
            p = buf;
        }
        p = s_put_row(p, t, &rng, &id);
        s_counter_inc(&id);
    }
    rc = s_write_all(fd, buf, (size_t)(p - buf));
out:
    free(buf);
    free(t);
    return rc;
}

static int s_usage(FILE *f)
{
    fprintf(f,
            "usage: minispark gen --rows N [--seed S] OUT.csv\n"
            "  Writes N synthetic events (event_id, event_time, country,\n"
            "  device, amount) to OUT.csv; the same N and S (default %d)\n"
            "  give the same bytes on every machine.\n",
            S_DEFAULT_SEED);
    return f == stdout ? 0 : 2;
}

/* Plain decimal digits only: "-1" or "1e6" are usage errors, not surprises. */
static bool s_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

typedef struct {
    int64_t rows;
    uint64_t seed;
    const char *out;
} s_args_t;

/* Returns -1 when parsed, else the exit status (0 for --help, 2). */
static int s_parse_args(int argc, char **argv, s_args_t *a)
{
    bool have_rows = false;
    a->rows = 0;
    a->seed = S_DEFAULT_SEED;
    a->out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
            return s_usage(stdout);
        bool rows = !strcmp(arg, "--rows"), seed = !strcmp(arg, "--seed");
        if (rows || seed) {
            if (i + 1 >= argc) {
                fprintf(stderr, "gen: %s needs a value\n", arg);
                return s_usage(stderr);
            }
            const char *v = argv[++i];
            uint64_t n;
            bool ok =
                s_parse_u64(v, rows ? (uint64_t)S_MAX_ROWS : UINT64_MAX, &n);
            if (!ok) {
                fprintf(stderr, "gen: invalid %s value '%s' (%s)\n", arg, v,
                        rows ? "a whole number up to 10^12"
                             : "an unsigned 64-bit integer");
                return 2;
            }
            if (rows) {
                a->rows = (int64_t)n;
                have_rows = true;
            } else {
                a->seed = n;
            }
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "gen: unknown option '%s'\n", arg);
            return s_usage(stderr);
        } else if (a->out) {
            fprintf(stderr, "gen: more than one output path ('%s', '%s')\n",
                    a->out, arg);
            return s_usage(stderr);
        } else {
            a->out = arg;
        }
    }
    if (!have_rows || !a->out) {
        fprintf(stderr, "gen: %s is required\n",
                have_rows ? "OUT.csv" : "--rows N");
        return s_usage(stderr);
    }
    return -1;
}

int ms_gen_main(int argc, char **argv)
{
    s_args_t a;
    int status = s_parse_args(argc, argv, &a);
    if (status >= 0) return status;

    /* Write beside the target and rename, so readers never see half a file. */
    size_t tmp_len = strlen(a.out) + 32;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        fprintf(stderr, "gen: out of memory\n");
        return 3;
    }
    snprintf(tmp, tmp_len, "%s.tmp.%ld", a.out, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "gen: cannot write %s: %s\n", a.out, strerror(errno));
        free(tmp);
        return 3;
    }
    int rc = s_generate(fd, a.rows, a.seed);
    int saved = errno;
    if (close(fd) < 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, a.out) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        fprintf(stderr, "gen: cannot write %s: %s\n", a.out, strerror(saved));
        status = 3;
    } else {
        status = 0;
    }
    free(tmp);
    return status;
}
