"""The shuffle server against hostile and careless peers, over a raw ZMTP
connection (zmtp.py): crafted frames get an error reply or a dropped
connection and the server carries on; applications found only on disk are
not served until registered; a client that sends fetches and never reads
holds a bounded amount of the server's memory and is dropped; and a server
a driver started dies with the driver and does not hold its pipes. Run it
against the sanitizer build too: any undefined behaviour aborts the server,
and its exit status is checked."""

import os
import select
import signal
import struct
import subprocess
import time
import uuid

import mslib
from mslib import check, test
from zmtp import Peer, frame_header, msg, pack, unpack

PING, PONG, FETCH, BLOCKS = 22, 23, 20, 21
REMOVE_APP, REMOVED, APP_ALIVE, REMOVE_SHUFFLE = 24, 25, 26, 14
ERR_PROTO, ERR_NOTFOUND = -2, -8
BIG = 60000  # a block just under the size the server maps instead of reading


def write_output(dir_, app, shuffle, map_, blocks):
    """A map output as the executors write it: data, then the index of
    len(blocks) + 1 little-endian offsets. The server does not look inside
    blocks; a 20-byte header makes them look like real ones anyway."""
    data, offsets = b"", [0]
    for raw in blocks:
        if raw:
            data += (b"MSB1\0\0\0\0" + struct.pack("<QI", len(raw), 0) + raw)
        offsets.append(len(data))
    base = os.path.join(dir_, "shuffle_%s_%d_%d" % (app, shuffle, map_))
    with open(base + ".data", "wb") as f:
        f.write(data)
    with open(base + ".index", "wb") as f:
        f.write(b"".join(struct.pack("<Q", o) for o in offsets))


def fetch(app, maps, req=0, shuffle=0, partition=1):
    return msg(FETCH, req, app, shuffle, partition, list(maps))


def status(reply):
    check(reply[1] == BLOCKS and len(reply) == 6, "not a BLOCKS reply: %r"
          % (reply,))
    return reply[3], reply[4]


def alive(server):
    d = Peer(server.port)
    try:
        r, _ = d.call(msg(PING))
        check(r[1] == PONG and r[2] == server.dir, "bad PONG %r" % (r,))
    finally:
        d.close()
    check(server.proc.poll() is None, "the shuffle server died:\n%s"
          % server.log())


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


@test
def crafted_frames_get_errors_and_the_server_carries_on(env):
    server = env.start_shuffle_server()
    write_output(server.dir, "app1", 0, 0, [b"a" * 10, b"b" * 20])
    d = Peer(server.port)
    crafted = [
        ("a fetch with an empty app id", fetch("", [0]), ERR_PROTO),
        ("a fetch with a path for an app id", fetch("../x", [0]), ERR_PROTO),
        ("a fetch naming a negative map", fetch("app1", [-1]), ERR_PROTO),
        ("a fetch of too many maps", fetch("app1", range(1025)), ERR_PROTO),
        ("a fetch with an id as binary", msg(FETCH, 0, b"app1", 0, 1, [0]),
         ERR_PROTO),
        ("an unknown message type", msg(99, "x"), ERR_PROTO),
        ("a message of protocol version 2", pack([2, PING]), ERR_PROTO),
        ("truncated msgpack", fetch("app1", [0])[:7], ERR_PROTO),
        ("not msgpack at all", b"\xc1\xc1\xc1", ERR_PROTO),
        ("an empty frame", b"", ERR_PROTO),
        ("a 4-billion-item array header", b"\xdd\xff\xff\xff\xff",
         ERR_PROTO),
    ]
    for what, body, want in crafted:
        r, blocks = d.call(body)
        st, text = status(r)
        check(st == want and not blocks, "%s: status %d (%s), %d blocks"
              % (what, st, text, len(blocks)))
    # Two frames where one is expected.
    d.send(fetch("app1", [0]), b"extra")
    st, _ = status(unpack(d.recv()[0]))
    check(st == ERR_PROTO, "a two-frame request got status %d" % st)
    # Removing with an empty or bad id removes nothing, and says so.
    for body in (msg(REMOVE_APP, ""), msg(REMOVE_SHUFFLE, "", 0),
                 msg(REMOVE_APP, "app1", "more"), msg(REMOVE_SHUFFLE, "a/b", 0)):
        r, _ = d.call(body)
        check(r[1] == REMOVED and r[2] < 0, "bad remove answered %r" % (r,))
    check(os.path.exists(os.path.join(server.dir, "shuffle_app1_0_0.data")),
          "a bad remove deleted files")
    # APP_ALIVE has no answer, valid or not; PING with a bad id still pongs.
    d.send(msg(APP_ALIVE, ""))
    d.send(msg(APP_ALIVE))
    r, _ = d.call(msg(PING, ""))
    check(r[1] == PONG, "PING [''] answered %r" % (r,))
    d.close()
    # A frame over the 64 MiB limit: the connection goes, the server stays.
    d = Peer(server.port)
    d.send_raw(frame_header(100 << 20) + b"x" * 65536)
    try:
        while d.sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    d.close()
    alive(server)
    server.stop()


