"""`minispark bench scan`: the map side timed in-process, its output and its
usage errors."""

import os
import re
import subprocess

import mslib
from mslib import check, test


def _bench(env, *args):
    return subprocess.run([env.binary, "bench"] + list(args),
                          capture_output=True, text=True, timeout=120)


@test
def scan_reports_each_run_and_the_median(env):
    data = env.gen(20000, "events.csv")
    res = _bench(env, "scan", data, "--runs", "3")
    check(res.returncode == 0, "exit %d: %s" % (res.returncode, res.stderr))
    runs = re.findall(r"^run \d+: [0-9.]+ s, [0-9]+ MB/s, [0-9.]+ M rows/s$",
                      res.stdout, re.M)
    check(len(runs) == 3, "three runs expected:\n%s" % res.stdout)
    check(re.search(r"^median: [0-9]+ MB/s per core$", res.stdout, re.M),
          "no median line:\n%s" % res.stdout)


@test
def scan_takes_a_job_file(env):
    data = env.gen(5000, "events.csv")
    job = os.path.join(mslib.REPO, "examples", "agg_by_day.json")
    res = _bench(env, "scan", data, "--job", job, "--runs", "1")
    check(res.returncode == 0, "exit %d: %s" % (res.returncode, res.stderr))


@test
def shuffle_writes_serves_fetches_and_merges_every_key(env):
    for codec in (["--codec", "none"], ["--codec", "zlib", "--level", "1"],
                  ["--codec", "lz4"]):
        res = _bench(env, "shuffle", "--maps", "3", "--partitions", "4",
                     "--keys", "5000", *codec)
        check(res.returncode == 0, "exit %d: %s" % (res.returncode,
                                                    res.stderr))
        # Every map has the same 5000 keys: merged, 5000 groups remain.
        check(re.search(r"^raw shuffle bytes: [0-9.]+ MB, 5000 groups",
                        res.stdout, re.M), "groups:\n%s" % res.stdout)
        check(re.search(r"^end to end, write \+ fetch: [0-9]+ MB/s",
                        res.stdout, re.M), "no end to end line:\n%s"
              % res.stdout)
    check(_bench(env, "shuffle", "--codec", "zstd").returncode == 2,
          "unknown codec should exit 2")


@test
def usage_errors_exit_2_and_missing_input_exits_3(env):
    check(_bench(env).returncode == 2, "no subcommand should exit 2")
    check(_bench(env, "sort").returncode == 2, "unknown bench should exit 2")
    check(_bench(env, "scan", "x.csv", "--runs", "0").returncode == 2,
          "--runs 0 should exit 2")
    missing = os.path.join(env.new_dir("none"), "missing.csv")
    res = _bench(env, "scan", missing)
    check(res.returncode == 3 and missing in res.stderr,
          "missing input: exit %d, %s" % (res.returncode, res.stderr))


if __name__ == "__main__":
    mslib.main()
