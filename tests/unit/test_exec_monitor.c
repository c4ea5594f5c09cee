/* Behaviour of the executor monitor, ported from Spark's ExecutorMonitorSuite
 * (without cached blocks, resource profiles or decommissioning): idle
 * deadlines, busy executors, pending removal, shuffle tracking and overflow.
 * Time is a plain int64_t in milliseconds; idle timeout 60 s and shuffle
 * timeout 240 s unless a test says otherwise. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "driver/exec_monitor.h"

#define SEC(n) ((int64_t)(n)*1000)

static const int64_t IDLE = SEC(60);
static const int64_t SHUFFLE = SEC(240);

/* A moment long after any deadline of these tests, still far from
 * INT64_MAX (where a NEVER deadline would compare as "reached"). */
static const int64_t LATER = SEC(1000000000);

static ms_exec_monitor_t *s_monitor(bool shuffle_tracking)
{
    ms_exec_monitor_t *m = ms_exec_monitor_new(IDLE, shuffle_tracking, SHUFFLE);
    cr_assert_not_null(m);
    return m;
}

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

/* The timed-out executors at now, as "1,2,3". */
static const char *s_timed_out(const ms_exec_monitor_t *m, int64_t now)
{
    int ids[64];
    int n = ms_exec_monitor_timed_out(m, now, ids, 64);
    cr_assert(n >= 0 && n <= 64, "timed_out returned %d", n);
    return s_ids(ids, n);
}

static const char *s_kept(const ms_exec_monitor_t *m, int64_t now)
{
    int ids[64];
    int n = ms_exec_monitor_kept(m, now, ids, 64);
    cr_assert(n >= 0 && n <= 64, "kept returned %d", n);
    return s_ids(ids, n);
}

static const char *s_explain(const ms_exec_monitor_t *m, int id, int64_t now)
{
    static char buf[512];
    memset(buf, 0, sizeof buf);
    ms_exec_monitor_explain(m, id, now, buf, sizeof buf);
    return buf;
}

/* One task on executor id from start to end, writing map output of
 * shuffle (or -1: none, or a failed task). */
static void s_run_task(ms_exec_monitor_t *m, int id, int shuffle, int64_t start,
                       int64_t end)
{
    ms_exec_monitor_task_started(m, id, start);
    ms_exec_monitor_task_ended(m, id, shuffle, end);
}

static void s_job_started(ms_exec_monitor_t *m, int job, int shuffle)
{
    ms_exec_monitor_job_started(m, job, &shuffle, 1);
}

Test(exec_monitor, destroy_nulls_the_pointer_and_accepts_null)
{
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_destroy(&m);
    cr_assert_null(m);
    ms_exec_monitor_destroy(&m);
    ms_exec_monitor_destroy(NULL);
}

