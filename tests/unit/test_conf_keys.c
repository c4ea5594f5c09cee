/* The table of known keys: every known key's value is checked whether or
 * not its feature is on, unknown spark.* and minispark.* keys are warned
 * about (with the nearest known key), other keys pass. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/conf_keys.h"

typedef struct {
    int n;
    char last[512];
} s_warnings_t;

static void s_collect(void *arg, const char *msg)
{
    s_warnings_t *w = arg;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static int s_check_one(const char *key, const char *value, s_warnings_t *w,
                       ms_error_t *err)
{
    ms_conf_t *c = ms_conf_new();
    cr_assert_eq(ms_conf_set(c, key, value, err), 0, "%s", err->msg);
    int rc = ms_conf_check(c, s_collect, w, err);
    ms_conf_destroy(&c);
    return rc;
}

Test(conf_keys, values_of_features_that_are_off_are_checked_too)
{
    static const char *const bad[][2] = {
        {"spark.shuffle.service.port", "abc"},
        {"spark.shuffle.service.port", "70000"},
        {"spark.io.compression.codec", "snappy"},
        {"spark.memory.fraction", "1.5"},
        {"spark.dynamicAllocation.executorAllocationRatio", "0"},
        {"spark.executor.memory", "512k"},
        {"spark.network.timeout", "0"},
        {"spark.dynamicAllocation.executorIdleTimeout", "soon"},
        {"spark.eventLog.enabled", "maybe"},
        {"spark.scheduler.mode", "RANDOM"},
        {"spark.local.dir", ""},
        {"minispark.shuffle.maxBytesInFlight", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_warnings_t w = {0};
        ms_error_t err = {0};
        cr_assert_eq(s_check_one(bad[i][0], bad[i][1], &w, &err), MS_ERR_USAGE,
                     "%s=%s accepted", bad[i][0], bad[i][1]);
        cr_assert(strstr(err.msg, bad[i][0]), "%s", err.msg);
        cr_assert_eq(w.n, 0);
    }
}

Test(conf_keys, valid_values_pass_without_a_word)
{
    static const char *const good[][2] = {
        {"spark.shuffle.service.port", "7337"},
        {"spark.io.compression.codec", "LZ4"},
        {"spark.memory.fraction", "0.6"},
        {"spark.executor.memory", "1g"},
        {"spark.network.timeout", "infinity"},
        {"spark.dynamicAllocation.maxExecutors", "infinity"},
        {"spark.scheduler.mode", "fair"},
        {"spark.authenticate.secret", ""},
        {"my.own.key", "anything"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        s_warnings_t w = {0};
        ms_error_t err = {0};
        cr_assert_eq(s_check_one(good[i][0], good[i][1], &w, &err), 0,
                     "%s=%s: %s", good[i][0], good[i][1], err.msg);
        cr_assert_eq(w.n, 0, "%s: %s", good[i][0], w.last);
    }
}

Test(conf_keys, unknown_keys_are_warned_about_with_the_nearest_one)
{
    s_warnings_t w = {0};
    ms_error_t err = {0};
    cr_assert_eq(
        s_check_one("spark.dynamicAllocation.idleTimeout", "5s", &w, &err), 0);
    cr_assert_eq(w.n, 1);
    cr_assert_str_eq(w.last, "spark.dynamicAllocation.idleTimeout is not a "
                             "key; did you mean "
                             "spark.dynamicAllocation.executorIdleTimeout?");
    cr_assert_eq(s_check_one("minispark.shuffle.apptimeout", "5s", &w, &err),
                 0);
    cr_assert(strstr(w.last, "did you mean minispark.shuffle.appTimeout?"),
              "%s", w.last);
    cr_assert_eq(s_check_one("spark.zzz", "1", &w, &err), 0);
    cr_assert(strstr(w.last, "spark.zzz is not a key minispark knows"), "%s",
              w.last);
    cr_assert_eq(w.n, 3);
}

Test(conf_keys, spark_keys_without_effect_here_say_so)
{
    static const char *const keys[] = {
        "spark.speculation", "spark.speculation.multiplier",
        "spark.sql.adaptive.enabled",
        "spark.storage.decommission.rddBlocks.enabled",
        "spark.executor.decommission.signal"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        s_warnings_t w = {0};
        ms_error_t err = {0};
        cr_assert_eq(s_check_one(keys[i], "true", &w, &err), 0);
        cr_assert_eq(w.n, 1);
        cr_assert(strstr(w.last, "a Spark key that minispark does not "
                                 "implement"),
                  "%s", w.last);
    }
    /* A known key of the same family is not one of them. */
    s_warnings_t w = {0};
    ms_error_t err = {0};
    cr_assert_eq(s_check_one("spark.sql.shuffle.partitions", "8", &w, &err), 0);
    cr_assert_eq(w.n, 0);
    /* A near miss of a known key in such a family is a typo. */
    cr_assert_eq(s_check_one("spark.storage.decommission.shuffleBlock.enabled",
                             "true", &w, &err),
                 0);
    cr_assert(strstr(w.last,
                     "did you mean "
                     "spark.storage.decommission.shuffleBlocks.enabled"),
              "%s", w.last);
}

