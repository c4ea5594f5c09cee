"""Recovery from lost work, watched through the event log: a block that
does not check is a lost map output, and only that map runs again before
the reduce stage resumes; an executor killed (SIGKILL, by PID) during the
map or the reduce stage is replaced, its running tasks run elsewhere and
its map outputs (no shuffle service here) are computed again, and only
those. Results always equal the reference's. Every run also passes both
leak checks."""

import collections
import os
import re
import signal
import time

import mslib
from mslib import check, test

QUERY = {"group_by": ["country", "device"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}

# Slow tasks, so that a kill lands while the stage runs.
SLOW = {"spark.files.maxPartitionBytes": "64k",
        "minispark.test.taskDelay": "150ms",
        "spark.executor.heartbeatInterval": "500ms"}

_files = {}


def events_csv(env):
    """40000 generated events (~1.7 MB): 27 map tasks at 64k splits."""
    if "events" not in _files:
        _files["events"] = env.gen(40000, "rec_events.csv")
    return _files["events"]


def job_for(env):
    return {"input": {"path": events_csv(env)}, "query": QUERY,
            "shuffle_partitions": 4}


read_log = mslib.read_event_log


def successes(events, stage):
    """(task index, executor id) of every successful task of stage, in log
    order."""
    return [(e["Task Info"]["Index"], e["Task Info"]["Executor ID"])
            for e in events
            if e["Event"] == "SparkListenerTaskEnd" and e["Stage ID"] == stage
            and e["Task End Reason"]["Reason"] == "Success"]


def submissions(events, stage):
    return sum(1 for e in events
               if e["Event"] == "SparkListenerStageSubmitted"
               and e["Stage Info"]["Stage ID"] == stage)


expect_reference = mslib.expect_reference


def wait_for(run, log_dir, what, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            res = run.wait()
            raise mslib.TestFailure("the run ended before %s\n%s"
                                    % (what, res.describe()))
        events = read_log(log_dir)
        if cond(events):
            return events
        time.sleep(0.02)
    raise mslib.TestFailure("no %s within %.0f s" % (what, timeout))


@test
def corrupt_block_reruns_only_its_map(env):
    job = job_for(env)
    log_dir = env.new_dir("events")
    conf = {"spark.files.maxPartitionBytes": "64k",
            "minispark.test.corruptBlock": "0:1:2:1",
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": log_dir}
    res = env.run_job(job, conf=conf, timeout=90)
    expect_reference(res, job, conf)
    events = read_log(log_dir)
    runs = collections.Counter(i for i, _ in successes(events, 0))
    check(runs[1] == 2, "map 1 succeeded %d times, expected 2" % runs[1])
    again = sorted(i for i, n in runs.items() if n > 1 and i != 1)
    check(not again, "maps other than 1 ran again: %s" % again)
    check(submissions(events, 0) == 2 and submissions(events, 1) == 2,
          "stage submissions: map %d, reduce %d (expected 2 and 2)"
          % (submissions(events, 0), submissions(events, 1)))
    reduce_runs = collections.Counter(i for i, _ in successes(events, 1))
    check(sorted(reduce_runs.values()) == [1, 1, 1, 1],
          "each reduce partition should succeed once: %s" % reduce_runs)
    again = [e["Stage Info"] for e in events
             if e["Event"] == "SparkListenerStageSubmitted"
             and e["Stage Info"]["Stage Attempt ID"] == 1]
    check([(s["Stage ID"], s["Number of Tasks"]) for s in again][:1] ==
          [(0, 1)] and [s["Stage ID"] for s in again] == [0, 1],
          "resubmissions: %s (expected map stage attempt 1 with 1 task, "
          "then reduce stage attempt 1)" % again)


def _kill_during(env, stage_ready, sig=signal.SIGKILL, extra=None):
    """Runs the slow job, sends sig to executor 1 (by PID) once
    stage_ready(events) holds, and returns (result, events, job, conf)."""
    job = job_for(env)
    log_dir = env.new_dir("events")
    conf = dict(SLOW, **{"spark.eventLog.enabled": "true",
                         "spark.eventLog.dir": log_dir}, **(extra or {}))
    run = env.start_job(job, conf=conf)
    run.wait_for_executors(2)
    wait_for(run, log_dir, "the moment to kill", stage_ready)
    pid = mslib.executor_pid(run.tag, 1)
    check(pid is not None, "executor 1 not found among %s"
          % mslib.tagged_pids(run.tag))
    os.kill(pid, sig)
    res = run.wait(timeout=120)
    env.check_leaks(run.tag, [run.local_dir], res)
    return res, read_log(log_dir), job, conf


def _check_replaced(events, res, reason="killed by signal 9"):
    removed = [e for e in events
               if e["Event"] == "SparkListenerExecutorRemoved"
               and e["Executor ID"] == "1"]
    check(len(removed) == 1 and reason in removed[0]["Removed Reason"],
          "executor 1's removal: %s\n%s" % (removed, res.describe()))
    added = [e["Executor ID"] for e in events
             if e["Event"] == "SparkListenerExecutorAdded"]
    check(len(added) >= 3, "no replacement executor: added %s" % added)


@test
def executor_killed_in_map_stage_is_replaced_and_its_maps_rerun(env):
    def ready(events):
        return sum(1 for _, ex in successes(events, 0) if ex == "1") >= 3

    res, events, job, conf = _kill_during(env, ready)
    expect_reference(res, job, conf)
    _check_replaced(events, res)
    removed_at = next(n for n, e in enumerate(events)
                      if e["Event"] == "SparkListenerExecutorRemoved")
    before = [(i, ex) for i, ex in successes(events[:removed_at], 0)]
    lost = {i for i, ex in before if ex == "1"}
    runs = collections.Counter(i for i, _ in successes(events, 0))
    check(lost and all(runs[i] == 2 for i in lost),
          "maps of the killed executor %s did not run again once: %s"
          % (sorted(lost), dict(runs)))
    kept = {i for i, ex in before if ex != "1"}
    check(all(runs[i] == 1 for i in kept),
          "maps of the live executor ran again: %s" % dict(runs))


@test
def executor_killed_in_reduce_stage_has_its_map_outputs_recomputed(env):
    def ready(events):
        return submissions(events, 1) >= 1

    res, events, job, conf = _kill_during(env, ready)
    expect_reference(res, job, conf)
    _check_replaced(events, res)
    removed_at = next(n for n, e in enumerate(events)
                      if e["Event"] == "SparkListenerExecutorRemoved")
    lost = {i for i, ex in successes(events[:removed_at], 0) if ex == "1"}
    runs = collections.Counter(i for i, _ in successes(events, 0))
    check(lost and all(runs[i] == 2 for i in lost) and
          all(n == 1 for i, n in runs.items() if i not in lost),
          "map reruns %s, expected exactly the killed executor's %s"
          % (dict(runs), sorted(lost)))
    check(submissions(events, 0) == 2,
          "the map stage should be submitted again once, not %d times"
          % (submissions(events, 0) - 1))


@test
def silent_executor_is_killed_after_the_network_timeout(env):
    """A stopped (SIGSTOP) executor sends no heartbeat: after
    spark.network.timeout the driver kills it by PID and its work is
    redone."""
    def ready(events):
        return sum(1 for _, ex in successes(events, 0) if ex == "1") >= 2

    t0 = time.monotonic()
    res, events, job, conf = _kill_during(
        env, ready, signal.SIGSTOP, {"spark.network.timeout": "2s"})
    expect_reference(res, job, conf)
    _check_replaced(events, res, "no heartbeat")
    check(time.monotonic() - t0 < 60, "recovery took %.0f s"
          % (time.monotonic() - t0))


def server_pid(run):
    for pid in mslib.tagged_pids(run.tag):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"\0shuffle-server\0" in f.read():
                    return pid
        except OSError:
            pass
    return None


@test
def shuffle_server_killed_in_reduce_stage_is_restarted_without_recompute(env):
    """The driver's own shuffle server is SIGKILLed while reducers fetch
    from it: the driver starts it again on the same directory, the files
    there are served again, and no map task runs twice."""
    job = job_for(env)
    log_dir = env.new_dir("events")
    port = mslib.free_port()
    conf = dict(SLOW, **{"spark.shuffle.service.enabled": "true",
                         "spark.shuffle.service.port": str(port),
                         "spark.eventLog.enabled": "true",
                         "spark.eventLog.dir": log_dir})
    run = env.start_job(job, conf=conf)
    run.wait_for_executors(2)
    wait_for(run, log_dir, "the reduce stage",
             lambda events: submissions(events, 1) >= 1)
    pid = server_pid(run)
    check(pid is not None, "no shuffle server among %s"
          % mslib.tagged_pids(run.tag))
    os.kill(pid, signal.SIGKILL)
    res = run.wait(timeout=120)
    env.check_leaks(run.tag, [run.local_dir], res)
    expect_reference(res, job, conf)
    check("starting it again" in res.err, "no restart reported\n%s"
          % res.describe())
    events = read_log(log_dir)
    runs = collections.Counter(i for i, _ in successes(events, 0))
    check(all(n == 1 for n in runs.values()),
          "map tasks ran again: %s" % dict(runs))


def shuffle_files(dir_):
    return [n for n in os.listdir(dir_) if n.startswith("shuffle_")]


@test
def standalone_server_drops_the_files_of_a_dead_driver(env):
    """The driver is SIGKILLed mid-job: its executors exit by themselves,
    and the standalone server, no longer hearing from the application,
    deletes its files after minispark.shuffle.appTimeout. An application
    that lives longer than the timeout keeps its files meanwhile."""
    server = env.start_shuffle_server(
        conf={"minispark.shuffle.appTimeout": "2s"})
    try:
        job = job_for(env)
        slow = dict(SLOW, **{"minispark.test.taskDelay": "300ms"})
        res = env.run_job(job, conf=dict(slow, **server.conf()),
                          leak_dirs=[server.dir], timeout=120)
        expect_reference(res, job, dict(slow, **server.conf()))

        log_dir = env.new_dir("events")
        conf = dict(SLOW, **server.conf(), **{
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": log_dir})
        run = env.start_job(job, conf=conf)
        run.wait_for_executors(2)
        wait_for(run, log_dir, "map outputs",
                 lambda events: len(successes(events, 0)) >= 4)
        check(shuffle_files(server.dir), "no map output in %s" % server.dir)
        run.proc.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
        deadline = time.monotonic() + 15
        while shuffle_files(server.dir) and time.monotonic() < deadline:
            time.sleep(0.1)
        check(not shuffle_files(server.dir),
              "files of the dead application still there: %s\n%s"
              % (shuffle_files(server.dir), server.log()))
        check("no word from application" in server.log(),
              "the server did not say it removed them\n%s" % server.log())
        check(server.proc.poll() is None, "the shuffle server died")
        left = mslib.wait_no_tagged(run.tag, 10)
        check(not left, "processes of the killed driver left: %s" % left)
    finally:
        server.stop()


def task_ends(events, stage, index):
    return [e for e in events if e["Event"] == "SparkListenerTaskEnd"
            and e["Stage ID"] == stage and e["Task Info"]["Index"] == index]


def logged_run(env, conf, expect=None):
    job = job_for(env)
    log_dir = env.new_dir("events")
    conf = dict(conf, **{"spark.files.maxPartitionBytes": "64k",
                         "spark.eventLog.enabled": "true",
                         "spark.eventLog.dir": log_dir})
    res = env.run_job(job, conf=conf, timeout=120, expect=expect)
    return res, read_log(log_dir), job, conf


def with_service(service, conf):
    """conf, with the driver's own shuffle server on a free port if
    service."""
    if not service:
        return conf
    return dict(conf, **{"spark.shuffle.service.enabled": "true",
                         "spark.shuffle.service.port": str(mslib.free_port())})


@test
def failed_task_is_retried_on_another_executor(env):
    res, events, job, conf = logged_run(
        env, {"minispark.test.failTask": "0:2"})
    expect_reference(res, job, conf)
    ends = task_ends(events, 0, 2)
    check(len(ends) == 2, "map 2 ended %d times, expected 2" % len(ends))
    first, second = ends
    check(first["Task End Reason"]["Reason"] != "Success" and
          "injected failure" in first["Task End Reason"]["Description"],
          "first attempt: %s" % first["Task End Reason"])
    check(second["Task End Reason"]["Reason"] == "Success" and
          second["Task Info"]["Executor ID"] !=
          first["Task Info"]["Executor ID"],
          "the retry did not run on the other executor: %s, %s"
          % (first["Task Info"], second["Task Info"]))


@test
def task_failing_max_failures_times_fails_the_job(env):
    res, events, job, conf = logged_run(
        env, {"minispark.test.failTask": "1:0:4"}, expect=4)
    check(re.search(r"stage 1 \(reduce\) task 0.*failed 4 times; last "
                    r"cause: injected failure", res.err),
          "stderr does not name stage, task and cause\n%s" % res.describe())
    check(len(task_ends(events, 1, 0)) == 4, "reduce task 0 ran %d times"
          % len(task_ends(events, 1, 0)))
    check(not os.path.exists(res.output), "output written by a failed job")


@test
def executor_killed_by_the_hook_after_n_tasks_is_replaced(env):
    res, events, job, conf = logged_run(
        env, {"minispark.test.killExecutorAfter": "1:3"})
    expect_reference(res, job, conf)
    _check_replaced(events, res)
    check(sum(1 for _, ex in successes(events, 0) if ex == "1") >= 3,
          "executor 1 was killed before its third task")


@test
def deleted_output_is_recomputed_alone(env):
    for service in (False, True):
        res, events, job, conf = logged_run(
            env, with_service(service, {"minispark.test.deleteOutput": "0:2"}))
        expect_reference(res, job, conf)
        runs = collections.Counter(i for i, _ in successes(events, 0))
        check(runs[2] == 2 and all(n == 1 for i, n in runs.items()
                                   if i != 2),
              "service %s: map runs %s, expected map 2 twice, the others "
              "once" % (service, dict(runs)))


@test
def stalled_fetch_loses_the_output_it_waited_for(env):
    """Reduce task 2's first fetch gets no answer in time: without the
    shuffle service the output it waited for is recomputed (its server may
    hang); with the service, which answers the driver's ping, the task just
    runs again. Either way the result is exact."""
    for service in (False, True):
        res, events, job, conf = logged_run(
            env, with_service(service, {"minispark.test.stallFetch": "1:2"}))
        expect_reference(res, job, conf)
        ends = task_ends(events, 1, 2)
        check(len(ends) == 2 and
              ends[0]["Task End Reason"]["Reason"] != "Success" and
              "no answer" in ends[0]["Task End Reason"]["Description"],
              "service %s: reduce 2 ends %s" % (service, [
                  e["Task End Reason"] for e in ends]))
        reruns = sum(n - 1 for n in collections.Counter(
            i for i, _ in successes(events, 0)).values())
        check(reruns == (0 if service else 1),
              "service %s: %d map reruns" % (service, reruns))


if __name__ == "__main__":
    mslib.main()
