#!/usr/bin/env python3
"""Two applications on one small cluster, with fair sharing on and off.

Usage: bench/fairness.py MINISPARK [--runs N]

Starts two `minispark worker` agents of 2 cores each, each with its
shuffle server, on loopback ports. Application A (a large backlog: ~110
map tasks) runs alone, then B (~14 map tasks) alone, then both: B starts
once A holds its 4 executors. That is done with the workers in
spark.scheduler.mode FAIR and in FIFO (first come, first served). Tasks
sleep 400 ms first (minispark.test.taskDelay, hence MINISPARK_TESTING=1):
the cluster pretends to have 4 cores on a 2-core machine, so the times
measure the scheduling, not CPU contention. Prints, per mode, the medians
of B's completion time (from its start), A's time, and A's slowdown
against A alone. Every process is stopped by its PID at the end."""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_all(procs):
    """SIGTERM to each (by PID), then SIGKILL to any still there after 10 s."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Cluster:
    def __init__(self, binary, tmp, mode):
        self.procs = []
        self.workers = []
        for i in range(2):
            sp, wp = free_port(), free_port()
            d = tempfile.mkdtemp(dir=tmp, prefix="%s_host%d_" % (mode, i))
            self._start([binary, "shuffle-server", "--bind",
                         "tcp://127.0.0.1:%d" % sp, "--dir", d + "/shuffle"])
            self._start([binary, "worker", "--bind", "tcp://127.0.0.1:%d" % wp,
                         "--cores", "2", "--dir", d + "/work", "--shuffle",
                         "tcp://127.0.0.1:%d" % sp, "--conf",
                         "spark.scheduler.mode=" + mode])
            self.workers.append("127.0.0.1:%d" % wp)
        time.sleep(0.5)

    def _start(self, args):
        self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL))

    def master(self):
        return "workers://" + ",".join(self.workers)

    def stop(self):
        stop_all(self.procs)


def app_args(binary, tmp, name, data, split, initial, most, backlog, master):
    job = {"app_name": name, "input": {"path": data},
           "query": {"group_by": ["country", "device"],
                     "aggregates": [{"fn": "count", "as": "n"}]},
           "shuffle_partitions": 4}
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(job, f)
    logs = tempfile.mkdtemp(dir=tmp, prefix=name)
    conf = {"spark.files.maxPartitionBytes": split,
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.minExecutors": "0",
            "spark.dynamicAllocation.initialExecutors": str(initial),
            "spark.dynamicAllocation.maxExecutors": str(most),
            "spark.dynamicAllocation.schedulerBacklogTimeout": backlog,
            "spark.dynamicAllocation.executorIdleTimeout": "30s",
            "spark.shuffle.service.enabled": "true",
            "minispark.test.taskDelay": "400ms",
            "spark.eventLog.enabled": "true", "spark.eventLog.dir": logs}
    args = [binary, "run", path, "--master", master, "--no-ui", "--quiet"]
    for k, v in conf.items():
        args += ["--conf", "%s=%s" % (k, v)]
    return args, logs


def executors(logs):
    names = [n for n in os.listdir(logs) if n.endswith(".jsonl")]
    n = 0
    if names:
        with open(os.path.join(logs, names[0])) as f:
            for line in f:
                if '"SparkListenerExecutorAdded"' in line:
                    n += 1
                elif '"SparkListenerExecutorRemoved"' in line:
                    n -= 1
    return n


def timed(args):
    t = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def one_round(binary, tmp, mode, data):
    c, pa = Cluster(binary, tmp, mode), None
    try:
        a, _ = app_args(binary, tmp, "A", data, "16k", 1, 4, "200ms",
                        c.master())
        b, _ = app_args(binary, tmp, "B", data, "128k", 1, 2, "1s",
                        c.master())
        a_alone, b_alone = timed(a), timed(b)
        a, logs_a = app_args(binary, tmp, "A", data, "16k", 1, 4, "200ms",
                             c.master())
        t0 = time.monotonic()
        pa = subprocess.Popen(a, stdout=subprocess.DEVNULL)
        ended = {}
        # A may end before B (fair sharing) or after it: timed on its own.
        waiter = threading.Thread(
            target=lambda: ended.update(rc=pa.wait(), t=time.monotonic()))
        waiter.start()
        while executors(logs_a) < 4 and pa.poll() is None:
            time.sleep(0.02)
        b_time = timed(b)
        waiter.join()
        if ended["rc"] != 0:
            raise RuntimeError("A failed")
        return a_alone, b_alone, ended["t"] - t0, b_time
    finally:
        if pa and pa.poll() is None:  # B failed while A ran
            pa.kill()
            pa.wait()
        c.stop()


def main():
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    os.environ["MINISPARK_TESTING"] = "1"
    with tempfile.TemporaryDirectory(prefix="ms-fair-") as tmp:
        data = os.path.join(tmp, "events.csv")
        subprocess.run([binary, "gen", "--rows", "40000", data], check=True,
                       stdout=subprocess.DEVNULL)
        for mode in ("FAIR", "FIFO"):
            rows = [one_round(binary, tmp, mode, data) for _ in range(runs)]
            a_alone, b_alone, a_both, b_both = (
                statistics.median(r[i] for r in rows) for i in range(4))
            print("%s: B alone %.1f s, B with A %.1f s; A alone %.1f s, "
                  "A with B %.1f s (slowdown %.2f); medians of %d"
                  % (mode, b_alone, b_both, a_alone, a_both,
                     a_both / a_alone, runs), flush=True)


if __name__ == "__main__":
    main()
