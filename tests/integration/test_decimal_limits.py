"""Decimal and integer limits of sum and avg, against exact Python decimal
arithmetic: running totals that leave 64 bits (on the map side, in spilled
runs, across the shuffle), results that need up to 38 digits, a result
that does not fit its type (it fails at once: retrying cannot help), and
columns too wide for a decimal (a warning at planning)."""

import json
import os
from decimal import ROUND_HALF_UP, Decimal

import mslib
from mslib import check, test

# The largest decimal(18, 2) value and the int64 extremes.
MOST_DEC = Decimal("9999999999999999.99")
I64_MAX = 2 ** 63 - 1
I64_MIN = -2 ** 63

# Several map tasks (1 KB splits) and reduce partitions.
SPLIT_CONF = {"spark.files.maxPartitionBytes": "1k"}


def job_for(path, query, partitions=3):
    return {"input": {"path": path}, "query": query,
            "shuffle_partitions": partitions}


def avg_text(values, scale):
    """avg of a decimal(.., s) column: scale min(s + 4, 9), HALF_UP."""
    q = Decimal(1).scaleb(-min(scale + 4, 9))
    return str((sum(values) / Decimal(len(values))).quantize(
        q, rounding=ROUND_HALF_UP))


def run_ok(env, job, conf=None, **kw):
    res = env.run_job(job, conf=conf, **kw)
    res.expect_rc(0)
    return mslib.read_csv_rows(res.output_bytes())


def expect_rows(got, want, res_desc=""):
    check(got == want, "output differs:\nexpected %s\ngot      %s%s"
          % (want, got, res_desc))


@test
def avg_of_a_14_digit_decimal_is_exact(env):
    """The review's case: avg of one 10000000000000.00 needs 20 digits at
    its scale of 6; it used to fail with exit 4."""
    path = env.write("one.csv", "k,a\nx,10000000000000.00\n")
    rows = run_ok(env, job_for(path, {
        "group_by": [],
        "aggregates": [{"fn": "avg", "column": "a"},
                       {"fn": "sum", "column": "a"}]}))
    expect_rows(rows, [[b"avg(a)", b"sum(a)"],
                       [b"10000000000000.000000", b"10000000000000.00"]])


@test
def decimal_sums_past_64_bits_are_exact_over_splits_and_partitions(env):
    """Groups of many 18-digit values, whose sums need more than 64 bits:
    on the map side (one split) or only once merged (1 KB splits). Sums,
    avgs and the order by sum are those of exact arithmetic."""
    lines, by_key = ["k,a"], {}
    for i in range(600):
        key = "g%d" % (i % 7)
        v = MOST_DEC if i % 5 else -MOST_DEC + Decimal(i) / 100
        if key == "g3":
            v = Decimal(i) / 100  # a small group, sorted among the big ones
        lines.append("%s,%s" % (key, v))
        by_key.setdefault(key, []).append(v)
    path = env.write("big.csv", "\n".join(lines) + "\n")
    job = job_for(path, {
        "group_by": ["k"],
        "aggregates": [{"fn": "sum", "column": "a", "as": "s"},
                       {"fn": "avg", "column": "a", "as": "m"},
                       {"fn": "count", "as": "n"}],
        "order_by": [{"column": "s", "desc": True}]})
    want = sorted(([k, sum(v), avg_text(v, 2), len(v)]
                   for k, v in by_key.items()),
                  key=lambda r: (-r[1], r[0]))
    check(max(r[1] for r in want) > Decimal(2 ** 63) / 100,
          "the test needs sums past 64 bits")
    want = [[b"k", b"s", b"m", b"n"]] + [
        [k.encode(), str(s).encode(), m.encode(), str(n).encode()]
        for k, s, m, n in want]
    for conf in ({}, SPLIT_CONF):
        expect_rows(run_ok(env, job, conf=conf), want)


@test
def wide_sums_survive_spilling(env):
    """Enough groups for a 1m executor to spill on both sides: the 128-bit
    states go through the spilled runs and the merge unchanged."""
    groups, per = 12000, 11  # ten rows of about 10^16 pass 2^63 / 100
    lines, total = ["k,a"], {}
    for r in range(per):
        for g in range(groups):
            v = MOST_DEC - Decimal(g) if r else -Decimal(g) / 100
            lines.append("k%05d,%s" % (g, v))
            total[g] = total.get(g, 0) + v
    path = env.write("many.csv", "\n".join(lines) + "\n")
    log_dir = env.new_dir("events")
    job = job_for(path, {
        "group_by": ["k"],
        "aggregates": [{"fn": "sum", "column": "a", "as": "s"}]}, 4)
    rows = run_ok(env, job, conf={"spark.executor.memory": "1m",
                                  "spark.eventLog.enabled": "true",
                                  "spark.eventLog.dir": log_dir})
    want = [[b"k", b"s"]] + [[b"k%05d" % g, str(total[g]).encode()]
                             for g in range(groups)]
    check(min(total.values()) > Decimal(2 ** 63) / 100,
          "the test needs every sum past 64 bits")
    expect_rows(rows[:3] + rows[-2:], want[:3] + want[-2:])
    expect_rows(rows, want)
    spilled = sum(e["Task Metrics"]["Disk Bytes Spilled"]
                  for e in mslib.read_event_log(log_dir)
                  if e["Event"] == "SparkListenerTaskEnd")
    check(spilled > 0, "nothing was spilled: the test needs a spill")


