/* Behaviour of the UI state: the model built from bus events (executors,
 * stages, jobs, decisions, the timeline), its REST bodies and Prometheus
 * text, snapshots taken while events arrive, and a replayed event log
 * rebuilding exactly what the live state showed. Times are hand-picked
 * milliseconds after T0 (2026-11-22T01:02:03.456 UTC). */
#include <criterion/criterion.h>

#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/eventlog.h"
#include "driver/ui_state.h"

#define T0 INT64_C(1795309323456)
#define AT(ms) (T0 + (ms))

/* ---- posting events ------------------------------------------------------ */

typedef struct {
    ms_bus_t bus;
    ms_ui_state_t *ui;
} s_rig_t;

static void s_rig_init(s_rig_t *r)
{
    memset(r, 0, sizeof *r);
    r->ui = ms_ui_state_new();
    cr_assert_not_null(r->ui);
    ms_bus_subscribe(&r->bus, ms_ui_state_listener, r->ui);
}

static void s_post(s_rig_t *r, ms_event_t ev)
{
    ms_bus_post(&r->bus, &ev);
}

static void s_app_start(s_rig_t *r, int64_t t)
{
    s_post(r, (ms_event_t){.type = MS_EV_APP_START,
                           .time_ms = t,
                           .app_id = "app-20261122010203-0001",
                           .app_name = "ramp"});
}

static void s_target(s_rig_t *r, int64_t t, int old, int new_target,
                     int pending, int running, int execs)
{
    char why[128];
    snprintf(why, sizeof why, "target %d -> %d: %d pending + %d running", old,
             new_target, pending, running);
    s_post(r, (ms_event_t){.type = MS_EV_ALLOCATION,
                           .time_ms = t,
                           .action = "target",
                           .exec = -1,
                           .old_target = old,
                           .new_target = new_target,
                           .pending = pending,
                           .running = running,
                           .executors = execs,
                           .reason = why});
}

static void s_decide(s_rig_t *r, int64_t t, const char *action, int exec,
                     int target, const char *why)
{
    s_post(r, (ms_event_t){.type = MS_EV_ALLOCATION,
                           .time_ms = t,
                           .action = action,
                           .exec = exec,
                           .old_target = target,
                           .new_target = target,
                           .reason = why});
}

static void s_exec_added(s_rig_t *r, int64_t t, int id, int cores)
{
    s_post(r, (ms_event_t){.type = MS_EV_EXECUTOR_ADDED,
                           .time_ms = t,
                           .exec = id,
                           .host = "127.0.0.1",
                           .cores = cores,
                           .launch_ms = t - 5});
}

static void s_exec_removed(s_rig_t *r, int64_t t, int id, const char *why)
{
    s_post(r, (ms_event_t){.type = MS_EV_EXECUTOR_REMOVED,
                           .time_ms = t,
                           .exec = id,
                           .reason = why});
}

static void s_job(s_rig_t *r, int64_t t, int job, bool start, bool ok)
{
    s_post(r, (ms_event_t){.type = start ? MS_EV_JOB_START : MS_EV_JOB_END,
                           .time_ms = t,
                           .job = job,
                           .success = ok,
                           .stage_ids = {2 * job, 2 * job + 1},
                           .shuffle = job});
}

static void s_stage(s_rig_t *r, int64_t t, int stage, int ntasks, bool done)
{
    s_post(r, (ms_event_t){.type = done ? MS_EV_STAGE_COMPLETED
                                        : MS_EV_STAGE_SUBMITTED,
                           .time_ms = t,
                           .job = stage / 2,
                           .stage = stage,
                           .stage_name = stage % 2 ? "reduce" : "map",
                           .ntasks = ntasks});
}

static void s_task_start(s_rig_t *r, int64_t t, int stage, int64_t task,
                         int exec)
{
    s_post(r, (ms_event_t){.type = MS_EV_TASK_START,
                           .time_ms = t,
                           .stage = stage,
                           .stage_name = stage % 2 ? "reduce" : "map",
                           .shuffle = stage / 2,
                           .task_id = task,
                           .index = (int)task,
                           .launch_ms = t,
                           .exec = exec,
                           .host = "127.0.0.1",
                           .success = true});
}

static void s_task_end(s_rig_t *r, int64_t t, int stage, int64_t task, int exec,
                       bool ok, const ms_task_metrics_t *m)
{
    s_post(r, (ms_event_t){.type = MS_EV_TASK_END,
                           .time_ms = t,
                           .stage = stage,
                           .stage_name = stage % 2 ? "reduce" : "map",
                           .shuffle = stage / 2,
                           .task_id = task,
                           .index = (int)task,
                           .launch_ms = t - 3,
                           .exec = exec,
                           .host = "127.0.0.1",
                           .success = ok,
                           .failure = ok ? NULL : "boom",
                           .metrics = m});
}

static ms_ui_snapshot_t *s_snap(s_rig_t *r)
{
    ms_ui_snapshot_t *s = ms_ui_state_snapshot(r->ui);
    cr_assert_not_null(s);
    return s;
}

/* ---- the ramp: 1 -> 4 executors ------------------------------------------ */

/* The sequence the allocation manager produces for a backlog: a target,
 * a launch, a registration, then raised targets. Times are AT(ms). */
static void s_ramp(s_rig_t *r)
{
    s_app_start(r, AT(0));
    s_target(r, AT(10), 0, 1, 0, 0, 0);
    s_decide(r, AT(20), "add", 1, 1, "add executor 1: target 1");
    s_exec_added(r, AT(30), 1, 1);
    s_job(r, AT(40), 0, true, false);
    s_stage(r, AT(50), 0, 6, false);
    s_task_start(r, AT(60), 0, 1, 1);
    s_target(r, AT(70), 1, 2, 5, 1, 1);
    s_decide(r, AT(80), "add", 2, 2, "add executor 2: target 2");
    s_exec_added(r, AT(90), 2, 1);
    s_target(r, AT(100), 2, 4, 5, 1, 2);
    s_exec_added(r, AT(110), 3, 1);
    s_exec_added(r, AT(120), 4, 1);
}

