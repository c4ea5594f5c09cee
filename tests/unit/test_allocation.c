/* Behaviour of the dynamic allocation policy, ported from the scenarios of
 * Spark's ExecutorAllocationManagerSuite (without resource profiles,
 * speculation, unschedulable task sets, decommissioning or cached blocks).
 * Time is a plain int64_t in milliseconds that each test advances by hand;
 * the suite's timers are backlog 1 s, sustained backlog 2 s, idle 3 s. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "driver/allocation.h"
#include "driver/exec_monitor.h"

#define SEC(n) ((int64_t)(n)*1000)

enum { BACKLOG_MS = 1000, SUSTAINED_MS = 2000, IDLE_MS = 3000 };

static ms_alloc_conf_t s_conf(int min, int max, int initial)
{
    ms_alloc_conf_t c = {.min_executors = min,
                         .max_executors = max,
                         .initial_executors = initial,
                         .ratio = 1.0,
                         .tasks_per_executor = 1,
                         .backlog_timeout_ms = BACKLOG_MS,
                         .sustained_timeout_ms = SUSTAINED_MS};
    return c;
}

static ms_alloc_t *s_alloc(int min, int max, int initial)
{
    ms_alloc_conf_t c = s_conf(min, max, initial);
    ms_alloc_t *a = ms_alloc_new(&c);
    cr_assert_not_null(a);
    return a;
}

/* One update round with no registered executors; true if the target moved. */
static bool s_update(ms_alloc_t *a, int64_t now)
{
    ms_alloc_change_t change;
    return ms_alloc_update(a, now, 0, &change);
}

static void s_start_tasks(ms_alloc_t *a, int stage, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        ms_alloc_task_started(a, stage, now);
}

static void s_end_tasks(ms_alloc_t *a, int stage, int n, int64_t now)
{
    for (int i = 0; i < n; i++)
        ms_alloc_task_ended(a, stage, true, now);
}

/* "1,2,3": ids as text, so failures print the whole list. */
static const char *s_ids(const int *ids, int n)
{
    static char buf[512];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < sizeof buf; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%d",
                                i ? "," : "", ids[i]);
    return buf;
}

/* Which of the timed-out ids may go, as text. */
static const char *s_removable(const ms_alloc_t *a, const int *ids, int n,
                               int remaining)
{
    int out[64];
    int k = ms_alloc_removable(a, ids, n, remaining, out);
    cr_assert(k >= 0 && k <= n, "removable returned %d of %d", k, n);
    return s_ids(out, k);
}

/* ------------------------------------------------------------------ */
/* A policy and an executor monitor driven together the way Spark's
 * schedule() drives them: timed-out executors end the initializing phase,
 * the target is updated, then the removable ones are marked pending. */

typedef struct {
    ms_alloc_t *alloc;
    ms_exec_monitor_t *monitor;
    int64_t now;
} s_cluster_t;

static void s_cluster_init(s_cluster_t *c, int min, int max, int initial,
                           int64_t start)
{
    c->alloc = s_alloc(min, max, initial);
    c->monitor = ms_exec_monitor_new(IDLE_MS, false, MS_CONF_INFINITE);
    cr_assert_not_null(c->monitor);
    c->now = start;
}

static void s_cluster_fini(s_cluster_t *c)
{
    ms_alloc_destroy(&c->alloc);
    ms_exec_monitor_destroy(&c->monitor);
}

static void s_add_executors(s_cluster_t *c, int first, int last)
{
    for (int id = first; id <= last; id++)
        ms_exec_monitor_executor_added(c->monitor, id, c->now);
}

static void s_schedule(s_cluster_t *c)
{
    int ids[64], out[64];
    int n = ms_exec_monitor_timed_out(c->monitor, c->now, ids, 64);
    if (n > 64) n = 64;
    if (n > 0) ms_alloc_idle_timeout(c->alloc);
    int registered = ms_exec_monitor_count(c->monitor);
    ms_alloc_change_t change;
    ms_alloc_update(c->alloc, c->now, registered, &change);
    if (n == 0) return;
    int remaining =
        registered - ms_exec_monitor_pending_removal_count(c->monitor);
    int k = ms_alloc_removable(c->alloc, ids, n, remaining, out);
    for (int i = 0; i < k; i++)
        ms_exec_monitor_pending_removal(c->monitor, out[i]);
}

static int s_pending_removal(const s_cluster_t *c)
{
    return ms_exec_monitor_pending_removal_count(c->monitor);
}

/* ------------------------------------------------------------------ */

Test(allocation, destroy_nulls_the_pointer_and_accepts_null)
{
    ms_alloc_t *a = s_alloc(1, 5, 1);
    ms_alloc_destroy(&a);
    cr_assert_null(a);
    ms_alloc_destroy(&a);
    ms_alloc_destroy(NULL);
}

