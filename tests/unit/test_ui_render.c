/* The UI's HTML and SVG views of hand-built snapshots: the chart's data
 * attributes and markers, escaping of hostile names and reasons, the empty
 * snapshot, the fragment's tables and the static and live pages. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/ui_render.h"

#define T0 1795309018000LL

static ms_ui_sample_t s_samples[] = {
    {T0 + 0, 0, 1, 0, 0},    {T0 + 5, 1, 1, 1, 261},  {T0 + 10, 1, 2, 1, 255},
    {T0 + 20, 2, 4, 2, 245}, {T0 + 30, 4, 4, 4, 200}, {T0 + 150, 4, 4, 4, 0},
    {T0 + 200, 4, 1, 0, 0},  {T0 + 1200, 3, 1, 0, 0}, {T0 + 1210, 1, 1, 0, 0},
};

static ms_ui_decision_t s_decisions[] = {
    {T0 + 1, "add", 1, 1, 1, 0, 0, 0, "add executor 1: target 1"},
    {T0 + 10, "target", 0, 1, 2, 255, 1, 1, "target 1 -> 2: 255 pending"},
    {T0 + 11, "add", 2, 2, 2, 255, 1, 1, "add executor 2: target 2"},
    {T0 + 21, "cancel", 0, 4, 3, 0, 4, 4, "cancel a launch: target 3"},
    {T0 + 1190, "remove", 4, 1, 1, 0, 0, 4,
     "remove executor 4: idle 1.0 s & <b>\"quoted\"</b> 'x'"},
    {T0 + 1191, "keep", 3, 1, 1, 0, 0, 3, "keep executor 3: holds shuffle 0"},
    {T0 + 1192, "remove", 2, 1, 1, 0, 0, 3,
     "remove executor 2: <script>alert(1)</script>"},
};

static ms_ui_exec_t s_execs[] = {
    {.id = 1,
     .host = "127.0.0.1",
     .cores = 1,
     .active = true,
     .completed_tasks = 70,
     .add_time = T0 + 5},
    {.id = 2,
     .host = "127.0.0.1",
     .cores = 1,
     .active = false,
     .completed_tasks = 66,
     .shuffle_write = 2048,
     .add_time = T0 + 15,
     .remove_time = T0 + 1210,
     .remove_reason = "idle <1.0 s> & gone"},
};

static ms_ui_stage_t s_stages[] = {
    {.id = 0,
     .job = 0,
     .name = "map",
     .ntasks = 262,
     .succeeded = 262,
     .submitted = T0,
     .completed = T0 + 140},
    {.id = 1,
     .job = 0,
     .name = "reduce",
     .ntasks = 16,
     .succeeded = 10,
     .running = 4,
     .failed = 1,
     .submitted = T0 + 140},
};

static ms_ui_job_t s_jobs[] = {
    {.id = 0,
     .stage_ids = {0, 1},
     .submitted = T0,
     .completed = T0 + 150,
     .status = "SUCCEEDED"},
};

static ms_ui_snapshot_t s_snap(void)
{
    ms_ui_snapshot_t s = {
        .app_id = "app-20261122005658-28443",
        .app_name = "demo",
        .start = T0,
        .end = T0 + 1300,
        .execs = s_execs,
        .nexecs = 2,
        .samples = s_samples,
        .nsamples = sizeof s_samples / sizeof s_samples[0],
        .decisions = s_decisions,
        .ndecisions = sizeof s_decisions / sizeof s_decisions[0],
        .stages = s_stages,
        .nstages = 2,
        .jobs = s_jobs,
        .njobs = 1,
    };
    return s;
}

static int s_count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The text of the <title> right after the first occurrence of opening. */
static char *s_title_after(const char *doc, const char *opening)
{
    const char *g = strstr(doc, opening);
    cr_assert_not_null(g, "no %s", opening);
    const char *a = strstr(g, "<title>"), *z = strstr(g, "</title>");
    cr_assert(a && z && a < z);
    a += strlen("<title>");
    return strndup(a, (size_t)(z - a));
}

