/* Behaviour of the configuration store and Spark's value syntax. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"

static ms_conf_t *s_conf_with(const char *key, const char *value)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_not_null(conf);
    cr_assert_eq(ms_conf_set(conf, key, value, &err), 0, "%s", err.msg);
    return conf;
}

/* Writes text to a fresh temporary file; the caller unlinks it. */
static void s_write_temp(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/test_conf_XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static bool s_duration(const char *text, int64_t unit_ms, int64_t *out)
{
    *out = -12345;
    return ms_parse_duration_ms(text, unit_ms, out);
}

Test(conf, set_copies_key_and_value)
{
    char key[] = "spark.executor.cores", value[] = "4";
    ms_conf_t *conf = s_conf_with(key, value);
    key[0] = 'X';
    value[0] = '9';
    cr_assert_str_eq(ms_conf_get(conf, "spark.executor.cores"), "4");
    cr_assert_null(ms_conf_get(conf, "spark.executor.memory"));
    ms_conf_destroy(&conf);
}

Test(conf, iterates_in_insertion_order_and_replacement_keeps_position)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_set(conf, "b", "1", &err), 0);
    cr_assert_eq(ms_conf_set(conf, "a", "2", &err), 0);
    cr_assert_eq(ms_conf_set(conf, "b", "3", &err), 0);
    const char *k, *v;
    cr_assert(ms_conf_entry(conf, 0, &k, &v));
    cr_assert_str_eq(k, "b");
    cr_assert_str_eq(v, "3");
    cr_assert(ms_conf_entry(conf, 1, &k, &v));
    cr_assert_str_eq(k, "a");
    cr_assert_str_eq(v, "2");
    cr_assert_not(ms_conf_entry(conf, 2, &k, &v));
    cr_assert_not(ms_conf_entry(conf, -1, &k, &v));
    ms_conf_destroy(&conf);
}

Test(conf, destroy_nulls_the_pointer_and_accepts_null)
{
    ms_conf_t *conf = ms_conf_new();
    ms_conf_destroy(&conf);
    cr_assert_null(conf);
    ms_conf_destroy(&conf);
    ms_conf_destroy(NULL);
}

Test(conf, empty_key_is_refused)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_set(conf, "", "1", &err), MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}

Test(conf, test_hooks_refused_without_testing_env)
{
    ms_error_t err = {0};
    unsetenv("MINISPARK_TESTING");
    ms_conf_t *conf = ms_conf_new();
    int rc = ms_conf_set(conf, "minispark.test.failTask", "1", &err);
    cr_assert_eq(rc, MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "minispark.test.failTask"), "%s", err.msg);
    cr_assert(strstr(err.msg, "MINISPARK_TESTING=1"), "%s", err.msg);
    cr_assert_null(ms_conf_get(conf, "minispark.test.failTask"));
    setenv("MINISPARK_TESTING", "yes", 1);
    cr_assert_eq(ms_conf_set(conf, "minispark.test.failTask", "1", &err),
                 MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}

Test(conf, test_hooks_accepted_with_testing_env)
{
    ms_error_t err = {0};
    setenv("MINISPARK_TESTING", "1", 1);
    ms_conf_t *conf = s_conf_with("minispark.test.failTask", "3");
    cr_assert_str_eq(ms_conf_get(conf, "minispark.test.failTask"), "3");
    cr_assert_eq(ms_conf_set(conf, "minispark.testing", "x", &err), 0);
    ms_conf_destroy(&conf);
}

Test(conf, set_pair_splits_at_the_first_equals)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_set_pair(conf, "spark.app.name=a=b", &err), 0);
    cr_assert_str_eq(ms_conf_get(conf, "spark.app.name"), "a=b");
    cr_assert_eq(ms_conf_set_pair(conf, "spark.empty=", &err), 0);
    cr_assert_str_eq(ms_conf_get(conf, "spark.empty"), "");
    ms_conf_destroy(&conf);
}

Test(conf, set_pair_without_equals_names_the_argument)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_set_pair(conf, "spark.executor.cores", &err),
                 MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "spark.executor.cores"), "%s", err.msg);
    cr_assert_eq(ms_conf_set_pair(conf, "=4", &err), MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}

Test(conf, load_file_missing_is_not_an_error)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_load_file(conf, "/nonexistent/spark.conf", &err), 0);
    cr_assert_not(ms_conf_entry(conf, 0, NULL, NULL));
    ms_conf_destroy(&conf);
}

