"""Who may talk to the driver. A local attacker (here, a raw ZMTP client of
zmtp.py) reads the driver's endpoint from an executor's command line, as any
local user can. By default local mode speaks CURVE with a secret of its
own: the attacker cannot even complete a handshake. Without it
(minispark.local.curve=false, as with a shuffle service) the attacker gets
in and then: takes the routing id the next executor would use and registers
in its place with that executor's PID (from /proc) and a made-up token,
answering every task it gets with an empty success; sends task reports for
executors that are registered; and sends one frame of a gigabyte. The
driver must refuse all of it (and say so on stderr), stay small, and the
job's result must be exact. Results larger than the frame limit must
arrive whole, with CURVE and without.

Every process is started and stopped by PID; traffic stays on 127.0.0.1."""

import re
import threading
import time

import mslib
import zmtp
from mslib import check, test

QUERY = {"group_by": ["country", "device"],
         "aggregates": [{"fn": "count", "as": "n"},
                        {"fn": "sum", "column": "amount", "as": "total"}]}

_files = {}


def events_csv(env):
    if "events" not in _files:
        _files["events"] = env.gen(20000, "proto_events.csv", seed=13)
    return _files["events"]


def job_for(env):
    return {"input": {"path": events_csv(env)}, "query": QUERY,
            "shuffle_partitions": 4}


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def arg_after(args, name):
    for i, a in enumerate(args[:-1]):
        if a == name:
            return args[i + 1].decode()
    return None


def driver_port(run):
    """The driver's port, from the command line of one of its executors."""
    for pid in run.wait_for_executors(1):
        ep = arg_after(cmdline(pid), b"--driver")
        if ep:
            m = re.match(r"tcp://127\.0\.0\.1:(\d+)$", ep)
            check(m, "executor %d reaches the driver at %r, not loopback"
                  % (pid, ep))
            return int(m.group(1))
    raise mslib.TestFailure("no executor names the driver: %s" % run.cmd)


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


MSG_REGISTER, MSG_HEARTBEAT, MSG_TASK_END, MSG_LAUNCH = 1, 2, 3, 12


def task_end(task_id, attempt):
    """A TASK_END saying the task succeeded, with no rows and no metrics."""
    return zmtp.msg(MSG_TASK_END, task_id, attempt, 0, "", [0] * 10, -1, "",
                    False), b""


class Impostor(threading.Thread):
    """Squats the routing id executor exec_id would have had, registers in
    its place once its process exists, and answers tasks with empty
    successes. Counts what the driver sent it."""

    def __init__(self, run, port, exec_id):
        super().__init__(daemon=True)
        self.run_, self.exec_id = run, exec_id
        self.peer = zmtp.Peer(port, identity=b"exec-%d" % exec_id)
        self.launches = 0
        self.registered = False
        self.stop = threading.Event()
        self.error = None

    def _register(self, pid):
        fields = [self.exec_id, pid, "127.0.0.1", 1, "tcp://127.0.0.1:9"]
        # The message as it was without tokens, and with a made-up one.
        self.peer.send(zmtp.msg(MSG_REGISTER, *fields))
        self.peer.send(zmtp.msg(MSG_REGISTER, *fields, "0" * 32))

    def run(self):
        try:
            self._loop()
        except (OSError, ValueError) as e:  # the driver may hang up on us
            self.error = e

    def _loop(self):
        sent = False
        next_beat = 0
        while not self.stop.is_set():
            if not sent:
                pid = mslib.executor_pid(self.run_.tag, self.exec_id)
                if pid:
                    self._register(pid)
                    sent = True
            if sent and time.monotonic() >= next_beat:
                self.peer.send(zmtp.msg(MSG_HEARTBEAT, self.exec_id, 0))
                next_beat = time.monotonic() + 0.3
            msg = self.peer.recv(timeout=0.05)
            if not msg:
                continue
            m = zmtp.unpack(msg[0])
            if m[1] == 10:
                self.registered = True
            if m[1] == MSG_LAUNCH:
                self.launches += 1
                self.peer.send(*task_end(m[2], m[4]))


