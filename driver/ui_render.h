/* HTML and SVG views of a UI snapshot, shared by the live web UI and
 * `minispark report`: the executor timeline chart (executors, target,
 * running and pending tasks over time, with add/remove markers that carry
 * their reasons), the executors table, stage progress and the allocation
 * decisions. Self-contained: no scripts, fonts or images from elsewhere. */
#ifndef MS_UI_RENDER_H
#define MS_UI_RENDER_H

#include <stdbool.h>

#include "driver/ui_state.h"

/* The chart alone as an SVG document (malloc'ed; caller frees). Elements
 * carry data attributes tests can read: the root <svg> has
 * data-max-executors="N" (the largest executor count drawn), and every
 * decision marker is a <g class="add|remove|cancel|keep" data-executor="ID">
 * with a <title> holding the reason. */
char *ms_ui_render_svg(const ms_ui_snapshot_t *s, int width, int height);

/* The body of the page: chart, executors table, stages, decisions (an
 * HTML fragment, malloc'ed). */
char *ms_ui_render_fragment(const ms_ui_snapshot_t *s);

/* A whole HTML document. live: the page fetches /ui/fragment every second
 * and swaps it in (a few lines of inline script); otherwise it is a static
 * report with no script at all. */
char *ms_ui_render_page(const ms_ui_snapshot_t *s, bool live);

#endif
