"""Graceful decommissioning without a shuffle service: an executor chosen
to go finishes its tasks, migrates its map outputs (to a peer, to its
host's shuffle server, or to the fallback folder), and only then stops; the
driver reads each output at its new place. Watched through the event log:
no map runs twice unless its output really could not move, no stage fails
for it, results equal the reference's, and every run passes both leak
checks (no process, no shuffle file left, the fallback folder included)."""

import collections
import os
import signal
import time

import cluster as cl
import mslib
from mslib import check, test

QUERY = {"group_by": ["country", "device"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}

_files = {}


def job_for(env, partitions=4):
    """40000 generated events: 27 map tasks at 64k splits."""
    if "events" not in _files:
        _files["events"] = env.gen(40000, "decom_events.csv")
    return {"input": {"path": _files["events"]}, "query": QUERY,
            "shuffle_partitions": partitions}


def conf_for(env, **extra):
    log_dir = env.new_dir("events")
    conf = {"spark.files.maxPartitionBytes": "64k",
            "minispark.test.taskDelay": "40ms",
            "spark.decommission.enabled": "true",
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": log_dir}
    conf.update(extra)
    return conf, log_dir


read_log = mslib.read_event_log


def successes(events, stage):
    return [(e["Task Info"]["Index"], e["Task Info"]["Executor ID"])
            for e in events
            if e["Event"] == "SparkListenerTaskEnd" and e["Stage ID"] == stage
            and e["Task End Reason"]["Reason"] == "Success"]


def decisions(events, action):
    return [e for e in events if e["Event"] == "MinisparkAllocationDecision"
            and e["Action"] == action]


def removal(events, exec_id):
    found = [e["Removed Reason"] for e in events
             if e["Event"] == "SparkListenerExecutorRemoved"
             and e["Executor ID"] == str(exec_id)]
    check(len(found) == 1, "executor %s removed %d times: %s"
          % (exec_id, len(found), found))
    return found[0]


def no_map_reran(events, res):
    runs = collections.Counter(i for i, _ in successes(events, 0))
    again = sorted(i for i, n in runs.items() if n > 1)
    check(not again, "maps ran again: %s\n%s" % (again, res.describe()))
    stages = [e["Stage Info"]["Stage Attempt ID"] for e in events
              if e["Event"] == "SparkListenerStageSubmitted"]
    check(max(stages) == 0, "a stage was submitted again\n%s"
          % res.describe())


def wait_for_event(log_dir, name, timeout):
    deadline = time.monotonic() + timeout
    while not any(e["Event"] == name for e in read_log(log_dir)):
        check(time.monotonic() < deadline, "no %s within %.0f s"
              % (name, timeout))
        time.sleep(0.05)


def no_task_failed(events, whose):
    failed = [e for e in events if e["Event"] == "SparkListenerTaskEnd"
              and e["Task End Reason"]["Reason"] != "Success"]
    check(not failed, "%stasks failed: %s" % (whose, failed[:2]))


def migrated_to(events, exec_id, where):
    lines = [d["Reason"] for d in decisions(events, "migrated")
             if d["Executor ID"] == str(exec_id)]
    check(lines and where in lines[-1] and " 0 not" in lines[-1],
          "executor %s's migration (to %r): %s" % (exec_id, where, lines))
    return lines[-1]


@test
def outputs_migrate_to_a_peer_and_no_map_runs_again(env):
    """Executor 1 is decommissioned after its 3rd map task: it migrates
    its outputs to executor 2 and stops; a replacement keeps the target."""
    job = job_for(env)
    conf, log_dir = conf_for(env, **{
        "minispark.test.decommissionAfter": "1:3"})
    res = env.run_job(job, conf=conf, timeout=120)
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    line = migrated_to(events, 1, "to executor 2")
    check("3 map outputs" in line, "executor 1 held 3 outputs: %s" % line)
    why = removal(events, 1)
    check("decommissioned" in why and "3 map outputs" in why,
          "executor 1's removal reason: %s" % why)
    started = decisions(events, "decommission")
    check(started and "executor 1" in started[0]["Reason"],
          "no decommission decision: %s" % started)
    # `minispark report` draws the migration and says why.
    log = [os.path.join(log_dir, n) for n in os.listdir(log_dir)][0]
    out = env.path("decom_report.html")
    env.run_args([env.binary, "report", log, "-o", out]).expect_rc(0)
    with open(out) as f:
        page = f.read()
    check('class="migrated"' in page and line in page,
          "the report does not show the migration")


@test
def with_no_peer_outputs_go_to_the_fallback_folder(env):
    """One executor, decommissioned after its 2nd task, has no peer: its
    outputs go to spark.storage.decommission.fallbackStorage.path, are read
    from there, and the folder is emptied at the end."""
    job = job_for(env)
    fallback = env.new_dir("fallback")
    conf, log_dir = conf_for(env, **{
        "spark.executor.instances": "1",
        "minispark.test.decommissionAfter": "1:2",
        "spark.storage.decommission.fallbackStorage.path": fallback})
    res = env.run_job(job, conf=conf, timeout=120, master="local[1]",
                      leak_dirs=[fallback])
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    migrated_to(events, 1, "to the fallback folder")
    left = [f for _, _, fs in os.walk(fallback) for f in fs]
    check(not left, "files left in the fallback folder: %s" % left)


@test
def outputs_migrate_to_the_hosts_shuffle_server(env):
    """On a worker with a shuffle server that the application does not
    use as its service, a leaving executor's outputs go there first."""
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1")], cores=2)
    job = job_for(env)
    conf, log_dir = conf_for(env, **{
        "spark.shuffle.service.enabled": "false",
        "spark.executor.instances": "2",
        "minispark.test.decommissionAfter": "1:3"})
    res = cl.finish(env, cl.start_driver(env, job, c.master(), conf),
                    timeout=120)
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    migrated_to(events, 1, "to shuffle server tcp://127.0.0.1:%d"
                % c.hosts[0].shuffle_port)
    c.stop()


@test
def executor_killed_mid_migration_loses_only_what_did_not_move(env):
    """Executor 1 holds 4 outputs and is SIGKILLed (by PID) once the first
    has moved: what moved is read at its new place, only the maps of the
    others run again, and the job is exact."""
    job = job_for(env)
    conf, log_dir = conf_for(env, **{
        "minispark.test.decommissionAfter": "1:4",
        "minispark.test.killDuringMigration": "1:1"})
    res = env.run_job(job, conf=conf, timeout=120)
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    check("killed by signal 9" in removal(events, 1),
          "executor 1 was not killed: %s" % removal(events, 1))
    runs = collections.Counter(i for i, _ in successes(events, 0))
    first = [i for i, ex in successes(events, 0) if ex == "1"][:4]
    again = sorted(i for i, n in runs.items() if n > 1)
    # The kill is sent when the first move is reported; a second may be
    # done and reported before it lands (it counts as moved then).
    check(again and set(again) < set(first),
          "maps run again %s, expected some but not all of executor 1's %s"
          % (again, first))


@test
def reducers_racing_a_migration_read_the_new_place(env):
    """Executor 1 is decommissioned when the first reduce task ends, while
    other reducers read from it: the ones launched after the move read the
    new place, the executor stops only once the earlier ones are done, and
    no fetch fails."""
    job = job_for(env, partitions=24)
    conf, log_dir = conf_for(env, **{
        "spark.executor.instances": "3",
        "minispark.test.decommissionAfter": "1@1:1"})
    res = env.run_job(job, conf=conf, timeout=120, master="local[3]")
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    migrated_to(events, 1, "executor")
    no_task_failed(events, "")


@test
def losses_from_a_decommissioned_executor_do_not_fail_the_stage(env):
    """Executor 1 is decommissioned during the reduce stage and killed
    once its first output has moved, while reducers read from it. With
    spark.stage.maxConsecutiveAttempts=1 any counted resubmission would
    fail the job: the reducers that read the old place retry at the new
    one, the outputs that did not move are computed again, and the
    resubmission that costs is not counted against the stage."""
    job = job_for(env, partitions=24)
    conf, log_dir = conf_for(env, **{
        "spark.executor.instances": "3",
        "spark.stage.maxConsecutiveAttempts": "1",
        "minispark.test.decommissionAfter": "1@1:1",
        "minispark.test.killDuringMigration": "1:1"})
    res = env.run_job(job, conf=conf, timeout=120, master="local[3]")
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    check("killed by signal 9" in removal(events, 1),
          "executor 1 was not killed: %s" % removal(events, 1))
    runs = collections.Counter(i for i, _ in successes(events, 0))
    mine = {i for i, ex in successes(events, 0) if ex == "1"}
    again = {i for i, n in runs.items() if n > 1}
    check(again and again < mine,
          "maps run again %s, expected some but not all of executor 1's %s"
          % (sorted(again), sorted(mine)))


@test
def sigpwr_asks_an_executor_to_go(env):
    """SIGPWR (Spark's decommission signal) to executor 1, by PID, during
    the map stage: it finishes its task, migrates and goes; no map runs
    twice."""
    job = job_for(env)
    conf, log_dir = conf_for(env, **{"minispark.test.taskDelay": "150ms"})
    run = env.start_job(job, conf=conf)
    run.wait_for_executors(2)
    deadline = time.monotonic() + 30
    while len(successes(read_log(log_dir), 0)) < 4:
        check(time.monotonic() < deadline and run.proc.poll() is None,
              "the map stage did not get going")
        time.sleep(0.02)
    os.kill(mslib.executor_pid(run.tag, 1), signal.SIGPWR)
    res = run.wait(timeout=120)
    env.check_leaks(run.tag, [run.local_dir], res)
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    asked = [d["Reason"] for d in decisions(events, "decommission")]
    check(any("asked to go (SIGPWR)" in w for w in asked),
          "no decision for the signal: %s" % asked)
    check("decommissioned" in removal(events, 1), removal(events, 1))


@test
def an_executor_still_decommissioning_after_the_timeout_is_killed(env):
    """spark.executor.decommission.forceKillTimeout=1s, and the host's
    shuffle server, the first migration target, is stopped (SIGSTOP, by
    PID): executor 1's migration hangs, it is killed after a second, its
    outputs are computed again, and the job is exact."""
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1")], cores=2)
    server = c.hosts[0].shuffle.proc
    job = job_for(env)
    conf, log_dir = conf_for(env, **{
        "spark.shuffle.service.enabled": "false",
        "spark.executor.instances": "2",
        "spark.executor.decommission.forceKillTimeout": "1s",
        "minispark.test.decommissionAfter": "1:3"})
    server.send_signal(signal.SIGSTOP)
    try:
        res = cl.finish(env, cl.start_driver(env, job, c.master(), conf),
                        timeout=120)
    finally:
        server.send_signal(signal.SIGCONT)
    mslib.expect_reference(res, job, conf)
    why = removal(read_log(log_dir), 1)
    check("forceKillTimeout" in why, "executor 1's removal: %s" % why)
    c.stop()


@test
def idle_executors_holding_outputs_are_decommissioned(env):
    """Dynamic allocation, shuffle tracking, decommissioning on: during a
    long reduce stage with one partition, the idle executors that hold map
    outputs time out, migrate them and go, instead of staying pinned."""
    job = job_for(env, partitions=1)
    conf, log_dir = conf_for(env, **{
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.initialExecutors": "3",
        "spark.dynamicAllocation.maxExecutors": "3",
        "spark.dynamicAllocation.executorIdleTimeout": "1s",
        "minispark.test.reduceTaskDelay": "3s"})
    res = env.run_job(job, conf=conf, timeout=120, master="local[3]")
    mslib.expect_reference(res, job, conf)
    events = read_log(log_dir)
    no_map_reran(events, res)
    gone = [d for d in decisions(events, "migrated")]
    check(gone, "no idle executor migrated its outputs\n%s" % res.describe())
    why = [d["Reason"] for d in decisions(events, "decommission")]
    check(any("removed by dynamic allocation" in w for w in why),
          "decommissions were not for idleness: %s" % why)


@test
def reclaim_by_a_worker_migrates_instead_of_failing(env):
    """One 4-core worker, no shuffle server: A runs with 4 executors, B
    starts a second later. The worker reclaims A's executors for B; with
    decommissioning they migrate their outputs before they go, so A loses
    nothing, and both results are exact."""
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1")], cores=4, service=False)
    job = job_for(env)
    confs = []
    for initial in ("4", "1"):
        conf, log_dir = conf_for(env, **{
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.initialExecutors": initial,
            "spark.dynamicAllocation.maxExecutors": "20",
            "spark.dynamicAllocation.schedulerBacklogTimeout": "200ms",
            "minispark.test.taskDelay": "100ms"})
        confs.append((conf, log_dir))
    run_a = cl.start_driver(env, job, c.master(), confs[0][0])
    wait_for_event(confs[0][1], "SparkListenerTaskEnd", 30)
    run_b = cl.start_driver(env, job, c.master(), confs[1][0])
    for run, (conf, _) in zip((run_a, run_b), confs):
        mslib.expect_reference(cl.finish(env, run, timeout=180), job, conf)
    events = read_log(confs[0][1])
    check(decisions(events, "reclaim"), "the worker reclaimed nothing")
    no_task_failed(events, "A's ")
    c.stop()


if __name__ == "__main__":
    mslib.main()
