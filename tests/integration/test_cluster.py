"""The cluster mode on loopback: two `minispark worker` agents, each with
its own shuffle server and folders, on 127.0.0.1 ports, and drivers with a
workers:// master. Results are checked against the reference; the loss of
a worker mid-job, and a driver without the shared secret, are checked as
in the namespace test (test_lan.py), whose cluster this is on one host."""

import os
import time

import cluster as cl
import mslib
from mslib import check, test

SECRET = {"spark.authenticate": "true"}


def secret_conf(env):
    path = env.path("secret")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("loopback-test-secret\n")
        os.chmod(path, 0o600)
    return dict(SECRET, **{"spark.authenticate.secret.file": path})


def hosts(env, n=2):
    return [cl.Host(env, "127.0.0.1") for _ in range(n)]


@test
def static_allocation_with_shuffle_service(env):
    c = cl.Cluster(env, hosts(env))
    job = cl.seed_job()
    conf = {"spark.executor.instances": "4",
            "spark.shuffle.service.enabled": "true",
            "spark.files.maxPartitionBytes": "64k",
            "spark.driver.host": "localhost"}
    # Host names work in the master and spark.driver.host (resolved for
    # the binds by the driver).
    master = c.master().replace("127.0.0.1", "localhost", 1)
    res = cl.finish(env, cl.start_driver(env, job, master, conf))
    cl.expect_exact(res, job, conf)
    for h in c.hosts:
        check("started executor" in h.worker.log(),
              "no executor ran on %s:%d\n%s"
              % (h.addr, h.worker_port, h.worker.log()))
    c.stop()


@test
def dynamic_allocation_without_shuffle_service(env):
    c = cl.Cluster(env, hosts(env), service=False)
    job = cl.seed_job()
    conf = {"spark.files.maxPartitionBytes": "64k"}  # the job's allocation
    res = cl.finish(env, cl.start_driver(env, job, c.master(), conf))
    cl.expect_exact(res, job, conf)
    c.stop()


@test
def lost_worker_mid_job(env):
    c = cl.Cluster(env, hosts(env))
    conf = dict(cl.SLOW, **{"spark.shuffle.service.enabled": "true"})
    cl.lose_a_worker(env, c, conf)
    c.stop()


@test
def restarted_worker_is_told_from_a_slow_one(env):
    """A worker killed and started again at once (before
    spark.worker.timeout) is seen as restarted by its answers: the
    executors that ended with the old one are replaced, their work redone,
    and the host's shuffle server keeps serving the outputs."""
    c = cl.Cluster(env, hosts(env))
    conf = dict(cl.SLOW, **{"spark.shuffle.service.enabled": "true",
                            "spark.worker.timeout": "60s"})
    job = cl.seed_job()
    run = cl.start_driver(env, job, c.master(), conf)
    c.wait_executors(c.hosts[0])
    time.sleep(0.5)
    c.restart_worker(c.hosts[0])
    res = cl.finish(env, run)
    cl.expect_exact(res, job, conf)
    check("worker tcp://127.0.0.1:%d restarted" % c.hosts[0].worker_port
          in res.err, "the restart was not noticed\n%s" % res.describe())
    c.stop()


@test
def input_missing_on_a_worker_names_host_and_path(env):
    """The input must be at the same path on every host: a worker whose
    view of the folder is an empty tmpfs (a mount namespace of its own)
    fails the map tasks, and the driver's error names the path and host."""
    if os.geteuid() != 0:
        raise mslib.Skip("a mount namespace for the worker needs root")
    data = env.new_dir("data")
    job = cl.seed_job()
    path = os.path.join(data, "events.csv")
    with open(job["input"]["path"], "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    job["input"]["path"] = path
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount -t tmpfs tmpfs "$1" && shift && exec "$@"', "sh", data]
    c = cl.Cluster(env, [cl.Host(env, "127.0.0.1", wrap=hide)],
                   service=False)
    conf = {"spark.executor.instances": "1", "spark.task.maxFailures": "2"}
    res = cl.finish(env, cl.start_driver(env, job, c.master(), conf))
    res.expect_rc(4)
    check(path in res.err and "on host 127.0.0.1" in res.err,
          "the error does not name the path and the host\n%s"
          % res.describe())
    c.stop()


@test
def shared_secret(env):
    sconf = secret_conf(env)
    c = cl.Cluster(env, hosts(env), conf=sconf)
    job = cl.seed_job()
    conf = dict(sconf, **{"spark.executor.instances": "2",
                          "spark.shuffle.service.enabled": "true",
                          "spark.worker.timeout": "2s"})
    res = cl.finish(env, cl.start_driver(env, job, c.master(), conf))
    cl.expect_exact(res, job, conf)
    cl.refused_without_secret(env, c, c.hosts[0], conf)
    c.stop()


@test
def local_mode_with_secret_and_service(env):
    """Every socket of a local run uses the secret too: the shuffle server
    the driver starts refuses nobody (its refusals would show on the
    driver's stderr, which it shares)."""
    job = cl.seed_job()
    conf = dict(secret_conf(env), **{
        "spark.shuffle.service.enabled": "true",
        "spark.shuffle.service.port": str(mslib.free_port())})
    res = env.run_job(job, conf=conf, master="local[2]")
    cl.expect_exact(res, job, conf)
    check("refused" not in res.err, "a connection was refused\n%s"
          % res.describe())


if __name__ == "__main__":
    mslib.main()
