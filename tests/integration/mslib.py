"""Shared helpers for the whole-binary integration tests: a tiny test runner,
running `minispark` with leak checks after every run, job files, output CSVs,
free loopback ports and a standalone shuffle server.

Processes are only ever signalled by the PID this module started (or, for
leak clean-up, by a PID whose environment carries this run's unique tag);
never by name. Only 127.0.0.1 is used.
"""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TAG_VAR = "MINISPARK_TEST_TAG"
ORPHAN_POLL_S = 2.0
SHUFFLE_POLL_S = 2.0
STOP_GRACE_S = 5.0


class TestFailure(AssertionError):
    pass


class Skip(Exception):
    """Raised by a test that cannot run here; it is reported, not failed."""


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


# -------------------------------------------------------------------- runner

_tests = []


def test(fn):
    """Registers a test function taking an Env; tests run in file order."""
    _tests.append(fn)
    return fn


def main():
    """Runs the registered tests: `python3 test_x.py /path/to/minispark
    [name-substring...]`. Prints `N passed, M failed` and exits non-zero on
    any failure. MS_KEEP_TMP=1 keeps the temporary folder."""
    if len(sys.argv) < 2:
        print("usage: %s /abs/path/to/minispark [test-name-filter...]"
              % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    filters = sys.argv[2:]
    env = Env(binary)
    passed = failed = skipped = 0
    try:
        for fn in _tests:
            if filters and not any(f in fn.__name__ for f in filters):
                continue
            t0 = time.monotonic()
            try:
                fn(env)
                env.reap_all(fail=True)
                passed += 1
                print("PASS %s (%.1fs)" % (fn.__name__, time.monotonic() - t0),
                      flush=True)
            except Skip as e:
                env.reap_all(fail=False)
                skipped += 1
                print("SKIP %s: %s" % (fn.__name__, e), flush=True)
            except Exception as e:  # noqa: BLE001 - report and go on
                env.reap_all(fail=False)
                failed += 1
                detail = (str(e) if isinstance(e, TestFailure)
                          else traceback.format_exc())
                print("FAIL %s (%.1fs)\n%s\n" % (
                    fn.__name__, time.monotonic() - t0, _indent(detail)),
                    flush=True)
    finally:
        env.close()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped),
          flush=True)
    sys.exit(1 if failed else 0)


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.rstrip().splitlines())


def _tail(data, limit=3000):
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else "..." + text[-limit:]


# ------------------------------------------------------------------ processes

def tagged_pids(tag):
    """PIDs whose environment holds TAG_VAR=tag (vanished and unreadable
    processes are skipped)."""
    needle = ("%s=%s" % (TAG_VAR, tag)).encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                entries = f.read().split(b"\0")
        except OSError:
            continue
        if needle in entries:
            found.append(int(name))
    return found


def executor_pid(tag, exec_id):
    """The PID of executor exec_id among the processes tagged tag, or
    None."""
    for pid in tagged_pids(tag):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"--executor-id" in argv and \
                argv[argv.index(b"--executor-id") + 1] == str(exec_id).encode():
            return pid
    return None


