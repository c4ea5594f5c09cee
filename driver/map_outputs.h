/* The registry of one shuffle's map outputs: where each is served (a
 * shuffle server's endpoint, or a file:// folder), which executor's own
 * server serves it (losing that executor loses it), and the epoch of its
 * registration. Every registration or move bumps the registry's epoch, so
 * that a failure reported by a reducer launched earlier (at an older epoch)
 * can be told stale. Pure bookkeeping: the scheduler (job.c) owns it and
 * decides what a loss means for its tasks. */
#ifndef MS_MAP_OUTPUTS_H
#define MS_MAP_OUTPUTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/task.h"

typedef struct ms_map_outputs ms_map_outputs_t;

/* A registry of nmaps outputs, none registered; NULL when out of memory. */
ms_map_outputs_t *ms_map_outputs_new(int nmaps);
void ms_map_outputs_destroy(ms_map_outputs_t **self_p);

/* Map m's output is served at endpoint, by executor exec's own server
 * (-1: by no executor's: a host's shuffle server, the fallback folder).
 * False when out of memory (nothing changes then). */
bool ms_map_outputs_register(ms_map_outputs_t *self, int m,
                             const char *endpoint, int exec);
/* Map m's output is gone, unless it was registered after epoch seen (a
 * newer copy than the reporter knew of): true when it was unregistered. */
bool ms_map_outputs_lose(ms_map_outputs_t *self, int m, int64_t seen);
/* Executor from migrated map m's output to endpoint, served there by
 * executor to (-1: none): 1. 0, changing nothing, when the registered copy
 * is not from's (an older attempt's was moved); -1 when out of memory. */
int ms_map_outputs_move(ms_map_outputs_t *self, int m, int from,
                        const char *endpoint, int to);

bool ms_map_outputs_registered(const ms_map_outputs_t *self, int m);
/* The executor whose own server serves m's output, or -1. */
int ms_map_outputs_exec(const ms_map_outputs_t *self, int m);
/* Where m's output is served, or NULL when it is not registered. */
const char *ms_map_outputs_where(const ms_map_outputs_t *self, int m);
/* How many outputs executor exec's own server serves. */
int ms_map_outputs_on(const ms_map_outputs_t *self, int exec);
/* The epoch of m's registration (0: never registered). */
int64_t ms_map_outputs_since(const ms_map_outputs_t *self, int m);
/* Bumped by every registration and move. */
int64_t ms_map_outputs_epoch(const ms_map_outputs_t *self);
/* Every map's location as of now, for a reduce task to read (valid until
 * the next change; "" for an output not registered). */
ms_task_loc_t *ms_map_outputs_locs(ms_map_outputs_t *self);

#endif
