/* libFuzzer harness for the event log reader and the UI state behind it:
 * each line of the input is parsed; the events that parse are fed to one
 * UI state, whose every REST body must be valid JSON and whose metrics
 * text must render. Never a crash, a leak or a read past a line. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "driver/eventlog.h"
#include "driver/ui_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_feed(ms_ui_state_t *ui, const char *line, size_t len)
{
    ms_event_t ev;
    ms_task_metrics_t m;
    json_t *doc = NULL;
    ms_error_t err;
    int rc = ms_eventlog_parse_line(line, len, &ev, &m, &doc, &err);
    /* A document exactly when there is an event; a reason with an error. */
    if ((rc == 0) != (doc != NULL)) __builtin_trap();
    if (rc < 0 && (rc != MS_ERR_MALFORMED || err.msg[0] == '\0'))
        __builtin_trap();
    if (rc == 0) ms_ui_state_listener(ui, &ev);
    json_decref(doc);
}

static void s_render(const ms_ui_snapshot_t *s)
{
    char *(*const json[])(const ms_ui_snapshot_t *) = {
        ms_ui_json_applications, ms_ui_json_executors,  ms_ui_json_jobs,
        ms_ui_json_stages,       ms_ui_json_allocation, ms_ui_json_timeline,
    };
    for (size_t i = 0; i < sizeof json / sizeof *json; i++) {
        char *text = json[i](s);
        json_t *back = text ? json_loads(text, 0, NULL) : NULL;
        if (!json_is_array(back)) __builtin_trap();
        json_decref(back);
        free(text);
    }
    char *metrics = ms_ui_metrics_text(s);
    if (!metrics) __builtin_trap();
    free(metrics);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ms_ui_state_t *ui = ms_ui_state_new();
    if (!ui) return 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        s_feed(ui, p, len);
        p += len + (nl != NULL);
    }
    ms_ui_snapshot_t *s = ms_ui_state_snapshot(ui);
    if (s) s_render(s);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&ui);
    return 0;
}