Test(ui_render, svg_is_one_balanced_document)
{
    ms_ui_snapshot_t s = s_snap();
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(svg);
    cr_assert(strncmp(svg, "<svg ", 5) == 0, "starts with: %.40s", svg);
    cr_assert_eq(s_count(svg, "<svg"), 1);
    cr_assert_eq(s_count(svg, "</svg>"), 1);
    cr_assert_eq(s_count(svg, "<g ") + s_count(svg, "<g>"),
                 s_count(svg, "</g>"));
    cr_assert_eq(s_count(svg, "<title>"), s_count(svg, "</title>"));
    cr_assert_not_null(strstr(svg, "viewBox=\"0 0 1000 420\""));
    cr_assert_not_null(strstr(svg, "width=\"1000\" height=\"420\""));
    free(svg);
}

Test(ui_render, svg_max_executors_is_the_peak_of_the_samples)
{
    ms_ui_snapshot_t s = s_snap();
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(strstr(svg, "data-max-executors=\"4\""), "%.300s", svg);
    free(svg);
}

Test(ui_render, svg_has_one_marker_per_decision_with_its_reason)
{
    ms_ui_snapshot_t s = s_snap();
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_eq(s_count(svg, "<g class=\"remove\""), 2);
    cr_assert_eq(s_count(svg, "<g class=\"add\""), 2);
    cr_assert_eq(s_count(svg, "<g class=\"cancel\""), 1);
    cr_assert_eq(s_count(svg, "<g class=\"keep\""), 1);
    /* "target" decisions show as the target line, not as markers. */
    cr_assert_eq(s_count(svg, "target 1 -&gt; 2"), 0);
    char *t = s_title_after(svg, "<g class=\"remove\" data-executor=\"4\">");
    cr_assert_str_eq(t, "remove executor 4: idle 1.0 s &amp; "
                        "&lt;b&gt;&quot;quoted&quot;&lt;/b&gt; &#39;x&#39;");
    free(t);
    t = s_title_after(svg, "<g class=\"remove\" data-executor=\"2\">");
    cr_assert_str_eq(t, "remove executor 2: &lt;script&gt;alert(1)"
                        "&lt;/script&gt;");
    free(t);
    free(svg);
}

Test(ui_render, svg_draws_the_four_lines_and_the_job_band)
{
    ms_ui_snapshot_t s = s_snap();
    char *svg = ms_ui_render_svg(&s, 800, 300);
    cr_assert_not_null(strstr(svg, "<path class=\"executors\""));
    cr_assert_not_null(strstr(svg, "<path class=\"target\""));
    cr_assert_not_null(strstr(svg, "stroke-dasharray"));
    cr_assert_not_null(strstr(svg, "<path class=\"running\""));
    cr_assert_not_null(strstr(svg, "<path class=\"pending\""));
    cr_assert_not_null(strstr(svg, ">job 0</text>"));
    cr_assert_not_null(strstr(svg, "viewBox=\"0 0 800 300\""));
    free(svg);
}

Test(ui_render, hostile_app_name_is_escaped_everywhere)
{
    ms_ui_snapshot_t s = s_snap();
    snprintf(s.app_name, sizeof s.app_name, "<script>x</script>\"&'");
    snprintf(s.app_id, sizeof s.app_id, "app-<i>");
    char *views[] = {ms_ui_render_svg(&s, 1000, 420), ms_ui_render_fragment(&s),
                     ms_ui_render_page(&s, false)};
    for (int i = 0; i < 3; i++) {
        cr_assert_not_null(views[i]);
        cr_assert_null(strstr(views[i], "<script"), "view %d", i);
        cr_assert_null(strstr(views[i], "<i>"), "view %d", i);
        cr_assert_not_null(
            strstr(views[i], "&lt;script&gt;x&lt;/script&gt;&quot;&amp;&#39;"),
            "view %d", i);
        free(views[i]);
    }
}