Test(allocation, starts_at_initial_target_with_step_one_and_no_timer)
{
    ms_alloc_t *a = s_alloc(1, 5, 1);
    cr_assert_eq(ms_alloc_target(a), 1);
    cr_assert_eq(ms_alloc_step(a), 1);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    cr_assert(ms_alloc_initializing(a));
    cr_assert_eq(ms_alloc_pending_tasks(a), 0);
    cr_assert_eq(ms_alloc_running_tasks(a), 0);
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    const ms_alloc_conf_t *c = ms_alloc_conf(a);
    cr_assert_eq(c->min_executors, 1);
    cr_assert_eq(c->max_executors, 5);
    cr_assert_eq(c->initial_executors, 1);
    ms_alloc_destroy(&a);
}

Test(allocation, ramp_doubles_until_capped_at_max)
{
    static const struct {
        int64_t at;
        int target, step;
    } ramp[] = {
        {SEC(1), 2, 2}, /* first round after the backlog timeout */
        {SEC(3), 4, 4}, /* then every sustained timeout */
        {SEC(5), 8, 8},
        {SEC(7), 10, 1}, /* capped by max: the step resets */
    };
    ms_alloc_t *a = s_alloc(1, 10, 1);
    ms_alloc_stage_submitted(a, 0, 1000, 0);
    cr_assert_eq(ms_alloc_add_time(a), SEC(1));
    cr_assert_not(ms_alloc_initializing(a));

    int old = 1;
    for (size_t i = 0; i < sizeof ramp / sizeof ramp[0]; i++) {
        cr_assert_not(s_update(a, ramp[i].at - 1), "moved before %lld ms",
                      (long long)ramp[i].at);
        cr_assert_eq(ms_alloc_target(a), old);

        ms_alloc_change_t change;
        memset(&change, 0, sizeof change);
        cr_assert(ms_alloc_update(a, ramp[i].at, 0, &change));
        cr_assert_eq(change.old_target, old);
        cr_assert_eq(change.new_target, ramp[i].target);
        cr_assert_neq(change.reason[0], '\0', "a change says why");
        cr_assert_eq(ms_alloc_target(a), ramp[i].target, "at %lld ms",
                     (long long)ramp[i].at);
        cr_assert_eq(ms_alloc_step(a), ramp[i].step, "at %lld ms",
                     (long long)ramp[i].at);
        cr_assert_eq(ms_alloc_add_time(a), ramp[i].at + SUSTAINED_MS);
        old = ramp[i].target;
    }

    for (int64_t t = SEC(9); t <= SEC(15); t += SEC(2)) {
        cr_assert_not(s_update(a, t));
        cr_assert_eq(ms_alloc_target(a), 10);
        cr_assert_eq(ms_alloc_step(a), 1);
    }
    ms_alloc_destroy(&a);
}

Test(allocation, ramp_is_capped_by_pending_tasks_and_adds_new_demand_only)
{
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 0, 5, 0);

    cr_assert(s_update(a, SEC(1)));
    cr_assert_eq(ms_alloc_target(a), 1);
    cr_assert_eq(ms_alloc_step(a), 2);
    cr_assert(s_update(a, SEC(3)));
    cr_assert_eq(ms_alloc_target(a), 3);
    cr_assert_eq(ms_alloc_step(a), 4);
    cr_assert(s_update(a, SEC(5)));
    cr_assert_eq(ms_alloc_target(a), 5, "capped by the 5 tasks");
    cr_assert_eq(ms_alloc_step(a), 1, "capping resets the step");

    /* A second stage; one of its tasks starts: the target does not move
     * until the next round. */
    ms_alloc_stage_submitted(a, 1, 3, SEC(5));
    ms_alloc_task_started(a, 1, SEC(5));
    cr_assert_eq(ms_alloc_target(a), 5);
    cr_assert_eq(ms_alloc_max_needed(a), 8);
    cr_assert_not(s_update(a, SEC(6)));
    cr_assert_eq(ms_alloc_target(a), 5);

    cr_assert(s_update(a, SEC(7)));
    cr_assert_eq(ms_alloc_target(a), 6);
    cr_assert_eq(ms_alloc_step(a), 2);
    cr_assert(s_update(a, SEC(9)));
    cr_assert_eq(ms_alloc_target(a), 8);
    cr_assert_eq(ms_alloc_step(a), 4, "the whole step was granted");
    cr_assert_not(s_update(a, SEC(11)), "nothing more is needed");
    cr_assert_eq(ms_alloc_target(a), 8);
    cr_assert_eq(ms_alloc_step(a), 1);

    /* A third stage with two tasks started at once: need 11, max 10. */
    ms_alloc_stage_submitted(a, 2, 3, SEC(12));
    s_start_tasks(a, 2, 2, SEC(12));
    cr_assert(s_update(a, SEC(12)), "the add time has already passed");
    cr_assert_eq(ms_alloc_target(a), 9);
    cr_assert_eq(ms_alloc_step(a), 2);
    cr_assert(s_update(a, SEC(14)));
    cr_assert_eq(ms_alloc_target(a), 10);
    cr_assert_eq(ms_alloc_step(a), 1);

    ms_alloc_task_started(a, 2, SEC(15));
    cr_assert_not(s_update(a, SEC(16)));
    cr_assert_eq(ms_alloc_target(a), 10);
    ms_alloc_destroy(&a);
}

