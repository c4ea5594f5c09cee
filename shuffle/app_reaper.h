/* The standalone shuffle service's memory of which applications are alive.
 * A driver says so every heartbeat (MS_MSG_APP_ALIVE) and its executors'
 * fetches say so too; an application with files in the directory and no
 * word for the timeout has lost its driver, and its files are deleted.
 * Files of an application never heard from (found on disk, say after a
 * restart of the service) get the same timeout from when they are found,
 * and are not served until a driver registers the application. */
#ifndef MS_APP_REAPER_H
#define MS_APP_REAPER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ms_app_reaper ms_app_reaper_t;

/* dir is copied; what is deleted is said on log (borrowed; NULL: quiet).
 * NULL when out of memory. */
ms_app_reaper_t *ms_app_reaper_new(const char *dir, int64_t timeout_ms,
                                   FILE *log);
void ms_app_reaper_destroy(ms_app_reaper_t **self_p);

/* app (a valid application id) was heard from at now_ms. */
void ms_app_reaper_seen(ms_app_reaper_t *self, const char *app, int64_t now_ms);

/* Its driver said so (APP_ALIVE, or a ping naming it): the service serves
 * only the files of registered applications. */
void ms_app_reaper_register(ms_app_reaper_t *self, const char *app,
                            int64_t now_ms);
bool ms_app_reaper_registered(const ms_app_reaper_t *self, const char *app);
/* How many applications are registered. */
int ms_app_reaper_count(const ms_app_reaper_t *self);

/* At most once a second: looks for applications with files, and deletes
 * the files of those silent for the timeout, saying so on the log. Returns
 * the number of files deleted. */
int ms_app_reaper_sweep(ms_app_reaper_t *self, int64_t now_ms);

#endif
