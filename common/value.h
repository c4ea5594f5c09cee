/* Column types and typed values: parsing a CSV field into a value of a given
 * type, comparing values and formatting them for output. A value is a small
 * transparent struct; a string value borrows its bytes from elsewhere. */
#ifndef MS_VALUE_H
#define MS_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MS_TYPE_NULL = 0, /* only as a value: SQL NULL */
    MS_TYPE_INT64 = 1,
    MS_TYPE_DECIMAL = 2, /* scaled int64; the scale lives in the column */
    MS_TYPE_DOUBLE = 3,
    MS_TYPE_TIMESTAMP = 4, /* seconds since 1970-01-01 00:00:00 UTC */
    MS_TYPE_STRING = 5,
} ms_type_t;

/* The largest decimal scale we infer; 10^18 still fits an int64. */
#define MS_DECIMAL_MAX_SCALE 9
/* Digits of a decimal result (sum and avg of a decimal column), as Spark's
 * widest DecimalType: 128-bit two's complement holds 10^38 - 1. */
#define MS_DECIMAL_RESULT_DIGITS 38

__extension__ typedef __int128 ms_i128_t;

typedef struct {
    ms_type_t type;
    int scale; /* decimal only */
} ms_coltype_t;

/* A decimal result that does not fit .i is "wide": len is MS_VALUE_WIDE
 * and s points to its 16 bytes, big-endian two's complement, borrowed as a
 * string's bytes are. Only result columns of sum and avg over decimals
 * hold wide values (ms_rows_wide): the values of the scan stay this small. */
#define MS_VALUE_WIDE 16

typedef struct {
    uint8_t type;  /* ms_type_t */
    uint8_t scale; /* decimal only */
    uint32_t len;  /* string only; MS_VALUE_WIDE for a wide decimal */
    union {
        int64_t i; /* int64, decimal (scaled), timestamp */
        double d;
        const char *s; /* not NUL-terminated */
    };
} ms_value_t;

const char *ms_type_name(ms_type_t type);

/* Parsers of one field's text. Each returns true and sets *out on success,
 * false if the text is not a valid value of that type. Leading and trailing
 * blanks are not accepted (Spark's CSV reader does not trim by default). */
bool ms_parse_int64(const char *p, size_t len, int64_t *out);
/* Decimal with at most `scale` fraction digits, stored scaled by 10^scale. */
bool ms_parse_decimal(const char *p, size_t len, int scale, int64_t *out);
bool ms_parse_double(const char *p, size_t len, double *out);
/* "YYYY-MM-DD HH:MM:SS" (or "YYYY-MM-DD", midnight). */
bool ms_parse_timestamp(const char *p, size_t len, int64_t *out);

/* Parses text as a value of column type t (NULL type never fails). */
bool ms_value_parse(const char *p, size_t len, ms_coltype_t t, ms_value_t *out);

/* Total order used by min/max, order_by and filters: NULL sorts first;
 * values of one column always share a type. Returns <0, 0, >0. */
int ms_value_cmp(const ms_value_t *a, const ms_value_t *b);

/* Writes the value as text (no quoting); returns the length that would have
 * been written, as snprintf does. NULL is written as "null". */
int ms_value_format(char *buf, size_t size, const ms_value_t *v);

/* The integer (or scaled decimal) of an int64 or decimal value, wide or
 * not. */
ms_i128_t ms_value_i128(const ms_value_t *v);
/* Sets v to the decimal x (unscaled) at scale: in .i when it fits, else
 * wide with its bytes in buf, which must outlive v. */
void ms_value_set_decimal(ms_value_t *v, ms_i128_t x, int scale,
                          uint8_t buf[16]);
/* 16 bytes, big-endian two's complement (the wide value and wire form). */
void ms_i128_store(uint8_t p[16], ms_i128_t x);
ms_i128_t ms_i128_load(const uint8_t p[16]);
/* |x| < 10^digits, for digits in [0, 38]. */
bool ms_i128_fits_digits(ms_i128_t x, int digits);
/* x / 10^scale as text, exactly; as ms_value_format. */
int ms_format_i128(char *buf, size_t size, ms_i128_t x, int scale);

/* Shortest decimal text that reads back as the same double. */
int ms_format_double(char *buf, size_t size, double d);

/* Calendar helpers for timestamps. */
int64_t ms_days_from_civil(int64_t y, unsigned m, unsigned d);
void ms_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

extern const int64_t ms_pow10[19];

#endif