/* min 3, max 15, 20 tasks, six add rounds. */
static int s_ratio_target(int tasks_per_executor, double ratio)
{
    ms_alloc_conf_t c = s_conf(3, 15, 3);
    c.tasks_per_executor = tasks_per_executor;
    c.ratio = ratio;
    ms_alloc_t *a = ms_alloc_new(&c);
    cr_assert_not_null(a);
    ms_alloc_stage_submitted(a, 0, 20, 0);
    for (int round = 0; round < 6; round++)
        s_update(a, BACKLOG_MS + (int64_t)round * SUSTAINED_MS);
    int target = ms_alloc_target(a);
    ms_alloc_destroy(&a);
    return target;
}

Test(allocation, allocation_ratio_scales_the_need)
{
    cr_assert_eq(s_ratio_target(1, 0.5), 10);
    cr_assert_eq(s_ratio_target(1, 1.0 / 3.0), 7);
    cr_assert_eq(s_ratio_target(2, 1.0 / 3.0), 4);
    cr_assert_eq(s_ratio_target(1, 0.385), 8);
    cr_assert_eq(s_ratio_target(1, 1.0), 15, "20 capped by max");
    cr_assert_eq(s_ratio_target(4, 1.0 / 3.0), 3, "2 raised to min");
}

Test(allocation, need_is_ceil_of_tasks_times_ratio_over_slots)
{
    ms_alloc_conf_t c = s_conf(0, 100, 0);
    c.tasks_per_executor = 4;
    c.ratio = 0.5;
    ms_alloc_t *a = ms_alloc_new(&c);
    ms_alloc_stage_submitted(a, 0, 17, 0);
    s_start_tasks(a, 0, 5, 0);
    cr_assert_eq(ms_alloc_pending_tasks(a), 12);
    cr_assert_eq(ms_alloc_running_tasks(a), 5);
    cr_assert_eq(ms_alloc_max_needed(a), 3); /* ceil(17 * 0.5 / 4) */
    ms_alloc_destroy(&a);
}

Test(allocation, cancels_pending_executors_at_once_when_no_longer_needed)
{
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 2, 10, 0);
    s_update(a, SEC(1));
    s_update(a, SEC(3));
    cr_assert_eq(ms_alloc_target(a), 3);
    cr_assert_eq(ms_alloc_step(a), 4);

    /* Eight tasks run and finish before the next add round: two remain. */
    s_start_tasks(a, 2, 8, SEC(3) + 100);
    s_end_tasks(a, 2, 8, SEC(3) + 200);
    cr_assert_eq(ms_alloc_max_needed(a), 2);

    ms_alloc_change_t change;
    cr_assert(ms_alloc_update(a, SEC(3) + 200, 0, &change),
              "no timer for lowering the target");
    cr_assert_eq(change.old_target, 3);
    cr_assert_eq(change.new_target, 2);
    cr_assert_neq(change.reason[0], '\0');
    cr_assert_eq(ms_alloc_target(a), 2);
    cr_assert_eq(ms_alloc_step(a), 1, "lowering resets the step");
    ms_alloc_destroy(&a);
}

Test(allocation, lowered_target_never_goes_below_min)
{
    ms_alloc_t *a = s_alloc(2, 10, 2);
    ms_alloc_stage_submitted(a, 0, 4, 0);
    s_update(a, SEC(1));
    s_update(a, SEC(3));
    cr_assert_eq(ms_alloc_target(a), 4);

    s_start_tasks(a, 0, 4, SEC(4));
    s_end_tasks(a, 0, 4, SEC(5));
    ms_alloc_stage_completed(a, 0, SEC(5));
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    cr_assert(s_update(a, SEC(5)));
    cr_assert_eq(ms_alloc_target(a), 2);
    cr_assert_eq(ms_alloc_step(a), 1);
    cr_assert_not(s_update(a, SEC(60)));
    ms_alloc_destroy(&a);
}

Test(allocation, running_tasks_of_a_completed_stage_count_until_they_end)
{
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 0, 5, 0);
    s_start_tasks(a, 0, 2, 0);
    ms_alloc_stage_completed(a, 0, 0);
    cr_assert_eq(ms_alloc_pending_tasks(a), 0);
    cr_assert_eq(ms_alloc_running_tasks(a), 2);
    cr_assert_eq(ms_alloc_max_needed(a), 2);
    ms_alloc_task_ended(a, 0, true, 10);
    cr_assert_eq(ms_alloc_running_tasks(a), 1);
    ms_alloc_task_ended(a, 0, true, 20);
    cr_assert_eq(ms_alloc_running_tasks(a), 0);
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    ms_alloc_destroy(&a);
}

