"""`minispark gen`: deterministic bytes for a seed, the committed 50k dataset,
the schema and value ranges, usage errors and atomic writes."""

import collections
import datetime
import os
import re

import mslib
from mslib import check, test

COUNTRIES = set("US IN BR DE GB FR JP CN ID MX CA NG RU KR IT ES TR PH VN PL "
                "AR EG ZA NL AU SE CH BE PK TH".split())
DEVICES = {"mobile", "desktop", "tablet", "tv", "console"}
HEADER = b"event_id,event_time,country,device,amount\n"
ROW_RE = re.compile(
    rb"([0-9]+),(2025-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}),"
    rb"([A-Z]{2}),([a-z]+),([0-9]+\.[0-9]{2})")


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _gen(env, rows, name, seed=None):
    return _read(env.gen(rows, name, seed))


@test
def reproduces_committed_50k_dataset(env):
    committed = os.path.join(mslib.REPO, "datasets", "big_events_50k.csv")
    check(os.path.exists(committed), "missing %s" % committed)
    data = _gen(env, 50000, "g50k.csv")
    want = _read(committed)
    check(data == want, "gen --rows 50000 differs from %s (%d vs %d bytes)\n%s"
          % (committed, len(data), len(want), mslib.csv_diff(want, data, 3)))


@test
def same_seed_gives_same_bytes(env):
    a = _gen(env, 3000, "s1.csv", seed=7)
    b = _gen(env, 3000, "s2.csv", seed=7)
    check(a == b, "two runs with --seed 7 differ")
    c = _gen(env, 3000, "s3.csv")
    d = _gen(env, 3000, "s4.csv", seed=42)
    check(c == d, "the default seed is not 42")


@test
def other_seed_differs(env):
    a = _gen(env, 2000, "o1.csv", seed=1)
    b = _gen(env, 2000, "o2.csv", seed=2)
    check(a != b, "--seed 1 and --seed 2 gave identical files")
    check(a.split(b"\n")[0] == b.split(b"\n")[0], "headers differ")


@test
def prefix_of_longer_run(env):
    # Rows do not depend on the total count: 500 rows are a prefix of 1000.
    a = _gen(env, 500, "p1.csv")
    b = _gen(env, 1000, "p2.csv")
    check(b.startswith(a), "--rows 500 is not a prefix of --rows 1000")


@test
def header_and_value_ranges(env):
    n = 20000
    data = _gen(env, n, "ranges.csv", seed=123)
    check(data.startswith(HEADER), "bad header %r" % data[:60])
    check(data.endswith(b"\n") and b"\r" not in data, "bad line endings")
    lines = data[len(HEADER):-1].split(b"\n")
    check(len(lines) == n, "expected %d rows, got %d" % (n, len(lines)))
    countries, devices = collections.Counter(), collections.Counter()
    months = set()
    lo_cents, hi_cents = 10 ** 9, -1
    for i, line in enumerate(lines, 1):
        m = ROW_RE.fullmatch(line)
        check(m is not None, "row %d malformed: %r" % (i, line))
        check(int(m.group(1)) == i, "row %d has event_id %s" % (i, m.group(1)))
        ts = datetime.datetime.strptime(m.group(2).decode(),
                                        "%Y-%m-%d %H:%M:%S")
        months.add(ts.month)
        c, d = m.group(3).decode(), m.group(4).decode()
        check(c in COUNTRIES, "row %d: unknown country %s" % (i, c))
        check(d in DEVICES, "row %d: unknown device %s" % (i, d))
        countries[c] += 1
        devices[d] += 1
        cents = int(m.group(5).replace(b".", b""))
        check(50 <= cents <= 99999, "row %d: amount %s out of range"
              % (i, m.group(5)))
        lo_cents, hi_cents = min(lo_cents, cents), max(hi_cents, cents)
    check(months == set(range(1, 13)), "months covered: %s" % sorted(months))
    check(countries.most_common(1)[0][0] == "US",
          "US is not the most frequent country: %s"
          % countries.most_common(3))
    check(len(countries) >= 25, "only %d countries" % len(countries))
    # Skewed: the top country is far more frequent than the median one.
    counts = sorted(countries.values())
    check(counts[-1] > 4 * counts[len(counts) // 2], "countries not skewed: %s"
          % countries.most_common())
    check(set(devices) == DEVICES, "devices seen: %s" % dict(devices))
    check(devices.most_common(1)[0][1] > 2 * devices.most_common()[-1][1],
          "devices not skewed: %s" % dict(devices))
    check(lo_cents < 1000 and hi_cents > 99000, "amounts span %d..%d cents"
          % (lo_cents, hi_cents))


@test
def zero_rows_is_header_only(env):
    check(_gen(env, 0, "zero.csv") == HEADER, "--rows 0 is not header only")


@test
def usage_errors_exit_2(env):
    out = env.path("usage.csv")
    for args in (["gen"], ["gen", out], ["gen", "--rows", "abc", out],
                 ["gen", "--rows", "-5", out], ["gen", "--rows", "10"],
                 ["gen", "--rows", "10", "--seed", "x", out],
                 ["gen", "--rows", "10", "--bogus", out]):
        res = env.run_args([env.binary] + args)
        check(res.rc == 2, "expected exit status 2\n%s" % res.describe())
        check(res.stderr.strip() != b"", "no message on stderr\n%s"
              % res.describe())
        check(not os.path.exists(out), "output written despite usage error: "
              "%s" % res.cmd)


@test
def help_exits_0(env):
    res = env.run_args([env.binary, "gen", "--help"])
    check(res.rc == 0, "gen --help\n%s" % res.describe())
    check(b"--rows" in res.stdout + res.stderr, "help does not mention --rows")


@test
def unwritable_output_exits_3(env):
    out = env.path("no_such_dir", "x.csv")
    res = env.run_args([env.binary, "gen", "--rows", "10", out])
    check(res.rc == 3, "expected exit status 3\n%s" % res.describe())
    check(b"no_such_dir" in res.stderr, "stderr does not name the path\n%s"
          % res.describe())


@test
def writes_atomically_without_temp_leftovers(env):
    d = env.new_dir("atomic")
    out = os.path.join(d, "a.csv")
    with open(out, "wb") as f:
        f.write(b"old contents\n")
    res = env.run_args([env.binary, "gen", "--rows", "100", out])
    check(res.rc == 0, res.describe())
    check(os.listdir(d) == ["a.csv"], "folder holds %s" % os.listdir(d))
    check(_read(out).startswith(HEADER), "old file not replaced")


if __name__ == "__main__":
    mslib.main()
