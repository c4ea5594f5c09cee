/* The table of known configuration keys and the check of a loaded
 * configuration against it (see conf_keys.h). */
#include "common/conf_keys.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/plan.h"

typedef enum {
    S_BOOL,
    S_INT,
    S_FRACTION, /* a number in (0, 1] */
    S_DURATION,
    S_TIMEOUT, /* a duration of at least 1 ms, or infinity */
    S_SIZE,
    S_CHOICE, /* one of choices, any case */
    S_TEXT,   /* free text, not empty */
    S_ANY,    /* free text, may be empty (a secret is checked by its user) */
} s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    int64_t unit; /* durations, sizes: the unit of a bare number */
    int64_t min, max;
    const char *choices; /* S_CHOICE: separated by '|' */
    /* the default: in the key's unit of ms or bytes; a bool's 0 or 1; a
     * fraction's in millionths */
    int64_t def;
} s_key_t;

#define S_INF MS_CONF_INFINITE

/* Sorted by key. Ranges are those their readers apply. */
static const s_key_t s_keys[] = {
    {"minispark.app.weight", S_INT, 0, 1, 1000, NULL, 1},
    {"minispark.csv.sampleRows", S_INT, 0, 1, INT32_MAX, NULL, 20000},
    {"minispark.executor.registrationTimeout", S_DURATION, 1000, 0, 0, NULL,
     30000},
    {"minispark.local.curve", S_BOOL, 0, 0, 0, NULL, 1},
    {"minispark.show.rows", S_INT, 0, 0, INT64_MAX, NULL, 100},
    {"minispark.shuffle.appTimeout", S_DURATION, 1000, 0, 0, NULL, 120000},
    {"minispark.shuffle.clientStallTimeout", S_DURATION, 1000, 0, 0, NULL,
     10000},
    {"minispark.shuffle.idleTimeout", S_DURATION, 1000, 0, 0, NULL, 60000},
    {"minispark.shuffle.maxBytesInFlight", S_SIZE, 1, 1, INT64_MAX, NULL,
     64LL << 20},
    {"minispark.shuffle.maxBytesInFlightTotal", S_SIZE, 1, 1, INT64_MAX, NULL,
     1LL << 30},
    {"minispark.test.corruptBlock", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.decommissionAfter", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.deleteOutput", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.failTask", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.killDuringMigration", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.killExecutorAfter", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.reduceTaskDelay", S_DURATION, 1, 0, 0, NULL, 0},
    {"minispark.test.stallFetch", S_TEXT, 0, 0, 0, NULL, 0},
    {"minispark.test.taskDelay", S_DURATION, 1, 0, 0, NULL, 0},
    {"minispark.ui.lingerAfterEnd", S_DURATION, 1000, 0, 0, NULL, 0},
    {"minispark.ui.maxConnectionsPerAddress", S_INT, 0, 1, 64, NULL, 8},
    {"minispark.ui.requestTimeout", S_TIMEOUT, 1000, 0, 0, NULL, 10000},
    {"spark.authenticate", S_BOOL, 0, 0, 0, NULL, 0},
    {"spark.authenticate.secret", S_ANY, 0, 0, 0, NULL, 0},
    {"spark.authenticate.secret.file", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.driver.bindAddress", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.driver.host", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.decommission.enabled", S_BOOL, 0, 0, 0, NULL, 0},
    {"spark.driver.port", S_INT, 0, 0, 65535, NULL, 0},
    {"spark.dynamicAllocation.enabled", S_BOOL, 0, 0, 0, NULL, 0},
    {"spark.dynamicAllocation.executorAllocationRatio", S_FRACTION, 0, 0, 0,
     NULL, 1000000},
    {"spark.dynamicAllocation.executorIdleTimeout", S_DURATION, 1000, 0, 0,
     NULL, 60000},
    {"spark.dynamicAllocation.initialExecutors", S_INT, 0, 0, 100000, NULL, 0},
    {"spark.dynamicAllocation.maxExecutors", S_INT, 0, 0, S_INF, NULL, S_INF},
    {"spark.dynamicAllocation.minExecutors", S_INT, 0, 0, 100000, NULL, 0},
    {"spark.dynamicAllocation.schedulerBacklogTimeout", S_DURATION, 1000, 0, 0,
     NULL, 1000},
    {"spark.dynamicAllocation.shuffleTracking.enabled", S_BOOL, 0, 0, 0, NULL,
     1},
    {"spark.dynamicAllocation.shuffleTracking.timeout", S_DURATION, 1, 0, 0,
     NULL, S_INF},
    {"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout", S_DURATION,
     1000, 0, 0, NULL, 1000},
    {"spark.eventLog.dir", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.eventLog.enabled", S_BOOL, 0, 0, 0, NULL, 0},
    {"spark.executor.cores", S_INT, 0, 1, 1024, NULL, 1},
    {"spark.executor.decommission.forceKillTimeout", S_TIMEOUT, 1000, 0, 0,
     NULL, S_INF},
    {"spark.executor.heartbeatInterval", S_DURATION, 1, 0, 0, NULL, 1000},
    {"spark.executor.instances", S_INT, 0, 0, 100000, NULL, 2},
    {"spark.executor.maxNumFailures", S_INT, 0, 0, 100000, NULL, 0},
    {"spark.executor.memory", S_SIZE, 1 << 20, 1 << 20, INT64_MAX, NULL,
     1LL << 30},
    {"spark.files.maxPartitionBytes", S_SIZE, 1, 1, INT64_MAX, NULL,
     128LL << 20},
    {"spark.files.openCostInBytes", S_SIZE, 1, 0, INT64_MAX, NULL, 4LL << 20},
    {"spark.io.compression.codec", S_CHOICE, 0, 0, 0, "zlib|lz4|none", 0},
    {"spark.io.compression.zlib.level", S_INT, 0, 1, 9, NULL, 1},
    {"spark.local.dir", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.master", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.memory.fraction", S_FRACTION, 0, 0, 0, NULL, 600000},
    {"spark.network.timeout", S_TIMEOUT, 1000, 0, 0, NULL, 120000},
    {"spark.scheduler.mode", S_CHOICE, 0, 0, 0, "FAIR|FIFO", 0},
    {"spark.shuffle.compress", S_BOOL, 0, 0, 0, NULL, 1},
    {"spark.shuffle.service.enabled", S_BOOL, 0, 0, 0, NULL, 0},
    {"spark.shuffle.service.port", S_INT, 0, 1, 65535, NULL, 7337},
    {"spark.sql.shuffle.partitions", S_INT, 0, 1, MS_PLAN_MAX_PARTITIONS, NULL,
     200},
    {"spark.stage.ignoreDecommissionFetchFailure", S_BOOL, 0, 0, 0, NULL, 1},
    {"spark.stage.maxConsecutiveAttempts", S_INT, 0, 1, 1000, NULL, 4},
    {"spark.storage.decommission.enabled", S_BOOL, 0, 0, 0, NULL, 1},
    {"spark.storage.decommission.fallbackStorage.cleanUp", S_BOOL, 0, 0, 0,
     NULL, 1},
    {"spark.storage.decommission.fallbackStorage.path", S_TEXT, 0, 0, 0, NULL,
     0},
    {"spark.storage.decommission.shuffleBlocks.enabled", S_BOOL, 0, 0, 0, NULL,
     1},
    {"spark.task.cpus", S_INT, 0, 1, 1024, NULL, 1},
    {"spark.task.maxFailures", S_INT, 0, 1, 1000, NULL, 4},
    {"spark.ui.enabled", S_BOOL, 0, 0, 0, NULL, 1},
    {"spark.ui.host", S_TEXT, 0, 0, 0, NULL, 0},
    {"spark.ui.port", S_INT, 0, 1, 65535, NULL, 4040},
    {"spark.worker.timeout", S_DURATION, 1000, 0, 0, NULL, 60000},
};

/* Spark keys people set out of habit that have no effect here (a prefix
 * ending in '.' covers a family). */
static const char *const s_spark_only[] = {
    "spark.app.name",
    "spark.default.parallelism",
    "spark.driver.cores",
    "spark.driver.extraJavaOptions",
    "spark.driver.maxResultSize",
    "spark.driver.memory",
    "spark.dynamicAllocation.cachedExecutorIdleTimeout",
    "spark.eventLog.compress",
    "spark.executor.decommission.", /* killInterval, signal */
    "spark.executor.extraJavaOptions",
    "spark.executor.memoryOverhead",
    "spark.jars",
    "spark.kryo",
    "spark.locality.wait",
    "spark.rdd.compress",
    "spark.reducer.maxSizeInFlight",
    "spark.serializer",
    "spark.shuffle.file.buffer",
    "spark.speculation",
    "spark.sql.",
    "spark.storage.",
    /* the decommissioning keys minispark does not implement, named
     * because they are near ones it does */
    "spark.storage.decommission.maxReplicationFailuresPerBlock",
    "spark.storage.decommission.rddBlocks.enabled",
    "spark.storage.decommission.replicationReattemptInterval",
    "spark.storage.decommission.shuffleBlocks.maxDiskSize",
    "spark.storage.decommission.shuffleBlocks.maxThreads",
    "spark.submit.",
};

#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const s_key_t *s_known(const char *key)
{
    for (size_t i = 0; i < S_COUNT(s_keys); i++)
        if (strcmp(s_keys[i].key, key) == 0) return &s_keys[i];
    return NULL;
}

/* 1 when key is one of s_spark_only, 2 when it is in one of its
 * families, else 0. */
static int s_spark_only_key(const char *key)
{
    int found = 0;
    for (size_t i = 0; i < S_COUNT(s_spark_only) && found != 1; i++) {
        const char *k = s_spark_only[i];
        size_t n = strlen(k);
        bool family = k[n - 1] == '.';
        if (strncmp(key, k, n) == 0 &&
            (family || key[n] == '\0' || key[n] == '.'))
            found = family ? 2 : 1;
    }
    return found;
}

static int s_bad(const char *key, const char *value, const char *want,
                 ms_error_t *err)
{
    return ms_error_set(err, MS_ERR_USAGE,
                        "invalid value '%s' for %s: expected %s", value, key,
                        want);
}

static int s_check_choice(const s_key_t *k, const char *value, ms_error_t *err)
{
    char want[128] = "";
    size_t n = strlen(value);
    for (const char *c = k->choices; *c;) {
        size_t len = strcspn(c, "|");
        if (len == n && strncasecmp(c, value, n) == 0) return 0;
        bool last = c[len] == '\0';
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%.*s",
                 !*want ? ""
                 : last ? " or "
                        : ", ",
                 (int)len, c);
        c += len + !last;
    }
    return s_bad(k->key, value, want, err);
}

/* Through the same getters the readers use, so that both agree on what a
 * value means. */
static int s_check_value(const ms_conf_t *conf, const s_key_t *k,
                         const char *value, ms_error_t *err)
{
    bool b;
    int64_t v;
    double d;
    switch (k->kind) {
    case S_BOOL:
        return ms_conf_bool(conf, k->key, false, &b, err);
    case S_INT:
        return ms_conf_int(conf, k->key, k->min, k->min, k->max, &v, err);
    case S_FRACTION:
        if (ms_conf_double(conf, k->key, 1, &d, err) < 0) return err->code;
        return d > 0 && d <= 1
                   ? 0
                   : s_bad(k->key, value, "a number in (0, 1]", err);
    case S_DURATION:
        return ms_conf_duration_ms(conf, k->key, k->unit, 0, &v, err);
    case S_TIMEOUT:
        return ms_conf_timeout_ms(conf, k->key, k->unit, 1, &v, err);
    case S_SIZE:
        if (ms_conf_size(conf, k->key, k->unit, k->min, &v, err) < 0)
            return err->code;
        return v >= k->min ? 0
                           : s_bad(k->key, value,
                                   k->min > 1 ? "a size of at least 1m"
                                              : "a positive size",
                                   err);
    case S_CHOICE:
        return s_check_choice(k, value, err);
    case S_TEXT:
        return *value ? 0 : s_bad(k->key, value, "a value", err);
    default:
        return 0;
    }
}

/* ---- reading a known key ------------------------------------------------ */

static const s_key_t *s_row(const char *key, bool numeric, ms_error_t *err)
{
    const s_key_t *k = s_known(key);
    bool ok = k && (numeric ? k->kind == S_INT || k->kind == S_DURATION ||
                                  k->kind == S_TIMEOUT || k->kind == S_SIZE
                            : true);
    if (!ok)
        ms_error_set(err, MS_ERR_USAGE, "%s is not a known key of that kind",
                     key);
    return ok ? k : NULL;
}

int ms_conf_key_int_or(const ms_conf_t *conf, const char *key, int64_t def,
                       int64_t *out, ms_error_t *err)
{
    const s_key_t *k = s_row(key, true, err);
    if (!k) return MS_ERR_USAGE;
    const char *value = ms_conf_get(conf, key);
    switch (k->kind) {
    case S_INT:
        return ms_conf_int(conf, key, def, k->min, k->max, out, err);
    case S_DURATION:
        return ms_conf_duration_ms(conf, key, k->unit, def, out, err);
    case S_TIMEOUT:
        return ms_conf_timeout_ms(conf, key, k->unit, def, out, err);
    default: /* S_SIZE */
        if (ms_conf_size(conf, key, k->unit, def, out, err) < 0)
            return err ? err->code : MS_ERR_USAGE;
        return !value || *out >= k->min ? 0
                                        : s_check_value(conf, k, value, err);
    }
}

int ms_conf_key_int(const ms_conf_t *conf, const char *key, int64_t *out,
                    ms_error_t *err)
{
    const s_key_t *k = s_row(key, true, err);
    return k ? ms_conf_key_int_or(conf, key, k->def, out, err) : MS_ERR_USAGE;
}

int ms_conf_key_bool(const ms_conf_t *conf, const char *key, bool *out,
                     ms_error_t *err)
{
    const s_key_t *k = s_row(key, false, err);
    if (!k || k->kind != S_BOOL)
        return ms_error_set(err, MS_ERR_USAGE, "%s is not a known bool", key);
    return ms_conf_bool(conf, key, k->def != 0, out, err);
}

int ms_conf_key_fraction(const ms_conf_t *conf, const char *key, double *out,
                         ms_error_t *err)
{
    const s_key_t *k = s_row(key, false, err);
    if (!k || k->kind != S_FRACTION)
        return ms_error_set(err, MS_ERR_USAGE, "%s is not a known fraction",
                            key);
    const char *value = ms_conf_get(conf, key);
    if (ms_conf_double(conf, key, (double)k->def / 1e6, out, err) < 0)
        return err ? err->code : MS_ERR_USAGE;
    return value ? s_check_value(conf, k, value, err) : 0;
}

/* Levenshtein distance, ignoring case, of strings of at most 127 bytes. */
static size_t s_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[128];
    if (la > 127 || lb > 127) return (size_t)-1;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t same = tolower((unsigned char)a[i - 1]) ==
                          tolower((unsigned char)b[j - 1]);
            size_t best = diag + !same;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *ms_conf_nearest_key(const char *key)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < S_COUNT(s_keys); i++) {
        size_t d = s_distance(key, s_keys[i].key);
        if (d < best_d) {
            best_d = d;
            best = s_keys[i].key;
        }
    }
    /* Close: within a third of the key's length (a word left out or
     * misspelt, or only the case wrong), and never the key itself. */
    return best && strcmp(best, key) != 0 && best_d <= strlen(key) / 3 ? best
                                                                       : NULL;
}