static void s_assert_sample(const ms_ui_sample_t *p, int64_t t, int execs,
                            int target, int running, int pending)
{
    cr_assert_eq(p->time, t, "time %lld, want %lld", (long long)p->time,
                 (long long)t);
    cr_assert_eq(p->executors, execs, "at %lld: executors %d, want %d",
                 (long long)(p->time - T0), p->executors, execs);
    cr_assert_eq(p->target, target, "at %lld: target %d, want %d",
                 (long long)(p->time - T0), p->target, target);
    cr_assert_eq(p->running, running, "at %lld: running %d, want %d",
                 (long long)(p->time - T0), p->running, running);
    cr_assert_eq(p->pending, pending, "at %lld: pending %d, want %d",
                 (long long)(p->time - T0), p->pending, pending);
}

Test(ui_state, ramp_samples_only_when_a_value_moves)
{
    s_rig_t r;
    s_rig_init(&r);
    s_ramp(&r);
    ms_ui_snapshot_t *s = s_snap(&r);
    /* The "add" decisions and the job start change nothing plotted. */
    cr_assert_eq(s->nsamples, 10, "%d samples", s->nsamples);
    s_assert_sample(&s->samples[0], AT(0), 0, 0, 0, 0);
    s_assert_sample(&s->samples[1], AT(10), 0, 1, 0, 0);
    s_assert_sample(&s->samples[2], AT(30), 1, 1, 0, 0);
    s_assert_sample(&s->samples[3], AT(50), 1, 1, 0, 6);
    s_assert_sample(&s->samples[4], AT(60), 1, 1, 1, 5);
    s_assert_sample(&s->samples[5], AT(70), 1, 2, 1, 5);
    s_assert_sample(&s->samples[6], AT(90), 2, 2, 1, 5);
    s_assert_sample(&s->samples[7], AT(100), 2, 4, 1, 5);
    s_assert_sample(&s->samples[8], AT(110), 3, 4, 1, 5);
    s_assert_sample(&s->samples[9], AT(120), 4, 4, 1, 5);
    ms_ui_snapshot_free(&s);
    cr_assert_null(s);
    ms_ui_state_destroy(&r.ui);
    cr_assert_null(r.ui);
}

Test(ui_state, ramp_records_app_executors_and_decisions)
{
    s_rig_t r;
    s_rig_init(&r);
    s_ramp(&r);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_str_eq(s->app_id, "app-20261122010203-0001");
    cr_assert_str_eq(s->app_name, "ramp");
    cr_assert_eq(s->start, AT(0));
    cr_assert_eq(s->end, 0);
    cr_assert_eq(s->nexecs, 4);
    for (int i = 0; i < 4; i++) {
        const ms_ui_exec_t *e = &s->execs[i];
        cr_assert_eq(e->id, i + 1);
        cr_assert_str_eq(e->host, "127.0.0.1");
        cr_assert_eq(e->cores, 1);
        cr_assert(e->active);
        cr_assert_eq(e->remove_time, 0);
    }
    cr_assert_eq(s->execs[0].add_time, AT(30));
    cr_assert_eq(s->execs[3].add_time, AT(120));
    cr_assert_eq(s->execs[0].active_tasks, 1);
    cr_assert_eq(s->ndecisions, 5);
    const ms_ui_decision_t *d = &s->decisions[0];
    cr_assert_eq(d->time, AT(10));
    cr_assert_str_eq(d->action, "target");
    cr_assert_eq(d->exec, 0, "no executor is 0, not -1");
    cr_assert_eq(d->old_target, 0);
    cr_assert_eq(d->new_target, 1);
    cr_assert_str_eq(d->reason, "target 0 -> 1: 0 pending + 0 running");
    d = &s->decisions[4];
    cr_assert_eq(d->new_target, 4);
    cr_assert_eq(d->pending, 5);
    cr_assert_eq(d->running, 1);
    cr_assert_eq(d->executors, 2);
    cr_assert_str_eq(s->decisions[1].action, "add");
    cr_assert_eq(s->decisions[1].exec, 1);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, removal_keeps_time_and_reason_and_lowers_the_count)
{
    s_rig_t r;
    s_rig_init(&r);
    s_ramp(&r);
    s_exec_removed(&r, AT(2000), 4,
                   "removed by dynamic allocation: idle 1.0 s (exited with "
                   "code 0)");
    s_exec_removed(&r, AT(2100), 3, "lost (killed by signal 9)");
    s_exec_removed(&r, AT(2200), 3, "removed twice");
    s_exec_removed(&r, AT(2300), 42, "never registered");
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->nexecs, 4);
    cr_assert(!s->execs[3].active);
    cr_assert_eq(s->execs[3].remove_time, AT(2000));
    cr_assert_str_eq(s->execs[3].remove_reason,
                     "removed by dynamic allocation: idle 1.0 s (exited with "
                     "code 0)");
    cr_assert(!s->execs[2].active);
    cr_assert_eq(s->execs[2].remove_time, AT(2100), "the first removal counts");
    cr_assert_str_eq(s->execs[2].remove_reason, "lost (killed by signal 9)");
    cr_assert(s->execs[1].active);
    s_assert_sample(&s->samples[s->nsamples - 2], AT(2000), 3, 4, 1, 5);
    s_assert_sample(&s->samples[s->nsamples - 1], AT(2100), 2, 4, 1, 5);
    cr_assert_eq(s->nsamples, 12);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, executor_added_again_is_active_again)
{
    s_rig_t r;
    s_rig_init(&r);
    s_exec_added(&r, AT(0), 7, 2);
    s_exec_removed(&r, AT(10), 7, "lost");
    s_exec_added(&r, AT(20), 7, 4);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->nexecs, 1);
    cr_assert(s->execs[0].active);
    cr_assert_eq(s->execs[0].cores, 4);
    cr_assert_eq(s->execs[0].add_time, AT(20));
    cr_assert_eq(s->execs[0].remove_time, 0);
    cr_assert_str_eq(s->execs[0].remove_reason, "");
    cr_assert_eq(s->samples[s->nsamples - 1].executors, 1);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- tasks, stages, jobs ------------------------------------------------- */

static const ms_task_metrics_t s_map_metrics = {
    .records_read = 200, .bytes_read = 8000, .shuffle_written = 2500};
