"""Query results: the engine's --output CSV must equal, byte for byte, the
reference implementation's (reference.py), across aggregates, filters,
ordering, derived keys, partitioning, split sizes, shuffle modes, codecs,
CSV modes and CSV dialects. Every run also passes both leak checks."""

import json
import os
import random

import mslib
import reference as ref
from mslib import check, test

SPLITS = ("64k", "256k", "1g")
PARTITIONS = (1, 2, 7, 64)

_files = {}


# ---------------------------------------------------------------- data files

def _fmt_cents(rng, c):
    """A decimal(2) value in one of several textual forms."""
    sign = "-" if c < 0 else ("+" if rng.random() < 0.05 else "")
    a = abs(c)
    if a % 100 == 0 and rng.random() < 0.5:
        return "%s%d" % (sign, a // 100)
    if a % 10 == 0 and rng.random() < 0.5:
        ip = a // 100
        return "%s%s.%d" % (sign, ip if ip or rng.random() < 0.5 else "",
                            a % 100 // 10)
    return "%s%d.%02d" % (sign, a // 100, a % 100)


def _fmt_quarter(rng, k):
    """k/4 as a double literal; exact in binary, so sums are exact in any
    order and partitioning cannot change them."""
    r = rng.random()
    if r < 0.4:
        return "%re0" % (k / 4)
    if r < 0.7:
        return "%dE-2" % (k * 25)
    if r < 0.85:
        return repr(k / 4)
    return "%d" % (k // 4)


def _timestamp(rng):
    secs = rng.randrange(365 * 86400)
    base = 1735689600  # 2025-01-01 00:00:00
    t = ref.fmt_timestamp(base + secs)
    return t[:10] if rng.random() < 0.1 else t


NAMES = ["alpha", "Alpha", "beta", "zebra", "Zo\u00eb", "\u00e9mile", "b",
         "ba", "with space", "x", "a"]
CODES = ["5", "007", "05", "x5", "10", "5.0", "-5"]


def typed_csv(env):
    """id,grp,qty,price,score,ts,name,code with NULLs everywhere."""
    if "typed" in _files:
        return _files["typed"]
    rng = random.Random(1)
    lines = ["id,grp,qty,price,score,ts,name,code"]
    for i in range(1, 1501):
        grp = rng.choice(["alpha", "beta", "gamma", "delta", "", "nulls"])
        qty = "" if rng.random() < 0.1 else str(rng.randint(-60, 99))
        price = ("" if grp == "nulls" or rng.random() < 0.1
                 else _fmt_cents(rng, rng.randint(-5000, 250000)))
        score = ("" if rng.random() < 0.1
                 else _fmt_quarter(rng, rng.randint(-4000, 4000)))
        ts = "" if rng.random() < 0.1 else _timestamp(rng)
        name = "" if rng.random() < 0.1 else rng.choice(NAMES)
        code = "" if rng.random() < 0.1 else rng.choice(CODES)
        lines.append(",".join([str(i), grp, qty, price, score, ts, name,
                               code]))
    path = env.write("typed.csv", ("\n".join(lines) + "\n").encode())
    names, records = ref.load_csv(path)
    types = ref.infer_types(names, records, 20000)
    want = [ref.INT, ref.STR, ref.INT, ref.DEC(2), ref.DBL, ref.TS, ref.STR,
            ref.STR]
    check(types == want, "typed.csv inferred as %s" % types)
    _files["typed"] = path
    return path


def events_csv(env):
    """60000 generated events (a few MB) written by `minispark gen`."""
    if "events" not in _files:
        _files["events"] = env.gen(60000, "events.csv")
    return _files["events"]


def write_file(env, name, data):
    return env.write(name, data if isinstance(data, bytes) else data.encode())


# ------------------------------------------------------------------- helpers

def job_for(path, query, **inp):
    return {"input": dict({"path": path}, **inp), "query": query}


def compare(env, job, conf=None, **kw):
    """Runs job and checks the output file against the reference."""
    want = ref.expected_csv(job, conf)
    res = env.run_job(job, conf=conf, **kw)
    res.expect_rc(0)
    got = res.output_bytes()
    check(got == want, "output differs from the reference\n%s\n%s"
          % (mslib.csv_diff(want, got), res.describe()))
    return got


def group_query(keys, aggs, **kw):
    return dict({"group_by": keys, "aggregates": aggs}, **kw)


def _all_aggs():
    aggs = [{"fn": "count"}]
    for c in ("qty", "price", "score", "ts", "name"):
        aggs.append({"fn": "count", "column": c})
    for c in ("qty", "price", "score"):
        aggs += [{"fn": "sum", "column": c}, {"fn": "avg", "column": c}]
    for c in ("qty", "price", "score", "ts", "name"):
        aggs += [{"fn": "min", "column": c}, {"fn": "max", "column": c}]
    for c in ("name", "qty", "code"):
        aggs.append({"fn": "count_distinct", "column": c})
    return aggs


SMALL_AGGS = [{"fn": "count", "as": "n"},
              {"fn": "sum", "column": "price", "as": "total"},
              {"fn": "max", "column": "qty"}]


# ---------------------------------------------------------------- aggregates

@test
def every_aggregate_grouped(env):
    compare(env, job_for(typed_csv(env), group_query(["grp"], _all_aggs())))


@test
def every_aggregate_global(env):
    compare(env, job_for(typed_csv(env), group_query([], _all_aggs())))


@test
def global_aggregate_over_zero_rows(env):
    q = group_query([], _all_aggs(),
                    filter=[{"column": "qty", "op": ">", "value": 10 ** 9}])
    got = compare(env, job_for(typed_csv(env), q))
    check(got.count(b"\n") == 2, "expected exactly one result row")


@test
def grouped_aggregate_over_zero_rows(env):
    q = group_query(["grp"], SMALL_AGGS,
                    filter=[{"column": "grp", "op": "=", "value": "nope"}])
    got = compare(env, job_for(typed_csv(env), q))
    check(got.count(b"\n") == 1, "expected the header only")


@test
def decimal_avg_rounds_half_up(env):
    # 0.01 / 32 = 0.0003125 -> 0.000313 (half up, away from zero).
    lines = ["g,p"]
    lines += ["tie,0.00"] * 31 + ["tie,0.01"]
    lines += ["ntie,0.00"] * 31 + ["ntie,-0.01"]
    lines += ["third,0.01", "third,0.01", "third,0.00"]
    lines += ["neg,-0.02", "neg,-0.03", "big,99999999.99", "big,0.01"]
    lines += ["nul,", "nul,"]
    path = write_file(env, "decavg.csv", "\n".join(lines) + "\n")
    aggs = [{"fn": "avg", "column": "p"}, {"fn": "sum", "column": "p"},
            {"fn": "min", "column": "p"}]
    got = compare(env, job_for(path, group_query(["g"], aggs)))
    check(b"tie,0.000313," in got and b"ntie,-0.000313," in got,
          "half-up rounding: %r" % got)


@test
def doubles_special_values(env):
    path = write_file(env, "special.csv", "\n".join([
        "k,v", "a,1.5", "a,Infinity", "b,2e0", "b,NaN", "c,-Infinity",
        "c,3.25", "d,", "e,1e16", "e,1e16", "f,1.5e-7", "g,+Infinity",
        "g,-0.5"]) + "\n")
    aggs = [{"fn": "sum", "column": "v"}, {"fn": "avg", "column": "v"},
            {"fn": "count", "column": "v"}]
    compare(env, job_for(path, group_query(["k"], aggs)))
    q = group_query(["k"], [{"fn": "min", "column": "v"},
                            {"fn": "max", "column": "v"}],
                    filter=[{"column": "k", "op": "!=", "value": "b"}])
    compare(env, job_for(path, q))


@test
def infer_schema_false_makes_strings(env):
    aggs = [{"fn": "min", "column": "qty"}, {"fn": "max", "column": "price"},
            {"fn": "count_distinct", "column": "score"}, {"fn": "count"}]
    compare(env, job_for(typed_csv(env), group_query(["grp"], aggs),
                         infer_schema=False))


# ------------------------------------------------------------------- filters

FILTERS = [
    ("qty", "=", 5), ("qty", "!=", 5), ("qty", "<", 0), ("qty", "<=", -3),
    ("qty", ">", 50), ("qty", ">=", 50),
    ("price", ">=", 10.5), ("price", "<", -0.5), ("price", "=", 12),
    ("score", ">", 100.5), ("score", "<=", -250.0), ("score", "!=", 0),
    ("ts", ">=", "2025-06-01 00:00:00"), ("ts", "<", "2025-02-01"),
    ("ts", "=", "2025-03-03"),
    ("name", "=", "alpha"), ("name", ">", "m"), ("name", "<=", "Zo\u00eb"),
    ("code", "=", 5), ("code", "!=", 5), ("code", "=", "007"),
]


@test
def filter_comparisons(env):
    path = typed_csv(env)
    for col, op, value in FILTERS:
        q = group_query(["grp"], SMALL_AGGS + [{"fn": "count", "column": col}],
                        filter=[{"column": col, "op": op, "value": value}])
        compare(env, job_for(path, q))


@test
def filter_in_and_null_tests(env):
    path = typed_csv(env)
    cases = [
        [{"column": "grp", "op": "in", "values": ["alpha", "gamma", "zz"]}],
        [{"column": "qty", "op": "in", "values": [1, 2, 3, -1]}],
        [{"column": "price", "op": "in", "values": [12, 0.5, -0.05]}],
        [{"column": "code", "op": "in", "values": ["5", "x5"]}],
        [{"column": "grp", "op": "is_null"}],
        [{"column": "qty", "op": "not_null"}],
        [{"column": "price", "op": "is_null"}],
        [{"column": "qty", "op": ">", "value": 0},
         {"column": "price", "op": "<", "value": 100},
         {"column": "name", "op": "not_null"}],
    ]
    for filters in cases:
        q = group_query(["grp"], SMALL_AGGS, filter=filters)
        compare(env, job_for(path, q))


# ------------------------------------------------------------------ ordering

@test
def order_by_and_limit(env):
    path = typed_csv(env)
    queries = [
        group_query(["grp"], SMALL_AGGS,
                    order_by=[{"column": "total", "desc": True}], limit=3),
        group_query(["grp"], SMALL_AGGS,
                    order_by=[{"column": "total"}]),
        group_query(["grp"], SMALL_AGGS,
                    order_by=[{"column": "grp", "desc": True}], limit=10),
        group_query(["name", "grp"], SMALL_AGGS,
                    order_by=[{"column": "n", "desc": True},
                              {"column": "name"}], limit=12),
        group_query(["name"], [{"fn": "count"}], limit=4),
    ]
    for q in queries:
        compare(env, job_for(path, q))
    ev = events_csv(env)
    q = group_query(["country", "device"],
                    [{"fn": "count", "as": "events"},
                     {"fn": "sum", "column": "amount", "as": "total_amount"}],
                    order_by=[{"column": "total_amount", "desc": True}],
                    limit=7)
    compare(env, dict(job_for(ev, q), shuffle_partitions=5))


# -------------------------------------------------------------- derived keys

@test
def derived_keys(env):
    ev = events_csv(env)
    aggs = [{"fn": "count", "as": "n"},
            {"fn": "sum", "column": "amount", "as": "total_amount"}]
    keys = [
        [{"column": "event_time", "trunc": "hour", "as": "hour"}],
        [{"column": "event_time", "trunc": "day"}],
        [{"column": "event_time", "trunc": "month", "as": "month"}, "device"],
        [{"column": "event_id", "mod": 7}],
        [{"column": "event_id", "mod": 1000003, "as": "k"}],
    ]
    for k in keys:
        compare(env, dict(job_for(ev, group_query(k, aggs)),
                          shuffle_partitions=4))
    path = typed_csv(env)
    keys = [[{"column": "qty", "mod": 7, "as": "m"}],
            [{"column": "ts", "trunc": "month", "as": "mon"}, "grp"]]
    for k in keys:
        compare(env, job_for(path, group_query(k, SMALL_AGGS)))


# ------------------------------------------------- partitioning and splits

EVENT_AGGS = [
    {"fn": "count", "as": "events"},
    {"fn": "sum", "column": "amount", "as": "total_amount"},
    {"fn": "avg", "column": "amount"},
    {"fn": "min", "column": "amount"}, {"fn": "max", "column": "amount"},
    {"fn": "count_distinct", "column": "device"},
    {"fn": "min", "column": "event_time"},
    {"fn": "max", "column": "event_time"},
    {"fn": "count_distinct", "column": "event_id"},
]


def _total_column(data):
    rows = mslib.read_csv_rows(data)
    col = rows[0].index(b"total_amount")
    return [r[col] for r in rows[1:]]


@test
def partitions_and_split_sizes(env):
    ev = events_csv(env)
    check(os.path.getsize(ev) > 2 * 1024 * 1024, "events file too small")
    totals = {}
    for split in SPLITS:
        for parts in PARTITIONS:
            job = dict(job_for(ev, group_query(["country"], EVENT_AGGS)),
                       shuffle_partitions=parts)
            got = compare(env, job,
                          conf={"spark.files.maxPartitionBytes": split})
            totals[(split, parts)] = _total_column(got)
    first = next(iter(totals.values()))
    for k, v in totals.items():
        check(v == first, "total_amount differs for split %s, %d partitions"
              % k)


def _spilled_by_stage(log_dir):
    """Disk Bytes Spilled summed per task type from the one event log."""
    names = [n for n in os.listdir(log_dir) if n.endswith(".jsonl")]
    check(len(names) == 1, "expected one event log, found %s" % names)
    spilled = {"ShuffleMapTask": 0, "ResultTask": 0}
    with open(os.path.join(log_dir, names[0])) as f:
        for line in f:
            e = json.loads(line)
            if e["Event"] == "SparkListenerTaskEnd":
                spilled[e["Task Type"]] += \
                    e["Task Metrics"]["Disk Bytes Spilled"]
    return spilled


@test
def splits_fill_whole_waves(env):
    """Spark's rule gives 3 splits of 1m for this ~2.7 MB file; on 2 slots
    that is a second wave with one slot idle, so the file is cut into 4
    even splits instead. The result does not change."""
    ev = events_csv(env)
    size = os.path.getsize(ev)
    check(2 << 20 < size <= 3 << 20, "events file of %d bytes" % size)
    log_dir = env.new_dir("events")
    compare(env, job_for(ev, group_query(["country"], EVENT_AGGS)),
            conf={"spark.files.maxPartitionBytes": "1m",
                  "spark.eventLog.enabled": "true",
                  "spark.eventLog.dir": log_dir})
    names = [n for n in os.listdir(log_dir) if n.endswith(".jsonl")]
    with open(os.path.join(log_dir, names[0])) as f:
        reads = [e["Task Metrics"]["Input Metrics"]["Bytes Read"]
                 for e in map(json.loads, f)
                 if e["Event"] == "SparkListenerTaskEnd"
                 and e["Task Type"] == "ShuffleMapTask"]
    check(len(reads) == 4, "%d map tasks, expected 4" % len(reads))
    check(max(reads) - min(reads) < 64 << 10,
          "uneven splits: %s bytes read" % reads)


@test
def spilling_gives_the_same_result(env):
    """A 1m executor (0.6 MB of aggregation state per task) spills on both
    sides of the shuffle, and the output is still the reference's, as it
    is with the default memory, which does not spill."""
    ev = events_csv(env)
    keys = [{"column": "event_id", "mod": 1000003, "as": "k"}, "country"]
    job = dict(job_for(ev, group_query(keys, EVENT_AGGS)),
               shuffle_partitions=3)
    for memory, spills in (("1m", True), (None, False)):
        log_dir = env.new_dir("events")
        conf = {"spark.eventLog.enabled": "true",
                "spark.eventLog.dir": log_dir}
        if memory:
            conf["spark.executor.memory"] = memory
        compare(env, job, conf=conf)
        spilled = _spilled_by_stage(log_dir)
        for kind, n in spilled.items():
            check((n > 0) == spills, "%s spilled %d bytes with memory %s"
                  % (kind, n, memory))
    path = typed_csv(env)
    compare(env, job_for(path, group_query(["id", "grp"], _all_aggs())),
            conf={"spark.executor.memory": "1m"})


@test
def global_decimal_sum_identical_across_splits(env):
    ev = events_csv(env)
    q = group_query([], [{"fn": "sum", "column": "amount",
                          "as": "total_amount"},
                         {"fn": "count", "as": "events"}])
    outs = set()
    for split in SPLITS:
        for parts in (1, 7):
            job = dict(job_for(ev, q), shuffle_partitions=parts)
            outs.add(compare(env, job,
                             conf={"spark.files.maxPartitionBytes": split}))
    check(len(outs) == 1, "global total_amount differs: %s" % outs)


@test
def sql_shuffle_partitions_conf(env):
    # No shuffle_partitions in the job: spark.sql.shuffle.partitions applies.
    ev = events_csv(env)
    compare(env, job_for(ev, group_query(["device"], EVENT_AGGS)),
            conf={"spark.sql.shuffle.partitions": "3",
                  "spark.files.maxPartitionBytes": "256k"})


# ------------------------------------------------- shuffle modes and codecs

@test
def shuffle_service_and_codecs(env):
    ev = events_csv(env)
    job = dict(job_for(ev, group_query(["country", "device"], EVENT_AGGS)),
               shuffle_partitions=7)
    server = env.start_shuffle_server()
    try:
        for codec in ("zlib", "lz4", "none"):
            conf = dict(server.conf(), **{
                "spark.io.compression.codec": codec,
                "spark.files.maxPartitionBytes": "256k"})
            compare(env, job, conf=conf, leak_dirs=[server.dir])
        check(server.proc.poll() is None, "shuffle server died during runs")
    finally:
        server.stop()
    for codec in ("zlib", "lz4", "none"):
        compare(env, job, conf={"spark.shuffle.service.enabled": "false",
                                "spark.io.compression.codec": codec,
                                "spark.files.maxPartitionBytes": "64k"})


@test
def shuffle_service_started_by_driver(env):
    # Nobody answers on the port: the driver starts its own server and stops
    # it (the orphan check after the run would see it otherwise).
    ev = events_csv(env)
    port = mslib.free_port()
    job = dict(job_for(ev, group_query(["device"], EVENT_AGGS)),
               shuffle_partitions=3)
    compare(env, job, conf={"spark.shuffle.service.enabled": "true",
                            "spark.shuffle.service.port": str(port),
                            "spark.files.maxPartitionBytes": "256k"})
    check(not mslib.port_answers(port), "something still listens on %d"
          % port)


# ----------------------------------------------------------------- CSV modes

def malformed_csv(env):
    good = ["%d,%s,%d,%d.%02d,n%d" % (i, ["alpha", "beta", "gamma"][i % 3],
                                     i % 11 - 3, i, i % 100, i)
            for i in range(1, 41)]
    bad = [
        '41,alpha,"7,3.50,x',             # unterminated quote
        '42,beta,"7"x,3.50,x',            # text after the closing quote
        "43,beta,5",                      # too few fields
        "44,gamma,5,1.25,x,extra",        # too many fields
        "45,alpha,abc,2.00,x",            # qty not an int
        "46,alpha,5,1.234,x",             # more fraction digits than scale
        "47,beta,5,2.50,",                # fine: note is NULL
        "48,beta,12345678901234567890,1.00,x",  # int64 overflow
        "49,gamma,3,1.5e0,x",             # exponent in a decimal column
        "",                               # blank line: not a record
        "zz,delta,1,1.00,x",              # bad id, but id is not referenced
        '51,alpha,"multi',                # a newline inside quotes ...
        'line",1.00,x',                   # ... makes two bad records
        "52,delta,2,3.00,x",
        '53,"gamma",4,"7.25","q""uoted"',
    ]
    text = "id,grp,qty,price,note\n" + "\n".join(good + bad) + "\n"
    return write_file(env, "malformed.csv", text)


MAL_CONF = {"minispark.csv.sampleRows": "40"}
MAL_AGGS = [{"fn": "count"}, {"fn": "count", "column": "qty"},
            {"fn": "sum", "column": "qty"}, {"fn": "sum", "column": "price"},
            {"fn": "count", "column": "price"}]


@test
def csv_modes_permissive_and_dropmalformed(env):
    path = malformed_csv(env)
    q = group_query(["grp"], MAL_AGGS)
    for mode in ("PERMISSIVE", "DROPMALFORMED"):
        compare(env, job_for(path, q, mode=mode), conf=MAL_CONF)
    # An unparsable field is NULL in PERMISSIVE, so no comparison holds.
    qf = dict(q, filter=[{"column": "qty", "op": ">=", "value": -100}])
    compare(env, job_for(path, qf), conf=MAL_CONF)
    # Without the sample limit the bad values vote: qty and price become
    # strings, so they are queried as strings here.
    q2 = group_query(["grp"], [{"fn": "count"},
                               {"fn": "max", "column": "qty"}])
    compare(env, job_for(path, q2, mode="DROPMALFORMED"))


@test
def csv_mode_failfast(env):
    path = malformed_csv(env)
    job = job_for(path, group_query(["grp"], MAL_AGGS), mode="FAILFAST")
    lines = ref.malformed_lines(job, MAL_CONF)
    res = env.run_job(job, conf=MAL_CONF, expect=3)
    named = ["%s:%d" % (path, n) for n in lines if "%s:%d" % (path, n)
             in res.err]
    check(named, "stderr names none of %s:%s\n%s"
          % (path, lines, res.describe()))
    check(not os.path.exists(res.output), "output written despite FAILFAST")
    # FAILFAST over well-formed rows succeeds.
    good = write_file(env, "good.csv", "a,b\n1,x\n2,y\n3,x\n")
    compare(env, job_for(good, group_query(["b"], [{"fn": "sum",
                                                    "column": "a"}]),
                         mode="FAILFAST"))


# -------------------------------------------------------------- CSV dialects

LABELS = ['"a,b"', '"say ""hi"""', "plain", '"with;semi"', '""',
          "it's", 'a"b', '"  spaced  "', '"cr\rin"', '"caf\u00e9"',
          '""""', '"x"', "", '"trailing,"']


def quoted_csv(env, rows=3000):
    rng = random.Random(5)
    lines = ["id,label,amount,comment"]
    for i in range(1, rows + 1):
        amount = "%d.%02d" % (rng.randint(0, 500), rng.randint(0, 99))
        if rng.random() < 0.2:
            amount = '"%s"' % amount
        comment = rng.choice(['"x, y"', "z", '""', '"q""q"'])
        lines.append("%d,%s,%s,%s" % (i, rng.choice(LABELS), amount, comment))
    return write_file(env, "quoted.csv", "\n".join(lines) + "\n")


@test
def quoted_fields(env):
    path = quoted_csv(env)
    aggs = [{"fn": "count"}, {"fn": "sum", "column": "amount"},
            {"fn": "max", "column": "comment"}]
    for split in ("64k", "1g"):
        compare(env, dict(job_for(path, group_query(["label"], aggs)),
                          shuffle_partitions=3),
                conf={"spark.files.maxPartitionBytes": split})
    q = group_query(["comment"], aggs,
                    filter=[{"column": "label", "op": "in",
                             "values": ["a,b", 'say "hi"', '"']}])
    compare(env, job_for(path, q))


@test
def crlf_line_endings(env):
    rng = random.Random(9)
    lines = ["k,v,t"]
    for i in range(4000):
        lines.append("%s,%d,%s" % (rng.choice(["p", "q", "r,s"])
                                   .replace("r,s", '"r,s"'),
                                   rng.randint(-100, 100), _timestamp(rng)))
        if i % 500 == 0:
            lines.append("")  # blank CRLF lines are skipped
    path = write_file(env, "crlf.csv", "\r\n".join(lines) + "\r\n")
    aggs = [{"fn": "count"}, {"fn": "sum", "column": "v"},
            {"fn": "max", "column": "t"}, {"fn": "min", "column": "k"}]
    for split in ("64k", "1g"):
        compare(env, job_for(path, group_query(["k"], aggs)),
                conf={"spark.files.maxPartitionBytes": split})


@test
def empty_file(env):
    path = write_file(env, "empty.csv", b"")
    compare(env, job_for(path, group_query(["country"], [{"fn": "count"}])))
    q = group_query([], [{"fn": "count"}, {"fn": "sum", "column": "amount"},
                         {"fn": "min", "column": "country"}])
    got = compare(env, job_for(path, q))
    check(got.split(b"\n")[1] == b"0,,", "global aggregate of an empty file: "
          "%r" % got)


@test
def header_only_file(env):
    path = write_file(env, "header_only.csv", "a,b,c\n")
    compare(env, job_for(path, group_query(["a"], [{"fn": "count"}])))
    q = group_query([], [{"fn": "count"}, {"fn": "count", "column": "b"},
                         {"fn": "max", "column": "c"}])
    compare(env, job_for(path, q))


def _dialect_rows(rng, delim, n=600):
    lines = delim.join(["city", "n", "price"])
    out = [lines]
    for _ in range(n):
        city = rng.choice(["Paris", "S\u00e3o Paulo", "a,b", "x;y", "p|q",
                           '"q%sd"' % delim, "", "Zurich"])
        out.append(delim.join([city, str(rng.randint(0, 50)),
                               "%d.%d" % (rng.randint(0, 99),
                                          rng.randint(0, 9))]))
    return "\n".join(out) + "\n"


@test
def custom_delimiters(env):
    for delim, name in ((";", "semi.csv"), ("|", "pipe.csv")):
        rng = random.Random(ord(delim))
        text = _dialect_rows(rng, delim)
        # A field holding the delimiter itself must be quoted to parse.
        text = text.replace("%sx;y%s" % ("\n", delim),
                            "\n\"x;y\"%s" % delim)
        text = text.replace("\np|q%s" % delim, '\n"p|q"%s' % delim)
        path = write_file(env, name, text)
        aggs = [{"fn": "count"}, {"fn": "sum", "column": "n"},
                {"fn": "avg", "column": "price"}]
        compare(env, job_for(path, group_query(["city"], aggs),
                             delimiter=delim))


@test
def header_false(env):
    rng = random.Random(3)
    text = "".join("%s,%d,%d.%02d\n" % (rng.choice("uvw"), rng.randint(1, 9),
                                        rng.randint(0, 9), rng.randint(0, 99))
                   for _ in range(500))
    path = write_file(env, "noheader.csv", text)
    aggs = [{"fn": "count"}, {"fn": "sum", "column": "_c2"},
            {"fn": "max", "column": "_c1"}]
    compare(env, job_for(path, group_query(["_c0"], aggs), header=False))


@test
def quoting_disabled(env):
    path = write_file(env, "noquote.csv", "\n".join([
        "k,v", '"hello",1', '"a,2', 'b",3', 'plain,4', '"hello",5',
        '"",6']) + "\n")
    compare(env, job_for(path, group_query(["k"], [{"fn": "sum",
                                                    "column": "v"}]),
                         quote=""))


@test
def last_line_without_newline(env):
    path = write_file(env, "noeol.csv", "k,v\na,1\nb,2\na,3")
    compare(env, job_for(path, group_query(["k"], [{"fn": "sum",
                                                    "column": "v"}])))


@test
def output_path_from_job_file(env):
    path = typed_csv(env)
    out = os.path.join(env.new_dir("jobout"), "result.csv")
    job = job_for(path, group_query(["grp"], SMALL_AGGS))
    job["output"] = {"path": out}
    res = env.run_job(job, output=False, expect=0)
    with open(out, "rb") as f:
        got = f.read()
    want = ref.expected_csv(job)
    check(got == want, "output.path result differs\n%s\n%s"
          % (mslib.csv_diff(want, got), res.describe()))


if __name__ == "__main__":
    mslib.main()
