/* One shuffle's map output registry (see map_outputs.h). Locations are
 * few (one per server), so each output holds an index into a small table
 * of them rather than a string of its own. */
#include "driver/map_outputs.h"

#include <stdlib.h>
#include <string.h>

struct ms_map_outputs {
    int nmaps;
    int *loc;       /* [nmaps] index in where[], -1: not registered */
    int *exec;      /* [nmaps] executor whose own server serves it, or -1 */
    int64_t *since; /* [nmaps] epoch of its registration */
    int64_t epoch;
    char **where; /* the distinct locations */
    int nwhere;
    int64_t changes;     /* registrations, moves and losses */
    ms_task_loc_t *locs; /* as of locs_changes */
    int64_t locs_changes;
};

ms_map_outputs_t *ms_map_outputs_new(int nmaps)
{
    ms_map_outputs_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    size_t n = nmaps > 0 ? (size_t)nmaps : 1;
    self->nmaps = nmaps;
    self->loc = malloc(n * sizeof *self->loc);
    self->exec = malloc(n * sizeof *self->exec);
    self->since = calloc(n, sizeof *self->since);
    self->locs = calloc(n, sizeof *self->locs);
    if (!self->loc || !self->exec || !self->since || !self->locs) {
        ms_map_outputs_destroy(&self);
        return NULL;
    }
    for (int m = 0; m < nmaps; m++)
        self->loc[m] = self->exec[m] = -1;
    self->locs_changes = -1;
    return self;
}

void ms_map_outputs_destroy(ms_map_outputs_t **self_p)
{
    ms_map_outputs_t *self = *self_p;
    if (!self) return;
    for (int i = 0; i < self->nwhere; i++)
        free(self->where[i]);
    free(self->where);
    free(self->loc);
    free(self->exec);
    free(self->since);
    free(self->locs);
    free(self);
    *self_p = NULL;
}

/* The index of endpoint in where[], added if new; -1 when out of memory. */
static int s_where(ms_map_outputs_t *self, const char *endpoint)
{
    for (int i = 0; i < self->nwhere; i++)
        if (strcmp(self->where[i], endpoint) == 0) return i;
    char **grown =
        realloc(self->where, (size_t)(self->nwhere + 1) * sizeof *grown);
    if (!grown) return -1;
    self->where = grown;
    if (!(grown[self->nwhere] = strdup(endpoint))) return -1;
    return self->nwhere++;
}

static bool s_valid(const ms_map_outputs_t *self, int m)
{
    return m >= 0 && m < self->nmaps;
}

bool ms_map_outputs_register(ms_map_outputs_t *self, int m,
                             const char *endpoint, int exec)
{
    int loc = s_valid(self, m) ? s_where(self, endpoint) : -1;
    if (loc < 0) return false;
    self->loc[m] = loc;
    self->exec[m] = exec;
    self->since[m] = ++self->epoch;
    self->changes++;
    return true;
}

bool ms_map_outputs_lose(ms_map_outputs_t *self, int m, int64_t seen)
{
    if (!ms_map_outputs_registered(self, m) || self->since[m] > seen)
        return false;
    self->loc[m] = self->exec[m] = -1;
    self->changes++;
    return true;
}

int ms_map_outputs_move(ms_map_outputs_t *self, int m, int from,
                        const char *endpoint, int to)
{
    if (!ms_map_outputs_registered(self, m) || self->exec[m] != from) return 0;
    return ms_map_outputs_register(self, m, endpoint, to) ? 1 : -1;
}

bool ms_map_outputs_registered(const ms_map_outputs_t *self, int m)
{
    return s_valid(self, m) && self->loc[m] >= 0;
}

int ms_map_outputs_exec(const ms_map_outputs_t *self, int m)
{
    return s_valid(self, m) ? self->exec[m] : -1;
}

const char *ms_map_outputs_where(const ms_map_outputs_t *self, int m)
{
    return ms_map_outputs_registered(self, m) ? self->where[self->loc[m]]
                                              : NULL;
}

int ms_map_outputs_on(const ms_map_outputs_t *self, int exec)
{
    int n = 0;
    for (int m = 0; m < self->nmaps; m++)
        n += self->loc[m] >= 0 && self->exec[m] == exec;
    return n;
}

int64_t ms_map_outputs_since(const ms_map_outputs_t *self, int m)
{
    return s_valid(self, m) ? self->since[m] : 0;
}

int64_t ms_map_outputs_epoch(const ms_map_outputs_t *self)
{
    return self->epoch;
}

ms_task_loc_t *ms_map_outputs_locs(ms_map_outputs_t *self)
{
    if (self->locs_changes == self->changes) return self->locs;
    for (int m = 0; m < self->nmaps; m++) {
        const char *where = ms_map_outputs_where(self, m);
        self->locs[m] = (ms_task_loc_t){m, (char *)(where ? where : "")};
    }
    self->locs_changes = self->changes;
    return self->locs;
}