def _describe(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


def wait_no_tagged(tag, timeout):
    """Polls until no process carries tag; returns the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        pids = tagged_pids(tag)
        if not pids or time.monotonic() >= deadline:
            return pids
        time.sleep(0.05)


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def shuffle_files(dirs):
    found = []
    for d in dirs:
        for root, _, files in os.walk(d):
            found.extend(os.path.join(root, f) for f in files
                         if f.startswith("shuffle_"))
    return found


# ------------------------------------------------------------------- results

class Result:
    def __init__(self, cmd, rc, stdout, stderr, output, job):
        self.cmd, self.rc = cmd, rc
        self.stdout, self.stderr = stdout, stderr
        self.output, self.job = output, job

    @property
    def err(self):
        return self.stderr.decode(errors="replace")

    @property
    def out(self):
        return self.stdout.decode(errors="replace")

    def describe(self):
        lines = ["command: %s" % self.cmd, "exit status: %s" % self.rc]
        if self.job is not None:
            lines.append("job: %s" % json.dumps(self.job))
        lines.append("stderr:\n%s" % _indent(_tail(self.stderr) or "(empty)"))
        if os.environ.get("MS_KEEP_TMP") != "1":
            lines.append("(MS_KEEP_TMP=1 keeps the job and data files)")
        return "\n".join(lines)

    def expect_rc(self, rc):
        check(self.rc == rc, "expected exit status %d\n%s"
              % (rc, self.describe()))
        return self

    def output_bytes(self):
        check(self.output and os.path.exists(self.output),
              "no output file %s\n%s" % (self.output, self.describe()))
        with open(self.output, "rb") as f:
            return f.read()


def expect_reference(res, job, conf=None):
    """The run succeeded and its output CSV is the reference's."""
    import reference
    res.expect_rc(0)
    want = reference.expected_csv(job, conf)
    got = res.output_bytes()
    check(got == want, "output differs from the reference\n%s\n%s"
          % (csv_diff(want, got), res.describe()))


def read_event_log(log_dir):
    """The events of the one event log in log_dir (complete lines only,
    so a log being written can be read); [] if there is none yet."""
    names = [n for n in os.listdir(log_dir) if n.endswith(".jsonl")]
    if len(names) != 1:
        return []
    events = []
    with open(os.path.join(log_dir, names[0])) as f:
        for line in f:
            if line.endswith("\n"):
                events.append(json.loads(line))
    return events


def csv_diff(expected, actual, limit=8):
    """A short human description of how two CSV outputs differ."""
    e, a = expected.split(b"\n"), actual.split(b"\n")
    out = ["expected %d lines, got %d" % (len(e) - 1, len(a) - 1)]
    shown = 0
    for i in range(max(len(e), len(a))):
        x = e[i] if i < len(e) else None
        y = a[i] if i < len(a) else None
        if x != y:
            out.append("line %d: expected %r got %r" % (i + 1, x, y))
            shown += 1
            if shown >= limit:
                out.append("...")
                break
    return "\n".join(out)


def read_csv_rows(data):
    """Splits an output CSV (bytes) into rows of fields, honouring the
    engine's quoting (for assertions that look at single values)."""
    import reference
    rows = []
    for line in data.split(b"\n")[:-1]:
        rows.append(reference.tokenize(line, ord(","), ord('"')))
    return rows


# ----------------------------------------------------------------------- env

class Env:
    """One test script's world: a temporary folder, the binary and every
    process the script started."""

    def __init__(self, binary):
        self.binary = binary
        self.tmp = tempfile.mkdtemp(prefix="minispark-it-")
        self.procs = []  # (Popen, tag or None, what)
        self.n = 0

    def close(self):
        self.reap_all(fail=False)
        if os.environ.get("MS_KEEP_TMP") == "1":
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def new_dir(self, prefix):
        self.n += 1
        d = self.path("%s_%d" % (prefix, self.n))
        os.makedirs(d)
        return d

    def write(self, name, data):
        p = self.path(name)
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(p, mode) as f:
            f.write(data)
        return p

    def write_job(self, job, name=None):
        self.n += 1
        return self.write(name or "job_%d.json" % self.n,
                          json.dumps(job, indent=2))

    # -- process bookkeeping ------------------------------------------------

    def spawn(self, args, tag=None, what=None, env_extra=None, **kw):
        env = dict(os.environ)
        env["MINISPARK_TESTING"] = "1"
        env.pop(TAG_VAR, None)
        if tag:
            env[TAG_VAR] = tag
        for k, v in (env_extra or {}).items():
            if v is None:
                env.pop(k, None)  # None removes a variable
            else:
                env[k] = v
        p = subprocess.Popen(args, env=env, **kw)
        self.procs.append((p, tag, what or " ".join(args[:2])))
        return p

    def forget(self, p):
        self.procs = [x for x in self.procs if x[0] is not p]

    def reap_all(self, fail):
        """Kills (by PID) whatever this script started that is still alive;
        raises when fail is set and something was."""
        alive = []
        for p, tag, what in self.procs:
            if p.poll() is None:
                alive.append("%s (pid %d)" % (what, p.pid))
                p.kill()
                p.wait()
            if tag:
                left = tagged_pids(tag)
                if left:
                    alive.extend("%s (pid %d)" % (_describe(x), x)
                                 for x in left)
                    kill_pids(left)
        self.procs = []
        if alive and fail:
            raise TestFailure("processes still alive at the end of the test "
                              "(killed by PID): %s" % ", ".join(alive))

    # -- running the engine -------------------------------------------------

    def base_args(self, job_path, master="local[2]", conf=None,
                  output=None, quiet=True, local_dir=None):
        args = [self.binary, "run", job_path, "--master", master]
        if local_dir:
            args += ["--conf", "spark.local.dir=%s" % local_dir]
        for k, v in (conf or {}).items():
            args += ["--conf", "%s=%s" % (k, v)]
        if output:
            args += ["--output", output]
        if quiet:
            args.append("--quiet")
        return args

    def run_job(self, job, conf=None, output=True, quiet=True, expect=None,
                timeout=120, leak_dirs=(), master="local[2]", extra=(),
                env_extra=None):
        """Writes job, runs `minispark run` on it and checks for leaks.
        Returns a Result; expect=N asserts the exit status."""
        job_path = job if isinstance(job, str) else self.write_job(job)
        run_dir = self.new_dir("run")
        local_dir = os.path.join(run_dir, "local")
        os.makedirs(local_dir)
        out_path = os.path.join(run_dir, "out.csv") if output else None
        args = self.base_args(job_path, master, conf, out_path, quiet,
                              local_dir) + list(extra)
        res = self.run_args(args, timeout=timeout, env_extra=env_extra,
                            leak_dirs=[local_dir] + list(leak_dirs),
                            job=None if isinstance(job, str) else job)
        res.output = out_path
        if expect is not None:
            res.expect_rc(expect)
        return res

    def start_job(self, job, conf=None, output_dir=None, master="local[2]",
                  output=True, prefix=()):
        """Starts `minispark run` without waiting; returns a Running.
        output=False leaves the outputs to the job file; prefix goes before
        the command (e.g. `ip netns exec NS`)."""
        job_path = self.write_job(job)
        run_dir = self.new_dir("run")
        local_dir = os.path.join(run_dir, "local")
        os.makedirs(local_dir)
        out_path = (os.path.join(output_dir or run_dir, "out.csv") if output
                    else None)
        args = list(prefix) + self.base_args(job_path, master, conf, out_path,
                                             True, local_dir)
        tag = uuid.uuid4().hex
        p, files = self._spawn_captured(args, tag)
        return Running(self, p, files, tag, local_dir, out_path, args, job)

    def run_args(self, args, timeout=120, env_extra=None, leak_dirs=(),
                 job=None, stdin=subprocess.DEVNULL):
        """Runs the binary with args (the full argv) and does both leak
        checks afterwards."""
        tag = uuid.uuid4().hex
        p, files = self._spawn_captured(args, tag, env_extra, stdin)
        res = _collect(self, p, files, args, job, None, timeout, tag)
        self.check_leaks(tag, leak_dirs, res)
        return res

    def _spawn_captured(self, args, tag, env_extra=None,
                        stdin=subprocess.DEVNULL):
        """Starts args with stdout/stderr going to files, not pipes: a
        leaked child holding a pipe open must not hang the test."""
        self.n += 1
        files = (self.path("stdout_%d" % self.n),
                 self.path("stderr_%d" % self.n))
        with open(files[0], "wb") as out, open(files[1], "wb") as err:
            p = self.spawn(args, tag=tag, what="minispark driver",
                           env_extra=env_extra, stdout=out, stderr=err,
                           stdin=stdin)
        return p, files

    def check_leaks(self, tag, dirs, res=None):
        left = wait_no_tagged(tag, ORPHAN_POLL_S)
        if left:
            names = ["%d: %s" % (x, _describe(x)) for x in left]
            kill_pids(left)
            raise TestFailure("orphan processes %.0fs after the driver "
                              "exited (killed by PID): %s\n%s"
                              % (ORPHAN_POLL_S, "; ".join(names),
                                 res.describe() if res else ""))
        self.check_no_shuffle_files(dirs, res)

    def check_no_shuffle_files(self, dirs, res=None):
        deadline = time.monotonic() + SHUFFLE_POLL_S
        files = shuffle_files(dirs)
        while files and time.monotonic() < deadline:
            time.sleep(0.05)
            files = shuffle_files(dirs)
        check(not files, "shuffle files left behind: %s\n%s"
              % (", ".join(files[:10]), res.describe() if res else ""))

    def gen(self, rows, name, seed=None):
        """Writes rows of generated events with `minispark gen`."""
        out = self.path(name)
        args = [self.binary, "gen", "--rows", str(rows)]
        if seed is not None:
            args += ["--seed", str(seed)]
        res = self.run_args(args + [out])
        check(res.rc == 0, "gen failed\n%s" % res.describe())
        return out

    # -- standalone shuffle server ------------------------------------------

    def start_shuffle_server(self, port=None, dir_=None, conf=None):
        port = port or free_port()
        dir_ = dir_ or self.new_dir("shuffle_server")
        tag = uuid.uuid4().hex
        args = [self.binary, "shuffle-server", "--bind",
                "tcp://127.0.0.1:%d" % port, "--dir", dir_]
        for k, v in (conf or {}).items():
            args += ["--conf", "%s=%s" % (k, v)]
        log = open(os.path.join(dir_ + ".log"), "wb")
        p = self.spawn(args, tag=tag, what="shuffle-server",
                       stdout=log, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
        log.close()
        server = ShuffleServer(self, p, port, dir_, tag, " ".join(args))
        deadline = time.monotonic() + 5
        while not port_answers(port):
            if p.poll() is not None or time.monotonic() > deadline:
                server.stop(expect_clean=False)
                raise TestFailure("shuffle server did not start listening "
                                  "on port %d: %s\n%s"
                                  % (port, server.cmd, server.log()))
            time.sleep(0.05)
        return server


class ShuffleServer:
    def __init__(self, env, proc, port, dir_, tag, cmd):
        self.env, self.proc, self.port, self.dir = env, proc, port, dir_
        self.tag, self.cmd = tag, cmd

    def log(self):
        try:
            with open(self.dir + ".log", "rb") as f:
                return _tail(f.read())
        except OSError:
            return ""

    def conf(self):
        return {"spark.shuffle.service.enabled": "true",
                "spark.shuffle.service.port": str(self.port)}

    def stop(self, expect_clean=True):
        """SIGTERM by PID, then wait; SIGKILL only after STOP_GRACE_S, which
        fails the test. A clean stop exits 0."""
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.env.forget(p)
                raise TestFailure("shuffle server ignored SIGTERM for %.0fs "
                                  "(killed by PID %d): %s"
                                  % (STOP_GRACE_S, p.pid, self.cmd))
        self.env.forget(p)
        left = wait_no_tagged(self.tag, ORPHAN_POLL_S)
        kill_pids(left)
        if expect_clean:
            check(p.returncode == 0, "shuffle server exited %s on SIGTERM: "
                  "%s\n%s" % (p.returncode, self.cmd, self.log()))
            check(not left, "shuffle server left processes %s" % left)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _collect(env, p, files, args, job, output, timeout, tag):
    """Waits for a driver started by _spawn_captured; a driver still running
    after timeout is killed by PID (with whatever carries its tag)."""
    cmd = " ".join(shlex.quote(a) for a in args)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        env.forget(p)
        kill_pids(tagged_pids(tag))
        raise TestFailure("still running after %ss (killed by PID %d): %s\n"
                          "stderr:\n%s" % (timeout, p.pid, cmd,
                                          _indent(_tail(_read(files[1])))))
    env.forget(p)
    return Result(cmd, p.returncode, _read(files[0]), _read(files[1]),
                  output, job)


class Running:
    """A driver started by Env.start_job; wait() collects it as a Result."""

    def __init__(self, env, proc, files, tag, local_dir, output, args, job):
        self.env, self.proc, self.files, self.tag = env, proc, files, tag
        self.local_dir, self.output, self.job = local_dir, output, job
        self.args = args
        self.cmd = " ".join(shlex.quote(a) for a in args)

    def wait_for_executors(self, count=1, timeout=15.0):
        """Waits until at least count processes besides the driver carry the
        tag; fails if the driver exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                res = self.wait()
                raise TestFailure("driver exited before executors started\n%s"
                                  % res.describe())
            others = [x for x in tagged_pids(self.tag) if x != self.proc.pid]
            if len(others) >= count:
                return others
            time.sleep(0.05)
        raise TestFailure("no %d executor process(es) within %.0fs: %s"
                          % (count, timeout, self.cmd))

    def wait(self, timeout=60):
        return _collect(self.env, self.proc, self.files, self.args, self.job,
                        self.output, timeout, self.tag)