Test(exec_monitor, idle_from_registration_until_the_idle_timeout)
{
    ms_exec_monitor_t *m = s_monitor(false);
    cr_assert_eq(ms_exec_monitor_count(m), 0);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), MS_MONITOR_NEVER);

    ms_exec_monitor_executor_added(m, 1, SEC(5));
    cr_assert_eq(ms_exec_monitor_count(m), 1);
    cr_assert(ms_exec_monitor_is_idle(m, 1));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(5) + IDLE);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), SEC(5) + IDLE);
    cr_assert_str_eq(s_timed_out(m, SEC(5)), "");
    cr_assert_str_eq(s_timed_out(m, SEC(5) + IDLE - 1), "");
    cr_assert_str_eq(s_timed_out(m, SEC(5) + IDLE), "1");
    cr_assert_str_eq(s_timed_out(m, LATER), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, busy_executor_never_times_out)
{
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_executor_added(m, 1, 0);
    ms_exec_monitor_task_started(m, 1, SEC(1));
    cr_assert_not(ms_exec_monitor_is_idle(m, 1));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, LATER), "");

    /* Tasks come and go while the first one runs: still busy. */
    for (int i = 2; i <= 10; i++) {
        s_run_task(m, 1, -1, SEC(i), SEC(i) + 500);
        cr_assert_not(ms_exec_monitor_is_idle(m, 1), "after task %d", i);
        cr_assert_str_eq(s_timed_out(m, LATER), "");
    }
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, idle_again_from_the_end_of_the_last_task)
{
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_executor_added(m, 1, 0);
    ms_exec_monitor_task_started(m, 1, SEC(1));
    ms_exec_monitor_task_started(m, 1, SEC(2));
    ms_exec_monitor_task_ended(m, 1, -1, SEC(3));
    cr_assert_not(ms_exec_monitor_is_idle(m, 1), "one task still runs");
    ms_exec_monitor_task_ended(m, 1, -1, SEC(10));
    cr_assert(ms_exec_monitor_is_idle(m, 1));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(10) + IDLE);
    cr_assert_str_eq(s_timed_out(m, SEC(10) + IDLE - 1), "");
    cr_assert_str_eq(s_timed_out(m, SEC(10) + IDLE), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, task_start_for_an_unknown_executor_creates_it)
{
    /* SPARK-4951, SPARK-26927 */
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_task_started(m, 1, SEC(1));
    cr_assert_eq(ms_exec_monitor_count(m), 1);
    cr_assert_not(ms_exec_monitor_is_idle(m, 1));

    /* The late registration neither counts twice nor forgets the task. */
    ms_exec_monitor_executor_added(m, 1, SEC(2));
    cr_assert_eq(ms_exec_monitor_count(m), 1);
    cr_assert_not(ms_exec_monitor_is_idle(m, 1));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);

    ms_exec_monitor_executor_added(m, 2, SEC(2));
    cr_assert_eq(ms_exec_monitor_count(m), 2);
    ms_exec_monitor_executor_removed(m, 2);
    cr_assert_eq(ms_exec_monitor_count(m), 1);

    ms_exec_monitor_task_ended(m, 1, -1, SEC(3));
    cr_assert_str_eq(s_timed_out(m, SEC(3) + IDLE), "1");
    ms_exec_monitor_executor_removed(m, 1);
    cr_assert_eq(ms_exec_monitor_count(m), 0);
    cr_assert_str_eq(s_timed_out(m, LATER), "");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, late_task_end_does_not_bring_back_a_removed_executor)
{
    /* Spark creates trackers on registration and task start only; a task
     * end for an executor it no longer tracks is ignored. */
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_executor_added(m, 1, 0);
    ms_exec_monitor_task_started(m, 1, SEC(1));
    ms_exec_monitor_executor_removed(m, 1);
    ms_exec_monitor_task_ended(m, 1, -1, SEC(2));
    cr_assert_eq(ms_exec_monitor_count(m), 0);
    cr_assert_str_eq(s_timed_out(m, LATER), "");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, each_executor_has_its_own_deadline)
{
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_executor_added(m, 1, SEC(0));
    ms_exec_monitor_executor_added(m, 2, SEC(30));
    ms_exec_monitor_executor_added(m, 3, SEC(60));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(60));
    cr_assert_eq(ms_exec_monitor_deadline(m, 2), SEC(90));
    cr_assert_eq(ms_exec_monitor_deadline(m, 3), SEC(120));
    cr_assert_eq(ms_exec_monitor_next_deadline(m), SEC(60));

    cr_assert_str_eq(s_timed_out(m, SEC(60)), "1");
    cr_assert_str_eq(s_timed_out(m, SEC(90)), "1,2");
    cr_assert_str_eq(s_timed_out(m, SEC(120)), "1,2,3");

    /* Executor 1 gets busy: the next deadline is executor 2's. */
    ms_exec_monitor_task_started(m, 1, SEC(61));
    cr_assert_eq(ms_exec_monitor_next_deadline(m), SEC(90));
    cr_assert_str_eq(s_timed_out(m, SEC(120)), "2,3");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, timed_out_list_is_sorted_by_id_whatever_the_order)
{
    /* SPARK-38019 */
    static const int order[] = {30, 4, 12, 7, 21};
    ms_exec_monitor_t *m = s_monitor(false);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        ms_exec_monitor_executor_added(m, order[i], SEC((int)i));
    cr_assert_str_eq(s_timed_out(m, SEC(150)), "4,7,12,21,30");

    /* Never more than max ids are written. */
    int ids[4] = {-1, -1, -1, -1};
    ms_exec_monitor_timed_out(m, SEC(150), ids, 2);
    cr_assert_eq(ids[0], 4);
    cr_assert_eq(ids[1], 7);
    cr_assert_eq(ids[2], -1);
    cr_assert_eq(ids[3], -1);
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, executors_pending_removal_are_not_timed_out)
{
    ms_exec_monitor_t *m = s_monitor(false);
    for (int id = 1; id <= 3; id++)
        ms_exec_monitor_executor_added(m, id, 0);
    int64_t now = IDLE;
    cr_assert_str_eq(s_timed_out(m, now), "1,2,3");
    cr_assert_eq(ms_exec_monitor_pending_removal_count(m), 0);

    /* Only some of them were killed. */
    ms_exec_monitor_pending_removal(m, 1);
    cr_assert_str_eq(s_timed_out(m, now), "2,3");
    cr_assert_eq(ms_exec_monitor_pending_removal_count(m), 1);
    cr_assert_str_eq(s_timed_out(m, now), "2,3", "still timed out");

    ms_exec_monitor_task_started(m, 2, now);
    cr_assert_str_eq(s_timed_out(m, now), "3");
    ms_exec_monitor_pending_removal(m, 3);
    cr_assert_eq(ms_exec_monitor_pending_removal_count(m), 2);

    ms_exec_monitor_task_ended(m, 2, -1, now);
    cr_assert_str_eq(s_timed_out(m, now), "");
    cr_assert_str_eq(s_timed_out(m, now + IDLE), "2");

    /* The killed executors leave. */
    ms_exec_monitor_executor_removed(m, 1);
    ms_exec_monitor_executor_removed(m, 3);
    cr_assert_eq(ms_exec_monitor_count(m), 1);
    cr_assert_eq(ms_exec_monitor_pending_removal_count(m), 0);
    ms_exec_monitor_destroy(&m);
}

