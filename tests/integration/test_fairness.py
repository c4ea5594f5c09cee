"""Several applications on the same workers: 4 cores on 2 workers (2
each, on loopback, each with its shuffle server). Application A, with a
large backlog, grows to 4 executors; application B then starts with a
backlog of its own and, within its schedulerBacklogTimeout + the longest
task + 1 s, holds 2 executors while A holds 2 (the workers reclaim A's
executors at task boundaries, for the fair share); when B ends, A grows
back to 4. Both results are exact and no task fails. With
spark.scheduler.mode=FIFO on the workers B waits for A instead."""

import os
import time

import cluster as cl
import mslib
from mslib import check, test

TASK_MS = 400


log_events = mslib.read_event_log


def active_at(events, t):
    """Executors of the log added and not removed by time t (ms)."""
    n = 0
    for e in events:
        if e["Timestamp"] > t:
            break
        if e["Event"] == "SparkListenerExecutorAdded":
            n += 1
        elif e["Event"] == "SparkListenerExecutorRemoved":
            n -= 1
    return n


def times_of(events, name):
    return [e["Timestamp"] for e in events if e["Event"] == name]


def app_conf(log_dir, initial, most, backlog):
    return {"spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.initialExecutors": str(initial),
            "spark.dynamicAllocation.maxExecutors": str(most),
            "spark.dynamicAllocation.schedulerBacklogTimeout": backlog,
            "spark.dynamicAllocation.executorIdleTimeout": "30s",
            "spark.shuffle.service.enabled": "true",
            "minispark.test.taskDelay": "%dms" % TASK_MS,
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": log_dir}


QUERY = {"group_by": ["country", "device"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}


def job(env, rows, split):
    """A job over `rows` generated events, and the split size that sets
    its number of map tasks."""
    path = env.path("fair_%d.csv" % rows)
    if not os.path.exists(path):
        env.gen(rows, os.path.basename(path))
    return ({"input": {"path": path}, "query": QUERY,
             "shuffle_partitions": 4},
            {"spark.files.maxPartitionBytes": split})


def wait_active(log_dir, count, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ev = log_events(log_dir)
        if ev and active_at(ev, ev[-1]["Timestamp"]) >= count:
            return ev
        time.sleep(0.05)
    raise mslib.TestFailure("%s did not reach %d executors in %.0fs"
                            % (what, count, timeout))


def no_failed_task(events, what):
    bad = [e for e in events if e["Event"] == "SparkListenerTaskEnd"
           and e["Task End Reason"]["Reason"] != "Success"]
    check(not bad, "%s had failed tasks: %s" % (what, bad[:2]))


def longest_task_ms(*logs):
    return max((e["Task Info"]["Finish Time"] - e["Task Info"]["Launch Time"]
                for ev in logs for e in ev
                if e["Event"] == "SparkListenerTaskEnd"), default=0)


@test
def fair_share_and_reclaim(env):
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1") for _ in range(2)])
    logs_a, logs_b = env.new_dir("events_a"), env.new_dir("events_b")
    job_a, split_a = job(env, 40000, "16k")   # ~110 map tasks
    job_b, split_b = job(env, 40000, "128k")  # ~14 map tasks
    conf_a = dict(app_conf(logs_a, 1, 4, "200ms"), **split_a)
    conf_b = dict(app_conf(logs_b, 1, 2, "1s"), **split_b)
    run_a = cl.start_driver(env, job_a, c.master(), conf_a)
    wait_active(logs_a, 4, 30, "A")
    run_b = cl.start_driver(env, job_b, c.master(), conf_b)
    res_b = cl.finish(env, run_b)
    res_a = cl.finish(env, run_a, timeout=180)
    cl.expect_exact(res_a, job_a, conf_a)
    cl.expect_exact(res_b, job_b, conf_b)
    ev_a, ev_b = log_events(logs_a), log_events(logs_b)
    no_failed_task(ev_a, "A")
    no_failed_task(ev_b, "B")

    b_start = times_of(ev_b, "SparkListenerApplicationStart")[0]
    b_end = times_of(ev_b, "SparkListenerApplicationEnd")[0]
    added_b = times_of(ev_b, "SparkListenerExecutorAdded")
    check(len(added_b) >= 2, "B never held 2 executors")
    second = sorted(added_b)[1]
    bound = 1000 + longest_task_ms(ev_a, ev_b) + 1000
    check(second - b_start <= bound,
          "B held 2 executors %d ms after it started (bound %d ms)"
          % (second - b_start, bound))
    check(active_at(ev_a, second) == 2,
          "A held %d executors when B got its second"
          % active_at(ev_a, second))
    later = [active_at(ev_a, e["Timestamp"]) for e in ev_a
             if e["Timestamp"] > b_end]
    check(later and max(later) == 4,
          "A did not grow back to 4 after B ended (%s)" % later[:20])
    # Both applications' decisions say what happened and why.
    reclaims = [e for e in ev_a if e["Event"] == "MinisparkAllocationDecision"
                and e["Action"] == "reclaim"]
    check(reclaims and "fair" in reclaims[0]["Reason"],
          "A's log has no reclaim decision")
    check(any(e["Event"] == "MinisparkAllocationDecision"
              and e["Action"] in ("queued", "share") for e in ev_b),
          "B's log has no share or queued decision")
    # The UI (here rebuilt from the event logs by `minispark report`, which
    # renders the live page's state) shows the shares and the reclaims.
    for logs, words in ((logs_a, ("fair share", "reclaim")),
                        (logs_b, ("fair share", "queued"))):
        page = os.path.join(logs, "ui.html")
        log = [n for n in os.listdir(logs) if n.endswith(".jsonl")][0]
        res = env.run_args([env.binary, "report", os.path.join(logs, log),
                            "-o", page])
        res.expect_rc(0)
        with open(page) as f:
            html = f.read()
        for w in words:
            check(w in html, "%r missing from the UI of %s" % (w, log))
    c.stop()


@test
def reclaim_without_service_never_costs_map_outputs(env):
    """One worker of 2 cores and no shuffle server: A holds both cores for
    a job whose map outputs live on its executors; B then asks for its
    share. A keeps the executors that hold outputs (saying so) rather than
    losing them: no map stage runs twice, no task fails, both results are
    exact, and B runs once A gives the cores back."""
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1")], service=False)
    logs_a, logs_b = env.new_dir("events_a"), env.new_dir("events_b")
    job_a, split_a = job(env, 40000, "64k")
    job_b, split_b = job(env, 40000, "256k")
    conf_a = dict(app_conf(logs_a, 2, 2, "200ms"), **split_a)
    conf_b = dict(app_conf(logs_b, 1, 1, "200ms"), **split_b)
    for conf in (conf_a, conf_b):
        conf["spark.shuffle.service.enabled"] = "false"
    run_a = cl.start_driver(env, job_a, c.master(), conf_a)
    wait_active(logs_a, 2, 30, "A")
    run_b = cl.start_driver(env, job_b, c.master(), conf_b)
    res_a = cl.finish(env, run_a, timeout=180)
    res_b = cl.finish(env, run_b, timeout=180)
    cl.expect_exact(res_a, job_a, conf_a)
    cl.expect_exact(res_b, job_b, conf_b)
    ev_a, ev_b = log_events(logs_a), log_events(logs_b)
    no_failed_task(ev_a, "A")
    no_failed_task(ev_b, "B")
    again = [e for e in ev_a if e["Event"] == "SparkListenerStageSubmitted"
             and e["Stage Info"]["Stage Attempt ID"] > 0]
    check(not again, "A ran a stage again: %s" % again[:1])
    keeps = [e for e in ev_a if e["Event"] == "MinisparkAllocationDecision"
             and e["Action"] == "keep" and "no shuffle service" in e["Reason"]]
    check(keeps, "A's log does not say why it kept its executors")
    told = [e for e in ev_b if e["Event"] == "MinisparkAllocationDecision"
            and e["Action"] == "queued" and "and keeps" in e["Reason"]]
    check(told, "B was not told that A keeps its executors")
    c.stop()


if __name__ == "__main__":
    mslib.main()
