/* The final result of one query on the driver: rows gathered from the
 * reduce tasks, ordered and limited, then shown as a df.show()-style table
 * and written as CSV (atomically: temp file, then rename). */
#ifndef MS_RESULT_H
#define MS_RESULT_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "common/plan.h"

typedef struct ms_result ms_result_t;

/* Borrows plan for the result's lifetime. */
ms_result_t *ms_result_new(const ms_plan_t *plan);
void ms_result_destroy(ms_result_t **self_p);

/* Adds the packed final rows of one reduce task (untrusted bytes). */
int ms_result_add(ms_result_t *self, const void *buf, size_t len,
                  ms_error_t *err);

/* Adds the global aggregate's row over empty input if needed, sorts by the
 * plan's order (ms_rows_cmp) and applies its limit. */
int ms_result_finish(ms_result_t *self, ms_error_t *err);

int64_t ms_result_count(const ms_result_t *self);

/* Prints at most max_rows rows as an aligned table. */
void ms_result_show(const ms_result_t *self, FILE *out, int64_t max_rows);

int ms_result_write_csv(const ms_result_t *self, const char *path,
                        ms_error_t *err);

#endif
