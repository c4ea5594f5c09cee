"""Chaos: runs of a two-job application (two shuffles, four stages; some
with the shuffle service, some with dynamic allocation, some on two worker
agents of a workers:// master; without the service some decommission
executors, which migrate their outputs to peers, their host's shuffle
server or a fallback folder, and some share the workers with a second
application that makes them reclaim executors) while a killer SIGKILLs,
by PID, a random executor, the shuffle server (local mode) or a worker (at
most one a run) at random moments. Every run must end with the reference's results, or with exit 4
only when a task really failed spark.task.maxFailures times; no process
and no shuffle file of the run may remain. MS_CHAOS_SECONDS sets how long
it goes on (`make chaos` runs it for ten minutes); the last line sums up
runs, kills and recoveries."""

import os
import random
import re
import signal
import threading
import time

import cluster as cl
import mslib
import reference as ref
from mslib import check, test

SECONDS = float(os.environ.get("MS_CHAOS_SECONDS", "45"))
QUERIES = [
    {"group_by": ["country", "device"],
     "aggregates": [{"fn": "count", "as": "n"},
                    {"fn": "sum", "column": "amount", "as": "total"}]},
    {"group_by": [{"column": "event_id", "mod": 97, "as": "k"}],
     "aggregates": [{"fn": "count", "as": "n"},
                    {"fn": "max", "column": "amount", "as": "top"}]},
]
CONF = {"spark.files.maxPartitionBytes": "32k",
        "minispark.test.taskDelay": "20ms",
        "spark.executor.heartbeatInterval": "500ms",
        "spark.network.timeout": "5s"}
# A process younger than this is left alone: killing executors before they
# register counts toward spark.executor.maxNumFailures, a real limit.
MIN_AGE_S = 0.4
MAX_SERVER_KILLS = 3  # the driver restarts its server at most 4 times


