/* The terminal: allocation decisions as one log line each on stderr, and
 * on a TTY one live progress line, redrawn at most 5 times a second, in
 * Spark's manner. Not a TTY: decisions only, nothing redrawn. --quiet:
 * nothing. */
#ifndef MS_CONSOLE_H
#define MS_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "driver/app.h"
#include "driver/events.h"

/* What the live line shows. min/max < 0: static allocation. */
typedef struct ms_console_line {
    int stage;
    const char *stage_name;
    int done, running, total;
    int executors, target, min, max;
    double input_mb_per_s;
} ms_console_line_t;

/* "[Stage 0: map (12 + 4) / 40] executors 4 (target 6, min 1, max 20)
 * 312.4 MB/s"; returns the length as snprintf does. */
int ms_console_format(char *buf, size_t size, const ms_console_line_t *l);
/* Whether to redraw now: only on a TTY, not quiet, at most every 200 ms. */
bool ms_console_due(bool tty, bool quiet, int64_t now_ms, int64_t last_ms);

/* The bus listener; arg is the ms_app_t. */
void ms_console_listener(void *arg, const ms_event_t *ev);
/* Redraws the live line if it is due. */
void ms_console_progress(ms_app_t *app);
/* Erases the live line so that other output starts on a clean line. */
void ms_console_clear(const ms_app_t *app);
/* b bytes in words: "512 B", "69.3 KB", "1.2 GB" (powers of 1000). */
void ms_console_bytes(char *buf, size_t size, double b);

#endif
