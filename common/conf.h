/* Spark-style configuration: string keys and values set in layers (built-in
 * defaults < spark-defaults.conf < job file < command line; a later set
 * wins), read through typed getters that validate Spark's value syntax and
 * name the key when a value is invalid. */
#ifndef MS_CONF_H
#define MS_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* "infinity" for durations and counts that Spark defaults to Long.MaxValue. */
#define MS_CONF_INFINITE INT64_MAX
/* 2^31 ms (about 24.8 days): a timeout this long or longer is read as
 * infinity, so that every finite one fits the int milliseconds of zmq_poll
 * and ZMQ_RCVTIMEO wherever it ends up. */
#define MS_CONF_TIMEOUT_LIMIT_MS (INT64_C(1) << 31)

typedef struct ms_conf ms_conf_t;

ms_conf_t *ms_conf_new(void);
void ms_conf_destroy(ms_conf_t **self_p);

/* Sets key to value (both copied); replaces an earlier value. Keys starting
 * with "minispark.test." are refused (MS_ERR_USAGE) unless the environment
 * has MINISPARK_TESTING=1: they inject faults. */
int ms_conf_set(ms_conf_t *self, const char *key, const char *value,
                ms_error_t *err);
/* Parses "KEY=VALUE" (command line form). */
int ms_conf_set_pair(ms_conf_t *self, const char *pair, ms_error_t *err);
/* Loads a spark-defaults.conf file: "key value" or "key=value" per line,
 * '#' comments, blank lines. A missing file is not an error. */
int ms_conf_load_file(ms_conf_t *self, const char *path, ms_error_t *err);

/* Raw value, or NULL when unset. */
const char *ms_conf_get(const ms_conf_t *self, const char *key);

/* Iterates the keys in insertion order; returns false past the end. */
bool ms_conf_entry(const ms_conf_t *self, int i, const char **key,
                   const char **value);

/* Typed getters: *out = def when the key is unset. An invalid value returns
 * MS_ERR_USAGE with a message naming the key and the value. */
int ms_conf_bool(const ms_conf_t *self, const char *key, bool def, bool *out,
                 ms_error_t *err);
int ms_conf_int(const ms_conf_t *self, const char *key, int64_t def,
                int64_t min, int64_t max, int64_t *out, ms_error_t *err);
int ms_conf_double(const ms_conf_t *self, const char *key, double def,
                   double *out, ms_error_t *err);
/* Durations: "500ms", "5s", "2min", "1h", "1d", "infinity"; a bare number is
 * in unit_ms milliseconds (Spark's per-key default unit). */
int ms_conf_duration_ms(const ms_conf_t *self, const char *key, int64_t unit_ms,
                        int64_t def, int64_t *out, ms_error_t *err);
/* A timeout: a duration that must be at least 1 ms (0, or "1us" which
 * rounds to 0, would expire at once: MS_ERR_USAGE naming the key); from
 * MS_CONF_TIMEOUT_LIMIT_MS up it is MS_CONF_INFINITE. */
int ms_conf_timeout_ms(const ms_conf_t *self, const char *key, int64_t unit_ms,
                       int64_t def, int64_t *out, ms_error_t *err);
/* Sizes: "64k", "128m", "1g", "2t", optionally with a trailing 'b' ("64kb");
 * a bare number is in unit bytes. */
int ms_conf_size(const ms_conf_t *self, const char *key, int64_t unit,
                 int64_t def, int64_t *out, ms_error_t *err);

/* spark.local.dir, the folder under which every role keeps its files:
 * "/tmp" when unset. An empty value is MS_ERR_USAGE (it would mean the
 * root folder). */
int ms_conf_local_dir(const ms_conf_t *self, const char **out, ms_error_t *err);

/* The parsers behind the getters. Return false on bad syntax. */
bool ms_parse_duration_ms(const char *text, int64_t unit_ms, int64_t *out);
bool ms_parse_size(const char *text, int64_t unit, int64_t *out);

#endif