@test
def int64_sum_that_overflows_on_the_way_is_exact(env):
    """Running totals past 2^63 on every map task; the final sum fits."""
    vals = [I64_MAX, I64_MAX, 5, I64_MIN, I64_MIN, 3] * 40
    lines = ["k,i"] + ["x,%d" % v for v in vals]
    path = env.write("ints.csv", "\n".join(lines) + "\n")
    job = job_for(path, {
        "group_by": ["k"],
        "aggregates": [{"fn": "sum", "column": "i"},
                       {"fn": "avg", "column": "i"}]})
    rows = run_ok(env, job, conf=SPLIT_CONF)
    total = sum(vals)
    expect_rows(rows, [[b"k", b"sum(i)", b"avg(i)"],
                       [b"x", str(total).encode(),
                        repr(total / len(vals)).encode()]])


@test
def a_sum_that_does_not_fit_fails_at_once(env):
    """sum(int64) is an int64: a total past 2^63 - 1 fails the job with
    exit 4 naming the aggregate and the value, after one attempt of the
    task (spark.task.maxFailures does not apply: retrying cannot help)."""
    vals = [I64_MAX, 1, 2]
    path = env.write("over.csv", "k,i\n" + "".join(
        "x,%d\n" % v for v in vals))
    log_dir = env.new_dir("events")
    res = env.run_job(job_for(path, {
        "group_by": ["k"], "aggregates": [{"fn": "sum", "column": "i"}]}),
        conf={"spark.task.maxFailures": "4",
              "spark.eventLog.enabled": "true",
              "spark.eventLog.dir": log_dir})
    res.expect_rc(4)
    want = "sum(i) = %d does not fit its result type int64" % sum(vals)
    check(want in res.err, "stderr does not say %r\n%s"
          % (want, res.describe()))
    ends = [e for e in mslib.read_event_log(log_dir)
            if e["Event"] == "SparkListenerTaskEnd"
            and e["Task End Reason"]["Reason"] != "Success"]
    check(len(ends) == 1, "%d failed task ends, expected one:\n%s"
          % (len(ends), json.dumps(ends, indent=1)[:3000]))
    check(ends[0]["Task Type"] == "ResultTask", "failed %s"
          % ends[0]["Task Type"])
    check(res.output is None or not os.path.exists(res.output),
          "an output file was written")


@test
def avg_scale_is_four_more_than_the_columns_up_to_nine(env):
    """avg of decimal(.., 7) has scale 9: four more, at most 9 (Spark
    would give 11; the cap keeps results as they were)."""
    vals = [Decimal("0.1234567"), Decimal("-2.0000001"), Decimal("5")]
    path = env.write("s7.csv", "a\n" + "".join("%s\n" % v for v in vals))
    rows = run_ok(env, job_for(path, {
        "group_by": [], "aggregates": [{"fn": "avg", "column": "a"},
                                       {"fn": "sum", "column": "a"}]}))
    expect_rows(rows, [[b"avg(a)", b"sum(a)"],
                       [avg_text(vals, 7).encode(),
                        str(sum(vals).quantize(Decimal("1e-7"))).encode()]])


@test
def too_wide_decimals_are_flagged_at_planning(env):
    """30-digit decimals cannot be decimal(18): the column is read as
    double, and the driver says that its sums are inexact, naming the
    column, unless --quiet."""
    path = env.write("wide.csv", "k,w,n\nx,123456789012345678901234567890,1\n"
                     "x,0.5,2\n")
    job = job_for(path, {"group_by": ["k"], "aggregates": [
        {"fn": "sum", "column": "w"}, {"fn": "sum", "column": "n"}]})
    res = env.run_job(job, quiet=False, extra=["--no-ui"])
    res.expect_rc(0)
    check("column w holds decimals of more than 18 digits" in res.err
          and "sum(w) is inexact" in res.err,
          "no warning about column w\n%s" % res.describe())
    check("column n" not in res.err, "column n flagged\n%s" % res.describe())
    quiet = env.run_job(job, quiet=True)
    quiet.expect_rc(0)
    check("inexact" not in quiet.err, "--quiet still warns\n%s"
          % quiet.describe())


if __name__ == "__main__":
    mslib.main()