@test
def an_application_found_on_disk_is_served_only_once_registered(env):
    dir_ = env.new_dir("shuffle_server")
    for m in range(3):
        write_output(dir_, "app2", 0, m, [b"p0", b"p1" * (m + 1)])
    server = env.start_shuffle_server(dir_=dir_)
    d = Peer(server.port)
    r, blocks = d.call(fetch("app2", [0, 1, 2], req=5))
    st, text = status(r)
    check(st == ERR_NOTFOUND and "not registered" in text and not blocks,
          "an unregistered application was served: %d %s" % (st, text))
    r, _ = d.call(msg(PING, "app2"))
    check(r[1] == PONG, "PING [app2] answered %r" % (r,))
    r, blocks = d.call(fetch("app2", [0, 1, 2], req=6))
    st, text = status(r)
    check(st == 0 and r[2] == 6 and len(blocks) == 3,
          "a registered application was not served: %d %s, %d blocks"
          % (st, text, len(blocks)))
    check(blocks[2].endswith(b"p1p1p1"), "wrong block %r" % blocks[2][-8:])
    d.close()
    server.stop()


NMAPS = 256  # one fetch: 256 blocks of BIG bytes, 15 MB


def _memory_server(env, conf):
    dir_ = env.new_dir("shuffle_server")
    for m in range(NMAPS):
        write_output(dir_, "app3", 0, m, [b"", b"x" * BIG])
    return env.start_shuffle_server(dir_=dir_, conf=conf)


def _handled(server, turns=80):
    """Pings turns times: the server reads its connections in turn, so the
    requests sent before have been handled by then."""
    d = Peer(server.port)
    for _ in range(turns):
        d.call(msg(PING))
    d.close()


@test
def a_client_that_does_not_read_holds_bounded_memory_and_is_dropped(env):
    server = _memory_server(env, {"minispark.shuffle.maxBytesInFlight": "32m"})
    base = rss_mb(server.proc.pid)
    reader, lazy = Peer(server.port), Peer(server.port)
    lazy.call(msg(PING, "app3"))
    # 40 fetches of 15 MB, never read: 600 MB if the server kept them all.
    for i in range(40):
        lazy.send(fetch("app3", range(NMAPS), req=i))
    _handled(server)
    held = rss_mb(server.proc.pid) - base
    print("  server RSS %.0f MB at start, +%.0f MB with 40 unread fetches of "
          "%.0f MB" % (base, held, NMAPS * BIG / 1e6))
    check(held < 250, "the server grew by %.0f MB for a client that does "
          "not read (bound 32m)" % held)
    # Others are still served, in full.
    r, blocks = reader.call(fetch("app3", range(NMAPS), req=99))
    check(status(r)[0] == 0 and len(blocks) == NMAPS and
          all(len(b) == BIG + 20 for b in blocks),
          "a reading client was not served alongside a lazy one")
    # Past 64 waiting fetches the lazy client is disconnected.
    for i in range(40, 80):
        lazy.send(fetch("app3", range(NMAPS), req=i))
    _handled(server)
    dropped = False
    deadline = time.monotonic() + 60
    lazy.sock.settimeout(5)
    try:
        while time.monotonic() < deadline:
            if not lazy.sock.recv(1 << 20):
                dropped = True
                break
    except (ConnectionResetError, OSError):
        dropped = True
    check(dropped, "a client with 80 unread fetches was not dropped")
    lazy.close()
    reader.close()
    alive(server)
    server.stop()
    check("dropped a client" in server.log(), "the drop is not logged:\n%s"
          % server.log())