Test(ui_render, control_bytes_and_cut_utf8_become_replacement_chars)
{
    ms_ui_snapshot_t s = s_snap();
    /* "é" cut after its first byte, then a control character. */
    snprintf(s.app_name, sizeof s.app_name, "caf\xC3|\x01|ok \xC3\xA9");
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(strstr(svg, "caf\xEF\xBF\xBD|\xEF\xBF\xBD|ok \xC3\xA9"),
                       "%.600s", svg);
    free(svg);
}

Test(ui_render, empty_snapshot_still_draws_a_chart_and_tables)
{
    ms_ui_snapshot_t s;
    memset(&s, 0, sizeof s);
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(svg);
    cr_assert(strncmp(svg, "<svg ", 5) == 0);
    cr_assert_not_null(strstr(svg, "data-max-executors=\"0\""));
    cr_assert_not_null(strstr(svg, "no samples yet"));
    cr_assert_eq(s_count(svg, "<g ") + s_count(svg, "<g>"),
                 s_count(svg, "</g>"));
    free(svg);
    char *frag = ms_ui_render_fragment(&s);
    cr_assert_not_null(strstr(frag, "id=\"executors\""));
    cr_assert_not_null(strstr(frag, "no executors yet"));
    cr_assert_not_null(strstr(frag, "no allocation decisions yet"));
    free(frag);
    char *page = ms_ui_render_page(NULL, true);
    cr_assert_not_null(page);
    free(page);
}

Test(ui_render, tiny_sizes_are_raised_to_a_readable_minimum)
{
    ms_ui_snapshot_t s = s_snap();
    char *svg = ms_ui_render_svg(&s, 0, -5);
    cr_assert_not_null(strstr(svg, "viewBox=\"0 0 320 200\""));
    free(svg);
}

Test(ui_render, fragment_has_executors_stages_and_decisions)
{
    ms_ui_snapshot_t s = s_snap();
    char *f = ms_ui_render_fragment(&s);
    cr_assert_not_null(f);
    cr_assert_not_null(strstr(f, "<svg "));
    cr_assert_not_null(strstr(f, "<table id=\"executors\">"));
    cr_assert_not_null(strstr(f, "<table id=\"stages\">"));
    cr_assert_not_null(strstr(f, "<table id=\"decisions\">"));
    cr_assert_eq(s_count(f, "<tr class=\"executor active\""), 1);
    cr_assert_eq(s_count(f, "<tr class=\"executor removed\""), 1);
    cr_assert_not_null(strstr(f, "idle &lt;1.0 s&gt; &amp; gone"));
    cr_assert_not_null(strstr(f, "2.0 KB"));
    cr_assert_eq(s_count(f, "<tr class=\"decision "), 7);
    cr_assert_eq(s_count(f, "<tr class=\"decision action-remove\""), 2);
    cr_assert_eq(s_count(f, "<tr class=\"decision action-target\""), 1);
    cr_assert_not_null(strstr(f, ">10/16<"));
    cr_assert_not_null(strstr(f, "style=\"width:62%\""));
    cr_assert_not_null(strstr(f, "finished"));
    free(f);
}

Test(ui_render, decisions_are_listed_newest_first)
{
    ms_ui_snapshot_t s = s_snap();
    char *f = ms_ui_render_fragment(&s);
    const char *table = strstr(f, "<table id=\"decisions\">");
    cr_assert_not_null(table);
    const char *newest = strstr(table, "remove executor 2:");
    const char *oldest = strstr(table, "add executor 1:");
    cr_assert(newest && oldest && newest < oldest);
    cr_assert_not_null(strstr(table, "<td class=\"num\">1.19 s</td>"));
    cr_assert_not_null(strstr(table, "1 \xE2\x86\x92 2"));
    free(f);
}