/* ---- shuffle tracking ------------------------------------------- */

Test(exec_monitor, holder_of_shuffle_a_running_job_needs_is_kept)
{
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, LATER), "");

    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE - 1), "",
                     "not idle for the idle timeout yet");
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "1");

    const char *why = s_explain(m, 1, SEC(77));
    cr_assert(strstr(why, "75.0 s"), "explain: \"%s\"", why);
    cr_assert(strstr(why, "holds shuffle 0 output needed by job 1"),
              "explain: \"%s\"", why);
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, after_the_job_ends_timeout_is_max_of_idle_and_shuffle)
{
    /* SPARK-43398: max(idle 60 s, shuffle 240 s), from the idle start. */
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));
    ms_exec_monitor_job_ended(m, 1);

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + SHUFFLE);
    cr_assert_str_eq(s_timed_out(m, SEC(2) + IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + SHUFFLE - 1), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + SHUFFLE), "1");
    cr_assert_str_eq(s_kept(m, SEC(2) + SHUFFLE), "",
                     "no running job needs its shuffle");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, idle_timeout_wins_over_a_shorter_shuffle_timeout)
{
    ms_exec_monitor_t *m = ms_exec_monitor_new(IDLE, true, SEC(10));
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));
    ms_exec_monitor_job_ended(m, 1);

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    cr_assert_str_eq(s_timed_out(m, SEC(2) + SEC(10)), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + IDLE), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, shuffle_tracking_across_jobs)
{
    /* Jobs 2 and 3 share shuffle 1; job 1 has shuffle 0. */
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    s_job_started(m, 2, 1);
    ms_exec_monitor_executor_added(m, 1, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "1");

    /* A failed task (no map output) does not count. */
    s_run_task(m, 1, -1, 0, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "1");

    s_run_task(m, 1, 0, 0, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");
    s_run_task(m, 1, 1, 0, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");

    /* Job 1 ends, job 2 still needs shuffle 1. */
    ms_exec_monitor_job_ended(m, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_kept(m, IDLE), "1");

    ms_exec_monitor_job_ended(m, 2);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SHUFFLE), "1");

    /* Job 3 reads shuffle 1 again: kept again, without running a task. */
    s_job_started(m, 3, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, LATER), "");
    cr_assert_str_eq(s_kept(m, SHUFFLE), "1");

    ms_exec_monitor_job_ended(m, 3);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SHUFFLE), "1");

    /* Once both shuffles are cleaned, the plain idle timeout applies. */
    ms_exec_monitor_shuffle_removed(m, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");
    ms_exec_monitor_shuffle_removed(m, 1);
    cr_assert_str_eq(s_timed_out(m, IDLE), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, concurrent_jobs_sharing_a_shuffle_keep_it_until_both_end)
{
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    s_job_started(m, 2, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));

    ms_exec_monitor_job_ended(m, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER,
                 "job 2 still needs shuffle 0");
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "1");
    cr_assert_str_eq(s_timed_out(m, LATER), "");

    ms_exec_monitor_job_ended(m, 2);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + SHUFFLE);
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, jobs_ending_do_not_release_executors_other_jobs_need)
{
    ms_exec_monitor_t *m = s_monitor(true);
    ms_exec_monitor_executor_added(m, 1, 0);
    ms_exec_monitor_executor_added(m, 2, 0);
    s_job_started(m, 1, 0);
    s_job_started(m, 2, 1);

    s_run_task(m, 1, 0, 0, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "2");
    s_run_task(m, 2, 1, 0, 0);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");

    ms_exec_monitor_job_ended(m, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SHUFFLE);
    cr_assert_eq(ms_exec_monitor_deadline(m, 2), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_kept(m, IDLE), "2");

    ms_exec_monitor_job_ended(m, 2);
    cr_assert_str_eq(s_timed_out(m, IDLE), "");
    ms_exec_monitor_shuffle_removed(m, 0);
    ms_exec_monitor_shuffle_removed(m, 1);
    cr_assert_str_eq(s_timed_out(m, IDLE), "1,2");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, shuffle_removed_drops_back_to_idle_from_original_start)
{
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));
    ms_exec_monitor_job_ended(m, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + SHUFFLE);

    /* Cleaned long after it went idle: due at once, measured from 2 s. */
    ms_exec_monitor_shuffle_removed(m, 0);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    cr_assert_str_eq(s_timed_out(m, SEC(100)), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, shuffle_removed_while_its_job_runs_releases_the_holder)
{
    ms_exec_monitor_t *m = s_monitor(true);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);

    ms_exec_monitor_shuffle_removed(m, 0);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + IDLE), "1");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, without_tracking_map_output_does_not_keep_an_executor)
{
    ms_exec_monitor_t *m = s_monitor(false);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + IDLE), "1");
    ms_exec_monitor_job_ended(m, 1);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, with_migration_map_output_times_out_and_says_it_moves)
{
    ms_exec_monitor_t *m = s_monitor(false);
    ms_exec_monitor_migrates(m);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, 0);
    s_run_task(m, 1, 0, SEC(1), SEC(2));

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), SEC(2) + IDLE);
    cr_assert_str_eq(s_kept(m, SEC(2) + IDLE), "");
    cr_assert_str_eq(s_timed_out(m, SEC(2) + IDLE), "1");
    const char *why = s_explain(m, 1, SEC(2) + IDLE);
    cr_assert(strstr(why, "shuffle 0 output job 1 needs that it holds "
                          "migrates before it goes"),
              "explain: \"%s\"", why);
    ms_exec_monitor_destroy(&m);
}