Test(allocation, task_ends_of_an_earlier_attempt_are_counted)
{
    /* A stage fails with two tasks still running, then runs again: the
     * running count covers both attempts. */
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 0, 5, 0);
    s_start_tasks(a, 0, 2, 0);
    ms_alloc_stage_completed(a, 0, 10);
    cr_assert_eq(ms_alloc_running_tasks(a), 2);

    ms_alloc_stage_submitted(a, 0, 5, 20);
    ms_alloc_task_ended(a, 0, true, 30); /* first attempt */
    cr_assert_eq(ms_alloc_running_tasks(a), 1);
    s_start_tasks(a, 0, 2, 40); /* second attempt */
    cr_assert_eq(ms_alloc_running_tasks(a), 3);
    cr_assert_eq(ms_alloc_pending_tasks(a), 3);
    ms_alloc_task_ended(a, 0, true, 50);
    cr_assert_eq(ms_alloc_running_tasks(a), 2);
    ms_alloc_task_ended(a, 0, true, 60);
    cr_assert_eq(ms_alloc_running_tasks(a), 1);
    ms_alloc_task_ended(a, 0, true, 70);
    cr_assert_eq(ms_alloc_running_tasks(a), 0);
    cr_assert_eq(ms_alloc_max_needed(a), 3);
    ms_alloc_destroy(&a);
}

/* ---- removal ---------------------------------------------------- */

Test(allocation, removal_keeps_max_of_min_and_target)
{
    ms_alloc_t *a = s_alloc(5, 12, 5);
    ms_alloc_stage_submitted(a, 0, 8, 0);
    s_update(a, SEC(1));
    s_update(a, SEC(3));
    cr_assert_eq(ms_alloc_target(a), 8);
    s_start_tasks(a, 0, 8, SEC(4));

    /* 8 registered, target 8: nothing may go. */
    cr_assert_str_eq(s_removable(a, (int[]){1}, 1, 8), "");

    /* Three tasks end: target 5 < 8 registered, three may go. */
    s_end_tasks(a, 0, 3, SEC(5));
    ms_alloc_change_t change;
    cr_assert(ms_alloc_update(a, SEC(5), 8, &change));
    cr_assert_eq(ms_alloc_target(a), 5);
    cr_assert_str_eq(s_removable(a, (int[]){1, 2, 3}, 3, 8), "1,2,3");
    cr_assert_str_eq(s_removable(a, (int[]){1, 2, 3, 4, 5}, 5, 8), "1,2,3",
                     "only as many as leave max(min, target)");

    /* With 5 left, need 4 < min 5: nothing may go and nothing is added. */
    ms_alloc_task_ended(a, 0, true, SEC(6));
    cr_assert_eq(ms_alloc_max_needed(a), 4);
    cr_assert_not(ms_alloc_update(a, SEC(6), 5, &change));
    cr_assert_eq(ms_alloc_target(a), 5);
    cr_assert_str_eq(s_removable(a, (int[]){4}, 1, 5), "");
    ms_alloc_destroy(&a);
}

Test(allocation, interleaved_add_and_remove)
{
    ms_alloc_t *a = s_alloc(5, 12, 5);
    ms_alloc_change_t change;
    ms_alloc_stage_submitted(a, 0, 1000, 0);
    s_update(a, SEC(1));
    s_update(a, SEC(3));
    cr_assert_eq(ms_alloc_target(a), 8);
    cr_assert_eq(ms_alloc_step(a), 4);

    /* Executors 1..8 registered: equal to the target, none may go. */
    cr_assert_str_eq(s_removable(a, (int[]){1}, 1, 8), "");
    cr_assert_str_eq(s_removable(a, (int[]){2, 3}, 2, 8), "");

    /* 9..12 register: four may go, one call after another. */
    cr_assert_str_eq(s_removable(a, (int[]){1}, 1, 12), "1");
    cr_assert_str_eq(s_removable(a, (int[]){2, 3, 4}, 3, 11), "2,3,4");
    cr_assert_str_eq(s_removable(a, (int[]){5}, 1, 8), "");
    cr_assert_str_eq(s_removable(a, (int[]){6}, 1, 8), "");

    /* 1..4 are gone, 13..16 register: 12 again, four may go. */
    cr_assert_str_eq(s_removable(a, (int[]){7}, 1, 8), "");
    cr_assert_str_eq(s_removable(a, (int[]){5, 6, 7}, 3, 12), "5,6,7");
    cr_assert_str_eq(s_removable(a, (int[]){8}, 1, 9), "8");

    /* 5, 6, 9, 10 are gone: 8 registered (7 and 8 still pending). The next
     * round adds the whole step from max(target, registered). */
    cr_assert(ms_alloc_update(a, SEC(5), 8, &change));
    cr_assert_eq(ms_alloc_target(a), 12, "at the upper limit");
    cr_assert_not(ms_alloc_update(a, SEC(7), 10, &change));
    cr_assert_eq(ms_alloc_target(a), 12);
    ms_alloc_destroy(&a);
}