static void s_warn_unknown(const char *key, ms_conf_warn_fn *warn, void *arg)
{
    char msg[512];
    const char *near = ms_conf_nearest_key(key);
    int spark_only = s_spark_only_key(key);
    /* A family holds keys minispark knows too: a near miss of one of them
     * is more likely a typo than a Spark key. */
    if (spark_only == 1 || (spark_only == 2 && !near))
        snprintf(msg, sizeof msg,
                 "%s is a Spark key that minispark does not implement; it "
                 "has no effect",
                 key);
    else if (near)
        snprintf(msg, sizeof msg, "%s is not a key; did you mean %s?", key,
                 near);
    else
        snprintf(msg, sizeof msg,
                 "%s is not a key minispark knows; it has no effect", key);
    warn(arg, msg);
}

int ms_conf_check(const ms_conf_t *conf, ms_conf_warn_fn *warn, void *arg,
                  ms_error_t *err)
{
    const char *key, *value;
    for (int i = 0; ms_conf_entry(conf, i, &key, &value); i++) {
        const s_key_t *k = s_known(key);
        int rc = k ? s_check_value(conf, k, value, err) : 0;
        if (rc < 0) return rc;
        if (!k && warn &&
            (strncmp(key, "spark.", 6) == 0 ||
             strncmp(key, "minispark.", 10) == 0))
            s_warn_unknown(key, warn, arg);
    }
    return 0;
}

void ms_conf_warn_stderr(void *arg, const char *msg)
{
    fprintf(stderr, "%s: warning: %s\n", (const char *)arg, msg);
}
