/* Console output of the driver. */
#include "driver/console.h"

#include <stdio.h>

#define S_REDRAW_MS 200

int ms_console_format(char *buf, size_t size, const ms_console_line_t *l)
{
    char bounds[48] = "";
    if (l->max >= 0)
        snprintf(bounds, sizeof bounds, ", min %d, max %d", l->min, l->max);
    return snprintf(buf, size,
                    "[Stage %d: %s (%d + %d) / %d] executors %d (target %d%s) "
                    "%.1f MB/s",
                    l->stage, l->stage_name, l->done, l->running, l->total,
                    l->executors, l->target, bounds, l->input_mb_per_s);
}

bool ms_console_due(bool tty, bool quiet, int64_t now_ms, int64_t last_ms)
{
    return tty && !quiet && now_ms - last_ms >= S_REDRAW_MS;
}

void ms_console_clear(const ms_app_t *app)
{
    if (app->tty && !app->quiet) fputs("\r\033[K", stderr);
}

void ms_console_bytes(char *buf, size_t size, double b)
{
    const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

void ms_console_listener(void *arg, const ms_event_t *ev)
{
    ms_app_t *app = arg;
    if (app->quiet || ev->type != MS_EV_ALLOCATION) return;
    ms_console_clear(app);
    fprintf(stderr, "minispark: %s\n", ev->reason);
    app->last_draw_ms = 0; /* redraw the live line at once */
}

void ms_console_progress(ms_app_t *app)
{
    int64_t now = ms_clock_now_ms();
    if (!app->job ||
        !ms_console_due(app->tty, app->quiet, now, app->last_draw_ms))
        return;
    ms_console_line_t l = {.min = -1, .max = -1};
    l.stage = app->stage.stage;
    l.stage_name = app->stage.name;
    l.done = app->stage.done;
    l.running = app->stage.running;
    l.total = app->stage.total;
    l.executors = ms_app_active_execs(app);
    l.target = ms_app_target(app);
    if (app->alloc) {
        const ms_alloc_conf_t *c =
            ms_alloc_conf(ms_alloc_manager_policy(app->alloc));
        l.min = c->min_executors;
        l.max = c->max_executors;
    }
    double secs = (double)(now - app->start_ms) / 1000.0;
    l.input_mb_per_s =
        secs > 0 ? (double)app->totals.bytes_read / 1e6 / secs : 0;
    char line[256];
    ms_console_format(line, sizeof line, &l);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    app->last_draw_ms = now;
}