Test(allocation, removal_does_not_change_the_target)
{
    /* SPARK-23365 */
    s_cluster_t c;
    s_cluster_init(&c, 1, 2, 1, 0);
    s_add_executors(&c, 1, 1);
    ms_alloc_stage_submitted(c.alloc, 0, 2, c.now);

    c.now = SEC(1);
    s_schedule(&c);
    cr_assert_eq(ms_alloc_target(c.alloc), 2);
    ms_alloc_task_started(c.alloc, 0, c.now);
    ms_exec_monitor_task_started(c.monitor, 1, c.now);
    s_add_executors(&c, 2, 2);
    ms_alloc_task_started(c.alloc, 0, c.now);
    ms_exec_monitor_task_started(c.monitor, 2, c.now);
    cr_assert_eq(ms_alloc_target(c.alloc), 2);

    /* One task ends: the target drops at the next round, nothing goes. */
    ms_alloc_task_ended(c.alloc, 0, true, c.now);
    ms_exec_monitor_task_ended(c.monitor, 1, -1, c.now);
    cr_assert_eq(ms_alloc_max_needed(c.alloc), 1);
    cr_assert_eq(ms_alloc_target(c.alloc), 2);
    c.now = SEC(2);
    s_schedule(&c);
    cr_assert_eq(ms_alloc_target(c.alloc), 1);
    cr_assert_eq(s_pending_removal(&c), 0);

    /* Executor 1 idles out: it goes, the target stays. */
    c.now = SEC(5);
    s_schedule(&c);
    cr_assert_eq(ms_alloc_max_needed(c.alloc), 1);
    cr_assert_eq(ms_alloc_target(c.alloc), 1);
    cr_assert_eq(s_pending_removal(&c), 1);
    int ids[4];
    cr_assert_eq(ms_exec_monitor_timed_out(c.monitor, c.now, ids, 4), 0,
                 "executor 1 is pending removal, executor 2 busy");
    cr_assert_eq(ms_exec_monitor_deadline(c.monitor, 2), MS_MONITOR_NEVER);
    s_cluster_fini(&c);
}

/* ---- backlog timer ---------------------------------------------- */

Test(allocation, later_stages_do_not_move_the_add_time)
{
    ms_alloc_t *a = s_alloc(2, 10, 2);
    int64_t now = 8888;
    ms_alloc_stage_submitted(a, 0, 3, now);
    int64_t first = ms_alloc_add_time(a);
    cr_assert_eq(first, now + BACKLOG_MS);
    now += 100;
    ms_alloc_stage_submitted(a, 1, 2, now);
    cr_assert_eq(ms_alloc_add_time(a), first);
    now += 200;
    ms_alloc_stage_submitted(a, 2, 1, now);
    cr_assert_eq(ms_alloc_add_time(a), first);

    s_start_tasks(a, 0, 3, now);
    s_start_tasks(a, 1, 2, now);
    s_start_tasks(a, 2, 1, now);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);

    now += 1000;
    ms_alloc_stage_submitted(a, 3, 4, now);
    int64_t second = ms_alloc_add_time(a);
    cr_assert_eq(second, now + BACKLOG_MS);
    cr_assert_neq(second, first);
    now += 100;
    ms_alloc_stage_submitted(a, 4, 4, now);
    cr_assert_eq(ms_alloc_add_time(a), second);
    ms_alloc_destroy(&a);
}

Test(allocation, timer_stops_only_when_every_task_of_every_stage_started)
{
    ms_alloc_t *a = s_alloc(1, 20, 1);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    ms_alloc_stage_submitted(a, 0, 10, 0);
    cr_assert_neq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    s_start_tasks(a, 0, 9, 10);
    cr_assert_neq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    ms_alloc_task_started(a, 0, 20);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);

    ms_alloc_stage_submitted(a, 1, 10, 30);
    ms_alloc_stage_submitted(a, 2, 10, 30);
    cr_assert_neq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    s_start_tasks(a, 1, 10, 40);
    cr_assert_neq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    s_start_tasks(a, 2, 10, 50);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    ms_alloc_destroy(&a);
}

Test(allocation, starting_every_task_stops_the_ramp_and_resets_the_step)
{
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 0, 10, 0);
    s_update(a, SEC(1));
    s_update(a, SEC(3));
    cr_assert_eq(ms_alloc_target(a), 3);
    cr_assert_eq(ms_alloc_step(a), 4);

    s_start_tasks(a, 0, 10, SEC(4));
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    cr_assert_eq(ms_alloc_step(a), 1);
    cr_assert_not(s_update(a, SEC(100)), "need 10 but no backlog");
    cr_assert_eq(ms_alloc_target(a), 3);
    ms_alloc_destroy(&a);
}

Test(allocation, completing_the_last_stage_stops_the_timer)
{
    ms_alloc_t *a = s_alloc(0, 10, 0);
    ms_alloc_stage_submitted(a, 0, 10, 0);
    ms_alloc_stage_submitted(a, 1, 10, 0);
    ms_alloc_stage_completed(a, 0, 100);
    cr_assert_neq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    ms_alloc_stage_completed(a, 1, 200);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);
    cr_assert_eq(ms_alloc_pending_tasks(a), 0);
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    ms_alloc_destroy(&a);
}

Test(allocation, failed_task_counts_as_pending_again)
{
    /* SPARK-8366 */
    ms_alloc_t *a = s_alloc(1, 5, 1);
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    ms_alloc_stage_submitted(a, 0, 1, 0);
    cr_assert_eq(ms_alloc_max_needed(a), 1);
    ms_alloc_task_started(a, 0, 10);
    cr_assert_eq(ms_alloc_max_needed(a), 1);
    cr_assert_eq(ms_alloc_add_time(a), MS_ALLOC_NOT_SET);

    ms_alloc_task_ended(a, 0, false, 500);
    cr_assert_eq(ms_alloc_max_needed(a), 1);
    cr_assert_eq(ms_alloc_pending_tasks(a), 1);
    cr_assert_eq(ms_alloc_running_tasks(a), 0);
    cr_assert_eq(ms_alloc_add_time(a), 500 + BACKLOG_MS,
                 "backlogged again for the resubmitted task");
    ms_alloc_destroy(&a);
}

