"""A small minispark cluster for the tests: on each host a shuffle server
and a worker agent, as real processes, on loopback ports or inside network
namespaces that the test creates itself (NetNS below: a bridge, one veth
pair per namespace, private addresses that exist only inside them).

Every process is stopped by the PID this module started; executors, which
the workers start, carry their worker's tag in their environment, so they
are found (and, if left over, killed) by that tag, never by name."""

import json
import os
import signal
import subprocess
import time
import uuid

import mslib
from mslib import check

READY_S = 10.0


class Proc:
    def __init__(self, env, args, what, log, ns=None, wrap=()):
        self.tag = uuid.uuid4().hex
        self.log_path, self.what = log, what
        self.args = (["ip", "netns", "exec", ns] if ns else []) + list(wrap) \
            + args
        with open(log, "wb") as f:
            # `ip netns exec` execs the command: the PID is minispark's.
            self.proc = env.spawn(self.args, tag=self.tag, what=what,
                                  stdout=f, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
        self.env = env

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_for(self, text, timeout=READY_S):
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise mslib.TestFailure("%s did not print %r: %s\n%s"
                                        % (self.what, text,
                                           " ".join(self.args), self.log()))
            time.sleep(0.05)

    def children(self):
        """Processes started by it (its executors), by its tag."""
        return [p for p in mslib.tagged_pids(self.tag) if p != self.proc.pid]

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.env.forget(self.proc)

    def stop(self):
        """SIGTERM by PID; it must exit 0 within the grace period and take
        its children with it."""
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=mslib.STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.env.forget(p)
        left = mslib.wait_no_tagged(self.tag, mslib.ORPHAN_POLL_S)
        mslib.kill_pids(left)
        check(p.returncode == 0, "%s exited %s on SIGTERM\n%s"
              % (self.what, p.returncode, self.log()))
        check(not left, "%s left processes %s" % (self.what, left))


class Host:
    """One host of the cluster: its address, namespace and folders."""

    def __init__(self, env, addr, ns=None, wrap=()):
        self.addr, self.ns, self.wrap = addr, ns, wrap  # wrap: argv prefix
        self.dir = env.new_dir("host")
        self.worker = self.shuffle = None
        # Namespaces have ports of their own; loopback hosts share them.
        self.worker_port = 7078 if ns else mslib.free_port()
        self.shuffle_port = 7337 if ns else mslib.free_port()


class Cluster:
    def __init__(self, env, hosts, cores=2, service=True, conf=None):
        self.env, self.hosts = env, hosts
        conf_args = []
        for k, v in (conf or {}).items():
            conf_args += ["--conf", "%s=%s" % (k, v)]
        for h in hosts:
            if service:
                h.shuffle = Proc(env, [
                    env.binary, "shuffle-server", "--bind",
                    "tcp://%s:%d" % (h.addr, h.shuffle_port), "--dir",
                    os.path.join(h.dir, "shuffle")] + conf_args,
                    "shuffle-server on %s" % h.addr,
                    os.path.join(h.dir, "shuffle.log"), h.ns)
            args = [env.binary, "worker", "--bind",
                    "tcp://%s:%d" % (h.addr, h.worker_port), "--cores",
                    str(cores), "--dir", os.path.join(h.dir, "work")]
            if service:
                args += ["--shuffle", "tcp://%s:%d" % (h.addr, h.shuffle_port)]
            h.worker_args = args + conf_args
            self._start_worker(h)
        for h in hosts:
            if h.shuffle:
                h.shuffle.wait_for("serving")
            h.worker.wait_for("cores on")

    def _start_worker(self, h):
        h.starts = getattr(h, "starts", 0) + 1
        h.worker = Proc(self.env, h.worker_args, "worker on %s" % h.addr,
                        os.path.join(h.dir, "worker_%d.log" % h.starts),
                        h.ns, h.wrap)

    def restart_worker(self, h):
        """SIGKILLs h's worker (by PID) and starts a new one at once on the
        same address, folder and shuffle server."""
        old = h.worker
        old.kill()
        self._start_worker(h)
        h.worker.wait_for("cores on")
        left = mslib.wait_no_tagged(old.tag, mslib.ORPHAN_POLL_S)
        mslib.kill_pids(left)
        check(not left, "executors outlived their killed worker: %s" % left)

    def master(self):
        return "workers://" + ",".join("%s:%d" % (h.addr, h.worker_port)
                                       for h in self.hosts)

    def executors(self, host):
        return host.worker.children()

    def wait_executors(self, host, count=1, timeout=20.0):
        deadline = time.monotonic() + timeout
        while len(self.executors(host)) < count:
            check(time.monotonic() < deadline,
                  "no executor on %s within %.0fs\n%s"
                  % (host.addr, timeout, host.worker.log()))
            time.sleep(0.05)

    def stop(self):
        """Stops every worker and shuffle server (each must exit cleanly,
        leaving no executor), then checks that no shuffle file is left."""
        for h in self.hosts:
            if h.worker.proc.poll() is None:
                h.worker.stop()
            else:
                # Killed: its executors must have died with it.
                left = mslib.wait_no_tagged(h.worker.tag, mslib.ORPHAN_POLL_S)
                mslib.kill_pids(left)
                check(not left, "executors outlived their killed worker: %s"
                      % left)
            if h.shuffle:
                h.shuffle.stop()
        self.env.check_no_shuffle_files([h.dir for h in self.hosts])

    def shuffle_files(self):
        return mslib.shuffle_files([h.dir for h in self.hosts])


def _ip(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise OSError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r.stdout


class NetNS:
    """count network namespaces joined by veth pairs to a bridge made for
    them, with addresses 10.213.7.1, .2, ... that exist only inside them
    (the bridge itself has none, and no namespace has a route elsewhere).
    Names carry a random suffix; close() removes everything it made."""

    SUBNET = "10.213.7."

    def __init__(self, count):
        sfx = uuid.uuid4().hex[:7]
        self.bridge = "msbr" + sfx
        self.names = ["ms%d-%s" % (i, sfx) for i in range(count)]
        self.veths = ["msv%d%s" % (i, sfx) for i in range(count)]
        self.addrs = [self.SUBNET + str(i + 1) for i in range(count)]
        self.made = []  # ("netns"|"link", name), to undo in reverse

    def open(self):
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            self.made.append(("link", self.bridge))
            _ip("link", "set", self.bridge, "up")
            for ns, veth, addr in zip(self.names, self.veths, self.addrs):
                _ip("netns", "add", ns)
                self.made.append(("netns", ns))
                _ip("link", "add", veth, "type", "veth", "peer", "name",
                    "eth0", "netns", ns)
                self.made.append(("link", veth))
                _ip("link", "set", veth, "master", self.bridge)
                _ip("link", "set", veth, "up")
                _ip("link", "set", "lo", "up", ns=ns)
                _ip("addr", "add", addr + "/24", "dev", "eth0", ns=ns)
                _ip("link", "set", "eth0", "up", ns=ns)
        except OSError:
            self.close()
            raise
        return self

    def close(self):
        """Deleting a namespace deletes its end of the veth, and the peer
        with it; the bridge goes last."""
        for kind, name in reversed(self.made):
            try:
                if kind == "netns":
                    _ip("netns", "del", name)
                elif os.path.exists("/sys/class/net/" + name):
                    _ip("link", "del", name)
            except OSError:
                pass
        self.made = []

    def leftovers(self):
        """What of ours still exists (should be nothing after close)."""
        names = set(_ip("netns", "list").split())
        left = [n for n in self.names if n in names]
        left += [n for n in [self.bridge] + self.veths
                 if os.path.exists("/sys/class/net/" + n)]
        return left


# ------------------------------------------------------------ the scenarios

# Slow map tasks over small splits, so that a worker can be killed while
# the job runs; spark.worker.timeout short, so that its loss is seen soon.
SLOW = {"spark.files.maxPartitionBytes": "64k",
        "minispark.test.taskDelay": "200ms",
        "spark.executor.heartbeatInterval": "500ms",
        "spark.worker.timeout": "3s"}

def seed_job():
    """The seed job, examples/agg.json (dynamic allocation, a filter, order
    and limit over datasets/big_events_50k.csv), with the input's absolute
    path (the same on every host: the namespaces share the filesystem) and
    the result written where the test says."""
    with open(os.path.join(mslib.REPO, "examples", "agg.json")) as f:
        job = json.load(f)
    job["input"]["path"] = os.path.join(mslib.REPO, job["input"]["path"])
    del job["output"]
    return job


def start_driver(env, job, master, conf, ns=None):
    """`minispark run` (in namespace ns) without waiting: a mslib.Running."""
    return env.start_job(job, conf, master=master,
                         prefix=["ip", "netns", "exec", ns] if ns else ())


def finish(env, run, timeout=120):
    res = run.wait(timeout)
    env.check_leaks(run.tag, [run.local_dir], res)
    return res


expect_exact = mslib.expect_reference


def lose_a_worker(env, cluster, conf, ns=None):
    """Runs the seed job, SIGKILLs (by PID) the first
    host's worker once both hosts run executors, and checks that the job
    still ends with the exact result on the other host, that the lost
    worker's executors died with it and that the driver said why."""
    job = seed_job()
    victim, other = cluster.hosts[0], cluster.hosts[1]
    run = start_driver(env, job, cluster.master(), conf, ns)
    cluster.wait_executors(victim)
    cluster.wait_executors(other)
    time.sleep(0.5)
    orphans = cluster.executors(victim)
    victim.worker.kill()
    res = finish(env, run)
    expect_exact(res, job, conf)
    check("worker tcp://%s:%d lost" % (victim.addr, victim.worker_port)
          in res.err, "the driver did not report the lost worker\n%s"
          % res.describe())
    left = [p for p in orphans if os.path.exists("/proc/%d" % p)]
    deadline = time.monotonic() + mslib.ORPHAN_POLL_S
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if os.path.exists("/proc/%d" % p)]
    mslib.kill_pids(left)
    check(not left, "executors of the killed worker survived it: %s" % left)
    return res


def refused_without_secret(env, cluster, host, conf, ns=None):
    """A driver without the secret gets no answer from a worker that has
    it (exit 4, saying so), and the worker logs the refusal."""
    job = seed_job()
    conf = {k: v for k, v in conf.items()
            if not k.startswith("spark.authenticate")}
    master = "workers://%s:%d" % (host.addr, host.worker_port)
    res = finish(env, start_driver(env, job, master, conf, ns), timeout=60)
    res.expect_rc(4)
    check("no worker" in res.err, "unclear error\n%s" % res.describe())
    deadline = time.monotonic() + 5
    while "refused a connection" not in host.worker.log():
        check(time.monotonic() < deadline, "the worker did not log the "
              "refusal\n%s" % host.worker.log())
        time.sleep(0.05)
