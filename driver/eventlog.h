/* The event log: one JSON object per line in <dir>/<appId>.jsonl, with
 * Spark's listener event and field names (plus MinisparkAllocationDecision),
 * flushed after every event so it can be followed while the job runs. */
#ifndef MS_EVENTLOG_H
#define MS_EVENTLOG_H

#include "common/err.h"
#include "driver/events.h"

typedef struct ms_eventlog ms_eventlog_t;

/* Creates dir if needed and opens the application's log for writing. */
int ms_eventlog_open(ms_eventlog_t **out, const char *dir, const char *app_id,
                     ms_error_t *err);
void ms_eventlog_close(ms_eventlog_t **self_p);
const char *ms_eventlog_path(const ms_eventlog_t *self);

/* The bus listener; arg is the ms_eventlog_t. */
void ms_eventlog_listener(void *arg, const ms_event_t *ev);

#endif
