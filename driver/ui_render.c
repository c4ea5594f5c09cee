/* HTML and SVG views of a UI snapshot: the executor timeline chart drawn by
 * hand, the executors, stages and decisions tables, and the whole page. It
 * only formats text; it takes no locks and keeps no state, so the web
 * server and `minispark report` call it on snapshots they own. */
#include "driver/ui_render.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/utf8.h"

/* ------------------------------------------------------------ text buffer */

/* A growable string. After a failed allocation every call is a no-op and
 * s_take returns NULL, so the renderers check for memory once, at the end. */
typedef struct {
    char *data;
    size_t len, cap;
    bool oom;
} s_buf_t;

static bool s_reserve(s_buf_t *b, size_t more)
{
    if (b->oom) return false;
    if (b->len + more + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

static void s_putn(s_buf_t *b, const char *p, size_t n)
{
    if (!s_reserve(b, n)) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_putn(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void s_printf(s_buf_t *b,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !s_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends text escaped for HTML and XML (elements and quoted attributes).
 * Control characters and invalid UTF-8 (a name cut short by a fixed-size
 * field) become U+FFFD, so the SVG always parses as XML. */
static void s_esc(s_buf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *rep = c == '&'    ? "&amp;"
                          : c == '<'  ? "&lt;"
                          : c == '>'  ? "&gt;"
                          : c == '"'  ? "&quot;"
                          : c == '\'' ? "&#39;"
                                      : NULL;
        size_t len = c < 0x80 ? 1 : ms_utf8_len(p + i, n - i);
        if (rep) {
            s_puts(b, rep);
        } else if (len == 0 || (c < 0x20 && c != '\t' && c != '\n') ||
                   c == 0x7F) {
            s_puts(b, "\xEF\xBF\xBD");
            len = len ? len : 1;
        } else {
            s_putn(b, s + i, len);
        }
        i += len;
    }
}

static char *s_take(s_buf_t *b)
{
    if (b->oom || !s_reserve(b, 0)) {
        free(b->data);
        return NULL;
    }
    return b->data;
}

/* ---------------------------------------------------------------- numbers */

static const ms_ui_snapshot_t s_empty;

static int64_t s_start(const ms_ui_snapshot_t *s)
{
    if (s->start) return s->start;
    return s->nsamples ? s->samples[0].time : 0;
}

/* The last moment the snapshot knows of. */
static int64_t s_last(const ms_ui_snapshot_t *s)
{
    int64_t t = s->end;
    if (s->nsamples && s->samples[s->nsamples - 1].time > t)
        t = s->samples[s->nsamples - 1].time;
    if (s->ndecisions && s->decisions[s->ndecisions - 1].time > t)
        t = s->decisions[s->ndecisions - 1].time;
    for (int i = 0; i < s->njobs; i++)
        if (s->jobs[i].completed > t) t = s->jobs[i].completed;
    return t > s_start(s) ? t : s_start(s);
}

static double s_secs(const ms_ui_snapshot_t *s, int64_t t)
{
    return (double)(t - s_start(s)) / 1000.0;
}

static void s_fmt_bytes(char *out, size_t n, int64_t v)
{
    static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1024 && u < 4) {
        x /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, n, "%lld B", (long long)v);
    else
        snprintf(out, n, "%.1f %s", x, units[u]);
}

/* The smallest "nice" integer step (1, 2, 3, 4, 5, 6, 8 times a power of
 * ten) at least raw. */
static int s_nice_int(double raw)
{
    static const int mult[] = {1, 2, 3, 4, 5, 6, 8};
    for (int p = 1; p <= 100000000; p *= 10)
        for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
            if (mult[i] * p >= raw) return mult[i] * p;
    return 1000000000;
}

/* A 1-2-5 step of seconds giving about `ticks` divisions of span. */
static double s_nice_secs(double span, int ticks)
{
    double raw = span / ticks, p = 0.001;
    while (p * 10 <= raw)
        p *= 10;
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

/* ------------------------------------------------------------------ chart */

typedef struct {
    int width, height;
    double x0, x1, y0, y1; /* plot area: left, right, top, bottom */
    int64_t t0, t1;        /* ms at x0 and x1 */
    int ediv;              /* horizontal grid divisions */
    int etop, ptop;        /* values at the top of the left/right axes */
    int max_execs;
    double legend_y;
} s_chart_t;

static double s_x(const s_chart_t *c, int64_t t)
{
    if (t < c->t0) t = c->t0;
    if (t > c->t1) t = c->t1;
    return c->x0 +
           (c->x1 - c->x0) * (double)(t - c->t0) / (double)(c->t1 - c->t0);
}

static double s_y(const s_chart_t *c, int v, bool right)
{
    int top = right ? c->ptop : c->etop;
    return c->y1 - (c->y1 - c->y0) * (double)v / top;
}

/* One line of the chart: a field of the samples, its axis and its look.
 * Running tasks share the left axis with executors (at most cores per
 * executor each); pending tasks, often hundreds, have the right one. */
typedef struct {
    size_t off;
    bool right; /* drawn against the right axis */
    bool area;  /* shaded down to zero */
    const char *cls, *label, *color, *dash;
    double stroke;
} s_series_t;

/* Drawn in this order (executors on top); the legend lists them reversed. */
static const s_series_t s_series[] = {
    {offsetof(ms_ui_sample_t, running), false, true, "running", "running tasks",
     "#9b59b6", NULL, 1.0},
    {offsetof(ms_ui_sample_t, pending), true, false, "pending",
     "pending tasks (right axis)", "#7f8a96", NULL, 1.25},
    {offsetof(ms_ui_sample_t, target), false, false, "target", "target",
     "#e67e22", "7 4", 2.0},
    {offsetof(ms_ui_sample_t, executors), false, false, "executors",
     "executors", "#1f5fbf", NULL, 3.0},
};
#define S_NSERIES (int)(sizeof s_series / sizeof s_series[0])
#define S_MAX_VALUE 100000000 /* keeps axis arithmetic far from overflow */

static int s_value(const ms_ui_sample_t *smp, const s_series_t *se)
{
    int v;
    memcpy(&v, (const char *)smp + se->off, sizeof v);
    return v < 0 ? 0 : v > S_MAX_VALUE ? S_MAX_VALUE : v;
}

static int s_max_of(const ms_ui_snapshot_t *s, const s_series_t *se)
{
    int m = 0;
    for (int i = 0; i < s->nsamples; i++)
        if (s_value(&s->samples[i], se) > m) m = s_value(&s->samples[i], se);
    return m;
}

/* The largest executor count the samples hold (the last series). */
static int s_peak_execs(const ms_ui_snapshot_t *s)
{
    return s_max_of(s, &s_series[S_NSERIES - 1]);
}

/* The executors at time t, as the executors line shows it. */
static int s_execs_at(const ms_ui_snapshot_t *s, int64_t t)
{
    int lo = 0, hi = s->nsamples; /* first sample later than t */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->samples[mid].time <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? s->samples[lo - 1].executors : 0;
}

/* A legend item: a short sample of the line or the marker, then its text. */
typedef struct {
    const char *label;
    const s_series_t *series; /* NULL: a marker */
    const char *marker;       /* decision action */
} s_legend_t;

#define S_CHAR_W 6.6 /* average width of a 12px sans-serif character */
#define S_LEGEND_ROW 18.0

static double s_legend_width(const s_legend_t *l)
{
    return 30 + S_CHAR_W * (double)strlen(l->label) + 18;
}

static bool s_has_action(const ms_ui_snapshot_t *s, const char *action)
{
    for (int i = 0; i < s->ndecisions; i++)
        if (!strcmp(s->decisions[i].action, action)) return true;
    return false;
}

static int s_legend_items(const ms_ui_snapshot_t *s, s_legend_t *out)
{
    int n = 0;
    for (int i = S_NSERIES - 1; i >= 0; i--)
        out[n++] = (s_legend_t){s_series[i].label, &s_series[i], NULL};
    out[n++] = (s_legend_t){"executor added", NULL, "add"};
    out[n++] = (s_legend_t){"executor removed", NULL, "remove"};
    if (s_has_action(s, "cancel"))
        out[n++] = (s_legend_t){"launch cancelled", NULL, "cancel"};
    if (s_has_action(s, "keep"))
        out[n++] = (s_legend_t){"kept (holds shuffle data)", NULL, "keep"};
    if (s_has_action(s, "migrated"))
        out[n++] = (s_legend_t){"map outputs migrated (decommissioned)", NULL,
                                "migrated"};
    return n;
}

/* Rows the legend needs between x0 and x1. */
static int s_legend_rows(const s_legend_t *items, int n, double x0, double x1)
{
    int rows = 1;
    double x = x0;
    for (int i = 0; i < n; i++) {
        double w = s_legend_width(&items[i]);
        if (x > x0 && x + w > x1) {
            rows++;
            x = x0;
        }
        x += w;
    }
    return rows;
}

static void s_layout(const ms_ui_snapshot_t *s, int width, int height,
                     s_chart_t *c)
{
    s_legend_t items[S_NSERIES + 5];
    int nitems = s_legend_items(s, items);
    memset(c, 0, sizeof *c);
    c->width = width < 320 ? 320 : width;
    c->height = height < 200 ? 200 : height;
    c->x0 = 58;
    c->x1 = c->width - 62;
    c->legend_y = 44;
    int rows = s_legend_rows(items, nitems, c->x0, c->x1);
    c->y0 = c->legend_y + S_LEGEND_ROW * (rows - 1) + 22;
    c->y1 = c->height - 46;
    c->t0 = s_start(s);
    c->t1 = s_last(s);
    if (c->t1 - c->t0 < 1000) c->t1 = c->t0 + 1000;
    c->max_execs = s_peak_execs(s);
    int emax = 0, pmax = 1;
    for (int i = 0; i < S_NSERIES; i++) {
        int m = s_max_of(s, &s_series[i]);
        if (s_series[i].right && m > pmax) pmax = m;
        if (!s_series[i].right && m > emax) emax = m;
    }
    /* One spare unit on top leaves room for stacked markers. */
    int estep = s_nice_int((emax + 1) / 5.0);
    c->ediv = (emax + 1 + estep - 1) / estep;
    if (c->ediv < 2) c->ediv = 2;
    c->etop = estep * c->ediv;
    /* The right axis shares the grid lines: same number of divisions. */
    c->ptop = s_nice_int((double)pmax / c->ediv) * c->ediv;
}

static void s_svg_open(s_buf_t *b, const ms_ui_snapshot_t *s,
                       const s_chart_t *c)
{
    s_printf(b,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ms-timeline\" "
             "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
             "data-max-executors=\"%d\" role=\"img\" "
             "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, "
             "sans-serif\" font-size=\"12\">\n",
             c->width, c->height, c->width, c->height, c->max_execs);
    s_puts(b, "<title>Executor timeline");
    if (s->app_name[0]) {
        s_puts(b, " of ");
        s_esc(b, s->app_name);
    }
    s_puts(b, "</title>\n");
    s_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
             c->width, c->height);
    s_printf(b,
             "<text x=\"%.1f\" y=\"22\" font-size=\"15\" font-weight=\"600\" "
             "fill=\"#1d2733\">Executor timeline",
             c->x0);
    if (s->app_name[0]) {
        s_puts(b, "<tspan dx=\"10\" font-weight=\"400\" fill=\"#4a5560\">");
        s_esc(b, s->app_name);
        s_puts(b, "</tspan>");
    }
    if (s->app_id[0]) {
        s_puts(b, "<tspan dx=\"10\" font-size=\"12\" font-weight=\"400\" "
                  "fill=\"#8a949e\">");
        s_esc(b, s->app_id);
        s_puts(b, "</tspan>");
    }
    s_puts(b, "</text>\n");
}

/* Light bands behind the lines, one per job, labelled on one of two rows
 * at the top; a label that fits on neither is left out (the band's
 * <title> still names the job). */
static void s_job_bands(s_buf_t *b, const ms_ui_snapshot_t *s,
                        const s_chart_t *c)
{
    double label_end[2] = {-1e9, -1e9};
    s_puts(b, "<g class=\"jobs\">\n");
    for (int i = 0; i < s->njobs; i++) {
        const ms_ui_job_t *j = &s->jobs[i];
        double xa = s_x(c, j->submitted);
        double xb = s_x(c, j->completed ? j->completed : c->t1);
        if (xb - xa < 2) xb = xa + 2;
        s_printf(b,
                 "<g class=\"job\" data-job=\"%d\"><title>job %d</title>"
                 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                 "height=\"%.1f\" fill=\"#e8eef7\"/>",
                 j->id, j->id, xa, c->y0, xb - xa, c->y1 - c->y0);
        char label[32];
        snprintf(label, sizeof label, "job %d", j->id);
        double w = S_CHAR_W * 0.92 * (double)strlen(label);
        double lx = xa + 3 > c->x1 - w ? c->x1 - w : xa + 3;
        int row = lx >= label_end[0] + 4 ? 0 : lx >= label_end[1] + 4 ? 1 : -1;
        if (row >= 0) {
            label_end[row] = lx + w;
            s_printf(b,
                     "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                     "fill=\"#5b6b82\">%s</text>",
                     lx, c->y0 + 13 + 13 * row, label);
        }
        s_puts(b, "</g>\n");
    }
    s_puts(b, "</g>\n");
}

static void s_grid_y(s_buf_t *b, const s_chart_t *c)
{
    s_puts(b, "<g class=\"grid-y\">\n");
    for (int i = 0; i <= c->ediv; i++) {
        int ev = c->etop / c->ediv * i, pv = c->ptop / c->ediv * i;
        double y = s_y(c, ev, false);
        s_printf(b,
                 "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"%s\"/>",
                 c->x0, c->x1, y, y, i ? "#e3e6ea" : "#6b7580");
        s_printf(b,
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" "
                 "fill=\"#1f5fbf\">%d</text>",
                 c->x0 - 8, y + 4, ev);
        s_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#6b7580\">%d</text>\n",
                 c->x1 + 8, y + 4, pv);
    }
    double ym = (c->y0 + c->y1) / 2;
    s_printf(b,
             "<text transform=\"translate(16 %.1f) rotate(-90)\" "
             "text-anchor=\"middle\" fill=\"#1f5fbf\">executors \xC2\xB7 "
             "running tasks</text>\n",
             ym);
    s_printf(b,
             "<text transform=\"translate(%.1f %.1f) rotate(90)\" "
             "text-anchor=\"middle\" fill=\"#6b7580\">pending tasks</text>\n",
             (double)c->width - 14, ym);
    s_puts(b, "</g>\n");
}

static void s_grid_x(s_buf_t *b, const s_chart_t *c)
{
    double span = (double)(c->t1 - c->t0) / 1000.0;
    int ticks = (int)((c->x1 - c->x0) / 90);
    double step = s_nice_secs(span, ticks < 2 ? 2 : ticks);
    const char *fmt = step < 0.01  ? "%.3f"
                      : step < 0.1 ? "%.2f"
                      : step < 1   ? "%.1f"
                                   : "%.0f";
    s_puts(b, "<g class=\"grid-x\">\n");
    for (int i = 0; i * step <= span + 1e-9; i++) {
        double x = s_x(c, c->t0 + (int64_t)(i * step * 1000 + 0.5));
        char label[32];
        snprintf(label, sizeof label, fmt, i * step);
        s_printf(b,
                 "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                 "stroke=\"#6b7580\"/><text x=\"%.1f\" y=\"%.1f\" "
                 "text-anchor=\"middle\" fill=\"#4a5560\">%s</text>\n",
                 x, x, c->y1, c->y1 + 5, x, c->y1 + 18, label);
    }
    s_printf(b,
             "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
             "fill=\"#4a5560\">seconds since the application started</text>\n",
             (c->x0 + c->x1) / 2, (double)c->height - 10);
    s_puts(b, "</g>\n");
}

/* A step line: flat until the next sample that changes this series. */
static void s_step_line(s_buf_t *b, const ms_ui_snapshot_t *s,
                        const s_chart_t *c, const s_series_t *se)
{
    if (!s->nsamples) return;
    int v = s_value(&s->samples[0], se);
    double x = s_x(c, s->samples[0].time);
    s_printf(b,
             "<path class=\"%s\" fill=\"none\" stroke=\"%s\" "
             "stroke-width=\"%.2f\" stroke-linejoin=\"round\"",
             se->cls, se->color, se->stroke);
    if (se->dash) s_printf(b, " stroke-dasharray=\"%s\"", se->dash);
    s_printf(b, " d=\"M%.1f %.1f", x, s_y(c, v, se->right));
    for (int i = 1; i < s->nsamples; i++) {
        int nv = s_value(&s->samples[i], se);
        if (nv == v) continue;
        double nx = s_x(c, s->samples[i].time);
        if (nx - x >= 0.05) s_printf(b, "H%.1f", nx);
        s_printf(b, "V%.1f", s_y(c, nv, se->right));
        v = nv;
        x = nx;
    }
    s_printf(b, "H%.1f\"/>\n", s_x(c, c->t1));
}

/* A step area. Running tasks change at every task start and end, many
 * times within one pixel, so each pixel column shows its highest value. */
static void s_step_area(s_buf_t *b, const ms_ui_snapshot_t *s,
                        const s_chart_t *c, const s_series_t *se)
{
    if (!s->nsamples) return;
    double base = s_y(c, 0, se->right);
    s_printf(b,
             "<path class=\"%s\" fill=\"%s\" fill-opacity=\"0.35\" "
             "d=\"M%.1f %.1f",
             se->cls, se->color, s_x(c, s->samples[0].time), base);
    int carry = 0; /* the value where the column starts */
    for (int i = 0; i < s->nsamples;) {
        double x = s_x(c, s->samples[i].time);
        int col = (int)x; /* x >= 0 */
        int most = carry;
        for (; i < s->nsamples && (int)s_x(c, s->samples[i].time) == col; i++) {
            carry = s_value(&s->samples[i], se);
            if (carry > most) most = carry;
        }
        double next = col + 1 < c->x1 ? col + 1.0 : c->x1;
        s_printf(b, "H%.1fV%.1fH%.1fV%.1f", x, s_y(c, most, se->right), next,
                 s_y(c, carry, se->right));
    }
    s_printf(b, "H%.1fV%.1fz\"/>\n", s_x(c, c->t1), base);
}

/* Decision markers, drawn centred on (x, y). */
typedef void s_marker_fn(s_buf_t *b, double x, double y);

static void s_mark_add(s_buf_t *b, double x, double y)
{
    s_printf(b,
             "<path d=\"M%.1f %.1fl6 10h-12z\" fill=\"#2e9d3a\" "
             "stroke=\"#ffffff\" stroke-width=\"1\"/>",
             x, y - 6);
}

static void s_mark_remove(s_buf_t *b, double x, double y)
{
    s_printf(b,
             "<path d=\"M%.1f %.1fl6 -10h-12z\" fill=\"#d0342c\" "
             "stroke=\"#ffffff\" stroke-width=\"1\"/>",
             x, y + 6);
}

static void s_mark_cancel(s_buf_t *b, double x, double y)
{
    s_printf(b,
             "<path d=\"M%.1f %.1fl6 6m0 -6l-6 6\" stroke=\"#7f8891\" "
             "stroke-width=\"1.6\"/>",
             x - 3, y - 3);
}

static void s_mark_keep(s_buf_t *b, double x, double y)
{
    s_printf(b,
             "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#ffffff\" "
             "stroke=\"#7f8891\" stroke-width=\"1.6\"/>",
             x, y);
}

/* A diamond: a decommissioned executor's map outputs moved. */
static void s_mark_migrated(s_buf_t *b, double x, double y)
{
    s_printf(b,
             "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"#2f6fb3\" "
             "stroke=\"#ffffff\" stroke-width=\"1\"/>",
             x, y - 5);
}

static const struct {
    const char *action;
    s_marker_fn *draw;
} s_markers[] = {
    {"add", s_mark_add},           {"remove", s_mark_remove},
    {"cancel", s_mark_cancel},     {"keep", s_mark_keep},
    {"migrated", s_mark_migrated},
};
#define S_NMARKERS (int)(sizeof s_markers / sizeof s_markers[0])

static int s_marker_kind(const char *action)
{
    for (int k = 0; k < S_NMARKERS; k++)
        if (!strcmp(s_markers[k].action, action)) return k;
    return -1;
}

/* Each marker is a <g> whose <title> holds the decision's reason. Markers
 * of one kind closer than a marker's width stack upwards. */
static void s_decision_marks(s_buf_t *b, const ms_ui_snapshot_t *s,
                             const s_chart_t *c)
{
    double last_x[S_NMARKERS];
    int level[S_NMARKERS] = {0};
    for (int k = 0; k < S_NMARKERS; k++)
        last_x[k] = -1e9;
    s_puts(b, "<g class=\"decisions\">\n");
    for (int i = 0; i < s->ndecisions; i++) {
        const ms_ui_decision_t *d = &s->decisions[i];
        int k = s_marker_kind(d->action);
        if (k < 0) continue;
        double x = s_x(c, d->time);
        level[k] = x - last_x[k] < 9 ? level[k] + 1 : 0;
        last_x[k] = x;
        int lv = level[k] < 6 ? level[k] : 6;
        double y = s_y(c, s_execs_at(s, d->time), false) - 11.0 * lv;
        s_printf(b, "<g class=\"%s\" data-executor=\"%d\"><title>",
                 s_markers[k].action, d->exec);
        s_esc(b, d->reason);
        s_puts(b, "</title>");
        s_markers[k].draw(b, x, y);
        s_puts(b, "</g>\n");
    }
    s_puts(b, "</g>\n");
}

static void s_legend(s_buf_t *b, const ms_ui_snapshot_t *s, const s_chart_t *c)
{
    s_legend_t items[S_NSERIES + 5];
    int n = s_legend_items(s, items);
    double x = c->x0, y = c->legend_y;
    s_puts(b, "<g class=\"legend\">\n");
    for (int i = 0; i < n; i++) {
        double w = s_legend_width(&items[i]);
        if (x > c->x0 && x + w > c->x1) {
            x = c->x0;
            y += S_LEGEND_ROW;
        }
        const s_series_t *se = items[i].series;
        if (se && se->area) {
            s_printf(b,
                     "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" "
                     "height=\"10\" fill=\"%s\" fill-opacity=\"0.35\"/>",
                     x, y - 10, se->color);
        } else if (se) {
            s_printf(b,
                     "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                     "stroke=\"%s\" stroke-width=\"%.2f\"",
                     x, x + 24, y - 4, y - 4, se->color, se->stroke);
            if (se->dash) s_printf(b, " stroke-dasharray=\"%s\"", se->dash);
            s_puts(b, "/>");
        } else {
            s_markers[s_marker_kind(items[i].marker)].draw(b, x + 12, y - 4);
        }
        s_printf(b, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333d47\">%s</text>\n",
                 x + 30, y, items[i].label);
        x += w;
    }
    s_puts(b, "</g>\n");
}

static void s_svg_body(s_buf_t *b, const ms_ui_snapshot_t *s,
                       const s_chart_t *c)
{
    s_svg_open(b, s, c);
    s_legend(b, s, c);
    s_job_bands(b, s, c);
    s_grid_y(b, c);
    s_grid_x(b, c);
    s_puts(b, "<g class=\"lines\">\n");
    for (int i = 0; i < S_NSERIES; i++)
        (s_series[i].area ? s_step_area : s_step_line)(b, s, c, &s_series[i]);
    s_puts(b, "</g>\n");
    s_decision_marks(b, s, c);
    if (!s->nsamples)
        s_printf(b,
                 "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
                 "fill=\"#8a949e\">no samples yet</text>\n",
                 (c->x0 + c->x1) / 2, (c->y0 + c->y1) / 2);
    s_puts(b, "</svg>\n");
}

char *ms_ui_render_svg(const ms_ui_snapshot_t *s, int width, int height)
{
    s_buf_t b = {0};
    s_chart_t c;
    if (!s) s = &s_empty;
    s_layout(s, width, height, &c);
    s_svg_body(&b, s, &c);
    return s_take(&b);
}

/* --------------------------------------------------------------- fragment */

/* Seconds since the start, or an empty cell for "not yet". */
static void s_cell_secs(s_buf_t *b, const ms_ui_snapshot_t *s, int64_t t)
{
    if (t)
        s_printf(b, "<td class=\"num\">%.2f s</td>", s_secs(s, t));
    else
        s_puts(b, "<td></td>");
}

static void s_cell_bytes(s_buf_t *b, int64_t v)
{
    char text[32];
    s_fmt_bytes(text, sizeof text, v);
    s_printf(b, "<td class=\"num\">%s</td>", text);
}

static int s_active_execs(const ms_ui_snapshot_t *s)
{
    int n = 0;
    for (int i = 0; i < s->nexecs; i++)
        n += s->execs[i].active;
    return n;
}

static void s_status(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    char when[64] = "", wrote[32], fetched[32], read[32];
    time_t t = (time_t)(s_start(s) / 1000);
    struct tm tm;
    if (s_start(s) && gmtime_r(&t, &tm))
        strftime(when, sizeof when, "started %Y-%m-%d %H:%M:%S UTC", &tm);
    s_fmt_bytes(wrote, sizeof wrote, s->shuffle_written);
    s_fmt_bytes(fetched, sizeof fetched, s->shuffle_fetched);
    s_fmt_bytes(read, sizeof read, s->bytes_read);
    int target = s->nsamples ? s->samples[s->nsamples - 1].target : 0;
    s_printf(b,
             "<p class=\"status\" id=\"status\"><span class=\"state %s\">%s"
             "</span> \xC2\xB7 %s \xC2\xB7 %.1f s \xC2\xB7 executors %d "
             "(target %d, peak %d) \xC2\xB7 tasks %lld done, %lld failed "
             "\xC2\xB7 "
             "%lld records read (%s) \xC2\xB7 shuffle %s written, %s "
             "fetched</p>\n",
             s->end ? "finished" : "running", s->end ? "finished" : "running",
             when, s_secs(s, s_last(s)), s_active_execs(s), target,
             s_peak_execs(s), (long long)s->tasks_completed,
             (long long)s->tasks_failed, (long long)s->records_read, read,
             wrote, fetched);
}

static void s_header(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    s_puts(b, "<header id=\"app\">\n<h1>");
    s_esc(b, s->app_name[0] ? s->app_name : "minispark");
    s_puts(b, " <span class=\"app-id\">");
    s_esc(b, s->app_id);
    s_puts(b, "</span></h1>\n");
    s_status(b, s);
    s_puts(b, "</header>\n");
}

static void s_table_open(s_buf_t *b, const char *title, const char *id,
                         const char *const *cols)
{
    s_printf(b,
             "<section class=\"panel\"><h2>%s</h2>\n<table id=\"%s\">"
             "<thead><tr>",
             title, id);
    for (; *cols; cols++)
        s_printf(b, "<th>%s</th>", *cols);
    s_puts(b, "</tr></thead>\n<tbody>\n");
}

static void s_table_close(s_buf_t *b, int rows, int ncols, const char *none)
{
    if (!rows)
        s_printf(b, "<tr class=\"empty\"><td colspan=\"%d\">%s</td></tr>\n",
                 ncols, none);
    s_puts(b, "</tbody></table></section>\n");
}

static void s_exec_row(s_buf_t *b, const ms_ui_snapshot_t *s,
                       const ms_ui_exec_t *e)
{
    const char *state = e->active ? "active" : "removed";
    s_printf(b,
             "<tr class=\"executor %s\" data-executor=\"%d\"><td>%d</td>"
             "<td><span class=\"badge %s\">%s</span></td><td>",
             state, e->id, e->id, state, state);
    s_esc(b, e->host);
    s_printf(b,
             "</td><td class=\"num\">%d</td><td class=\"num\">%d</td>"
             "<td class=\"num\">%lld</td><td class=\"num\">%lld</td>",
             e->cores, e->active_tasks, (long long)e->completed_tasks,
             (long long)e->failed_tasks);
    s_cell_bytes(b, e->shuffle_read);
    s_cell_bytes(b, e->shuffle_write);
    s_cell_secs(b, s, e->add_time);
    s_cell_secs(b, s, e->remove_time);
    s_puts(b, "<td class=\"reason\">");
    s_esc(b, e->remove_reason);
    s_puts(b, "</td></tr>\n");
}

static void s_executors(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    static const char *const cols[] = {
        "ID",     "State",        "Host",
        "Cores",  "Active tasks", "Completed",
        "Failed", "Shuffle read", "Shuffle write",
        "Added",  "Removed",      "Remove reason",
        NULL};
    s_table_open(b, "Executors", "executors", cols);
    for (int i = 0; i < s->nexecs; i++)
        s_exec_row(b, s, &s->execs[i]);
    s_table_close(b, s->nexecs, 12, "no executors yet");
}

static int s_pct(int part, int whole)
{
    if (whole <= 0 || part <= 0) return 0;
    return part >= whole ? 100 : (int)((int64_t)part * 100 / whole);
}

static void s_stage_row(s_buf_t *b, const ms_ui_snapshot_t *s,
                        const ms_ui_stage_t *st)
{
    const char *state = !st->completed                             ? "active"
                        : st->failed && st->succeeded < st->ntasks ? "failed"
                                                                   : "complete";
    s_printf(b,
             "<tr class=\"stage %s\" data-stage=\"%d\"><td>%d</td>"
             "<td>%d</td><td>",
             state, st->id, st->id, st->job);
    s_esc(b, st->name);
    s_printf(b,
             "</td><td><div class=\"bar\"><span class=\"ok\" "
             "style=\"width:%d%%\"></span><span class=\"run\" "
             "style=\"width:%d%%\"></span><span class=\"fail\" "
             "style=\"width:%d%%\"></span></div></td>"
             "<td class=\"num\">%d/%d</td><td class=\"num\">%d</td>"
             "<td class=\"num\">%d</td><td>%s</td>",
             s_pct(st->succeeded, st->ntasks), s_pct(st->running, st->ntasks),
             s_pct(st->failed, st->ntasks), st->succeeded, st->ntasks,
             st->running, st->failed, state);
    int64_t end = st->completed ? st->completed : s_last(s);
    s_printf(b, "<td class=\"num\">%.2f s</td></tr>\n",
             st->submitted ? (double)(end - st->submitted) / 1000.0 : 0.0);
}

/* Newest first: the running stage sits on top. */
static void s_stages(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    static const char *const cols[] = {
        "Stage",   "Job",    "Name",   "Progress", "Succeeded",
        "Running", "Failed", "Status", "Duration", NULL};
    s_table_open(b, "Stages", "stages", cols);
    for (int i = s->nstages - 1; i >= 0; i--)
        s_stage_row(b, s, &s->stages[i]);
    s_table_close(b, s->nstages, 9, "no stages yet");
}

/* The action as a class name: letters only, whatever the snapshot holds. */
static void s_action_class(s_buf_t *b, const char *action)
{
    for (const char *p = action; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            s_putn(b, p, 1);
}

static void s_decision_row(s_buf_t *b, const ms_ui_snapshot_t *s,
                           const ms_ui_decision_t *d)
{
    s_puts(b, "<tr class=\"decision action-");
    s_action_class(b, d->action);
    s_printf(b, "\" data-executor=\"%d\">", d->exec);
    s_cell_secs(b, s, d->time);
    s_puts(b, "<td class=\"action\">");
    s_esc(b, d->action);
    s_puts(b, "</td>");
    if (d->exec)
        s_printf(b, "<td class=\"num\">%d</td>", d->exec);
    else
        s_puts(b, "<td class=\"num\">\xE2\x80\x94</td>");
    s_printf(b,
             "<td class=\"num\">%d \xE2\x86\x92 %d</td><td class=\"reason\">",
             d->old_target, d->new_target);
    s_esc(b, d->reason);
    s_puts(b, "</td></tr>\n");
}

static void s_decisions(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    static const char *const cols[] = {"Time",   "Action", "Executor",
                                       "Target", "Reason", NULL};
    s_table_open(b, "Allocation decisions (newest first)", "decisions", cols);
    for (int i = s->ndecisions - 1; i >= 0; i--)
        s_decision_row(b, s, &s->decisions[i]);
    s_table_close(b, s->ndecisions, 5, "no allocation decisions yet");
}

static void s_fragment(s_buf_t *b, const ms_ui_snapshot_t *s)
{
    s_chart_t c;
    s_header(b, s);
    s_puts(b, "<section class=\"panel\" id=\"timeline\">"
              "<h2>Executor timeline</h2>\n");
    s_layout(s, 1000, 420, &c);
    s_svg_body(b, s, &c);
    s_puts(b, "</section>\n");
    s_executors(b, s);
    s_stages(b, s);
    s_decisions(b, s);
}

char *ms_ui_render_fragment(const ms_ui_snapshot_t *s)
{
    s_buf_t b = {0};
    s_fragment(&b, s ? s : &s_empty);
    return s_take(&b);
}

/* ------------------------------------------------------------------- page */

static const char s_css[] =
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#f4f6f9;color:#1d2733;"
    "font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif}\n"
    "#content{max-width:1120px;margin:0 auto;padding:16px 20px 40px}\n"
    "#content.stale{opacity:.65}\n"
    "h1{font-size:22px;margin:6px 0 2px}\n"
    "h1 .app-id{font-size:14px;font-weight:400;color:#6b7580}\n"
    "h2{font-size:16px;margin:0 0 10px}\n"
    ".status{margin:0 0 16px;color:#4a5560}\n"
    ".state{font-weight:600;padding:1px 8px;border-radius:10px;"
    "background:#e3e6ea}\n"
    ".state.running{background:#dcefdc;color:#1f6f2a}\n"
    ".live{max-width:1120px;margin:8px auto 0;padding:0 20px;"
    "text-align:right;font-size:12px;color:#1f6f2a}\n"
    ".panel{background:#fff;border:1px solid #dde2e8;border-radius:6px;"
    "padding:14px 16px;margin:0 0 16px;overflow-x:auto}\n"
    ".ms-timeline{display:block;max-width:100%;height:auto}\n"
    "table{border-collapse:collapse;width:100%;font-size:13px}\n"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eceff3;"
    "vertical-align:top}\n"
    "th{background:#f7f8fa;font-weight:600;white-space:nowrap}\n"
    "td.num{text-align:right;white-space:nowrap;"
    "font-variant-numeric:tabular-nums}\n"
    "td.reason{color:#3b4652}\n"
    "tr.empty td{color:#8a949e;font-style:italic}\n"
    ".badge{padding:0 6px;border-radius:8px;font-size:12px}\n"
    ".badge.active{background:#dcefdc;color:#1f6f2a}\n"
    ".badge.removed{background:#eceff3;color:#6b7580}\n"
    "tr.removed td{color:#6b7580}\n"
    ".bar{display:flex;width:180px;height:12px;background:#eceff3;"
    "border-radius:3px;overflow:hidden;margin-top:3px}\n"
    ".bar .ok{background:#5aa469}.bar .run{background:#4a90d9}"
    ".bar .fail{background:#d0342c}\n"
    "tr.decision td.action{font-weight:600}\n"
    "tr.action-add td.action{color:#2e9d3a}\n"
    "tr.action-remove td.action{color:#d0342c}\n"
    "tr.action-target td.action{color:#e67e22}\n"
    "tr.action-cancel td.action,tr.action-keep td.action{color:#7f8891}\n"
    "tr.action-decommission td.action,tr.action-migrated td.action"
    "{color:#2f6fb3}\n";

/* Every second: fetch the fragment and swap it in; on any error keep the
 * last one (dimmed) and try again a second later. */
static const char s_live_js[] =
    "<script>\n"
    "(function () {\n"
    "  var box = document.getElementById(\"content\");\n"
    "  function tick() {\n"
    "    fetch(\"/ui/fragment\", {cache: \"no-store\"})\n"
    "      .then(function (r) {\n"
    "        if (!r.ok) throw new Error(r.status);\n"
    "        return r.text();\n"
    "      })\n"
    "      .then(function (html) {\n"
    "        box.innerHTML = html;\n"
    "        box.classList.remove(\"stale\");\n"
    "      }, function () { box.classList.add(\"stale\"); })\n"
    "      .then(function () { setTimeout(tick, 1000); });\n"
    "  }\n"
    "  setTimeout(tick, 1000);\n"
    "})();\n"
    "</script>\n";

char *ms_ui_render_page(const ms_ui_snapshot_t *s, bool live)
{
    s_buf_t b = {0};
    if (!s) s = &s_empty;
    s_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
               "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
               "content=\"width=device-width, initial-scale=1\">\n<title>");
    s_esc(&b, s->app_name[0] ? s->app_name : "minispark");
    s_printf(&b,
             " \xC2\xB7 minispark</title>\n<style>\n%s</style>\n</head>\n"
             "<body>\n",
             s_css);
    if (live)
        s_puts(&b, "<p class=\"live\">live \xC2\xB7 updates every "
                   "second</p>\n");
    s_puts(&b, "<div id=\"content\">\n");
    s_fragment(&b, s);
    s_puts(&b, "</div>\n");
    if (live) s_puts(&b, s_live_js);
    s_puts(&b, "</body>\n</html>\n");
    return s_take(&b);
}