@test
def forged_registration_and_reports_are_refused(env):
    job = job_for(env)
    # Executor 1 is killed after its first task, so that executor 3 is
    # launched later, when the impostor has long been waiting for it.
    conf = {"spark.executor.instances": "2",
            "minispark.test.taskDelay": "700ms",
            "minispark.test.killExecutorAfter": "1:1",
            "minispark.local.curve": "false"}
    run = env.start_job(job, conf=conf)
    port = driver_port(run)
    impostor = Impostor(run, port, 3)
    impostor.start()
    # Reports for tasks, from a peer that claims to be executor 1 and 2.
    liar = zmtp.Peer(port, identity=b"exec-2-liar")
    for task in range(12):
        liar.send(*task_end(task, 0))
    res = run.wait(timeout=120)
    impostor.stop.set()
    impostor.join(5)
    impostor.peer.close()
    liar.close()
    mslib.expect_reference(res, job)
    check(not impostor.registered and impostor.launches == 0,
          "the impostor was registered (%s) and given %d tasks\n%s"
          % (impostor.registered, impostor.launches, res.describe()))
    check(re.search(r"refused a registration as executor 3 from a peer that "
                    r"is not a registered executor: (wrong token|malformed "
                    r"registration|already registered)", res.err),
          "no refusal of the forged registration on stderr\n%s"
          % res.describe())


@test
def a_gigabyte_frame_is_refused_on_its_header(env):
    job = job_for(env)
    conf = {"spark.executor.instances": "2",
            "minispark.test.taskDelay": "300ms",
            "minispark.local.curve": "false"}
    run = env.start_job(job, conf=conf)
    port = driver_port(run)
    pid = run.proc.pid
    before = rss_kb(pid, "VmRSS")
    peer = zmtp.Peer(port, identity=b"big")
    sent = 0
    chunk = b"\0" * (1 << 20)
    try:
        # One frame of 1 GiB, as its header announces; 256 MiB of it is
        # plenty to see the memory it would take.
        peer.send_raw(zmtp.frame_header(1 << 30))
        while sent < (256 << 20):
            peer.send_raw(chunk)
            sent += len(chunk)
    except OSError:
        pass  # refused: the driver hung up
    peer.close()
    peak = rss_kb(pid, "VmHWM")
    res = run.wait(timeout=120)
    mslib.expect_reference(res, job)
    check(peak - before < 64 * 1024,
          "the driver grew from %d kB to a peak of %d kB while a peer sent "
          "%d MiB of a 1 GiB frame\n%s"
          % (before, peak, sent >> 20, res.describe()))


@test
def results_larger_than_the_frame_limit_arrive_whole(env):
    # 20000 groups: tens of kB of rows per reduce task, over a frame limit
    # lowered to 4 KiB for the driver and its executors. The rows must
    # come in several frames that pass the limit once CURVE has wrapped
    # them, and be joined in order.
    job = {"input": {"path": events_csv(env)},
           "query": {"group_by": ["event_id"],
                     "aggregates": [{"fn": "count", "as": "n"},
                                    {"fn": "sum", "column": "amount",
                                     "as": "total"},
                                    {"fn": "max", "column": "country",
                                     "as": "c"}]},
           "shuffle_partitions": 4}
    for curve in ("true", "false"):
        res = env.run_job(job, conf={"minispark.local.curve": curve},
                          env_extra={"MINISPARK_TEST_MAX_FRAME": "4096"},
                          timeout=30)
        mslib.expect_reference(res, job)


@test
def by_default_a_stranger_cannot_connect(env):
    job = job_for(env)
    conf = {"spark.executor.instances": "2",
            "minispark.test.taskDelay": "300ms"}
    run = env.start_job(job, conf=conf)
    port = driver_port(run)
    refused = False
    try:
        peer = zmtp.Peer(port, identity=b"exec-1")
        peer.send(*task_end(0, 0))
        peer.close()
    except (OSError, ValueError):
        refused = True
    res = run.wait(timeout=120)
    mslib.expect_reference(res, job)
    check(refused, "a peer without the application's secret completed a "
          "handshake with the driver\n%s" % res.describe())
    check(re.search(r"driver: refused a connection on tcp://127\.0\.0\.1:%d"
                    % port, res.err),
          "no refusal of the plain peer on stderr\n%s" % res.describe())


if __name__ == "__main__":
    mslib.main()
