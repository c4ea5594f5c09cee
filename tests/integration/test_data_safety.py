"""Never destroy a file, never return a silently wrong answer: outputs that
would overwrite the job's own input or job file, special files as outputs,
inputs that change while the job runs, plan limits, FIFOs and /proc files,
and the small input-handling cases (byte order marks, repeated column
names, control characters on a terminal, unwritable outputs)."""

import hashlib
import os
import pty
import stat
import subprocess
import threading
import uuid

import mslib
from mslib import check, test

HEADER = "country,device,amount\n"
ROWS = "US,mobile,1.50\nFR,tv,2.25\nUS,tv,3.00\n"


def job_for(path, **query):
    q = {"group_by": ["country"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}
    q.update(query)
    return {"input": {"path": path}, "query": q}


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect_exit(res, rc, *needles):
    res.expect_rc(rc)
    for n in needles:
        check(n in res.err, "stderr does not mention %r\n%s"
              % (n, res.describe()))


def small_job(env, name):
    """A folder of its own with a small input and a job file reading it."""
    d = env.new_dir(name)
    data = os.path.join(d, "data.csv")
    with open(data, "w") as f:
        f.write(HEADER + ROWS)
    return d, data, env.write_job(job_for(data))


def run_with_output(env, job_path, output, extra=(), timeout=60):
    args = [env.binary, "run", job_path, "--master", "local[2]", "--quiet",
            "--output", output] + list(extra)
    return env.run_args(args, timeout=timeout)


# ------------------------------------------------------------ outputs

@test
def output_that_is_the_input_or_the_job_file_is_refused(env):
    d, data, job_path = small_job(env, "same")
    os.symlink(data, os.path.join(d, "link.csv"))
    os.link(data, os.path.join(d, "hard.csv"))
    os.makedirs(os.path.join(d, "sub"))
    before, job_before = digest(data), digest(job_path)
    spellings = [data, os.path.join(d, "link.csv"), os.path.join(d, "hard.csv"),
                 os.path.join(d, "sub", "..", "data.csv"),
                 os.path.relpath(data)]
    for out in spellings:
        res = run_with_output(env, job_path, out)
        expect_exit(res, 2, out, data, "same file")
        check(digest(data) == before, "the input changed with --output %s"
              % out)
    res = run_with_output(env, job_path, job_path)
    expect_exit(res, 2, job_path, "same file")
    check(digest(job_path) == job_before, "the job file was overwritten")
    # The same through the job file's own output.
    job = job_for(data)
    job["output"] = {"path": os.path.join(d, "link.csv")}
    res = env.run_job(job, output=False)
    expect_exit(res, 2, "link.csv", "same file")
    check(digest(data) == before, "the input changed through output.path")


@test
def special_files_are_written_in_place_and_links_through(env):
    d, data, job_path = small_job(env, "special")
    expected = b"country,n,total\nFR,1,2.25\nUS,2,4.50\n"

    # A character device stays one (as root a rename would replace it).
    # The test's own node for the null device, so that a broken engine
    # cannot replace the system's /dev/null.
    if os.geteuid() == 0:
        null = os.path.join(d, "null")
        os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        res = run_with_output(env, job_path, null)
        res.expect_rc(0)
        check(stat.S_ISCHR(os.lstat(null).st_mode),
              "a character device was replaced by a regular file")

    # A FIFO is written in place, to the reader waiting on it.
    fifo = os.path.join(d, "out.fifo")
    os.mkfifo(fifo)
    got = []

    def reader():
        with open(fifo, "rb") as f:
            got.append(f.read())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    res = run_with_output(env, job_path, fifo)
    res.expect_rc(0)
    t.join(10)
    check(got == [expected], "the FIFO's reader got %r" % got)
    check(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced")

    # A symlink is written through, atomically at its target; so is a
    # dangling one (its target is created).
    target = os.path.join(d, "target.csv")
    with open(target, "w") as f:
        f.write("old\n")
    for name, tgt in (("link.csv", target),
                      ("dangling.csv", os.path.join(d, "new.csv"))):
        link = os.path.join(d, name)
        os.symlink(os.path.basename(tgt), link)
        res = run_with_output(env, job_path, link)
        res.expect_rc(0)
        check(os.path.islink(link), "%s is no longer a symlink" % link)
        with open(tgt, "rb") as f:
            check(f.read() == expected, "%s does not hold the result" % tgt)
    leftovers = [n for n in os.listdir(d) if ".tmp." in n]
    check(not leftovers, "temporary files left: %s" % leftovers)


@test
def unwritable_outputs_fail_before_the_job_runs(env):
    d, data, job_path = small_job(env, "unwritable")
    events = os.path.join(d, "events")
    a_file = os.path.join(d, "plain")
    with open(a_file, "w") as f:
        f.write("x")
    for out, needle in ((d, "directory"),
                        (os.path.join(a_file, "out.csv"), "Not a directory")):
        res = run_with_output(env, job_path, out,
                              extra=["--event-log", events])
        expect_exit(res, 3, out, needle)
        check(not os.path.exists(events) or not os.listdir(events),
              "the job ran before the output was found unwritable")
    # A folder that takes no new file, even from root: an immutable one
    # (where the file system has the attribute; skipped where not).
    frozen = os.path.join(d, "frozen")
    os.makedirs(frozen)
    if subprocess.run(["chattr", "+i", frozen], stderr=subprocess.DEVNULL,
                      stdout=subprocess.DEVNULL).returncode == 0:
        try:
            out = os.path.join(frozen, "out.csv")
            res = run_with_output(env, job_path, out,
                                  extra=["--event-log", events])
            expect_exit(res, 3, out, "Operation not permitted")
        finally:
            subprocess.run(["chattr", "-i", frozen])
    # A missing folder is made, as before.
    out = os.path.join(d, "new", "deeper", "out.csv")
    run_with_output(env, job_path, out).expect_rc(0)
    check(os.path.exists(out), "no output in the new folder")


# ------------------------------------------------------------- inputs

def _truncate(path):
    os.truncate(path, 0)


def _shrink(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _grow(path):
    with open(path, "ab") as f:
        f.write(b"US,mobile,1.00\n" * 1000)


def _replace(path):
    tmp = path + ".new"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(src.read())
    os.rename(tmp, path)


def _rewrite(path):
    # Same size, other bytes: only the modification time tells.
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        f.write(b"#")


@test
def an_input_changed_while_the_job_runs_fails_it(env):
    for change in (_truncate, _shrink, _grow, _replace, _rewrite):
        data = env.gen(20000, "changing_%s.csv" % change.__name__[1:])
        job = job_for(data)
        conf = {"minispark.test.taskDelay": "300ms",
                "spark.files.maxPartitionBytes": "64k",
                "spark.dynamicAllocation.enabled": "false"}
        running = env.start_job(job, conf=conf)
        running.wait_for_executors(1)
        change(data)
        res = running.wait(timeout=60)
        expect_exit(res, 3, data, "changed while the job ran")
        check(not os.path.exists(running.output),
              "a partial result was written after %s" % change.__name__)
        env.check_leaks(running.tag, [running.local_dir], res)


@test
def fifos_devices_and_proc_files_are_not_inputs(env):
    d = env.new_dir("fifo")
    fifo = os.path.join(d, "in.fifo")
    os.mkfifo(fifo)
    for path, needle in ((fifo, "is a FIFO"),
                         ("/dev/zero", "is a character device"),
                         ("/proc/self/status", "size is 0")):
        res = env.run_job(job_for(path), timeout=20)
        expect_exit(res, 3, os.path.basename(path), needle)
    job_fifo = os.path.join(d, "job.fifo")
    os.mkfifo(job_fifo)
    res = env.run_args([env.binary, "run", job_fifo, "--quiet"], timeout=20)
    expect_exit(res, 2, job_fifo, "is a FIFO")


# -------------------------------------------------------- plan limits

@test
def plan_limits_are_checked_at_planning(env):
    data = env.write("limits.csv", HEADER + ROWS)
    for parts in (4294967297, 2147483647, 1048577, 100001, 0):
        job = job_for(data)
        job["shuffle_partitions"] = parts
        res = env.run_job(job)
        expect_exit(res, 2, "shuffle_partitions", "100000")
    res = env.run_job(job_for(data),
                      conf={"spark.sql.shuffle.partitions": "100001"})
    expect_exit(res, 2, "spark.sql.shuffle.partitions")
    aggs = [{"fn": "count", "as": "n%d" % i} for i in range(4097)]
    res = env.run_job(job_for(data, aggregates=aggs))
    expect_exit(res, 2, "query.aggregates", "4096")
    order = [{"column": "n"}] * 4097
    res = env.run_job(job_for(data, order_by=order))
    expect_exit(res, 2, "query.order_by", "4096")
    # At the limit, a plan still runs.
    job = job_for(data, aggregates=[{"fn": "count", "as": "n%d" % i}
                                    for i in range(4096)])
    job["shuffle_partitions"] = 3
    res = env.run_job(job)
    res.expect_rc(0)
    check(res.output_bytes().count(b"\n") == 3, "wrong result at the limit")


# ------------------------------------------------------ small things

@test
def empty_local_dir_is_refused(env):
    data = env.write("localdir.csv", HEADER + ROWS)
    args = [env.binary, "run", env.write_job(job_for(data)), "--quiet",
            "--master", "local[1]", "--conf", "spark.local.dir="]
    res = env.run_args(args)
    expect_exit(res, 2, "spark.local.dir")
    for role in (["shuffle-server", "--bind", "tcp://127.0.0.1:%d"
                  % mslib.free_port()],
                 ["worker", "--bind", "tcp://127.0.0.1:%d"
                  % mslib.free_port()]):
        res = env.run_args([env.binary] + role +
                           ["--conf", "spark.local.dir="], timeout=20)
        expect_exit(res, 2, "spark.local.dir")


@test
def bom_and_repeated_column_names(env):
    data = env.write("bom.csv", b"\xef\xbb\xbf" + (HEADER + ROWS).encode())
    res = env.run_job(job_for(data))
    res.expect_rc(0)
    check(res.output_bytes() == b"country,n,total\nFR,1,2.25\nUS,2,4.50\n",
          "a BOM changed the result\n%s" % res.output_bytes())
    # Without a header the BOM is not part of the first value either.
    job = job_for(data, group_by=["_c0"])
    job["input"]["header"] = False
    job["query"]["aggregates"] = [{"fn": "count", "as": "n"}]
    res = env.run_job(job)
    res.expect_rc(0)
    check(b"\xef" not in res.output_bytes() and
          b"\ncountry,1\n" in res.output_bytes(),
          "a BOM stayed in the first value\n%s" % res.output_bytes())
    # Repeated names get their index, as Spark's makeSafeHeader does.
    dup = env.write("dup.csv", "k,amount,k,\nUS,1,x,y\nFR,2,z,w\n")
    job = {"input": {"path": dup},
           "query": {"group_by": ["k0", "k2", "_c3"],
                     "aggregates": [{"fn": "sum", "column": "amount",
                                     "as": "s"}]}}
    res = env.run_job(job)
    res.expect_rc(0)
    check(res.output_bytes() == b"k0,k2,_c3,s\nFR,z,w,2\nUS,x,y,1\n",
          "repeated names\n%s" % res.output_bytes())
    res = env.run_job(dict(job, query=dict(job["query"], group_by=["k"])))
    expect_exit(res, 2, "k0", "k2")  # the error lists the real names
    clash = env.write("clash.csv", "a,a,a1\n1,2,3\n")
    res = env.run_job({"input": {"path": clash},
                       "query": {"group_by": [],
                                 "aggregates": [{"fn": "count", "as": "n"}]}})
    expect_exit(res, 3, clash, "a1")


@test
def control_characters_are_escaped_on_a_terminal(env):
    data = env.write("ctl.csv", "country,amount\n\x1b[2Jevil\x07,1\n"
                     "tab\there,2\n")
    job_path = env.write_job(job_for(data, aggregates=[
        {"fn": "count", "as": "n"}]))
    master, slave = pty.openpty()
    tag = uuid.uuid4().hex
    p = env.spawn([env.binary, "run", job_path, "--master", "local[1]",
                   "--no-ui"], tag=tag, stdout=slave,
                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    p.wait(timeout=60)
    env.forget(p)
    os.close(master)
    env.check_leaks(tag, [])
    shown = b"".join(chunks)
    check(p.returncode == 0, "run failed on a terminal: %r" % shown[-2000:])
    check(b"\x1b[2J" not in shown and b"\x07" not in shown,
          "control characters reached the terminal: %r" % shown)
    check(b"\\x1b[2Jevil\\x07" in shown and b"tab\\there" in shown,
          "escaped cells missing: %r" % shown)
    # Piped, the bytes are the data's.
    res = env.run_args([env.binary, "run", job_path, "--master", "local[1]",
                        "--no-ui"])
    res.expect_rc(0)
    check(b"\x1b[2Jevil\x07" in res.stdout, "piped output was escaped")


if __name__ == "__main__":
    mslib.main()
