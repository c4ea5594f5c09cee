/* The configuration keys minispark knows, each with the form its value
 * must have, its bounds and its default (the readers get them from here
 * too: ms_conf_key_*), checked once when a process has loaded its
 * configuration:
 * an invalid value is an error whether or not its feature is on, and a
 * key nobody reads (a typo, a Spark key minispark does not implement) is
 * said, not silently ignored. The readers of each key still apply their
 * own rules between keys (min <= max, a timeout above the heartbeat). */
#ifndef MS_CONF_KEYS_H
#define MS_CONF_KEYS_H

#include "common/conf.h"
#include "common/err.h"

/* Receives one warning (a sentence without the "warning:" prefix). */
typedef void ms_conf_warn_fn(void *arg, const char *msg);

/* Checks every key set in conf: a known key's value must parse as its kind
 * and lie in its range (else MS_ERR_USAGE naming key and value, at the
 * first); an unknown spark.* or minispark.* key is a warning, with the
 * nearest known key when one is close, and a Spark key minispark does not
 * implement is a warning saying so. Other keys pass unremarked. */
int ms_conf_check(const ms_conf_t *conf, ms_conf_warn_fn *warn, void *arg,
                  ms_error_t *err);

/* A warn function for a process's main: prints "ARG: warning: MSG" on
 * stderr, ARG being the process's name (a const char *). */
void ms_conf_warn_stderr(void *arg, const char *msg);

/* The value of a known key, read as its row of the table says: its
 * kind's parser, unit, bounds and default, so that every reader of a key
 * agrees with the check. Integers, durations (ms) and sizes (bytes) as
 * int64; a bad value is MS_ERR_USAGE naming the key; a key not in the
 * table, or of another kind, is MS_ERR_USAGE too (a programming error the
 * tests meet). */
int ms_conf_key_int(const ms_conf_t *conf, const char *key, int64_t *out,
                    ms_error_t *err);
/* The same with a default of the caller's (one that depends on another
 * key: initialExecutors is minExecutors unless set). */
int ms_conf_key_int_or(const ms_conf_t *conf, const char *key, int64_t def,
                       int64_t *out, ms_error_t *err);
int ms_conf_key_bool(const ms_conf_t *conf, const char *key, bool *out,
                     ms_error_t *err);
int ms_conf_key_fraction(const ms_conf_t *conf, const char *key, double *out,
                         ms_error_t *err);

/* The known key nearest to key by edit distance, or NULL when none is
 * close enough to be what was meant. */
const char *ms_conf_nearest_key(const char *key);

#endif