Test(conf, load_file_reads_spark_defaults_format)
{
    char path[64];
    s_write_temp(path, sizeof path,
                 "# cluster defaults\n"
                 "\n"
                 "spark.master          local[4]\n"
                 "  spark.app.name   my app name  \n"
                 "spark.executor.cores=2\n"
                 "spark.ui.port = 4041\r\n"
                 "\t# indented comment\n"
                 "spark.eventLog.dir\t/tmp/events");
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_load_file(conf, path, &err), 0, "%s", err.msg);
    unlink(path);
    cr_assert_str_eq(ms_conf_get(conf, "spark.master"), "local[4]");
    cr_assert_str_eq(ms_conf_get(conf, "spark.app.name"), "my app name");
    cr_assert_str_eq(ms_conf_get(conf, "spark.executor.cores"), "2");
    cr_assert_str_eq(ms_conf_get(conf, "spark.ui.port"), "4041");
    cr_assert_str_eq(ms_conf_get(conf, "spark.eventLog.dir"), "/tmp/events");
    const char *key;
    cr_assert(ms_conf_entry(conf, 0, &key, NULL));
    cr_assert_str_eq(key, "spark.master");
    ms_conf_destroy(&conf);
}

Test(conf, load_file_error_names_path_and_line)
{
    char path[64], where[96];
    s_write_temp(path, sizeof path, "spark.a 1\n\nspark.lonely_key\n");
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_load_file(conf, path, &err), MS_ERR_USAGE);
    unlink(path);
    snprintf(where, sizeof where, "%s:3:", path);
    cr_assert(strstr(err.msg, where), "%s", err.msg);
    ms_conf_destroy(&conf);
}

Test(conf, load_file_refused_test_hook_names_path_and_line)
{
    char path[64], where[96];
    unsetenv("MINISPARK_TESTING");
    s_write_temp(path, sizeof path, "minispark.test.x 1\n");
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_load_file(conf, path, &err), MS_ERR_USAGE);
    unlink(path);
    snprintf(where, sizeof where, "%s:1: minispark.test.x", path);
    cr_assert(strstr(err.msg, where), "%s", err.msg);
    ms_conf_destroy(&conf);
}

Test(conf, load_file_unreadable_is_io_error_naming_path)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_load_file(conf, "/tmp", &err), MS_ERR_IO);
    cr_assert(strstr(err.msg, "/tmp"), "%s", err.msg);
    ms_conf_destroy(&conf);
}

Test(conf, getters_return_default_when_unset)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    bool b = false;
    int64_t i = 0;
    double d = 0;
    cr_assert_eq(ms_conf_bool(conf, "k", true, &b, &err), 0);
    cr_assert(b);
    cr_assert_eq(ms_conf_int(conf, "k", 7, 0, 10, &i, &err), 0);
    cr_assert_eq(i, 7);
    cr_assert_eq(ms_conf_double(conf, "k", 1.5, &d, &err), 0);
    cr_assert_eq(d, 1.5);
    cr_assert_eq(ms_conf_duration_ms(conf, "k", 1000, 60000, &i, &err), 0);
    cr_assert_eq(i, 60000);
    cr_assert_eq(ms_conf_size(conf, "k", 1, 42, &i, &err), 0);
    cr_assert_eq(i, 42);
    ms_conf_destroy(&conf);
}

Test(conf, bool_is_case_insensitive_and_names_bad_values)
{
    ms_error_t err = {0};
    bool b = false;
    ms_conf_t *conf = s_conf_with("spark.shuffle.compress", "TRUE");
    cr_assert_eq(ms_conf_bool(conf, "spark.shuffle.compress", false, &b, &err),
                 0);
    cr_assert(b);
    ms_conf_set(conf, "spark.shuffle.compress", "False", &err);
    cr_assert_eq(ms_conf_bool(conf, "spark.shuffle.compress", true, &b, &err),
                 0);
    cr_assert_not(b);
    ms_conf_set(conf, "spark.shuffle.compress", "yes", &err);
    cr_assert_eq(ms_conf_bool(conf, "spark.shuffle.compress", true, &b, &err),
                 MS_ERR_USAGE);
    cr_assert_str_eq(err.msg, "invalid value 'yes' for spark.shuffle.compress: "
                              "expected true or false");
    ms_conf_destroy(&conf);
}