def role(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if b"executor" in argv:
        return "executor"
    if b"shuffle-server" in argv:
        return "server"
    if b"worker" in argv:
        return "worker"
    return None


class Killer(threading.Thread):
    """Kills the run's executors and shuffle server, found by the driver's
    tag, and, on a cluster, the workers and their executors, found by the
    workers' tags (the workers' shuffle servers are left alone: the driver
    restarts only a server of its own)."""

    def __init__(self, running, rng, workers=()):
        super().__init__(daemon=True)
        self.running, self.rng, self.workers = running, rng, workers
        self.kills = {"executor": 0, "server": 0, "worker": 0}
        self.done = threading.Event()
        self.first_seen = {}

    def targets(self):
        now = time.monotonic()
        out = []
        pids = mslib.tagged_pids(self.running.tag)
        for w in self.workers:
            pids += mslib.tagged_pids(w.tag)
        for pid in pids:
            if pid == self.running.proc.pid:
                continue
            r = role(pid)
            if r is None:
                continue
            self.first_seen.setdefault(pid, now)
            if now - self.first_seen[pid] < MIN_AGE_S:
                continue
            if r == "server" and self.kills["server"] >= MAX_SERVER_KILLS:
                continue
            if r == "worker" and self.kills["worker"] >= 1:
                continue
            out.append((pid, r))
        return out

    def run(self):
        while not self.done.wait(self.rng.uniform(0.2, 0.9)):
            if self.running.proc.poll() is not None:
                return
            targets = self.targets()
            if not targets:
                continue
            pid, r = self.rng.choice(targets)
            try:
                os.kill(pid, signal.SIGKILL)
                self.kills[r] += 1
            except ProcessLookupError:
                pass


def decommission_conf(rng, fallback):
    """Decommissioning on, a random executor decommissioned after a random
    task (of its own or of a reduce stage), sometimes with a fallback
    folder and sometimes a kill in the middle of its migration."""
    e = rng.randint(1, 3)
    conf = {"spark.decommission.enabled": "true",
            "minispark.test.decommissionAfter": rng.choice(
                ["%d:%d" % (e, rng.randint(1, 4)),
                 "%d@1:%d" % (e, rng.randint(1, 3)),
                 "%d@3:1" % e])}
    if rng.random() < 0.5:
        conf["spark.storage.decommission.fallbackStorage.path"] = fallback
    if rng.random() < 0.2:
        conf["minispark.test.killDuringMigration"] = "%d:1" % e
    return conf


def jobs_file(env, path):
    out_dir = env.new_dir("chaos_out")
    jobs, outs = [], []
    for i, q in enumerate(QUERIES):
        outs.append(os.path.join(out_dir, "job%d.csv" % i))
        jobs.append(dict(q, output={"path": outs[-1], "format": "csv"}))
    return {"input": {"path": path}, "jobs": jobs,
            "shuffle_partitions": 4}, outs


@test
def runs_survive_random_kills(env):
    path = env.gen(30000, "chaos_events.csv")
    want = [ref.expected_csv({"input": {"path": path}, "query": q})
            for q in QUERIES]
    rng = random.Random(int(os.environ.get("MS_CHAOS_SEED", "7")))
    runs = ok = failed = 0
    kills = {"executor": 0, "server": 0, "worker": 0}
    recoveries = {"executor lost": 0, "map outputs recomputed": 0,
                  "server restarted": 0, "worker lost": 0}
    decommissions = reclaims = 0
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        runs += 1
        service = rng.random() < 0.4
        on_workers = rng.random() < 0.25
        conf = dict(CONF)
        master, c = "local[2]", None
        if on_workers:
            c = cl.Cluster(env, [cl.Host(env, "127.0.0.1") for _ in (0, 1)],
                           service=service)
            master = c.master()
            conf["spark.worker.timeout"] = "2s"
        if service:
            conf["spark.shuffle.service.enabled"] = "true"
        if service and not on_workers:
            conf["spark.shuffle.service.port"] = str(mslib.free_port())
        if rng.random() < 0.3:
            conf.update({"spark.dynamicAllocation.enabled": "true",
                         "spark.dynamicAllocation.minExecutors": "1",
                         "spark.dynamicAllocation.maxExecutors": "2",
                         "spark.dynamicAllocation.schedulerBacklogTimeout":
                         "50ms",
                         "spark.dynamicAllocation.executorIdleTimeout":
                         "300ms"})
        fallback = None
        if not service and rng.random() < 0.5:
            decommissions += 1
            fallback = env.new_dir("chaos_fallback")
            conf.update(decommission_conf(rng, fallback))
        job, outs = jobs_file(env, path)
        run = env.start_job(job, conf=conf, output=False, master=master)
        other = None
        if on_workers and not service and rng.random() < 0.5:
            reclaims += 1
            other_job = {"input": {"path": path}, "query": QUERIES[0],
                         "shuffle_partitions": 2}
            other = env.start_job(other_job, conf=dict(
                CONF, **{"spark.executor.instances": "2",
                         "spark.worker.timeout": "2s"}), master=master)
        killer = Killer(run, rng, [h.worker for h in c.hosts] if c else ())
        killer.start()
        res = run.wait(timeout=180)
        killer.done.set()
        killer.join()
        env.check_leaks(run.tag, [run.local_dir] + ([fallback] if fallback
                                                    else []), res)
        if other:
            other_res = other.wait(timeout=180)
            env.check_leaks(other.tag, [other.local_dir], other_res)
            other_res.expect_rc(0)
            mslib.expect_reference(other_res, other_job)
        if c:
            c.stop()
        for k in kills:
            kills[k] += killer.kills[k]
        recoveries["executor lost"] += res.err.count("its tasks run elsewhere")
        recoveries["map outputs recomputed"] += len(
            re.findall(r"map outputs? .*lost", res.err))
        recoveries["server restarted"] += res.err.count("starting it again")
        recoveries["worker lost"] += len(
            re.findall(r"minispark: worker \S+ lost", res.err))
        if res.rc == 4:
            check(re.search(r"failed \d+ times; last cause", res.err),
                  "run %d failed without a task failing maxFailures "
                  "times\n%s" % (runs, res.describe()))
            failed += 1
            continue
        res.expect_rc(0)
        for i, out in enumerate(outs):
            with open(out, "rb") as f:
                got = f.read()
            check(got == want[i], "run %d, job %d differs from the reference"
                  "\n%s\n%s" % (runs, i, mslib.csv_diff(want[i], got),
                                res.describe()))
        ok += 1
    print("chaos: %d runs in %.0f s (%d exact, %d failed as allowed; %d "
          "decommissioning, %d sharing the workers); kills: %d executors, "
          "%d shuffle servers, %d workers; recoveries: %s"
          % (runs, SECONDS, ok, failed, decommissions, reclaims,
             kills["executor"], kills["server"], kills["worker"],
             ", ".join("%d %s" % (v, k) for k, v in recoveries.items())),
          flush=True)
    check(runs >= 3, "only %d runs" % runs)


if __name__ == "__main__":
    mslib.main()