/* ---- the polling loop ------------------------------------------- */

Test(allocation, polling_loop_without_events_keeps_target_zero)
{
    s_cluster_t c;
    s_cluster_init(&c, 0, 20, 0, 2020);
    static const int64_t advance[] = {0, 100, 1000, 10000};
    for (size_t i = 0; i < sizeof advance / sizeof advance[0]; i++) {
        c.now += advance[i];
        s_schedule(&c);
        cr_assert_eq(ms_alloc_target(c.alloc), 0);
        cr_assert_eq(s_pending_removal(&c), 0);
    }
    s_cluster_fini(&c);
}

Test(allocation, polling_loop_adds_one_two_four_while_backlogged)
{
    s_cluster_t c;
    s_cluster_init(&c, 0, 20, 0, 2020);
    ms_alloc_stage_submitted(c.alloc, 0, 1000, c.now);

    static const struct {
        int64_t advance;
        int target;
    } first[] = {
        {BACKLOG_MS / 2, 0},       /* timer not reached yet */
        {BACKLOG_MS, 1},           /* first timer */
        {SUSTAINED_MS / 2, 1},     /* second not reached yet */
        {SUSTAINED_MS, 1 + 2},     /* second timer */
        {SUSTAINED_MS, 1 + 2 + 4}, /* third timer */
    };
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        c.now += first[i].advance;
        s_schedule(&c);
        cr_assert_eq(ms_alloc_target(c.alloc), first[i].target, "round %zu", i);
    }

    /* The backlog drains: every task has started. */
    s_start_tasks(c.alloc, 0, 1000, c.now);
    for (int i = 0; i < 2; i++) {
        c.now += SUSTAINED_MS;
        s_schedule(&c);
        cr_assert_eq(ms_alloc_target(c.alloc), 7);
    }

    /* A new large stage: the ramp starts again from 1. */
    ms_alloc_stage_submitted(c.alloc, 1, 1000, c.now);
    static const struct {
        int64_t advance;
        int target;
    } second[] = {
        {BACKLOG_MS, 7 + 1},
        {SUSTAINED_MS, 7 + 1 + 2},
        {SUSTAINED_MS, 7 + 1 + 2 + 4},
        {SUSTAINED_MS, 20}, /* max */
    };
    for (size_t i = 0; i < sizeof second / sizeof second[0]; i++) {
        c.now += second[i].advance;
        s_schedule(&c);
        cr_assert_eq(ms_alloc_target(c.alloc), second[i].target, "round %zu",
                     i);
    }
    s_cluster_fini(&c);
}

Test(allocation, polling_loop_removes_idle_executors_down_to_min)
{
    s_cluster_t c;
    s_cluster_init(&c, 1, 20, 1, 2020);
    s_add_executors(&c, 1, 3);

    c.now += IDLE_MS / 2;
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 0, "not idle long enough");

    c.now += IDLE_MS;
    int ids[8];
    cr_assert_eq(ms_exec_monitor_timed_out(c.monitor, c.now, ids, 8), 3);
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 2, "one left for min");

    /* Four more; three of them busy. The one idle executor left from the
     * first batch may now go. */
    s_add_executors(&c, 4, 7);
    cr_assert_eq(ms_exec_monitor_count(c.monitor), 7);
    for (int id = 4; id <= 6; id++)
        ms_exec_monitor_task_started(c.monitor, id, c.now);
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 3);

    /* The newcomers time out later; busy ones never. */
    c.now += IDLE_MS;
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 4);
    for (int id = 4; id <= 6; id++)
        cr_assert_eq(ms_exec_monitor_deadline(c.monitor, id), MS_MONITOR_NEVER,
                     "executor %d is busy", id);

    /* The busy ones finish, and time out one idle timeout later. */
    for (int id = 4; id <= 6; id++)
        ms_exec_monitor_task_ended(c.monitor, id, -1, c.now);
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 4);
    c.now += IDLE_MS;
    s_schedule(&c);
    cr_assert_eq(s_pending_removal(&c), 6, "one left for min");
    cr_assert_eq(ms_alloc_target(c.alloc), 1);
    s_cluster_fini(&c);
}

Test(allocation, ramp_starts_from_registered_executors_above_target)
{
    ms_alloc_t *a = s_alloc(0, 100000, 0);
    ms_alloc_change_t change;
    ms_alloc_stage_submitted(a, 0, 1000, 0);
    for (int64_t t = SEC(1); t <= SEC(7); t += SEC(2))
        s_update(a, t);
    cr_assert_eq(ms_alloc_target(a), 15);

    /* 15 executors registered; the stage ends and the target drops. */
    ms_alloc_stage_completed(a, 0, SEC(8));
    cr_assert(ms_alloc_update(a, SEC(8), 15, &change));
    cr_assert_eq(ms_alloc_target(a), 0);

    ms_alloc_stage_submitted(a, 1, 1000, SEC(9));
    cr_assert_not(ms_alloc_update(a, SEC(10) - 1, 15, &change));
    cr_assert(ms_alloc_update(a, SEC(10), 15, &change));
    cr_assert_eq(ms_alloc_target(a), 16, "max(target, registered) + 1");
    ms_alloc_destroy(&a);
}

