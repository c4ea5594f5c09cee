/* `minispark report`: replays a finished run's event log into the UI state
 * the live web UI uses and writes its timeline as an SVG chart or a static
 * HTML page (no script), atomically. It reads the log only; it never talks
 * to a running driver. */
#include "driver/report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fsutil.h"
#include "driver/eventlog.h"
#include "driver/ui_render.h"
#include "driver/ui_state.h"

#define S_SVG_WIDTH 1000
#define S_SVG_HEIGHT 420

static const char s_usage[] =
    "usage: minispark report EVENTLOG [-o PATH]\n"
    "\n"
    "Replays an event log (written with --event-log DIR or\n"
    "spark.eventLog.enabled=true) and draws the run: executors, target,\n"
    "running and pending tasks over time, every add and remove decision\n"
    "with its reason, jobs, executors, stages and allocation decisions.\n"
    "\n"
    "  -o, --output PATH   PATH.svg: the timeline chart alone;\n"
    "                      PATH.html: a self-contained static page\n"
    "                      (default timeline.html); written atomically\n"
    "\n"
    "Exit codes: 0 success, 2 bad usage, 3 unreadable or malformed event\n"
    "log (the message names the file and line) or no report written.\n";

typedef enum { S_SVG, S_HTML } s_format_t;

typedef struct {
    const char *log, *out;
    s_format_t format;
} s_opts_t;

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcasecmp(s + n - m, suffix) == 0;
}

static int s_bad_usage(const char *fmt, const char *arg)
{
    fputs("minispark report: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    fputs(s_usage, stderr);
    return 2;
}

/* Returns -1 when parsed, else the exit status (0 for --help, 2). */
static int s_parse(int argc, char **argv, s_opts_t *o)
{
    memset(o, 0, sizeof *o);
    o->out = "timeline.html";
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(s_usage, stdout);
            return 0;
        }
        if (!strcmp(arg, "-o") || !strcmp(arg, "--output")) {
            if (i + 1 >= argc) return s_bad_usage("%s needs a path", arg);
            o->out = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0') {
            return s_bad_usage("unknown option '%s'", arg);
        } else if (o->log) {
            return s_bad_usage("more than one event log ('%s')", arg);
        } else {
            o->log = arg;
        }
    }
    if (!o->log) return s_bad_usage("%s", "EVENTLOG is required");
    if (s_ends_with(o->out, ".svg"))
        o->format = S_SVG;
    else if (s_ends_with(o->out, ".html") || s_ends_with(o->out, ".htm"))
        o->format = S_HTML;
    else
        return s_bad_usage("cannot tell the format of '%s': the output "
                           "must end in .svg or .html",
                           o->out);
    return -1;
}

static int s_put_text(FILE *f, void *text)
{
    return fputs(text, f) < 0 ? -1 : 0;
}

/* Replays the log and renders it; the text is the caller's to free. */
static int s_render(const s_opts_t *o, char **text, ms_error_t *err)
{
    ms_ui_state_t *state = ms_ui_state_new();
    if (!state) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    int rc = ms_eventlog_replay(o->log, ms_ui_state_listener, state, err);
    if (rc < 0 && !strstr(err->msg, o->log)) ms_error_prefix(err, "%s", o->log);
    ms_ui_snapshot_t *snap = rc == 0 ? ms_ui_state_snapshot(state) : NULL;
    if (rc == 0 && !snap) rc = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    if (snap) {
        *text = o->format == S_SVG
                    ? ms_ui_render_svg(snap, S_SVG_WIDTH, S_SVG_HEIGHT)
                    : ms_ui_render_page(snap, false);
        if (!*text) rc = ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    }
    ms_ui_snapshot_free(&snap);
    ms_ui_state_destroy(&state);
    return rc;
}

int ms_report_main(int argc, char **argv)
{
    s_opts_t o;
    int status = s_parse(argc, argv, &o);
    if (status >= 0) return status;
    ms_error_t err = {0};
    char *text = NULL;
    int rc = s_render(&o, &text, &err);
    if (rc == 0) rc = ms_write_atomic(o.out, s_put_text, text, &err);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "minispark report: error: %s\n", err.msg);
        return 3;
    }
    printf("%s\n", o.out);
    return 0;
}
