/* Fault injection for the tests: the minispark.test.* keys (accepted only
 * with MINISPARK_TESTING=1 in the environment). Each hook acts as the fault
 * it stands for would: on an executor through the application (a signal
 * by PID, here or through its worker; decommissioning), on map outputs
 * through the shuffle files API. The scheduler calls them at its events. */
#ifndef MS_HOOKS_H
#define MS_HOOKS_H

#include "common/err.h"
#include "common/task.h"
#include "driver/app.h"
#include "driver/map_outputs.h"

/* A task of stage ended well on executor exec, the done-th of its stage:
 * killExecutorAfter=E:N (SIGKILL when E's Nth task ends) and
 * decommissionAfter=E:N or E@S:N, comma-separated (decommission E when its
 * Nth task, or the Nth task of stage S, ends). */
void ms_hooks_task_ended(ms_app_t *app, int exec, int stage, int done);

/* What attempt number attempt of task of stage is made to do: failTask=
 * ST:T[:N] (fail at once, the first N attempts, default 1) or, for a
 * reduce task, stallFetch=ST:T[:N] (its fetch gets no answer in time). */
ms_inject_t ms_hooks_inject(const ms_conf_t *conf, int stage, int task,
                            int attempt, ms_task_kind_t kind);

/* What the after-map-stage hooks remember across stage attempts. */
typedef struct {
    int64_t corrupted; /* corruptBlock's last victim (its registration) */
    int corruptions;
    bool deleted; /* deleteOutput has been done */
} ms_hooks_state_t;

/* After the map stage of shuffle (nmaps outputs of nparts partitions in
 * outputs): corruptBlock=S:M:P[:N] flips a byte of that block each time
 * map M's output is new (the first N times, or every time), and
 * deleteOutput=S:M deletes map M's files once, as a disk losing them would.
 * MS_ERR_USAGE for a malformed or impossible spec. */
int ms_hooks_after_map_stage(ms_app_t *app, int shuffle,
                             const ms_map_outputs_t *outputs, int nmaps,
                             int nparts, ms_hooks_state_t *st, ms_error_t *err);

/* Executor exec reported its moved-th migrated output:
 * killDuringMigration=E:N SIGKILLs E at its Nth. */
void ms_hooks_output_moved(ms_app_t *app, int exec, int moved);

#endif