Test(conf_keys, nearest_key_is_only_offered_when_close)
{
    cr_assert_str_eq(ms_conf_nearest_key("spark.executor.core"),
                     "spark.executor.cores");
    cr_assert_str_eq(ms_conf_nearest_key("SPARK.UI.PORT"), "spark.ui.port");
    cr_assert_null(ms_conf_nearest_key("spark.ui.port"));
    cr_assert_null(ms_conf_nearest_key("spark.zzz"));
    cr_assert_null(ms_conf_nearest_key("completely.different.thing.here"));
}

Test(conf_keys, readers_get_the_tables_default_bounds_and_unit)
{
    ms_conf_t *conf = ms_conf_new();
    ms_error_t err = {0};
    int64_t v;
    bool b;
    double d;
    cr_assert_eq(ms_conf_key_int(conf, "spark.executor.cores", &v, &err), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(ms_conf_key_int(conf, "spark.network.timeout", &v, &err), 0);
    cr_assert_eq(v, 120000);
    cr_assert_eq(ms_conf_key_int(conf, "spark.executor.memory", &v, &err), 0);
    cr_assert_eq(v, 1LL << 30);
    cr_assert_eq(
        ms_conf_key_int(conf, "spark.dynamicAllocation.maxExecutors", &v, &err),
        0);
    cr_assert_eq(v, MS_CONF_INFINITE);
    cr_assert_eq(ms_conf_key_bool(conf, "spark.ui.enabled", &b, &err), 0);
    cr_assert(b);
    cr_assert_eq(ms_conf_key_fraction(conf, "spark.memory.fraction", &d, &err),
                 0);
    cr_assert_float_eq(d, 0.6, 1e-9);
    cr_assert_eq(ms_conf_key_int_or(conf,
                                    "spark.dynamicAllocation."
                                    "initialExecutors",
                                    3, &v, &err),
                 0);
    cr_assert_eq(v, 3);
    /* the unit of a bare number, and the bounds, are the table's */
    ms_conf_set(conf, "spark.executor.memory", "512", NULL);
    cr_assert_eq(ms_conf_key_int(conf, "spark.executor.memory", &v, &err), 0);
    cr_assert_eq(v, 512LL << 20);
    ms_conf_set(conf, "spark.executor.cores", "0", NULL);
    cr_assert_eq(ms_conf_key_int(conf, "spark.executor.cores", &v, &err),
                 MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "spark.executor.cores"), "%s", err.msg);
    ms_conf_set(conf, "spark.memory.fraction", "1.5", NULL);
    cr_assert_eq(ms_conf_key_fraction(conf, "spark.memory.fraction", &d, &err),
                 MS_ERR_USAGE);
    /* a key not in the table, or read as another kind, is a mistake */
    cr_assert_eq(ms_conf_key_int(conf, "spark.nope", &v, &err), MS_ERR_USAGE);
    cr_assert_eq(ms_conf_key_int(conf, "spark.ui.enabled", &v, &err),
                 MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}