Test(ui_render, running_app_says_so)
{
    ms_ui_snapshot_t s = s_snap();
    s.end = 0;
    char *f = ms_ui_render_fragment(&s);
    cr_assert_not_null(strstr(f, "<span class=\"state running\">running"));
    free(f);
}

Test(ui_render, static_page_has_no_script_and_live_page_has_one)
{
    ms_ui_snapshot_t s = s_snap();
    char *stat = ms_ui_render_page(&s, false);
    char *live = ms_ui_render_page(&s, true);
    cr_assert(strncmp(stat, "<!DOCTYPE html>", 15) == 0);
    cr_assert_eq(s_count(stat, "<script"), 0);
    cr_assert_eq(s_count(live, "<script"), 1);
    cr_assert_not_null(strstr(live, "\"/ui/fragment\""));
    cr_assert_not_null(strstr(live, "1000"));
    cr_assert_not_null(strstr(live, "id=\"content\""));
    cr_assert_null(strstr(stat, "src="));
    cr_assert_null(strstr(stat, "url("));
    cr_assert_null(strstr(stat, "<link"));
    cr_assert_not_null(strstr(stat, "</html>"));
    free(stat);
    free(live);
}

/* Job labels are the only font-size 11 texts; on one row (same y) each
 * starts at least the width of "job NN" after the previous one. */
static void s_assert_labels_apart(const char *svg, int *nlabels)
{
    double last_x[2] = {-1e9, -1e9}, row_y[2] = {0, 0};
    *nlabels = 0;
    for (const char *p = strstr(svg, "<text x=\""); p;
         p = strstr(p + 1, "<text x=\"")) {
        double x, y;
        char tail[32];
        if (sscanf(p, "<text x=\"%lf\" y=\"%lf\" %31s", &x, &y, tail) != 3 ||
            strcmp(tail, "font-size=\"11\"") != 0)
            continue;
        int row = row_y[0] == 0 || row_y[0] == y ? 0 : 1;
        row_y[row] = y;
        cr_assert(x - last_x[row] >= 28, "labels at %.1f and %.1f overlap",
                  last_x[row], x);
        last_x[row] = x;
        (*nlabels)++;
    }
}

Test(ui_render, crowded_job_labels_are_left_out_not_overlapped)
{
    ms_ui_job_t jobs[60];
    for (int i = 0; i < 60; i++)
        jobs[i] = (ms_ui_job_t){.id = i,
                                .submitted = T0 + i * 20,
                                .completed = T0 + i * 20 + 10,
                                .status = "SUCCEEDED"};
    ms_ui_snapshot_t s = s_snap();
    s.jobs = jobs;
    s.njobs = 60;
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_eq(s_count(svg, "<g class=\"job\""), 60);
    cr_assert_eq(s_count(svg, "<title>job "), 60);
    int labels;
    s_assert_labels_apart(svg, &labels);
    cr_assert(labels > 10 && labels < 60, "%d labels for 60 jobs", labels);
    cr_assert_eq(s_count(svg, "<g ") + s_count(svg, "<g>"),
                 s_count(svg, "</g>"));
    free(svg);
}

Test(ui_render, running_job_band_reaches_the_last_sample)
{
    ms_ui_job_t job = {.id = 7, .submitted = T0 + 100, .status = "RUNNING"};
    ms_ui_snapshot_t s = s_snap();
    s.end = 0;
    s.jobs = &job;
    s.njobs = 1;
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(strstr(svg, ">job 7</text>"));
    free(svg);
}

Test(ui_render, absurd_counts_do_not_overflow_the_axes)
{
    ms_ui_sample_t smp[] = {
        {T0, 2147483647, 2147483647, 2147483647, 2147483647},
        {T0 + 10, -5, -5, -5, -5}};
    ms_ui_snapshot_t s = s_snap();
    s.samples = smp;
    s.nsamples = 2;
    char *svg = ms_ui_render_svg(&s, 1000, 420);
    cr_assert_not_null(svg);
    cr_assert_not_null(strstr(svg, "data-max-executors=\"100000000\""));
    free(svg);
}