static const ms_task_metrics_t s_reduce_metrics = {.shuffle_fetched = 3000,
                                                   .rows_out = 10};

/* Job 0 on executors 1 and 2: map stage of 4 tasks (task 3 fails once
 * and is retried on executor 2), reduce stage of 2 tasks. */
static void s_job0(s_rig_t *r)
{
    s_app_start(r, AT(0));
    s_exec_added(r, AT(1), 1, 2);
    s_exec_added(r, AT(2), 2, 2);
    s_job(r, AT(10), 0, true, false);
    s_stage(r, AT(10), 0, 4, false);
    s_task_start(r, AT(11), 0, 1, 1);
    s_task_start(r, AT(11), 0, 2, 1);
    s_task_start(r, AT(12), 0, 3, 2);
    s_task_end(r, AT(20), 0, 1, 1, true, &s_map_metrics);
    s_task_end(r, AT(21), 0, 3, 2, false, NULL);
    s_task_start(r, AT(22), 0, 4, 1);
    s_task_start(r, AT(22), 0, 5, 2);
    s_task_end(r, AT(30), 0, 2, 1, true, &s_map_metrics);
    s_task_end(r, AT(31), 0, 4, 1, true, &s_map_metrics);
    s_task_end(r, AT(32), 0, 5, 2, true, &s_map_metrics);
    s_stage(r, AT(33), 0, 4, true);
    s_stage(r, AT(34), 1, 2, false);
    s_task_start(r, AT(35), 1, 6, 1);
    s_task_start(r, AT(35), 1, 7, 2);
    s_task_end(r, AT(40), 1, 6, 1, true, &s_reduce_metrics);
    s_task_end(r, AT(41), 1, 7, 2, true, &s_reduce_metrics);
    s_stage(r, AT(42), 1, 2, true);
    s_job(r, AT(43), 0, false, true);
}

