/* The terminal: allocation decisions as one log line each on stderr, and
 * on a TTY one live progress line, redrawn at most 5 times a second, in
 * Spark's manner. With --quiet, nothing. */
#ifndef MS_CONSOLE_H
#define MS_CONSOLE_H

#include "driver/app.h"
#include "driver/events.h"

/* The bus listener; arg is the ms_app_t. */
void ms_console_listener(void *arg, const ms_event_t *ev);
/* Redraws the live line if it is time to. */
void ms_console_progress(ms_app_t *app);
/* Erases the live line so that other output starts on a clean line. */
void ms_console_clear(const ms_app_t *app);

#endif
