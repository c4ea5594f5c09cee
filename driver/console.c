/* Console output of the driver. */
#include "driver/console.h"

#include <stdio.h>

#include "driver/job.h"

void ms_console_clear(const ms_app_t *app)
{
    if (app->tty && !app->quiet) fputs("\r\033[K", stderr);
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
    int64_t now = ms_now_ms();
    if (!app->tty || app->quiet || !app->job || now - app->last_draw_ms < 200)
        return;
    char stage[128], most[32] = "";
    ms_job_progress(app->job, stage, sizeof stage);
    if (app->alloc)
        snprintf(most, sizeof most, ", max %d",
                 ms_alloc_conf(ms_alloc_manager_policy(app->alloc))->max_executors);
    fprintf(stderr, "\r\033[K%s executors %d (target %d%s)", stage,
            ms_app_active_execs(app), ms_app_target(app), most);
    fflush(stderr);
    app->last_draw_ms = now;
}
