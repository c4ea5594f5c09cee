"""spark.network.timeout at its edges: a timeout that would expire at once
(0, or 1us which rounds to 0 ms) or within one heartbeat interval is bad
usage (exit 2 naming the key and the reason) instead of a driver that kills
and replaces its executors for ever; one too long for a 32-bit count of
milliseconds is infinity, so reduce tasks wait for their blocks instead of
failing every fetch at once, and the result is the default run's. Every run
also passes both leak checks. Only 127.0.0.1 is used."""

import mslib
from mslib import check, test

QUERY = {"group_by": ["country", "device"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}
# A few map tasks, so that the reduce tasks have blocks to fetch.
SPLITS = {"spark.files.maxPartitionBytes": "64k"}
# A bad value must be refused before anything runs; a driver that accepted
# one would loop until killed.
RUN_TIMEOUT_S = 90

_files = {}


def job_for(env):
    if "events" not in _files:
        _files["events"] = env.gen(8000, "nt_events.csv")
    return {"input": {"path": _files["events"]}, "query": QUERY,
            "shuffle_partitions": 4}


def refused(env, conf, *words):
    res = env.run_job(job_for(env), conf=conf, timeout=RUN_TIMEOUT_S)
    res.expect_rc(2)
    for w in words:
        check(w in res.err, "stderr does not say %r\n%s" % (w, res.describe()))


@test
def zero_and_sub_millisecond_timeouts_are_refused(env):
    for value in ("0", "0s", "1us", "999us"):
        refused(env, {"spark.network.timeout": value},
                "spark.network.timeout", "'%s'" % value, "at least 1ms")


@test
def a_timeout_within_one_heartbeat_is_refused(env):
    refused(env, {"spark.network.timeout": "1s"},
            "spark.network.timeout (1000 ms) must be greater than "
            "spark.executor.heartbeatInterval (1000 ms)")
    refused(env, {"spark.network.timeout": "200ms",
                  "spark.executor.heartbeatInterval": "500ms"},
            "spark.network.timeout (200 ms)",
            "spark.executor.heartbeatInterval (500 ms)")


@test
def a_heartbeat_beyond_a_32_bit_count_of_ms_is_refused(env):
    refused(env, {"spark.executor.heartbeatInterval": "1000h",
                  "spark.network.timeout": "infinity"},
            "spark.executor.heartbeatInterval", "2^31 ms")


@test
def huge_timeouts_are_infinity_and_give_the_default_result(env):
    job = job_for(env)
    default = env.run_job(job, conf=SPLITS, timeout=RUN_TIMEOUT_S)
    mslib.expect_reference(default, job)
    want = default.output_bytes()
    for value in ("2147483648ms", "600h", "100000h", "infinity"):
        conf = dict(SPLITS, **{"spark.network.timeout": value})
        res = env.run_job(job, conf=conf, timeout=RUN_TIMEOUT_S)
        res.expect_rc(0)
        got = res.output_bytes()
        check(got == want, "spark.network.timeout=%s: output differs from "
              "the default run's\n%s\n%s"
              % (value, mslib.csv_diff(want, got), res.describe()))


@test
def a_small_valid_timeout_still_runs(env):
    job = job_for(env)
    res = env.run_job(job, conf=dict(SPLITS, **{
        "spark.network.timeout": "2s",
        "spark.executor.heartbeatInterval": "500ms"}), timeout=RUN_TIMEOUT_S)
    mslib.expect_reference(res, job)


if __name__ == "__main__":
    mslib.main()