@test
def a_driver_killed_takes_its_shuffle_server_and_closes_its_pipes(env):
    data = env.gen(2000, "events.csv")
    job = {"input": {"path": data}, "query": {"group_by": ["country"],
           "aggregates": [{"fn": "count", "as": "n"}]},
           "shuffle_partitions": 4}
    port = mslib.free_port()
    run_dir = env.new_dir("run")
    args = env.base_args(env.write_job(job), "local[2]",
                         {"spark.shuffle.service.enabled": "true",
                          "spark.shuffle.service.port": str(port),
                          "minispark.test.taskDelay": "30s"},
                         None, False, run_dir)
    tag = uuid.uuid4().hex
    # As `minispark run ... 2>&1 | cat`: the test holds the pipe's far end.
    driver = env.spawn(args, tag=tag, what="minispark driver",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    # Killed once it runs tasks: its executors hold the pipe too.
    server_pid, executors = None, []
    deadline = time.monotonic() + 30
    while not (server_pid and executors) and time.monotonic() < deadline:
        for pid in mslib.tagged_pids(tag):
            if "shuffle-server" in mslib._describe(pid):
                server_pid = pid
            elif " executor " in mslib._describe(pid):
                executors.append(pid)
        time.sleep(0.05)
    check(server_pid and mslib.port_answers(port),
          "the driver started no shuffle server")
    check(driver.poll() is None, "the driver ended early")
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    killed = time.monotonic()
    # The pipe ends once every process holding it has gone: the executors
    # within their heartbeat timeout, and the server at once.
    out, eof = b"", False
    deadline = time.monotonic() + 30
    while not eof and time.monotonic() < deadline:
        ready, _, _ = select.select([driver.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(driver.stdout.fileno(), 65536)
            eof = not chunk
            out += chunk
    took = time.monotonic() - killed
    driver.stdout.close()
    left = mslib.wait_no_tagged(tag, 10)
    mslib.kill_pids(left)
    check(eof, "the driver's output pipe stayed open 30 s after it was "
          "killed, held by: %s"
          % ", ".join("%d %s" % (p, mslib._describe(p)) for p in left))
    check(server_pid not in left, "the shuffle server (pid %d) outlived "
          "its driver" % server_pid)
    check(not left, "processes outlived the driver: %s" % left)
    print("  the pipe ended %.1f s after the driver was killed" % took)
    log = os.path.join(run_dir, "minispark-shuffle-%d.log" % port)
    check(os.path.exists(log), "no shuffle server log at %s" % log)


def _server_with_parent(env, parent, conf):
    dir_ = env.new_dir("shuffle_server")
    port = mslib.free_port()
    args = [env.binary, "shuffle-server", "--bind",
            "tcp://127.0.0.1:%d" % port, "--dir", dir_, "--parent-pid",
            str(parent), "--log", dir_ + ".log"]
    for k, v in conf.items():
        args += ["--conf", "%s=%s" % (k, v)]
    p = env.spawn(args, what="shuffle-server", stdin=subprocess.DEVNULL,
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, port, dir_ + ".log"


@test
def a_server_with_a_parent_exits_when_idle_or_orphaned(env):
    # Its parent is this script: it stays while an application is
    # registered, and goes once none has been for the idle timeout.
    p, port, log = _server_with_parent(
        env, os.getpid(), {"minispark.shuffle.idleTimeout": "2s",
                           "minispark.shuffle.appTimeout": "5s"})
    deadline = time.monotonic() + 10
    while not mslib.port_answers(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    d = Peer(port)
    for _ in range(3):  # registered for ~3 s, beyond the idle timeout
        d.call(msg(PING, "app4"))
        time.sleep(1.0)
        check(p.poll() is None, "a server with a registered application "
              "exited for idleness")
    d.close()
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise mslib.TestFailure("the server was still up 30 s after its "
                                "last application went (idleTimeout 2s)")
    with open(log) as f:
        text = f.read()
    check(rc == 0 and "no application registered" in text,
          "idle exit: status %s, log:\n%s" % (rc, text))
    # A parent that is not (or no longer) its parent: it exits at once.
    p, _, log = _server_with_parent(env, 1 << 22, {})
    check(p.wait(timeout=30) == 0, "exit status %s" % p.returncode)
    with open(log) as f:
        text = f.read()
    check("parent" in text and "gone" in text, "log:\n%s" % text)


if __name__ == "__main__":
    mslib.main()