Test(allocation, keeps_initial_target_until_first_stage)
{
    ms_alloc_t *a = s_alloc(2, 5, 3);
    int64_t now = 10000;
    cr_assert_eq(ms_alloc_target(a), 3);
    cr_assert_not(s_update(a, now));
    cr_assert_eq(ms_alloc_target(a), 3, "no tasks, but initializing");
    cr_assert(ms_alloc_initializing(a));

    ms_alloc_stage_submitted(a, 1, 2, now);
    cr_assert_not(ms_alloc_initializing(a));
    now += 100;
    cr_assert_eq(ms_alloc_max_needed(a), 2);
    cr_assert(s_update(a, now));
    cr_assert_eq(ms_alloc_target(a), 2);
    ms_alloc_destroy(&a);
}

Test(allocation, keeps_initial_target_until_first_idle_timeout)
{
    ms_alloc_t *a = s_alloc(2, 5, 3);
    cr_assert_not(s_update(a, 10000));
    cr_assert_not(s_update(a, 10000 + IDLE_MS));
    cr_assert_eq(ms_alloc_target(a), 3);

    ms_alloc_idle_timeout(a);
    cr_assert_not(ms_alloc_initializing(a));
    cr_assert_eq(ms_alloc_max_needed(a), 0);
    cr_assert(s_update(a, 10000 + IDLE_MS));
    cr_assert_eq(ms_alloc_target(a), 2, "max(need 0, min 2)");
    ms_alloc_destroy(&a);
}

Test(allocation, idle_executors_end_initializing_in_the_polling_loop)
{
    s_cluster_t c;
    s_cluster_init(&c, 2, 5, 3, 10000);
    s_schedule(&c);
    cr_assert_eq(ms_alloc_target(c.alloc), 3);
    s_add_executors(&c, 1, 3);

    c.now += IDLE_MS;
    cr_assert_eq(ms_alloc_max_needed(c.alloc), 0);
    s_schedule(&c);
    cr_assert_eq(ms_alloc_target(c.alloc), 2);
    cr_assert_eq(s_pending_removal(&c), 1, "3 registered, keep min 2");
    s_cluster_fini(&c);
}

Test(allocation, target_after_idle_timeout_is_the_need_or_min)
{
    /* SPARK-26758 */
    s_cluster_t c;
    s_cluster_init(&c, 1, 5, 3, 10000);
    cr_assert_eq(ms_alloc_target(c.alloc), 3);
    s_add_executors(&c, 1, 3);
    c.now += IDLE_MS;
    s_schedule(&c);
    cr_assert_eq(ms_alloc_target(c.alloc), 1);
    cr_assert_eq(s_pending_removal(&c), 2);
    s_cluster_fini(&c);
}

/* ---- reading the configuration ------------------------------------ */

#define DA "spark.dynamicAllocation."

/* Reads kv (NULL-terminated key, value pairs) with the given capacity. */
static int s_read(int capacity, const char *const *kv, ms_alloc_conf_t *out,
                  ms_error_t *err)
{
    ms_conf_t *conf = ms_conf_new();
    cr_assert_not_null(conf);
    for (int i = 0; kv[i]; i += 2)
        cr_assert_eq(ms_conf_set(conf, kv[i], kv[i + 1], err), 0, "%s",
                     err->msg);
    memset(out, 0, sizeof *out);
    int rc = ms_alloc_conf_read(conf, capacity, out, err);
    ms_conf_destroy(&conf);
    return rc;
}

static ms_alloc_conf_t s_read_ok(int capacity, const char *const *kv)
{
    ms_alloc_conf_t c;
    ms_error_t err = {0};
    int rc = s_read(capacity, kv, &c, &err);
    cr_assert_eq(rc, 0, "refused: %s", err.msg);
    return c;
}

static void s_assert_refused(const char *const *kv, const char *key)
{
    ms_alloc_conf_t c;
    ms_error_t err = {0};
    int rc = s_read(100, kv, &c, &err);
    cr_assert_eq(rc, MS_ERR_USAGE, "accepted, or wrong code %d", rc);
    cr_assert(strstr(err.msg, key), "message \"%s\" does not name %s", err.msg,
              key);
}

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(allocation_conf, defaults_follow_spark)
{
    ms_alloc_conf_t c = s_read_ok(8, (const char *const[]){NULL});
    cr_assert_eq(c.min_executors, 0);
    cr_assert_eq(c.max_executors, 8, "max is the capacity when unset");
    cr_assert_eq(c.initial_executors, 0);
    cr_assert_float_eq(c.ratio, 1.0, 1e-12);
    cr_assert_eq(c.tasks_per_executor, 1);
    cr_assert_eq(c.backlog_timeout_ms, 1000);
    cr_assert_eq(c.sustained_timeout_ms, 1000);
}

