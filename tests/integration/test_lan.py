"""The cluster across hosts: three network namespaces joined by veth pairs
to a bridge the test creates, with private addresses that exist only
inside them. Two hosts run a worker and a shuffle server, the third the
driver; every peer holds the shared secret (spark.authenticate). The seed
query runs with dynamic allocation and gives the exact result, also when
the first host's worker is killed mid-job; a driver without the secret is
refused and the worker logs it. Everything the test made (namespaces,
links, processes, files) is removed at the end. Without the right to
create namespaces (not root) the test says so and is skipped."""

import os

import cluster as cl
import mslib
from mslib import check, test


def _netns():
    if os.geteuid() != 0:
        raise mslib.Skip("creating network namespaces needs root")
    try:
        return cl.NetNS(3).open()
    except OSError as e:
        raise mslib.Skip("cannot create network namespaces here: %s" % e)


@test
def cluster_over_network_namespaces(env):
    net = _netns()
    try:
        secret = env.path("lan_secret")
        with open(secret, "w") as f:
            f.write("a secret for the namespace test\n")
        os.chmod(secret, 0o600)
        auth = {"spark.authenticate": "true",
                "spark.authenticate.secret.file": secret}
        hosts = [cl.Host(env, net.addrs[i], net.names[i]) for i in (0, 1)]
        c = cl.Cluster(env, hosts, conf=auth)
        driver_ns, driver_addr = net.names[2], net.addrs[2]
        conf = dict(auth, **{"spark.shuffle.service.enabled": "true",
                             "spark.driver.host": driver_addr})

        # The seed job as it is (its own dynamic allocation settings).
        job = cl.seed_job()
        res = cl.finish(env, cl.start_driver(env, job, c.master(), conf,
                                             driver_ns))
        cl.expect_exact(res, job, conf)
        for h in hosts:
            check("started executor" in h.worker.log(),
                  "no executor ran on %s\n%s" % (h.addr, h.worker.log()))

        cl.lose_a_worker(env, c, dict(conf, **cl.SLOW), driver_ns)
        cl.refused_without_secret(env, c, hosts[1], conf, driver_ns)
        c.stop()
    finally:
        net.close()
    left = net.leftovers()
    check(not left, "namespaces or links left behind: %s" % left)


if __name__ == "__main__":
    mslib.main()
