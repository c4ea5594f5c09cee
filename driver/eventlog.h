/* The event log: one JSON object per line in <dir>/<appId>.jsonl, with
 * Spark's listener event and field names (plus MinisparkAllocationDecision),
 * flushed after every event so it can be followed while the job runs. */
#ifndef MS_EVENTLOG_H
#define MS_EVENTLOG_H

#include <stddef.h>

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

/* Parses one line of an event log back into an event (the inverse of the
 * listener, for replay). Strings in *ev point into *doc, which the caller
 * releases with json_decref once done with ev. Lines of unknown events
 * return 1 (skip); malformed lines return MS_ERR_MALFORMED with the reason
 * in err. Never trusts the line: every field is type-checked. */
struct json_t;
int ms_eventlog_parse_line(const char *line, size_t len, ms_event_t *ev,
                           ms_task_metrics_t *metrics, struct json_t **doc,
                           ms_error_t *err);

/* Replays a whole log through fn. Errors name the file and line. */
int ms_eventlog_replay(const char *path, ms_listener_fn *fn, void *arg,
                       ms_error_t *err);

#endif
