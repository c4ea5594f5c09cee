/* The minispark.test.* fault-injection hooks (see hooks.h). */
#include "driver/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shuffle/block.h"
#include "shuffle/files.h"

/* spec is E:N and names executor exec's Nth. */
static bool s_names_nth(const char *spec, const ms_exec_t *ex, int nth)
{
    int id, n;
    return spec && sscanf(spec, "%d:%d", &id, &n) == 2 && id == ex->id &&
           nth == n;
}

void ms_hooks_task_ended(ms_app_t *app, int exec, int stage, int done)
{
    ms_exec_t *ex = &app->execs[exec];
    if (ex->alive &&
        s_names_nth(ms_conf_get(app->conf, "minispark.test.killExecutorAfter"),
                    ex, (int)ex->completed))
        ms_app_signal_exec(app, exec, SIGKILL);
    const char *spec =
        ms_conf_get(app->conf, "minispark.test.decommissionAfter");
    for (const char *p = spec; p && *p; p += strcspn(p, ","), p += *p == ',') {
        int id, at, n, i;
        bool mine = s_names_nth(p, ex, (int)ex->completed);
        bool staged = sscanf(p, "%d@%d:%d", &id, &at, &n) == 3 && at == stage &&
                      done == n;
        if (mine) id = ex->id;
        if ((mine || staged) && ms_app_exec_by_id(app, id, &i))
            ms_app_decommission_exec(app, i,
                                     "decommissioned by "
                                     "minispark.test.decommissionAfter");
    }
}

/* Whether key=STAGE:TASK[:N] names this attempt: one of the task's first
 * N (1 without N). */
static bool s_names_attempt(const ms_conf_t *conf, const char *key, int stage,
                            int task, int attempt)
{
    const char *spec = ms_conf_get(conf, key);
    int s, t, times = 1;
    return spec && sscanf(spec, "%d:%d:%d", &s, &t, &times) >= 2 &&
           s == stage && t == task && attempt < times;
}

ms_inject_t ms_hooks_inject(const ms_conf_t *conf, int stage, int task,
                            int attempt, ms_task_kind_t kind)
{
    if (s_names_attempt(conf, "minispark.test.failTask", stage, task, attempt))
        return MS_INJECT_FAIL;
    if (kind == MS_TASK_REDUCE &&
        s_names_attempt(conf, "minispark.test.stallFetch", stage, task,
                        attempt))
        return MS_INJECT_STALL_FETCH;
    return MS_INJECT_NONE;
}

/* Flips the middle byte of the body of partition p's block of map m's
 * output in dir. */
static int s_flip(const char *dir, const char *app, int s, int m, int p,
                  const char *spec, ms_error_t *err)
{
    uint64_t off, len;
    int rc = ms_shuffle_block_range(dir, app, s, m, p, &off, &len, err);
    if (rc < 0) return rc;
    if (len <= MS_BLOCK_HEADER)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: block %s is empty",
                            spec);
    char path[4200];
    ms_shuffle_path(path, sizeof path, dir, app, s, m, "data");
    int fd = open(path, O_RDWR);
    uint8_t byte;
    off_t at = (off_t)(off + MS_BLOCK_HEADER + (len - MS_BLOCK_HEADER) / 2);
    if (fd < 0 || pread(fd, &byte, 1, at) != 1) goto io;
    byte ^= 0x5a;
    if (pwrite(fd, &byte, 1, at) != 1) goto io;
    close(fd);
    return 0;
io:
    if (fd >= 0) close(fd);
    return ms_error_set(err, MS_ERR_IO, "corrupting %s: %s", path,
                        strerror(errno));
}

static int s_corrupt(ms_app_t *app, int shuffle,
                     const ms_map_outputs_t *outputs, int nmaps, int nparts,
                     ms_hooks_state_t *st, ms_error_t *err)
{
    const char *spec = ms_conf_get(app->conf, "minispark.test.corruptBlock");
    int s, m, p, times = -1;
    if (!spec) return 0;
    int nf = sscanf(spec, "%d:%d:%d:%d", &s, &m, &p, &times);
    if (nf < 3 || (nf == 4 && times < 1))
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: expected S:M:P[:N]");
    if (s != shuffle) return 0;
    if (m < 0 || m >= nmaps || p < 0 || p >= nparts)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.corruptBlock: no block %s", spec);
    int64_t since = ms_map_outputs_since(outputs, m);
    int exec = ms_map_outputs_exec(outputs, m);
    if (since == st->corrupted || (times > 0 && st->corruptions >= times))
        return 0;
    st->corrupted = since;
    st->corruptions++;
    if (exec < 0) return 0;
    return s_flip(app->execs[exec].dir, app->app_id, s, m, p, spec, err);
}

static int s_delete(ms_app_t *app, int shuffle, const ms_map_outputs_t *outputs,
                    ms_hooks_state_t *st, ms_error_t *err)
{
    const char *spec = ms_conf_get(app->conf, "minispark.test.deleteOutput");
    int s, m;
    if (!spec || st->deleted) return 0;
    if (sscanf(spec, "%d:%d", &s, &m) != 2)
        return ms_error_set(err, MS_ERR_USAGE,
                            "minispark.test.deleteOutput: expected S:M");
    int exec = ms_map_outputs_exec(outputs, m);
    if (s != shuffle || exec < 0) return 0;
    char path[4200];
    for (int i = 0; i < 2; i++) {
        ms_shuffle_path(path, sizeof path, app->execs[exec].dir, app->app_id, s,
                        m, i ? "index" : "data");
        unlink(path);
    }
    st->deleted = true;
    return 0;
}

int ms_hooks_after_map_stage(ms_app_t *app, int shuffle,
                             const ms_map_outputs_t *outputs, int nmaps,
                             int nparts, ms_hooks_state_t *st, ms_error_t *err)
{
    int rc = s_corrupt(app, shuffle, outputs, nmaps, nparts, st, err);
    return rc < 0 ? rc : s_delete(app, shuffle, outputs, st, err);
}

void ms_hooks_output_moved(ms_app_t *app, int exec, int moved)
{
    if (s_names_nth(
            ms_conf_get(app->conf, "minispark.test.killDuringMigration"),
            &app->execs[exec], moved))
        ms_app_signal_exec(app, exec, SIGKILL);
}