Test(ui_state, tasks_counted_per_executor_stage_and_in_total)
{
    s_rig_t r;
    s_rig_init(&r);
    s_job0(&r);
    ms_ui_snapshot_t *s = s_snap(&r);
    const ms_ui_exec_t *e1 = &s->execs[0], *e2 = &s->execs[1];
    cr_assert_eq(e1->active_tasks, 0);
    cr_assert_eq(e1->completed_tasks, 4);
    cr_assert_eq(e1->failed_tasks, 0);
    cr_assert_eq(e1->shuffle_write, 3 * 2500);
    cr_assert_eq(e1->shuffle_read, 3000);
    cr_assert_eq(e2->completed_tasks, 2);
    cr_assert_eq(e2->failed_tasks, 1);
    cr_assert_eq(e2->shuffle_write, 2500);
    cr_assert_eq(e2->shuffle_read, 3000);

    cr_assert_eq(s->nstages, 2);
    const ms_ui_stage_t *map = &s->stages[0], *reduce = &s->stages[1];
    cr_assert_eq(map->id, 0);
    cr_assert_eq(map->job, 0);
    cr_assert_str_eq(map->name, "map");
    cr_assert_eq(map->ntasks, 4);
    cr_assert_eq(map->succeeded, 4);
    cr_assert_eq(map->failed, 1);
    cr_assert_eq(map->running, 0);
    cr_assert_eq(map->submitted, AT(10));
    cr_assert_eq(map->completed, AT(33));
    cr_assert_str_eq(reduce->name, "reduce");
    cr_assert_eq(reduce->succeeded, 2);
    cr_assert_eq(reduce->completed, AT(42));

    cr_assert_eq(s->njobs, 1);
    cr_assert_eq(s->jobs[0].id, 0);
    cr_assert_eq(s->jobs[0].stage_ids[0], 0);
    cr_assert_eq(s->jobs[0].stage_ids[1], 1);
    cr_assert_eq(s->jobs[0].submitted, AT(10));
    cr_assert_eq(s->jobs[0].completed, AT(43));
    cr_assert_str_eq(s->jobs[0].status, "SUCCEEDED");

    cr_assert_eq(s->tasks_completed, 6);
    cr_assert_eq(s->tasks_failed, 1);
    cr_assert_eq(s->bytes_read, 4 * 8000);
    cr_assert_eq(s->records_read, 4 * 200);
    cr_assert_eq(s->shuffle_written, 4 * 2500);
    cr_assert_eq(s->shuffle_fetched, 2 * 3000);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, pending_is_tasks_of_active_stages_neither_running_nor_done)
{
    s_rig_t r;
    s_rig_init(&r);
    s_job0(&r);
    ms_ui_snapshot_t *s = s_snap(&r);
    /* Walk the timeline: after the map stage's submission 4 pending; a
     * failure puts its task back; stage completions empty everything. */
    struct {
        int64_t t;
        int running, pending;
    } want[] = {
        {AT(10), 0, 4}, {AT(11), 1, 3}, {AT(11), 2, 2}, {AT(12), 3, 1},
        {AT(20), 2, 1}, {AT(21), 1, 2}, {AT(22), 2, 1}, {AT(22), 3, 0},
        {AT(30), 2, 0}, {AT(31), 1, 0}, {AT(32), 0, 0}, {AT(34), 0, 2},
        {AT(35), 1, 1}, {AT(35), 2, 0}, {AT(40), 1, 0}, {AT(41), 0, 0},
    };
    /* samples: app start, two registrations, then the above */
    cr_assert_eq(s->nsamples, 3 + (int)(sizeof want / sizeof *want),
                 "%d samples", s->nsamples);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        s_assert_sample(&s->samples[3 + i], want[i].t, 2, 0, want[i].running,
                        want[i].pending);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, completed_stage_stops_counting_its_running_tasks)
{
    s_rig_t r;
    s_rig_init(&r);
    s_exec_added(&r, AT(0), 1, 4);
    s_job(&r, AT(1), 0, true, false);
    s_stage(&r, AT(1), 0, 3, false);
    s_task_start(&r, AT(2), 0, 1, 1);
    s_task_start(&r, AT(2), 0, 2, 1);
    s_task_end(&r, AT(3), 0, 1, 1, false, NULL);
    /* The job fails with task 2 still out: it will never report. */
    s_stage(&r, AT(4), 0, 3, true);
    s_job(&r, AT(4), 0, false, false);
    ms_ui_snapshot_t *s = s_snap(&r);
    s_assert_sample(&s->samples[s->nsamples - 1], AT(4), 1, 0, 0, 0);
    cr_assert_eq(s->stages[0].running, 0);
    cr_assert_str_eq(s->jobs[0].status, "FAILED");
    ms_ui_snapshot_free(&s);
    /* A late report of it changes nothing plotted. */
    s_task_end(&r, AT(5), 0, 2, 1, false, NULL);
    s = s_snap(&r);
    s_assert_sample(&s->samples[s->nsamples - 1], AT(4), 1, 0, 0, 0);
    cr_assert_eq(s->execs[0].failed_tasks, 2);
    cr_assert_eq(s->execs[0].active_tasks, 0);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, tasks_of_unknown_executors_and_stages_still_count)
{
    s_rig_t r;
    s_rig_init(&r);
    s_task_start(&r, AT(0), 9, 1, 77);
    s_task_end(&r, AT(1), 9, 1, 77, true, &s_map_metrics);
    s_task_end(&r, AT(2), 9, 2, 77, true, NULL);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->nexecs, 0);
    cr_assert_eq(s->nstages, 0);
    cr_assert_eq(s->tasks_completed, 2);
    cr_assert_eq(s->bytes_read, 8000);
    cr_assert_eq(s->samples[s->nsamples - 1].running, 0, "never negative");
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, shuffle_removed_and_app_end)
{
    s_rig_t r;
    s_rig_init(&r);
    s_app_start(&r, AT(0));
    s_post(&r, (ms_event_t){.type = MS_EV_SHUFFLE_REMOVED,
                            .time_ms = AT(5),
                            .shuffle = 0});
    s_post(&r, (ms_event_t){.type = MS_EV_APP_END, .time_ms = AT(9)});
    s_post(&r, (ms_event_t){.type = (ms_event_type_t)99, .time_ms = AT(10)});
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->end, AT(9));
    cr_assert_eq(s->nsamples, 1);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, snapshot_is_a_deep_copy)
{
    s_rig_t r;
    s_rig_init(&r);
    s_ramp(&r);
    ms_ui_snapshot_t *before = s_snap(&r);
    s_exec_removed(&r, AT(500), 1, "gone");
    for (int i = 0; i < 100; i++)
        s_target(&r, AT(600 + i), 4, i % 7, 0, 0, 3);
    cr_assert(before->execs[0].active);
    cr_assert_eq(before->ndecisions, 5);
    cr_assert_eq(before->nsamples, 10);
    cr_assert_eq(before->samples[9].time, AT(120));
    ms_ui_snapshot_free(&before);
    ms_ui_snapshot_free(&before); /* freeing NULL is a no-op */
    ms_ui_state_destroy(&r.ui);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, gauges_are_stored)
{
    s_rig_t r;
    s_rig_init(&r);
    ms_ui_gauges_t g = {.to_add = 2,
                        .pending_remove = 1,
                        .all_executors = 3,
                        .target = 5,
                        .max_needed = 8,
                        .fair_share = 2,
                        .held_cores = 4};
    ms_ui_state_set_gauges(r.ui, &g);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(memcmp(&s->gauges, &g, sizeof g), 0);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- bounds -------------------------------------------------------------- */

Test(ui_state, full_timeline_is_thinned_keeping_first_and_latest)
{
    s_rig_t r;
    s_rig_init(&r);
    s_app_start(&r, AT(0));
    /* Each target change is a new sample: fill past the cap. */
    int n = MS_UI_MAX_SAMPLES + 10;
    for (int i = 1; i < n; i++)
        s_target(&r, AT(i), 0, i % 2 + 1, 0, 0, 0);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_leq(s->nsamples, MS_UI_MAX_SAMPLES);
    cr_assert_geq(s->nsamples, MS_UI_MAX_SAMPLES / 2);
    cr_assert_eq(s->samples[0].time, AT(0), "the first sample stays");
    cr_assert_eq(s->samples[s->nsamples - 1].time, AT(n - 1), "the latest too");
    for (int i = 1; i < s->nsamples; i++)
        cr_assert_gt(s->samples[i].time, s->samples[i - 1].time, "in order");
    /* The newest stretch keeps every sample. */
    cr_assert_eq(s->samples[s->nsamples - 2].time, AT(n - 2));
    cr_assert_leq(s->ndecisions, MS_UI_MAX_DECISIONS);
    cr_assert_eq(s->decisions[0].time, AT(1));
    cr_assert_eq(s->decisions[s->ndecisions - 1].time, AT(n - 1));
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, full_executor_table_drops_the_oldest_removed)
{
    s_rig_t r;
    s_rig_init(&r);
    for (int i = 1; i <= MS_UI_MAX_EXECS; i++)
        s_exec_added(&r, AT(i), i, 1);
    s_exec_added(&r, AT(0), MS_UI_MAX_EXECS + 1, 1); /* no room: not shown */
    s_exec_removed(&r, AT(9000), 5, "idle");
    s_exec_removed(&r, AT(9001), 3, "idle");
    s_exec_added(&r, AT(9002), MS_UI_MAX_EXECS + 2, 1);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->nexecs, MS_UI_MAX_EXECS);
    cr_assert_eq(s->execs[2].id, 4, "executor 3 dropped, 5 is next");
    cr_assert_eq(s->execs[3].id, 5);
    cr_assert_eq(s->execs[s->nexecs - 1].id, MS_UI_MAX_EXECS + 2);
    cr_assert_eq(s->samples[s->nsamples - 1].executors, MS_UI_MAX_EXECS - 1);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- REST bodies --------------------------------------------------------- */

/* Parses a body the renderer made (and frees the text). */
static json_t *s_parse(char *text)
{
    cr_assert_not_null(text);
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "not JSON (%s): %s", e.text, text);
    free(text);
    return j;
}

static const char *s_str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

static json_int_t s_int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "\"%s\" is not an integer", key);
    return json_integer_value(v);
}