Test(conf, int_checks_range_and_names_it)
{
    ms_error_t err = {0};
    int64_t n = 0;
    ms_conf_t *conf = s_conf_with("spark.executor.cores", "-3");
    cr_assert_eq(ms_conf_int(conf, "spark.executor.cores", 1, -5, 5, &n, &err),
                 0);
    cr_assert_eq(n, -3);
    cr_assert_eq(ms_conf_int(conf, "spark.executor.cores", 1, 1, 64, &n, &err),
                 MS_ERR_USAGE);
    cr_assert_str_eq(err.msg, "invalid value '-3' for spark.executor.cores: "
                              "expected an integer between 1 and 64");
    ms_conf_set(conf, "spark.executor.cores", "4x", &err);
    cr_assert_eq(ms_conf_int(conf, "spark.executor.cores", 1, 1, 64, &n, &err),
                 MS_ERR_USAGE);
    ms_conf_set(conf, "spark.executor.cores", "99999999999999999999", &err);
    cr_assert_eq(ms_conf_int(conf, "spark.executor.cores", 1, 1,
                             MS_CONF_INFINITE, &n, &err),
                 MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}

Test(conf, int_accepts_infinity_only_when_unbounded)
{
    ms_error_t err = {0};
    int64_t n = 0;
    const char *key = "spark.dynamicAllocation.maxExecutors";
    ms_conf_t *conf = s_conf_with(key, "infinity");
    cr_assert_eq(ms_conf_int(conf, key, 0, 0, MS_CONF_INFINITE, &n, &err), 0);
    cr_assert_eq(n, MS_CONF_INFINITE);
    ms_conf_set(conf, key, "Infinity", &err);
    cr_assert_eq(ms_conf_int(conf, key, 0, 0, MS_CONF_INFINITE, &n, &err), 0);
    ms_conf_set(conf, key, "inf", &err);
    cr_assert_eq(ms_conf_int(conf, key, 0, 0, MS_CONF_INFINITE, &n, &err), 0);
    cr_assert_eq(ms_conf_int(conf, key, 0, 0, 100, &n, &err), MS_ERR_USAGE);
    ms_conf_destroy(&conf);
}

Test(conf, double_must_be_a_finite_number)
{
    ms_error_t err = {0};
    double d = 0;
    const char *key = "spark.dynamicAllocation.executorAllocationRatio";
    ms_conf_t *conf = s_conf_with(key, "0.5");
    cr_assert_eq(ms_conf_double(conf, key, 1.0, &d, &err), 0);
    cr_assert_eq(d, 0.5);
    const char *bad[] = {"", "abc", "0.5x", "nan", "inf", "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_conf_set(conf, key, bad[i], &err);
        cr_assert_eq(ms_conf_double(conf, key, 1.0, &d, &err), MS_ERR_USAGE,
                     "accepted '%s'", bad[i]);
        cr_assert(strstr(err.msg, key), "%s", err.msg);
    }
    ms_conf_destroy(&conf);
}

Test(conf, duration_accepts_spark_units)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"500ms", 500},   {"5s", 5000},   {"5S", 5000},
        {"2min", 120000}, {"2m", 120000}, {"1h", 3600000},
        {"1d", 86400000}, {"1500us", 1},  {"999us", 0},
        {"0", 0},         {" 7s ", 7000}, {"infinity", MS_CONF_INFINITE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms;
        cr_assert(s_duration(cases[i].text, 1, &ms), "%s", cases[i].text);
        cr_assert_eq(ms, cases[i].ms, "%s -> %lld", cases[i].text,
                     (long long)ms);
    }
}

Test(conf, duration_bare_number_uses_the_default_unit)
{
    int64_t ms;
    cr_assert(s_duration("60", 1000, &ms));
    cr_assert_eq(ms, 60000);
    cr_assert(s_duration("60", 1, &ms));
    cr_assert_eq(ms, 60);
}

Test(conf, duration_rejects_negative_fractions_and_junk)
{
    const char *bad[] = {"",
                         "s",
                         "-5s",
                         "1.5s",
                         "5 s",
                         "5sec",
                         "5ms ms",
                         "+5s",
                         "0x10",
                         "9999999999999999999ms",
                         "999999999999999d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        cr_assert_not(s_duration(bad[i], 1000, &ms), "accepted '%s'", bad[i]);
        cr_assert_eq(ms, -12345, "wrote *out for '%s'", bad[i]);
    }
}

Test(conf, duration_getter_names_key_and_value)
{
    ms_error_t err = {0};
    int64_t ms;
    const char *key = "spark.dynamicAllocation.executorIdleTimeout";
    ms_conf_t *conf = s_conf_with(key, "soon");
    cr_assert_eq(ms_conf_duration_ms(conf, key, 1000, 60000, &ms, &err),
                 MS_ERR_USAGE);
    cr_assert_str_eq(err.msg,
                     "invalid value 'soon' for "
                     "spark.dynamicAllocation.executorIdleTimeout: expected a "
                     "duration such as 500ms, 5s, 2min");
    ms_conf_set(conf, key, "30", &err);
    cr_assert_eq(ms_conf_duration_ms(conf, key, 1000, 60000, &ms, &err), 0);
    cr_assert_eq(ms, 30000);
    ms_conf_destroy(&conf);
}

