/* The driver's listener bus: scheduler and allocation events are posted
 * here once and delivered, in order, to every subscriber (console, event
 * log). Posting is synchronous on the driver's one thread; an event and
 * the strings it points to are valid only during the post. */
#ifndef MS_EVENTS_H
#define MS_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/task.h"

typedef enum {
    MS_EV_APP_START,
    MS_EV_APP_END,
    MS_EV_JOB_START,
    MS_EV_JOB_END,
    MS_EV_STAGE_SUBMITTED,
    MS_EV_STAGE_COMPLETED,
    MS_EV_TASK_START,
    MS_EV_TASK_END,
    MS_EV_EXECUTOR_ADDED,
    MS_EV_EXECUTOR_REMOVED,
    MS_EV_ALLOCATION,      /* MinisparkAllocationDecision */
    MS_EV_SHUFFLE_REMOVED, /* a shuffle's files were deleted (not logged) */
} ms_event_type_t;

typedef struct {
    ms_event_type_t type;
    int64_t time_ms; /* wall clock, ms since the epoch */
    const char *app_id, *app_name;
    int job, stage, ntasks;
    int shuffle; /* the shuffle a map task wrote or a job uses; -1: none */
    const char *stage_name; /* "map" or "reduce" */
    int stage_ids[2];       /* job start: its stages */
    bool success;
    /* tasks */
    int64_t task_id;
    int index, attempt;
    int stage_attempt; /* stage and task events: 0, then 1, 2 on resubmission */
    int64_t launch_ms; /* task start, or an executor's launch */
    const char *failure; /* task end reason when !success */
    const ms_task_metrics_t *metrics;
    /* executors */
    int exec;
    const char *host;
    int cores;
    const char *reason; /* executor removed, allocation decision */
    /* allocation decisions */
    const char *action; /* "target", "add", "remove", "keep", "cancel" */
    int old_target, new_target, pending, running, executors;
} ms_event_t;

typedef void ms_listener_fn(void *arg, const ms_event_t *ev);

#define MS_BUS_MAX_LISTENERS 8

typedef struct {
    struct {
        ms_listener_fn *fn;
        void *arg;
    } l[MS_BUS_MAX_LISTENERS];
    int n;
} ms_bus_t;

void ms_bus_subscribe(ms_bus_t *bus, ms_listener_fn *fn, void *arg);
/* Stamps ev->time_ms if zero, then delivers it to every listener. */
void ms_bus_post(ms_bus_t *bus, ms_event_t *ev);

#endif
