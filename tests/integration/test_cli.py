"""The command line contract: exit codes and the messages that go with them,
fault injection (a corrupt shuffle block), and what happens to the driver's
processes and output on SIGINT and SIGKILL."""

import os
import re
import signal
import time

import mslib
from mslib import check, test

_files = {}


def small_csv(env):
    if "small" not in _files:
        _files["small"] = env.write("small.csv", "country,device,amount\n"
                                    "US,mobile,1.50\nFR,tv,2.25\n"
                                    "US,tv,3.00\n")
    return _files["small"]


def events(env, rows):
    key = "events%d" % rows
    if key not in _files:
        _files[key] = env.gen(rows, "events_%d.csv" % rows)
    return _files[key]


def simple_job(path, **query):
    q = {"group_by": ["country"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}
    q.update(query)
    return {"input": {"path": path}, "query": q}


def expect_exit(res, rc, *needles):
    res.expect_rc(rc)
    for n in needles:
        check(n in res.err, "stderr does not mention %r\n%s"
              % (n, res.describe()))


# ---------------------------------------------------------------- usage

@test
def help_version_and_unknown_subcommand(env):
    for args in (["--help"], ["run", "--help"], ["--version"]):
        res = env.run_args([env.binary] + args)
        check(res.rc == 0, "expected exit status 0\n%s" % res.describe())
        check(res.stdout.strip() or res.stderr.strip(), "no output from %s"
              % res.cmd)
    res = env.run_args([env.binary, "run", "--help"])
    check(b"--conf" in res.stdout + res.stderr, "run --help does not "
          "mention --conf\n%s" % res.describe())
    for args in (["frobnicate"], []):
        res = env.run_args([env.binary] + args)
        check(res.rc == 2, "expected exit status 2\n%s" % res.describe())
        check(res.stderr.strip(), "no message on stderr: %s" % res.cmd)


@test
def worker_and_cluster_usage_errors(env):
    res = env.run_args([env.binary, "worker", "--help"])
    check(res.rc == 0 and b"--bind" in res.stdout,
          "worker --help\n%s" % res.describe())
    bind = "tcp://127.0.0.1:%d" % mslib.free_port()
    for args in (["worker"], ["worker", "--bind", bind, "--cores", "0"],
                 ["worker", "--bind", bind, "--conf",
                  "spark.scheduler.mode=SOMETIMES"],
                 ["worker", "--bind", bind, "--conf",
                  "spark.authenticate=true"],
                 ["shuffle-server", "--bind", bind, "--conf",
                  "spark.authenticate=true"]):
        res = env.run_args([env.binary] + args)
        check(res.rc == 2, "expected exit status 2\n%s" % res.describe())
        check(res.stderr.strip(), "no message on stderr: %s" % res.cmd)
    job = env.write_job(simple_job(small_csv(env)))
    # Malformed masters are refused before any name is looked up.
    for master, needle in (("workers://", "names no worker"),
                           ("workers://h1", "workers://HOST:PORT"),
                           ("workers://h1:0", "workers://HOST:PORT"),
                           ("workers://h 1:7078", "workers://HOST:PORT")):
        res = env.run_args([env.binary, "run", job, "--master", master])
        check(res.rc == 2 and needle in res.err,
              "master %r\n%s" % (master, res.describe()))
    res = env.run_args([env.binary, "run", job, "--conf",
                        "spark.authenticate=true"])
    check(res.rc == 2 and "spark.authenticate" in res.err,
          "spark.authenticate without a secret\n%s" % res.describe())


@test
def run_usage_errors(env):
    job = env.write_job(simple_job(small_csv(env)))
    for args in (["run"], ["run", job, "--bogus-flag"],
                 ["run", job, "--conf"], ["run", job, "--conf", "novalue"],
                 ["run", job, job]):
        res = env.run_args([env.binary] + args)
        check(res.rc == 2, "expected exit status 2\n%s" % res.describe())
        check(res.stderr.strip(), "no message on stderr: %s" % res.cmd)


@test
def table_printed_unless_quiet(env):
    res = env.run_job(simple_job(small_csv(env)), quiet=False, expect=0)
    for word in (b"country", b"total", b"US", b"4.50"):
        check(word in res.stdout, "stdout lacks %r\n%s\nstdout:\n%s"
              % (word, res.describe(), res.out))
    res = env.run_job(simple_job(small_csv(env)), quiet=True, expect=0)
    check(b"4.50" not in res.stdout, "--quiet still prints the table")
    with open(res.output, "rb") as f:
        check(f.read() == b"country,n,total\nFR,1,2.25\nUS,2,4.50\n",
              "unexpected output\n%s" % res.describe())


# -------------------------------------------------------------- input errors

@test
def missing_input_file_exits_3(env):
    path = env.path("does_not_exist.csv")
    res = env.run_job(simple_job(path))
    expect_exit(res, 3, path)
    check(not os.path.exists(res.output), "output written on input error")


@test
def missing_job_file(env):
    path = env.path("no_job.json")
    res = env.run_args([env.binary, "run", path, "--quiet"])
    check(res.rc in (2, 3), "expected exit status 2 or 3\n%s"
          % res.describe())
    check(path in res.err, "stderr does not name %s\n%s"
          % (path, res.describe()))


@test
def unknown_column_exits_2_listing_columns(env):
    path = small_csv(env)
    cases = [
        simple_job(path, group_by=["contry"]),
        simple_job(path, aggregates=[{"fn": "sum", "column": "amout"}]),
        simple_job(path, filter=[{"column": "devise", "op": "=",
                                  "value": "tv"}]),
    ]
    for job, bad in zip(cases, ("contry", "amout", "devise")):
        res = env.run_job(job)
        expect_exit(res, 2, bad)
    res = env.run_job(cases[0])
    for col in ("country", "device", "amount"):
        check(col in res.err.replace("contry", ""),
              "stderr does not list column %s\n%s" % (col, res.describe()))


@test
def malformed_json_names_line_and_column(env):
    text = ('{\n  "input": {"path": "%s"},\n'
            '  "query": {"group_by": [] "aggregates": [{"fn": "count"}]}\n'
            '}\n' % small_csv(env))
    job = env.write("bad.json", text)
    res = env.run_job(job)
    res.expect_rc(2)
    check(re.search(r"(?<![0-9])3:[0-9]+", res.err),
          "stderr has no line:column for line 3\n%s" % res.describe())
    job = env.write("truncated.json", '{\n  "input": {"path": "x.csv"},\n')
    res = env.run_job(job)
    res.expect_rc(2)
    check(re.search(r"[0-9]+:[0-9]+", res.err), "stderr has no line:column\n"
          "%s" % res.describe())


@test
def unknown_keys_exit_2_naming_them(env):
    path = small_csv(env)
    job = simple_job(path)
    job["bogus_top"] = 1
    expect_exit(env.run_job(job), 2, "bogus_top")
    job = simple_job(path)
    job["input"]["delimeter"] = ";"
    expect_exit(env.run_job(job), 2, "delimeter")
    job = simple_job(path)
    job["query"]["aggregates"][1]["colum"] = "amount"
    expect_exit(env.run_job(job), 2, "colum")
    job = simple_job(path)
    job["query"]["aggregates"][0]["fn"] = "median"
    res = env.run_job(job)
    res.expect_rc(2)
    check("median" in res.err or "aggregates[0].fn" in res.err,
          "stderr names neither the value nor the field\n%s"
          % res.describe())


@test
def missing_required_fields_exit_2(env):
    job = simple_job(small_csv(env))
    del job["input"]["path"]
    expect_exit(env.run_job(job), 2, "path")
    job = simple_job(small_csv(env))
    job["query"]["aggregates"] = []
    expect_exit(env.run_job(job), 2, "aggregates")
    job = simple_job(small_csv(env))
    del job["query"]["group_by"]
    expect_exit(env.run_job(job), 2, "group_by")


@test
def invalid_conf_values_exit_2_naming_key(env):
    job = simple_job(small_csv(env))
    for key, value in (("spark.files.maxPartitionBytes", "abc"),
                       ("spark.executor.heartbeatInterval", "soon"),
                       ("spark.shuffle.service.enabled", "maybe"),
                       ("spark.io.compression.codec", "lzma-ultra")):
        expect_exit(env.run_job(job, conf={key: value}), 2, key)
    job["conf"] = {"spark.files.maxPartitionBytes": "12 parsecs"}
    expect_exit(env.run_job(job), 2, "spark.files.maxPartitionBytes")


@test
def every_known_key_is_checked_and_unknown_ones_are_named(env):
    job = simple_job(small_csv(env))
    # A feature that is off still has its keys checked.
    for key, value in (("spark.shuffle.service.port", "abc"),
                       ("spark.io.compression.codec", "snappy"),
                       ("minispark.shuffle.maxBytesInFlight", "0")):
        expect_exit(env.run_job(job, conf={key: value}), 2, key, value)
    conf = {"spark.dynamicAllocation.idleTimeout": "5s",
            "spark.speculation": "true"}
    res = env.run_job(job, conf=conf, quiet=False, extra=["--no-ui"])
    expect_exit(res, 0, "spark.dynamicAllocation.idleTimeout is not a key; "
                "did you mean spark.dynamicAllocation.executorIdleTimeout?",
                "spark.speculation is a Spark key that minispark does not "
                "implement")
    res = env.run_job(job, conf=conf, quiet=True)
    check(res.rc == 0 and "warning" not in res.err,
          "--quiet still warns\n%s" % res.describe())
    # Every key the README documents is in the table of known keys.
    with open(os.path.join(mslib.REPO, "README.md")) as f:
        documented = set(re.findall(r"^\| `((?:spark|minispark)\.[A-Za-z.]+)`",
                                    f.read(), re.M))
    with open(os.path.join(mslib.REPO, "common", "conf_keys.c")) as f:
        known = set(re.findall(r'\{"((?:spark|minispark)\.[A-Za-z.]+)"',
                               f.read()))
    check(len(documented) > 30, "README's key table not found")
    check(documented <= known, "documented but not in common/conf_keys.c: %s"
          % sorted(documented - known))


@test
def test_only_keys_need_testing_env(env):
    job = simple_job(small_csv(env))
    res = env.run_job(job, conf={"minispark.test.taskDelay": "1ms"},
                      env_extra={"MINISPARK_TESTING": None})
    expect_exit(res, 2, "minispark.test.taskDelay")


@test
def failfast_names_file_and_line(env):
    lines = ["id,country,amount"]
    lines += ["%d,US,%d.%02d" % (i, i % 500, i % 100) for i in range(1, 6001)]
    bad_line = 4321  # 1-based, the header is line 1
    # A missing field: malformed without changing the inferred types.
    lines[bad_line - 1] = "%d,US" % (bad_line - 1)
    path = env.write("failfast.csv", "\n".join(lines) + "\n")
    job = simple_job(path)
    job["input"]["mode"] = "FAILFAST"
    res = env.run_job(job, conf={"spark.files.maxPartitionBytes": "32k"})
    expect_exit(res, 3, "%s:%d" % (path, bad_line))
    check(not os.path.exists(res.output), "output written despite FAILFAST")


# ------------------------------------------------------------ fault injection

@test
def block_corrupt_every_time_fails_job_with_exit_4(env):
    """The block is corrupted again each time map 1 is recomputed: the
    reduce stage fails spark.stage.maxConsecutiveAttempts times in a row."""
    path = events(env, 20000)
    job = dict(simple_job(path), shuffle_partitions=4)
    conf = {"spark.files.maxPartitionBytes": "64k",
            "spark.stage.maxConsecutiveAttempts": "3",
            "minispark.test.corruptBlock": "0:1:2"}
    res = env.run_job(job, conf=conf, timeout=90)
    res.expect_rc(4)
    check(re.search(r"failed 3 times in a row.*shuffle 0.*map 1.*partition 2",
                    res.err),
          "stderr does not match 'failed 3 times in a row.*shuffle 0.*map "
          "1.*partition 2'\n%s" % res.describe())
    check(not os.path.exists(res.output), "output written by a failed job")


SLOW_CONF = {"spark.files.maxPartitionBytes": "64k",
             "minispark.test.taskDelay": "200ms",
             "spark.executor.heartbeatInterval": "500ms"}


@test
def sigint_exits_130_without_output(env):
    path = events(env, 200000)
    out_dir = env.new_dir("sigint_out")
    run = env.start_job(dict(simple_job(path), shuffle_partitions=4),
                        conf=SLOW_CONF, output_dir=out_dir)
    run.wait_for_executors(2)
    time.sleep(0.5)
    check(run.proc.poll() is None, "the run finished before SIGINT: %s"
          % run.cmd)
    run.proc.send_signal(signal.SIGINT)
    res = run.wait(timeout=20)
    res.expect_rc(130)
    check(os.listdir(out_dir) == [], "output folder after SIGINT holds %s\n%s"
          % (os.listdir(out_dir), res.describe()))
    env.check_leaks(run.tag, [run.local_dir], res)


@test
def sigkill_driver_executors_exit_by_themselves(env):
    path = events(env, 200000)
    run = env.start_job(dict(simple_job(path), shuffle_partitions=4),
                        conf=SLOW_CONF)
    executors = run.wait_for_executors(2)
    time.sleep(0.5)
    run.proc.send_signal(signal.SIGKILL)
    run.wait(timeout=10)
    t0 = time.monotonic()
    left = mslib.wait_no_tagged(run.tag, 1.5 + 1.0)
    if left:
        desc = ["%d: %s" % (x, mslib._describe(x)) for x in left]
        mslib.kill_pids(left)
        raise mslib.TestFailure(
            "executors still alive %.1fs after SIGKILL of the driver "
            "(heartbeat 500ms; killed by PID): %s\nexecutors were %s\n"
            "command: %s" % (time.monotonic() - t0, "; ".join(desc),
                             executors, run.cmd))


if __name__ == "__main__":
    mslib.main()
