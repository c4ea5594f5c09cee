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
} s_key_t;

#define S_INF MS_CONF_INFINITE

/* Sorted by key. Ranges are those their readers apply. */
static const s_key_t s_keys[] = {
    {"minispark.app.weight", S_INT, 0, 1, 1000, NULL},
    {"minispark.csv.sampleRows", S_INT, 0, 1, INT32_MAX, NULL},
    {"minispark.executor.registrationTimeout", S_DURATION, 1000, 0, 0, NULL},
    {"minispark.local.curve", S_BOOL, 0, 0, 0, NULL},
    {"minispark.show.rows", S_INT, 0, 0, INT64_MAX, NULL},
    {"minispark.shuffle.appTimeout", S_DURATION, 1000, 0, 0, NULL},
    {"minispark.shuffle.clientStallTimeout", S_DURATION, 1000, 0, 0, NULL},
    {"minispark.shuffle.idleTimeout", S_DURATION, 1000, 0, 0, NULL},
    {"minispark.shuffle.maxBytesInFlight", S_SIZE, 1, 1, INT64_MAX, NULL},
    {"minispark.shuffle.maxBytesInFlightTotal", S_SIZE, 1, 1, INT64_MAX, NULL},
    {"minispark.test.corruptBlock", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.decommissionAfter", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.deleteOutput", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.failTask", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.killDuringMigration", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.killExecutorAfter", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.reduceTaskDelay", S_DURATION, 1, 0, 0, NULL},
    {"minispark.test.stallFetch", S_TEXT, 0, 0, 0, NULL},
    {"minispark.test.taskDelay", S_DURATION, 1, 0, 0, NULL},
    {"minispark.ui.lingerAfterEnd", S_DURATION, 1000, 0, 0, NULL},
    {"minispark.ui.maxConnectionsPerAddress", S_INT, 0, 1, 64, NULL},
    {"minispark.ui.requestTimeout", S_TIMEOUT, 1000, 0, 0, NULL},
    {"spark.authenticate", S_BOOL, 0, 0, 0, NULL},
    {"spark.authenticate.secret", S_ANY, 0, 0, 0, NULL},
    {"spark.authenticate.secret.file", S_TEXT, 0, 0, 0, NULL},
    {"spark.driver.bindAddress", S_TEXT, 0, 0, 0, NULL},
    {"spark.driver.host", S_TEXT, 0, 0, 0, NULL},
    {"spark.decommission.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.driver.port", S_INT, 0, 0, 65535, NULL},
    {"spark.dynamicAllocation.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.dynamicAllocation.executorAllocationRatio", S_FRACTION, 0, 0, 0,
     NULL},
    {"spark.dynamicAllocation.executorIdleTimeout", S_DURATION, 1000, 0, 0,
     NULL},
    {"spark.dynamicAllocation.initialExecutors", S_INT, 0, 0, 100000, NULL},
    {"spark.dynamicAllocation.maxExecutors", S_INT, 0, 0, S_INF, NULL},
    {"spark.dynamicAllocation.minExecutors", S_INT, 0, 0, 100000, NULL},
    {"spark.dynamicAllocation.schedulerBacklogTimeout", S_DURATION, 1000, 0, 0,
     NULL},
    {"spark.dynamicAllocation.shuffleTracking.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.dynamicAllocation.shuffleTracking.timeout", S_DURATION, 1, 0, 0,
     NULL},
    {"spark.dynamicAllocation.sustainedSchedulerBacklogTimeout", S_DURATION,
     1000, 0, 0, NULL},
    {"spark.eventLog.dir", S_TEXT, 0, 0, 0, NULL},
    {"spark.eventLog.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.executor.cores", S_INT, 0, 1, 1024, NULL},
    {"spark.executor.decommission.forceKillTimeout", S_TIMEOUT, 1000, 0, 0,
     NULL},
    {"spark.executor.heartbeatInterval", S_DURATION, 1, 0, 0, NULL},
    {"spark.executor.instances", S_INT, 0, 0, 100000, NULL},
    {"spark.executor.maxNumFailures", S_INT, 0, 0, 100000, NULL},
    {"spark.executor.memory", S_SIZE, 1 << 20, 1 << 20, INT64_MAX, NULL},
    {"spark.files.maxPartitionBytes", S_SIZE, 1, 1, INT64_MAX, NULL},
    {"spark.files.openCostInBytes", S_SIZE, 1, 0, INT64_MAX, NULL},
    {"spark.io.compression.codec", S_CHOICE, 0, 0, 0, "zlib|lz4|none"},
    {"spark.io.compression.zlib.level", S_INT, 0, 1, 9, NULL},
    {"spark.local.dir", S_TEXT, 0, 0, 0, NULL},
    {"spark.master", S_TEXT, 0, 0, 0, NULL},
    {"spark.memory.fraction", S_FRACTION, 0, 0, 0, NULL},
    {"spark.network.timeout", S_TIMEOUT, 1000, 0, 0, NULL},
    {"spark.scheduler.mode", S_CHOICE, 0, 0, 0, "FAIR|FIFO"},
    {"spark.shuffle.compress", S_BOOL, 0, 0, 0, NULL},
    {"spark.shuffle.service.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.shuffle.service.port", S_INT, 0, 1, 65535, NULL},
    {"spark.sql.shuffle.partitions", S_INT, 0, 1, MS_PLAN_MAX_PARTITIONS, NULL},
    {"spark.stage.ignoreDecommissionFetchFailure", S_BOOL, 0, 0, 0, NULL},
    {"spark.stage.maxConsecutiveAttempts", S_INT, 0, 1, 1000, NULL},
    {"spark.storage.decommission.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.storage.decommission.fallbackStorage.cleanUp", S_BOOL, 0, 0, 0,
     NULL},
    {"spark.storage.decommission.fallbackStorage.path", S_TEXT, 0, 0, 0, NULL},
    {"spark.storage.decommission.shuffleBlocks.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.task.cpus", S_INT, 0, 1, 1024, NULL},
    {"spark.task.maxFailures", S_INT, 0, 1, 1000, NULL},
    {"spark.ui.enabled", S_BOOL, 0, 0, 0, NULL},
    {"spark.ui.host", S_TEXT, 0, 0, 0, NULL},
    {"spark.ui.port", S_INT, 0, 1, 65535, NULL},
    {"spark.worker.timeout", S_DURATION, 1000, 0, 0, NULL},
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