Test(ui_state, applications_json_running_then_completed)
{
    s_rig_t r;
    s_rig_init(&r);
    ms_ui_snapshot_t *s = s_snap(&r);
    json_t *j = s_parse(ms_ui_json_applications(s));
    cr_assert(json_is_array(j) && json_array_size(j) == 0, "no app yet");
    json_decref(j);
    ms_ui_snapshot_free(&s);

    s_app_start(&r, AT(0));
    s = s_snap(&r);
    j = s_parse(ms_ui_json_applications(s));
    cr_assert_eq(json_array_size(j), 1);
    json_t *app = json_array_get(j, 0);
    cr_assert_str_eq(s_str_of(app, "id"), "app-20261122010203-0001");
    cr_assert_str_eq(s_str_of(app, "name"), "ramp");
    json_t *att = json_array_get(json_object_get(app, "attempts"), 0);
    cr_assert_str_eq(s_str_of(att, "startTime"), "2026-11-22T01:02:03.456GMT");
    cr_assert_str_eq(s_str_of(att, "endTime"), "1969-12-31T23:59:59.999GMT");
    cr_assert_eq(s_int_of(att, "duration"), 0);
    cr_assert(json_is_false(json_object_get(att, "completed")));
    json_decref(j);
    ms_ui_snapshot_free(&s);

    s_post(&r, (ms_event_t){.type = MS_EV_APP_END, .time_ms = AT(61544)});
    s = s_snap(&r);
    j = s_parse(ms_ui_json_applications(s));
    att = json_array_get(json_object_get(json_array_get(j, 0), "attempts"), 0);
    cr_assert_str_eq(s_str_of(att, "endTime"), "2026-11-22T01:03:05.000GMT");
    cr_assert_eq(s_int_of(att, "duration"), 61544);
    cr_assert(json_is_true(json_object_get(att, "completed")));
    cr_assert_eq(s_int_of(att, "startTimeEpoch"), AT(0));
    cr_assert_eq(s_int_of(att, "endTimeEpoch"), AT(61544));
    json_decref(j);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, executors_json_is_spark_executor_summary)
{
    s_rig_t r;
    s_rig_init(&r);
    s_job0(&r);
    s_exec_removed(&r, AT(1544), 2, "removed by dynamic allocation: idle");
    ms_ui_snapshot_t *s = s_snap(&r);
    json_t *j = s_parse(ms_ui_json_executors(s));
    cr_assert_eq(json_array_size(j), 2);
    json_t *e1 = json_array_get(j, 0), *e2 = json_array_get(j, 1);
    cr_assert_str_eq(s_str_of(e1, "id"), "1");
    cr_assert_str_eq(s_str_of(e1, "hostPort"), "127.0.0.1");
    cr_assert(json_is_true(json_object_get(e1, "isActive")));
    cr_assert_eq(s_int_of(e1, "totalCores"), 2);
    cr_assert_eq(s_int_of(e1, "activeTasks"), 0);
    cr_assert_eq(s_int_of(e1, "completedTasks"), 4);
    cr_assert_eq(s_int_of(e1, "failedTasks"), 0);
    cr_assert_eq(s_int_of(e1, "totalShuffleRead"), 3000);
    cr_assert_eq(s_int_of(e1, "totalShuffleWrite"), 7500);
    cr_assert_str_eq(s_str_of(e1, "addTime"), "2026-11-22T01:02:03.457GMT");
    cr_assert_null(json_object_get(e1, "removeTime"), "active: no removeTime");
    cr_assert_null(json_object_get(e1, "removeReason"));
    cr_assert_str_eq(s_str_of(e2, "id"), "2");
    cr_assert(json_is_false(json_object_get(e2, "isActive")));
    cr_assert_eq(s_int_of(e2, "failedTasks"), 1);
    cr_assert_str_eq(s_str_of(e2, "removeTime"), "2026-11-22T01:02:05.000GMT");
    cr_assert_str_eq(s_str_of(e2, "removeReason"),
                     "removed by dynamic allocation: idle");
    json_decref(j);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, jobs_and_stages_json_newest_first)
{
    s_rig_t r;
    s_rig_init(&r);
    s_job0(&r);
    s_job(&r, AT(100), 1, true, false);
    s_stage(&r, AT(100), 2, 3, false);
    s_task_start(&r, AT(101), 2, 8, 1);
    ms_ui_snapshot_t *s = s_snap(&r);

    json_t *j = s_parse(ms_ui_json_jobs(s));
    cr_assert_eq(json_array_size(j), 2);
    json_t *job1 = json_array_get(j, 0), *job0 = json_array_get(j, 1);
    cr_assert_eq(s_int_of(job1, "jobId"), 1);
    cr_assert_str_eq(s_str_of(job1, "status"), "RUNNING");
    cr_assert_null(json_object_get(job1, "completionTime"));
    cr_assert_eq(s_int_of(job1, "numTasks"), 3);
    cr_assert_eq(s_int_of(job1, "numActiveTasks"), 1);
    cr_assert_eq(s_int_of(job0, "jobId"), 0);
    cr_assert_str_eq(s_str_of(job0, "status"), "SUCCEEDED");
    cr_assert_str_eq(s_str_of(job0, "submissionTime"),
                     "2026-11-22T01:02:03.466GMT");
    cr_assert_str_eq(s_str_of(job0, "completionTime"),
                     "2026-11-22T01:02:03.499GMT");
    json_t *ids = json_object_get(job0, "stageIds");
    cr_assert_eq(json_array_size(ids), 2);
    cr_assert_eq(json_integer_value(json_array_get(ids, 0)), 0);
    cr_assert_eq(json_integer_value(json_array_get(ids, 1)), 1);
    cr_assert_eq(s_int_of(job0, "numTasks"), 6);
    cr_assert_eq(s_int_of(job0, "numCompletedTasks"), 6);
    cr_assert_eq(s_int_of(job0, "numFailedTasks"), 1);
    json_decref(j);

    j = s_parse(ms_ui_json_stages(s));
    cr_assert_eq(json_array_size(j), 3);
    json_t *st2 = json_array_get(j, 0), *st0 = json_array_get(j, 2);
    cr_assert_eq(s_int_of(st2, "stageId"), 2);
    cr_assert_str_eq(s_str_of(st2, "status"), "ACTIVE");
    cr_assert_eq(s_int_of(st2, "numTasks"), 3);
    cr_assert_eq(s_int_of(st2, "numActiveTasks"), 1);
    cr_assert_eq(s_int_of(st2, "numCompleteTasks"), 0);
    cr_assert_null(json_object_get(st2, "completionTime"));
    cr_assert_eq(s_int_of(st0, "stageId"), 0);
    cr_assert_str_eq(s_str_of(st0, "name"), "map");
    cr_assert_str_eq(s_str_of(st0, "status"), "COMPLETE");
    cr_assert_eq(s_int_of(st0, "numCompleteTasks"), 4);
    cr_assert_eq(s_int_of(st0, "numFailedTasks"), 1);
    cr_assert_eq(s_int_of(st0, "numActiveTasks"), 0);
    cr_assert_str_eq(s_str_of(st0, "submissionTime"),
                     "2026-11-22T01:02:03.466GMT");
    cr_assert_str_eq(s_str_of(st0, "completionTime"),
                     "2026-11-22T01:02:03.489GMT");
    json_decref(j);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, allocation_and_timeline_json)
{
    s_rig_t r;
    s_rig_init(&r);
    s_ramp(&r);
    ms_ui_snapshot_t *s = s_snap(&r);

    json_t *j = s_parse(ms_ui_json_allocation(s));
    cr_assert_eq(json_array_size(j), 5);
    json_t *d0 = json_array_get(j, 0), *d1 = json_array_get(j, 1);
    cr_assert_eq(s_int_of(d0, "time"), AT(10));
    cr_assert_str_eq(s_str_of(d0, "action"), "target");
    cr_assert(json_is_null(json_object_get(d0, "executorId")));
    cr_assert_eq(s_int_of(d0, "oldTarget"), 0);
    cr_assert_eq(s_int_of(d0, "newTarget"), 1);
    cr_assert_eq(s_int_of(d0, "pendingTasks"), 0);
    cr_assert_eq(s_int_of(d0, "runningTasks"), 0);
    cr_assert_eq(s_int_of(d0, "executors"), 0);
    cr_assert_str_eq(s_str_of(d0, "reason"),
                     "target 0 -> 1: 0 pending + 0 running");
    cr_assert_str_eq(s_str_of(d1, "executorId"), "1");
    cr_assert_str_eq(s_str_of(d1, "action"), "add");
    json_decref(j);

    j = s_parse(ms_ui_json_timeline(s));
    cr_assert_eq(json_array_size(j), 10);
    json_t *p = json_array_get(j, 4);
    cr_assert_eq(s_int_of(p, "time"), AT(60));
    cr_assert_eq(s_int_of(p, "executors"), 1);
    cr_assert_eq(s_int_of(p, "target"), 1);
    cr_assert_eq(s_int_of(p, "running"), 1);
    cr_assert_eq(s_int_of(p, "pending"), 5);
    json_decref(j);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

Test(ui_state, json_stays_valid_with_invalid_utf8_and_long_strings)
{
    s_rig_t r;
    s_rig_init(&r);
    char longer[1000];
    /* "é" repeated: any cut at a fixed size lands mid-character half the
     * time. */
    for (size_t i = 0; i + 2 < sizeof longer; i += 2)
        memcpy(longer + i, "\xc3\xa9", 2);
    longer[sizeof longer - 2] = '\0';
    s_post(&r, (ms_event_t){.type = MS_EV_APP_START,
                            .time_ms = AT(0),
                            .app_id = "app\"quoted\\\n",
                            .app_name = longer});
    s_exec_added(&r, AT(1), 1, 1);
    s_exec_removed(&r, AT(2), 1, "bad \xff\xfe bytes \xc3");
    s_decide(&r, AT(3), "\xe2\x82", 1, 1, longer);
    ms_ui_snapshot_t *s = s_snap(&r);
    json_t *j = s_parse(ms_ui_json_executors(s));
    cr_assert_str_eq(s_str_of(json_array_get(j, 0), "removeReason"),
                     "bad ?? bytes ?");
    json_decref(j);
    j = s_parse(ms_ui_json_applications(s));
    cr_assert_str_eq(s_str_of(json_array_get(j, 0), "id"), "app\"quoted\\\n");
    cr_assert_eq(strlen(s_str_of(json_array_get(j, 0), "name")), 126);
    json_decref(j);
    j = s_parse(ms_ui_json_allocation(s));
    cr_assert_str_eq(s_str_of(json_array_get(j, 0), "action"), "??");
    json_decref(j);
    char *m = ms_ui_metrics_text(s);
    cr_assert(strstr(m, "{app_id=\"app\\\"quoted\\\\\\n\"}"), "%s", m);
    free(m);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- Prometheus ---------------------------------------------------------- */

/* Every sample line of the text, checked for its HELP and TYPE lines. */
static void s_assert_metric(const char *text, const char *name,
                            const char *type, long long value)
{
    char want[256];
    snprintf(want, sizeof want, "# TYPE %s %s\n", name, type);
    cr_assert(strstr(text, want), "no \"%s\" in:\n%s", want, text);
    snprintf(want, sizeof want, "# HELP %s ", name);
    cr_assert(strstr(text, want), "no \"%s\" in:\n%s", want, text);
    snprintf(want, sizeof want,
             "\n%s{app_id=\"app-20261122010203-0001\"} %lld\n", name, value);
    cr_assert(strstr(text, want), "no \"%s\" in:\n%s", want + 1, text);
}

Test(ui_state, metrics_text_is_prometheus_exposition)
{
    s_rig_t r;
    s_rig_init(&r);
    s_job0(&r);
    s_exec_removed(&r, AT(100), 2, "idle");
    ms_ui_gauges_t g = {.to_add = 2,
                        .pending_remove = 1,
                        .all_executors = 3,
                        .target = 5,
                        .max_needed = 8,
                        .fair_share = 2,
                        .held_cores = 4};
    ms_ui_state_set_gauges(r.ui, &g);
    ms_ui_snapshot_t *s = s_snap(&r);
    char *m = ms_ui_metrics_text(s);
    cr_assert_not_null(m);
    const char *p = "minispark_executor_allocation_";
    char name[128];
    struct {
        const char *n;
        long long v;
    } gauges[] = {
        {"number_executors_to_add", 2},
        {"number_executors_pending_to_remove", 1},
        {"number_all_executors", 3},
        {"number_target_executors", 5},
        {"number_max_needed_executors", 8},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++) {
        snprintf(name, sizeof name, "%s%s", p, gauges[i].n);
        s_assert_metric(m, name, "gauge", gauges[i].v);
    }
    s_assert_metric(m, "minispark_executors_active", "gauge", 1);
    s_assert_metric(m, "minispark_fair_share_cores", "gauge", 2);
    s_assert_metric(m, "minispark_held_cores", "gauge", 4);
    s_assert_metric(m, "minispark_tasks_completed_total", "counter", 6);
    s_assert_metric(m, "minispark_tasks_failed_total", "counter", 1);
    s_assert_metric(m, "minispark_input_bytes_total", "counter", 32000);
    s_assert_metric(m, "minispark_input_records_total", "counter", 800);
    s_assert_metric(m, "minispark_shuffle_written_bytes_total", "counter",
                    10000);
    s_assert_metric(m, "minispark_shuffle_fetched_bytes_total", "counter",
                    6000);
    /* Every line is a comment or a labelled sample, and the text ends with
     * a newline, as the format requires. */
    int samples = 0;
    for (char *line = m; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "unterminated last line");
        if (line[0] != '#') {
            samples++;
            cr_assert(strncmp(line, "minispark_", 10) == 0);
            cr_assert(strstr(line, "{app_id=\"") && strstr(line, "\"} "));
        }
        line = nl + 1;
    }
    cr_assert_eq(samples, 14);
    free(m);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- threads ------------------------------------------------------------- */

typedef struct {
    ms_ui_state_t *ui;
    int stop; /* set once, read with __atomic */
    int snapshots;
} s_reader_t;

static void *s_reader(void *arg)
{
    s_reader_t *rd = arg;
    char *(*const render[])(const ms_ui_snapshot_t *) = {
        ms_ui_json_applications, ms_ui_json_executors,  ms_ui_json_jobs,
        ms_ui_json_stages,       ms_ui_json_allocation, ms_ui_json_timeline,
        ms_ui_metrics_text,
    };
    while (!__atomic_load_n(&rd->stop, __ATOMIC_ACQUIRE)) {
        ms_ui_snapshot_t *s = ms_ui_state_snapshot(rd->ui);
        if (!s) continue;
        char *text =
            render[__atomic_load_n(&rd->snapshots, __ATOMIC_ACQUIRE) % 7](s);
        if (!text) abort();
        free(text);
        ms_ui_snapshot_free(&s);
        __atomic_add_fetch(&rd->snapshots, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(ui_state, snapshots_while_events_are_posted)
{
    s_rig_t r;
    s_rig_init(&r);
    s_reader_t rd = {.ui = r.ui};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, s_reader, &rd), 0);
    /* Post only once the reader is going, so the two really overlap. */
    while (__atomic_load_n(&rd.snapshots, __ATOMIC_ACQUIRE) == 0)
        sched_yield();
    s_app_start(&r, AT(0));
    s_exec_added(&r, AT(1), 1, 4);
    s_job(&r, AT(2), 0, true, false);
    s_stage(&r, AT(2), 0, 5000, false);
    for (int i = 0; i < 10000; i++) {
        if (i % 2 == 0)
            s_task_start(&r, AT(3 + i), 0, i / 2, 1);
        else
            s_task_end(&r, AT(3 + i), 0, i / 2, 1, true, &s_map_metrics);
        if (i % 100 == 0) {
            ms_ui_gauges_t g = {.target = i / 100};
            ms_ui_state_set_gauges(r.ui, &g);
        }
    }
    __atomic_store_n(&rd.stop, 1, __ATOMIC_RELEASE);
    pthread_join(th, NULL);
    cr_assert_gt(rd.snapshots, 0);
    ms_ui_snapshot_t *s = s_snap(&r);
    cr_assert_eq(s->tasks_completed, 5000);
    cr_assert_eq(s->stages[0].succeeded, 5000);
    cr_assert_eq(s->gauges.target, 99);
    ms_ui_snapshot_free(&s);
    ms_ui_state_destroy(&r.ui);
}

/* ---- replay -------------------------------------------------------------- */

static void s_assert_same_execs(const ms_ui_snapshot_t *a,
                                const ms_ui_snapshot_t *b)
{
    cr_assert_eq(a->nexecs, b->nexecs);
    for (int i = 0; i < a->nexecs; i++) {
        const ms_ui_exec_t *x = &a->execs[i], *y = &b->execs[i];
        cr_assert_eq(x->id, y->id);
        cr_assert_str_eq(x->host, y->host);
        cr_assert_eq(x->cores, y->cores);
        cr_assert_eq(x->active, y->active);
        cr_assert_eq(x->active_tasks, y->active_tasks);
        cr_assert_eq(x->completed_tasks, y->completed_tasks);
        cr_assert_eq(x->failed_tasks, y->failed_tasks);
        cr_assert_eq(x->shuffle_read, y->shuffle_read);
        cr_assert_eq(x->shuffle_write, y->shuffle_write);
        cr_assert_eq(x->add_time, y->add_time);
        cr_assert_eq(x->remove_time, y->remove_time);
        cr_assert_str_eq(x->remove_reason, y->remove_reason);
    }
}

static void s_assert_same_decisions(const ms_ui_snapshot_t *a,
                                    const ms_ui_snapshot_t *b)
{
    cr_assert_eq(a->ndecisions, b->ndecisions);
    for (int i = 0; i < a->ndecisions; i++) {
        const ms_ui_decision_t *x = &a->decisions[i], *y = &b->decisions[i];
        cr_assert_eq(x->time, y->time);
        cr_assert_str_eq(x->action, y->action);
        cr_assert_eq(x->exec, y->exec);
        cr_assert_eq(x->old_target, y->old_target);
        cr_assert_eq(x->new_target, y->new_target);
        cr_assert_eq(x->pending, y->pending);
        cr_assert_eq(x->running, y->running);
        cr_assert_eq(x->executors, y->executors);
        cr_assert_str_eq(x->reason, y->reason);
    }
}

static void s_assert_same_rest(const ms_ui_snapshot_t *a,
                               const ms_ui_snapshot_t *b)
{
    cr_assert_eq(a->nsamples, b->nsamples);
    cr_assert_eq(memcmp(a->samples, b->samples,
                        (size_t)a->nsamples * sizeof *a->samples),
                 0);
    cr_assert_eq(a->nstages, b->nstages);
    for (int i = 0; i < a->nstages; i++) {
        cr_assert_eq(a->stages[i].id, b->stages[i].id);
        cr_assert_eq(a->stages[i].job, b->stages[i].job);
        cr_assert_str_eq(a->stages[i].name, b->stages[i].name);
        cr_assert_eq(a->stages[i].succeeded, b->stages[i].succeeded);
        cr_assert_eq(a->stages[i].failed, b->stages[i].failed);
        cr_assert_eq(a->stages[i].completed, b->stages[i].completed);
    }
    cr_assert_eq(a->njobs, b->njobs);
    for (int i = 0; i < a->njobs; i++) {
        cr_assert_str_eq(a->jobs[i].status, b->jobs[i].status);
        cr_assert_eq(a->jobs[i].completed, b->jobs[i].completed);
    }
    cr_assert_str_eq(a->app_id, b->app_id);
    cr_assert_str_eq(a->app_name, b->app_name);
    cr_assert_eq(a->start, b->start);
    cr_assert_eq(a->end, b->end);
    cr_assert_eq(a->tasks_completed, b->tasks_completed);
    cr_assert_eq(a->tasks_failed, b->tasks_failed);
    cr_assert_eq(a->bytes_read, b->bytes_read);
    cr_assert_eq(a->records_read, b->records_read);
    cr_assert_eq(a->shuffle_written, b->shuffle_written);
    cr_assert_eq(a->shuffle_fetched, b->shuffle_fetched);
}

Test(ui_state, replayed_event_log_rebuilds_the_live_state)
{
    char dir[] = "/tmp/ms_ui_state_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    ms_error_t err;
    ms_eventlog_t *log = NULL;
    cr_assert_eq(ms_eventlog_open(&log, dir, "app-20261122010203-0001", &err),
                 0, "%s", err.msg);
    s_rig_t r;
    s_rig_init(&r);
    ms_bus_subscribe(&r.bus, ms_eventlog_listener, log);

    s_ramp(&r);
    s_stage(&r, AT(130), 0, 6, true);
    s_job(&r, AT(131), 0, false, false);
    /* Job 1 as job 0 of s_job0, shifted. */
    s_job(&r, AT(200), 1, true, false);
    s_stage(&r, AT(200), 2, 3, false);
    s_task_start(&r, AT(201), 2, 10, 2);
    s_task_start(&r, AT(201), 2, 11, 3);
    s_task_end(&r, AT(205), 2, 10, 2, true, &s_map_metrics);
    s_task_end(&r, AT(206), 2, 11, 3, false, NULL);
    s_post(&r, (ms_event_t){.type = MS_EV_SHUFFLE_REMOVED, .time_ms = AT(207)});
    s_task_start(&r, AT(207), 2, 12, 4);
    s_task_start(&r, AT(207), 2, 13, 4);
    s_task_end(&r, AT(210), 2, 12, 4, true, &s_map_metrics);
    s_task_end(&r, AT(211), 2, 13, 4, true, &s_map_metrics);
    s_stage(&r, AT(212), 2, 3, true);
    s_stage(&r, AT(213), 3, 1, false);
    s_task_start(&r, AT(214), 3, 14, 1);
    s_task_end(&r, AT(220), 3, 14, 1, true, &s_reduce_metrics);
    s_stage(&r, AT(221), 3, 1, true);
    s_job(&r, AT(222), 1, false, true);
    s_decide(&r, AT(1300), "keep", 2, 4, "keep executor 2: holds shuffle 1");
    s_target(&r, AT(1300), 4, 1, 0, 0, 4);
    s_decide(&r, AT(1301), "remove", 4, 1, "remove executor 4: idle 1.0 s");
    s_exec_removed(&r, AT(1310), 4,
                   "removed by dynamic allocation (exited with code 0)");
    s_exec_removed(&r, AT(1320), 3, "lost (killed by signal 9)");
    s_post(&r, (ms_event_t){.type = MS_EV_APP_END, .time_ms = AT(1400)});
    char path[256];
    snprintf(path, sizeof path, "%s", ms_eventlog_path(log));
    ms_eventlog_close(&log);

    ms_ui_state_t *replayed = ms_ui_state_new();
    cr_assert_not_null(replayed);
    cr_assert_eq(ms_eventlog_replay(path, ms_ui_state_listener, replayed, &err),
                 0, "%s", err.msg);
    ms_ui_snapshot_t *live = s_snap(&r);
    ms_ui_snapshot_t *again = ms_ui_state_snapshot(replayed);
    cr_assert_not_null(again);
    cr_assert_gt(live->nsamples, 10);
    cr_assert_eq(live->ndecisions, 8);
    s_assert_same_execs(live, again);
    s_assert_same_decisions(live, again);
    s_assert_same_rest(live, again);
    /* And so every body rendered from them. */
    char *(*const render[])(const ms_ui_snapshot_t *) = {
        ms_ui_json_applications, ms_ui_json_executors,  ms_ui_json_jobs,
        ms_ui_json_stages,       ms_ui_json_allocation, ms_ui_json_timeline,
        ms_ui_metrics_text,
    };
    for (size_t i = 0; i < sizeof render / sizeof *render; i++) {
        char *x = render[i](live), *y = render[i](again);
        cr_assert_str_eq(x, y);
        free(x);
        free(y);
    }
    ms_ui_snapshot_free(&live);
    ms_ui_snapshot_free(&again);
    ms_ui_state_destroy(&replayed);
    ms_ui_state_destroy(&r.ui);
    unlink(path);
    rmdir(dir);
}