Test(allocation_conf, sustained_timeout_defaults_to_backlog_timeout)
{
    ms_alloc_conf_t c = s_read_ok(8, KV(DA "schedulerBacklogTimeout", "5s"));
    cr_assert_eq(c.backlog_timeout_ms, 5000);
    cr_assert_eq(c.sustained_timeout_ms, 5000);

    c = s_read_ok(8, KV(DA "schedulerBacklogTimeout", "5s",
                        DA "sustainedSchedulerBacklogTimeout", "500ms"));
    cr_assert_eq(c.backlog_timeout_ms, 5000);
    cr_assert_eq(c.sustained_timeout_ms, 500);
}

Test(allocation_conf, bare_backlog_timeouts_are_in_seconds)
{
    ms_alloc_conf_t c =
        s_read_ok(8, KV(DA "schedulerBacklogTimeout", "2",
                        DA "sustainedSchedulerBacklogTimeout", "3"));
    cr_assert_eq(c.backlog_timeout_ms, 2000);
    cr_assert_eq(c.sustained_timeout_ms, 3000);
}

Test(allocation_conf, initial_is_max_of_min_initial_and_instances)
{
    ms_alloc_conf_t c =
        s_read_ok(20, KV(DA "minExecutors", "2", DA "initialExecutors", "1"));
    cr_assert_eq(c.initial_executors, 2);

    c = s_read_ok(20, KV(DA "minExecutors", "1", DA "initialExecutors", "3"));
    cr_assert_eq(c.initial_executors, 3);

    c = s_read_ok(20, KV(DA "minExecutors", "1", DA "initialExecutors", "3",
                         "spark.executor.instances", "4"));
    cr_assert_eq(c.initial_executors, 4);

    c = s_read_ok(20, KV(DA "minExecutors", "2"));
    cr_assert_eq(c.initial_executors, 2, "initialExecutors falls back");
}

Test(allocation_conf, capacity_caps_max)
{
    ms_alloc_conf_t c = s_read_ok(6, KV(DA "maxExecutors", "20"));
    cr_assert_eq(c.max_executors, 6);
    c = s_read_ok(6, KV(DA "maxExecutors", "4"));
    cr_assert_eq(c.max_executors, 4);
}

Test(allocation_conf, min_equal_to_max_and_ratio_one_are_accepted)
{
    ms_alloc_conf_t c =
        s_read_ok(10, KV(DA "minExecutors", "3", DA "maxExecutors", "3",
                         DA "executorAllocationRatio", "1"));
    cr_assert_eq(c.min_executors, 3);
    cr_assert_eq(c.max_executors, 3);
    cr_assert_float_eq(c.ratio, 1.0, 1e-12);
}

Test(allocation_conf, tasks_per_executor_is_cores_over_task_cpus)
{
    ms_alloc_conf_t c = s_read_ok(10, KV("spark.executor.cores", "4"));
    cr_assert_eq(c.tasks_per_executor, 4);
    c = s_read_ok(10, KV("spark.executor.cores", "4", "spark.task.cpus", "2"));
    cr_assert_eq(c.tasks_per_executor, 2);
}

Test(allocation_conf, min_above_max_is_refused)
{
    /* Spark's message names both; either key will do. */
    ms_alloc_conf_t c;
    ms_error_t err = {0};
    int rc = s_read(100, KV(DA "minExecutors", "2", DA "maxExecutors", "1"), &c,
                    &err);
    cr_assert_eq(rc, MS_ERR_USAGE);
    cr_assert(strstr(err.msg, DA "minExecutors") ||
                  strstr(err.msg, DA "maxExecutors"),
              "message \"%s\" names neither key", err.msg);
}

Test(allocation_conf, bad_counts_are_refused_naming_the_key)
{
    s_assert_refused(KV(DA "maxExecutors", "0"), DA "maxExecutors");
    s_assert_refused(KV(DA "maxExecutors", "-1"), DA "maxExecutors");
    s_assert_refused(KV(DA "minExecutors", "-1"), DA "minExecutors");
}

Test(allocation_conf, bad_timeouts_are_refused_naming_the_key)
{
    s_assert_refused(KV(DA "schedulerBacklogTimeout", "0s"),
                     DA "schedulerBacklogTimeout");
    s_assert_refused(KV(DA "schedulerBacklogTimeout", "-1s"),
                     DA "schedulerBacklogTimeout");
    s_assert_refused(KV(DA "sustainedSchedulerBacklogTimeout", "0"),
                     DA "sustainedSchedulerBacklogTimeout");
    s_assert_refused(KV(DA "sustainedSchedulerBacklogTimeout", "-5s"),
                     DA "sustainedSchedulerBacklogTimeout");
}

Test(allocation_conf, ratio_outside_zero_one_is_refused_naming_the_key)
{
    s_assert_refused(KV(DA "executorAllocationRatio", "0"),
                     DA "executorAllocationRatio");
    s_assert_refused(KV(DA "executorAllocationRatio", "1.5"),
                     DA "executorAllocationRatio");
    s_assert_refused(KV(DA "executorAllocationRatio", "-0.5"),
                     DA "executorAllocationRatio");
}
