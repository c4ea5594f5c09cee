#!/usr/bin/env python3
"""Dynamic allocation latency benchmark.

Runs one application whose jobs each scale executors from 0 to 4 and back
(tiny splits so there is a backlog, short timeouts), then reads its event
log and reports, over all jobs:
  - launch: executor launched -> registered with the driver (p50, p99),
    both during scale-up (the machine busy with tasks) and at application
    start (quiet: 50 applications with 2 static executors);
  - reaction: backlog start (map stage submitted) -> first new executor
    registered, minus schedulerBacklogTimeout;
  - release: idle deadline (last task end + executorIdleTimeout) -> the
    process is gone (ExecutorRemoved is posted when it has been reaped).
usage: bench/dynalloc.py [MINISPARK] [JOBS]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

BACKLOG_MS = 50
IDLE_MS = 200


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def job_file(tmp, jobs):
    query = {
        "group_by": ["country", "device"],
        "aggregates": [{"fn": "count"}, {"fn": "sum", "column": "amount"}],
        "pause_after": "600ms",
    }
    return {
        "app_name": "dynalloc-bench",
        "input": {"path": os.path.abspath("datasets/big_events_50k.csv")},
        "jobs": [dict(query) for _ in range(jobs)],
        "shuffle_partitions": 4,
        "conf": {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.initialExecutors": "0",
            "spark.dynamicAllocation.maxExecutors": "4",
            "spark.dynamicAllocation.schedulerBacklogTimeout": "%dms" % BACKLOG_MS,
            "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": "%dms" % BACKLOG_MS,
            "spark.dynamicAllocation.executorIdleTimeout": "%dms" % IDLE_MS,
            "spark.files.maxPartitionBytes": "16k",
            "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": os.path.join(tmp, "events"),
            "spark.local.dir": tmp,
        },
    }


def analyse(events):
    launch, reaction, release = [], [], []
    last_task_end = {}
    stage_submit = None
    for e in events:
        kind = e["Event"]
        if kind == "SparkListenerStageSubmitted":
            if e["Stage Info"]["Stage Name"] == "map":
                stage_submit = e["Timestamp"]
        elif kind == "SparkListenerExecutorAdded":
            launched = e["Minispark Launch Time"]
            launch.append(e["Timestamp"] - launched)
            if stage_submit is not None and launched >= stage_submit:
                reaction.append(e["Timestamp"] - stage_submit - BACKLOG_MS)
                stage_submit = None
            last_task_end.setdefault(e["Executor ID"], e["Timestamp"])
        elif kind == "SparkListenerTaskEnd":
            info = e["Task Info"]
            last_task_end[info["Executor ID"]] = info["Finish Time"]
        elif kind == "SparkListenerExecutorRemoved":
            if "idle" in e["Removed Reason"]:
                deadline = last_task_end[e["Executor ID"]] + IDLE_MS
                release.append(e["Timestamp"] - deadline)
    return launch, reaction, release


def quiet_launches(binary, tmp, runs=50):
    """Launch latency at application start, when nothing else runs."""
    conf = {"spark.executor.instances": "2", "spark.eventLog.enabled": "true",
            "spark.eventLog.dir": os.path.join(tmp, "quiet"),
            "spark.local.dir": tmp}
    job = {"input": {"path": os.path.abspath("datasets/big_events_50k.csv")},
           "query": {"group_by": [], "aggregates": [{"fn": "count"}]},
           "shuffle_partitions": 1, "conf": conf}
    path = os.path.join(tmp, "quiet.json")
    with open(path, "w") as f:
        json.dump(job, f)
    for _ in range(runs):
        subprocess.run([binary, "run", path, "--master", "local[2]", "--quiet"],
                       check=True)
    samples = []
    for name in os.listdir(conf["spark.eventLog.dir"]):
        with open(os.path.join(conf["spark.eventLog.dir"], name)) as f:
            for line in f:
                e = json.loads(line)
                if e["Event"] == "SparkListenerExecutorAdded":
                    samples.append(e["Timestamp"] - e["Minispark Launch Time"])
    return samples


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/minispark"
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    # MINISPARK_BENCH_DIR picks the filesystem for shuffle files and logs
    # (e.g. /dev/shm): file creation cost shows up in every launch.
    base = os.environ.get("MINISPARK_BENCH_DIR")
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = os.path.join(tmp, "job.json")
        with open(path, "w") as f:
            json.dump(job_file(tmp, jobs), f)
        subprocess.run([binary, "run", path, "--master", "local[4]", "--quiet"],
                       check=True)
        logdir = os.path.join(tmp, "events")
        log = os.path.join(logdir, os.listdir(logdir)[0])
        with open(log) as f:
            events = [json.loads(line) for line in f]
        quiet = quiet_launches(binary, tmp)
    launch, reaction, release = analyse(events)
    print("dynamic allocation bench: %d jobs, backlog %d ms, idle %d ms, local[4]"
          % (jobs, BACKLOG_MS, IDLE_MS))
    for name, values in (("launch -> registered, at app start", quiet),
                         ("launch -> registered, during scale-up", launch),
                         ("scale-up reaction (minus backlog timeout)", reaction),
                         ("idle deadline -> process gone", release)):
        if not values:
            print("%s: no samples" % name)
            continue
        print("%-42s n=%3d  p50 %4d ms  p99 %4d ms  max %4d ms  mean %.1f ms"
              % (name, len(values), pct(values, 50), pct(values, 99),
                 max(values), statistics.mean(values)))


if __name__ == "__main__":
    main()