/* ---- overflow (SPARK-28455) ------------------------------------- */

Test(exec_monitor, infinite_shuffle_timeout_never_expires)
{
    ms_exec_monitor_t *m = ms_exec_monitor_new(IDLE, true, MS_CONF_INFINITE);
    s_job_started(m, 1, 0);
    ms_exec_monitor_executor_added(m, 1, SEC(1));
    s_run_task(m, 1, 0, SEC(1), SEC(1));
    ms_exec_monitor_job_ended(m, 1);

    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, SEC(1) + IDLE + 1), "");
    cr_assert_str_eq(s_timed_out(m, INT64_MAX - 1), "");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, infinite_idle_timeout_never_expires)
{
    ms_exec_monitor_t *m =
        ms_exec_monitor_new(MS_CONF_INFINITE, false, SHUFFLE);
    ms_exec_monitor_executor_added(m, 1, SEC(1));
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_eq(ms_exec_monitor_next_deadline(m), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, 0), "");
    cr_assert_str_eq(s_timed_out(m, INT64_MAX - 1), "");
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, deadline_past_the_end_of_time_is_never_not_negative)
{
    ms_exec_monitor_t *m = s_monitor(false);
    int64_t huge = INT64_MAX - SEC(1);
    ms_exec_monitor_executor_added(m, 1, huge);
    cr_assert_eq(ms_exec_monitor_deadline(m, 1), MS_MONITOR_NEVER);
    cr_assert_str_eq(s_timed_out(m, 0), "", "a wrapped deadline");
    cr_assert_str_eq(s_timed_out(m, huge), "");
    cr_assert_str_eq(s_timed_out(m, INT64_MAX - 1), "");
    ms_exec_monitor_destroy(&m);
}

/* ---- explain ---------------------------------------------------- */

Test(exec_monitor, explains_a_plain_idle_executor)
{
    ms_exec_monitor_t *m = s_monitor(true);
    ms_exec_monitor_executor_added(m, 1, 0);
    const char *why = s_explain(m, 1, SEC(60));
    cr_assert(strstr(why, "idle 60.0 s"), "explain: \"%s\"", why);
    cr_assert(strstr(why, "holds no shuffle data a running job needs"),
              "explain: \"%s\"", why);
    ms_exec_monitor_destroy(&m);
}

Test(exec_monitor, explain_fits_a_small_buffer)
{
    ms_exec_monitor_t *m = s_monitor(true);
    ms_exec_monitor_executor_added(m, 1, 0);
    char buf[8];
    memset(buf, 'x', sizeof buf);
    ms_exec_monitor_explain(m, 1, SEC(60), buf, 6);
    cr_assert_not_null(memchr(buf, '\0', 6), "terminated within size");
    cr_assert_eq(buf[6], 'x');
    cr_assert_eq(buf[7], 'x');
    ms_exec_monitor_destroy(&m);
}
