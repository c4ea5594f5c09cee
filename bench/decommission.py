#!/usr/bin/env python3
"""Graceful decommissioning, measured.

Usage: bench/decommission.py MINISPARK [--runs N] [--rows R]
       bench/decommission.py MINISPARK --scenario N [--rows R]

Default mode, on a generated file of R rows (2,000,000):
  * migration throughput: a high-cardinality job (group by event_id %
    1000003) on 2 executors of local[3]; executor 1 is decommissioned after
    its last map task (minispark.test.decommissionAfter) and migrates its
    map outputs to a peer over loopback, through the real path (PUT_OUTPUT,
    checked on arrival). Bytes and time are the driver's `migrated`
    decision: from the DECOMMISSION request to the last output registered.
  * release to gone: the time from the decision to decommission executor 1
    to its SparkListenerExecutorRemoved, with migration and without it
    (spark.storage.decommission.enabled=false: it stops at once and its
    outputs are computed again), and the job's wall time both ways.
Each figure is the median of N runs (5).

--scenario N runs the issue's acceptance scenario N times in each setting:
application A (the seed query on R rows, default 20,000,000, 1 MiB splits,
dynamic allocation min 0, initial 4, max 20) and application B (the same,
one second later) on one 4-core `minispark worker` without a shuffle
server, with decommissioning on and off; the same on two workers of 2
cores; and A alone in local[4] where its target falls (idle timeout 1 s)
while its two reduce tasks run (2.5 s each): the idle executors holding
map outputs are decommissioned, or kept without decommissioning. Every run must exit 0 with the result of a
plain local run. Prints the tally per setting.

Tasks sleep (minispark.test.*), hence MINISPARK_TESTING=1 in the
environment it sets. Every process it starts is stopped by PID."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from fairness import free_port, stop_all

Q1 = {"group_by": ["country", "device"],
      "aggregates": [{"fn": "count", "as": "n"},
                     {"fn": "sum", "column": "amount", "as": "total"}]}
Q2 = {"group_by": [{"column": "event_id", "mod": 1000003, "as": "k"}],
      "aggregates": [{"fn": "count", "as": "n"},
                     {"fn": "sum", "column": "amount", "as": "total"}]}


def events(log_dir):
    out = []
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name)) as f:
            out += [json.loads(line) for line in f if line.strip()]
    return out


def write_job(tmp, name, data, query, partitions, out):
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump({"app_name": name, "input": {"path": data},
                   "query": query, "shuffle_partitions": partitions,
                   "output": {"path": out, "format": "csv"}}, f)
    return path


def args_for(binary, job, master, conf):
    args = [binary, "run", job, "--master", master, "--no-ui", "--quiet"]
    for k, v in conf.items():
        args += ["--conf", "%s=%s" % (k, v)]
    return args


def run(args, timeout=900):
    t = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    return p.returncode, time.monotonic() - t, err.decode(errors="replace")


def map_tasks_of(evs, exec_id):
    return sum(1 for e in evs if e["Event"] == "SparkListenerTaskEnd"
               and e["Stage ID"] == 0 and e["Task Info"]["Executor ID"] ==
               str(exec_id))


# ---- throughput and release-to-gone ----------------------------------------

def one_decommission(binary, tmp, data, migrate, after):
    logs = tempfile.mkdtemp(dir=tmp, prefix="logs")
    out = os.path.join(tmp, "out.csv")
    job = write_job(tmp, "decom", data, Q2, 8, out)
    conf = {"spark.executor.instances": "2",
            "spark.files.maxPartitionBytes": "8m",
            "spark.decommission.enabled": "true",
            "spark.storage.decommission.enabled": str(migrate).lower(),
            "minispark.test.decommissionAfter": "1:%d" % after,
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": logs}
    rc, wall, err = run(args_for(binary, job, "local[3]", conf))
    if rc != 0:
        raise RuntimeError("run failed (%d): %s" % (rc, err[-2000:]))
    evs = events(logs)
    start = next((e["Timestamp"] for e in evs
                  if e["Event"] == "MinisparkAllocationDecision"
                  and e["Action"] == "decommission"
                  and e["Executor ID"] == "1"), None) if migrate else None
    gone = next((e["Timestamp"] for e in evs
                 if e["Event"] == "SparkListenerExecutorRemoved"
                 and e["Executor ID"] == "1"), None)
    moved = [e for e in evs if e["Event"] == "MinisparkAllocationDecision"
             and e["Action"] == "migrated"]
    # Without migration there is no decision: the hook's task end is the
    # moment it was chosen.
    ends = [e["Timestamp"] for e in evs
            if e["Event"] == "SparkListenerTaskEnd"
            and e["Task Info"]["Executor ID"] == "1"]
    if start is None and len(ends) >= after:
        start = ends[after - 1]
    return wall, (gone - start if start else None), moved, evs


def parse_migrated(reason):
    """(bytes, ms) from "N map outputs (X MB) migrated to ... in T ms"."""
    size = reason.split("(", 1)[1].split(")", 1)[0].split()
    mult = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}[size[1]]
    ms = float(reason.rsplit(" in ", 1)[1].split(" ms", 1)[0])
    return float(size[0]) * mult, ms


def throughput(binary, tmp, data, runs):
    # How many map tasks executor 1 runs: decommission it after its last.
    _, _, _, evs = one_decommission(binary, tmp, data, True, 10 ** 6)
    after = map_tasks_of(evs, 1)
    rows = {"with": [], "without": []}
    for i in range(runs):
        for migrate in (True, False):
            wall, gone_ms, moved, _ = one_decommission(binary, tmp, data,
                                                       migrate, after)
            b, ms = parse_migrated(moved[-1]["Reason"]) if moved else (0, 0)
            rows["with" if migrate else "without"].append(
                (wall, gone_ms, b, ms))
            print("run %d %-7s migration: wall %.2f s, release to gone %d "
                  "ms%s" % (i + 1, "with" if migrate else "without", wall,
                            gone_ms, ", %.1f MB in %d ms = %.0f MB/s"
                            % (b / 1e6, ms, b / 1e6 / (ms / 1e3))
                            if ms else ""), flush=True)
    med = statistics.median
    w, wo = rows["with"], rows["without"]
    print("median with migration: %.1f MB/s (%.1f MB in %d ms), release to "
          "gone %d ms, job %.2f s"
          % (med(r[2] / 1e6 / (r[3] / 1e3) for r in w),
             med(r[2] for r in w) / 1e6, med(r[3] for r in w),
             med(r[1] for r in w), med(r[0] for r in w)))
    print("median without migration: release to gone %d ms, job %.2f s "
          "(its maps run again)" % (med(r[1] for r in wo),
                                    med(r[0] for r in wo)))


# ---- the acceptance scenario -------------------------------------------------

class Workers:
    def __init__(self, binary, tmp, n, cores):
        self.procs, self.eps = [], []
        for i in range(n):
            port = free_port()
            d = tempfile.mkdtemp(dir=tmp, prefix="host%d_" % i)
            self.procs.append(subprocess.Popen(
                [binary, "worker", "--bind", "tcp://127.0.0.1:%d" % port,
                 "--cores", str(cores), "--dir", d],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.eps.append("127.0.0.1:%d" % port)
        time.sleep(0.5)

    def master(self):
        return "workers://" + ",".join(self.eps)

    def stop(self):
        stop_all(self.procs)


def scenario_conf(decommission, extra=None):
    conf = {"spark.files.maxPartitionBytes": "1m",
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.initialExecutors": "4",
            "spark.dynamicAllocation.maxExecutors": "20",
            "spark.decommission.enabled": str(decommission).lower()}
    conf.update(extra or {})
    return conf


def tally(log_dir, seen):
    """Adds what the application's log shows to seen: executors reclaimed
    from it, kept, decommissioned with outputs migrated (and how many),
    and stages submitted again."""
    for e in events(log_dir):
        action = e.get("Action")
        if action in ("reclaim", "keep", "migrated"):
            seen[action] = seen.get(action, 0) + 1
        if action == "migrated":
            seen["outputs moved"] = seen.get("outputs moved", 0) + int(
                e["Reason"].split(": ", 1)[1].split()[0])
        if e["Event"] == "SparkListenerStageSubmitted" and \
                e["Stage Info"]["Stage Attempt ID"] > 0:
            seen["stages resubmitted"] = seen.get("stages resubmitted", 0) + 1


def logged(conf, tmp):
    logs = tempfile.mkdtemp(dir=tmp, prefix="logs")
    conf.update({"spark.eventLog.enabled": "true", "spark.eventLog.dir": logs})
    return logs


def pair(binary, tmp, data, master, decommission, want, seen):
    """A, then B a second later; True when both exit 0 with want."""
    outs = [os.path.join(tmp, "%s.csv" % n) for n in "AB"]
    procs, logs = [], []
    for name, out in zip("AB", outs):
        job = write_job(tmp, name, data, Q1, 8, out)
        conf = scenario_conf(decommission)
        logs.append(logged(conf, tmp))
        procs.append(subprocess.Popen(
            args_for(binary, job, master, conf),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        time.sleep(1.0)
    ok = True
    for p, out in zip(procs, outs):
        _, err = p.communicate(timeout=1800)
        with open(out, "rb") as f:
            same = f.read() == want
        if p.returncode != 0 or not same:
            ok = False
            print("  failed: exit %d, result %s: %s" % (
                p.returncode, "exact" if same else "DIFFERS",
                err.decode(errors="replace")[-600:]), flush=True)
    for d in logs:
        tally(d, seen)
    return ok


def scenario(binary, tmp, data, n):
    out = os.path.join(tmp, "want.csv")
    job = write_job(tmp, "want", data, Q1, 8, out)
    rc, _, err = run(args_for(binary, job, "local[2]", {}))
    if rc != 0:
        raise RuntimeError(err)
    with open(out, "rb") as f:
        want = f.read()
    for decommission in (True, False):
        for hosts, cores in ((1, 4), (2, 2)):
            ok, seen = 0, {}
            for _ in range(n):
                w = Workers(binary, tmp, hosts, cores)
                try:
                    ok += pair(binary, tmp, data, w.master(), decommission,
                               want, seen)
                finally:
                    w.stop()
            print("decommissioning %s, %d worker%s of %d cores: %d of %d "
                  "runs exact; %s" % ("on" if decommission else "off", hosts,
                                      "s" if hosts > 1 else "", cores, ok, n,
                                      seen), flush=True)
        ok, seen = 0, {}
        for _ in range(n):
            out = os.path.join(tmp, "local.csv")
            # Two reduce tasks of 2.5 s: two of the four executors sit idle
            # while they run, holding map outputs.
            job = write_job(tmp, "local", data, Q1, 2, out)
            conf = scenario_conf(decommission, {
                "spark.dynamicAllocation.executorIdleTimeout": "1s",
                "minispark.test.reduceTaskDelay": "2500ms"})
            logs = logged(conf, tmp)
            rc, _, err = run(args_for(binary, job, "local[4]", conf))
            with open(out, "rb") as f:
                ok += rc == 0 and f.read() == want
            tally(logs, seen)
        print("decommissioning %s, local[4] with a falling target: %d of %d "
              "runs exact; %s" % ("on" if decommission else "off", ok, n,
                                  seen), flush=True)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    binary = os.path.abspath(args[0])
    opts = dict(zip(args[1::2], args[2::2]))
    os.environ["MINISPARK_TESTING"] = "1"
    n_scenario = int(opts.get("--scenario", "0"))
    rows = int(opts.get("--rows", "20000000" if n_scenario else "2000000"))
    data = os.path.abspath("bench/data/events_%d.csv" % rows)
    if not os.path.exists(data):
        os.makedirs(os.path.dirname(data), exist_ok=True)
        subprocess.run([binary, "gen", "--rows", str(rows), data], check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="minispark-decom-") as tmp:
        if n_scenario:
            scenario(binary, tmp, data, n_scenario)
        else:
            throughput(binary, tmp, data, int(opts.get("--runs", "5")))


if __name__ == "__main__":
    main()
