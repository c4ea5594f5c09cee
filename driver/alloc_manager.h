/* Dynamic allocation inside the driver: listens on the bus and feeds the
 * policy (driver/allocation.h) and the executor monitor
 * (driver/exec_monitor.h), and on every tick decides the target and which
 * idle executors go, posting each decision with its reason. It launches and
 * stops nothing itself: the application carries its decisions out. */
#ifndef MS_ALLOC_MANAGER_H
#define MS_ALLOC_MANAGER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "driver/allocation.h"
#include "driver/events.h"

typedef struct ms_alloc_manager ms_alloc_manager_t;

/* Monotonic milliseconds; tests pass a hand-driven clock. */
typedef int64_t ms_clock_fn(void *arg);

/* Reads and validates the spark.dynamicAllocation.* keys; capacity is the
 * master's. Dynamic allocation needs the shuffle service, shuffle tracking
 * or decommissioning that migrates shuffle outputs (migrates; then idle
 * executors are not pinned by their outputs): MS_ERR_USAGE otherwise,
 * saying which keys to set. */
int ms_alloc_manager_new(ms_alloc_manager_t **out, const ms_conf_t *conf,
                         int capacity, bool shuffle_service, bool migrates,
                         ms_clock_fn *clock, void *clock_arg, ms_error_t *err);
void ms_alloc_manager_destroy(ms_alloc_manager_t **self_p);

/* The bus listener; arg is the manager. */
void ms_alloc_manager_listener(void *arg, const ms_event_t *ev);

typedef struct {
    int exec;
    char why[256]; /* "idle 60.0 s, holds no shuffle data ..." */
} ms_alloc_removal_t;

/* One round (Spark's schedule()): registered counts executors registered
 * and not being stopped. Posts target changes, removals and keeps on bus;
 * returns how many executors to stop were written to remove. */
int ms_alloc_manager_tick(ms_alloc_manager_t *self, int registered,
                          ms_bus_t *bus, ms_alloc_removal_t *remove, int max);

/* The earliest moment a tick could change something: the backlog timer or
 * an executor's idle deadline (INT64_MAX if none). Ticking then, besides
 * every 100 ms, makes the reaction as fast as the policy allows. */
int64_t ms_alloc_manager_next_deadline(const ms_alloc_manager_t *self);

int ms_alloc_manager_target(const ms_alloc_manager_t *self);
const ms_alloc_t *ms_alloc_manager_policy(const ms_alloc_manager_t *self);

#endif
