#!/usr/bin/env python3
"""Peak resident memory of each executor of one `minispark run`.

Usage: bench/rss.py MINISPARK JOB.json OUT.csv [--conf k=v ...]

Runs the job (local[2], no UI), samples VmHWM of every executor process
(the driver's children started as `minispark executor`) every 20 ms from
/proc, and prints each executor's peak in MB and the run's summary line.
The CSV output is kept so that runs can be compared byte for byte."""

import os
import subprocess
import sys
import time


def children(pid):
    kids = []
    for task in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
    return kids


def hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def is_executor(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"\0executor\0" in f.read()
    except OSError:
        return False


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binary, job, out = sys.argv[1:4]
    args = [binary, "run", job, "--master", "local[2]", "--no-ui",
            "--output", out] + sys.argv[4:]
    p = subprocess.Popen(args, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    peak = {}
    while p.poll() is None:
        for kid in children(p.pid):
            if kid in peak or is_executor(kid):
                kb = hwm_kb(kid)
                if kb is not None:
                    peak[kid] = max(peak.get(kid, 0), kb)
        time.sleep(0.02)
    stdout, stderr = p.communicate()
    if p.returncode != 0:
        sys.exit("exit %d: %s" % (p.returncode, stderr.decode()))
    for pid, kb in sorted(peak.items()):
        print("executor pid %d: peak RSS %.1f MB" % (pid, kb / 1024))
    lines = stdout.decode().strip().splitlines()
    print(lines[-1] if lines else "")


if __name__ == "__main__":
    main()