/* A timeout of 0 (or under a millisecond) expires at once; one from 2^31
 * ms up is infinity, so that no finite timeout overflows an int. */
Test(conf, timeout_must_be_positive_and_huge_ones_are_infinite)
{
    static const struct {
        const char *text;
        int64_t ms;
    } ok[] = {
        {"1ms", 1},
        {"120s", 120000},
        {"2147483647ms", INT32_MAX},
        {"2147483648ms", MS_CONF_INFINITE},
        {"600h", MS_CONF_INFINITE},
        {"100000h", MS_CONF_INFINITE},
        {"infinity", MS_CONF_INFINITE},
    };
    const char *key = "spark.network.timeout";
    ms_error_t err = {0};
    int64_t ms;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ms_conf_t *conf = s_conf_with(key, ok[i].text);
        cr_assert_eq(ms_conf_timeout_ms(conf, key, 1000, 120000, &ms, &err), 0,
                     "%s: %s", ok[i].text, err.msg);
        cr_assert_eq(ms, ok[i].ms, "%s -> %lld", ok[i].text, (long long)ms);
        ms_conf_destroy(&conf);
    }
    const char *bad[] = {"0", "0s", "1us", "999us"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ms_conf_t *conf = s_conf_with(key, bad[i]);
        cr_assert_eq(ms_conf_timeout_ms(conf, key, 1000, 120000, &ms, &err),
                     MS_ERR_USAGE, "accepted %s", bad[i]);
        cr_assert(strstr(err.msg, key) && strstr(err.msg, bad[i]) &&
                      strstr(err.msg, "at least 1ms"),
                  "%s", err.msg);
        ms_conf_destroy(&conf);
    }
    ms_conf_t *conf = ms_conf_new();
    cr_assert_eq(ms_conf_timeout_ms(conf, key, 1000, 120000, &ms, &err), 0);
    cr_assert_eq(ms, 120000);
    ms_conf_destroy(&conf);
}

Test(conf, size_accepts_binary_units)
{
    static const struct {
        const char *text;
        int64_t bytes;
    } cases[] = {
        {"10b", 10},
        {"64k", 65536},
        {"64KB", 65536},
        {"128m", INT64_C(128) << 20},
        {"128mb", INT64_C(128) << 20},
        {"1g", INT64_C(1) << 30},
        {"1Gb", INT64_C(1) << 30},
        {"2t", INT64_C(2) << 40},
        {"2tb", INT64_C(2) << 40},
        {"1p", INT64_C(1) << 50},
        {"8191pb", INT64_C(8191) << 50},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t n = 0;
        cr_assert(ms_parse_size(cases[i].text, 1, &n), "%s", cases[i].text);
        cr_assert_eq(n, cases[i].bytes, "%s", cases[i].text);
    }
}

Test(conf, size_bare_number_uses_the_default_unit)
{
    int64_t n;
    cr_assert(ms_parse_size("100", 1024, &n));
    cr_assert_eq(n, 102400);
    cr_assert(ms_parse_size("100", 1, &n));
    cr_assert_eq(n, 100);
}

Test(conf, size_rejects_overflow_and_junk)
{
    const char *bad[] = {"",
                         "k",
                         "-1k",
                         "1.5g",
                         "1e",
                         "1kk",
                         "1 k",
                         "8192p",
                         "16384p",
                         "9223372036854775808",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t n;
        cr_assert_not(ms_parse_size(bad[i], 1, &n), "accepted '%s'", bad[i]);
    }
    int64_t n;
    cr_assert_not(ms_parse_size("9007199254740992", 1024, &n));
}

Test(conf, size_getter_names_key_and_value)
{
    ms_error_t err = {0};
    int64_t n;
    const char *key = "spark.files.maxPartitionBytes";
    ms_conf_t *conf = s_conf_with(key, "lots");
    cr_assert_eq(ms_conf_size(conf, key, 1, 1, &n, &err), MS_ERR_USAGE);
    cr_assert_str_eq(err.msg, "invalid value 'lots' for "
                              "spark.files.maxPartitionBytes: expected a size "
                              "such as 64k, 128m, 1g");
    ms_conf_destroy(&conf);
}
