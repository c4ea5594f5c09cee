"""The web UI against slow clients: connections that send their header a
byte at a time cannot take the UI. One client address holds at most
minispark.ui.maxConnectionsPerAddress connections (the rest are closed at
once), so a client from another address is still answered while they are
open; and a connection that has not had its request answered within
minispark.ui.requestTimeout of opening is closed, however steadily it sends.
A browser's six connections from one address are all answered. The driver
lingers after its job to keep the UI up and is stopped by its PID. Only
127.0.0.0/8 is used."""

import errno
import json
import os
import signal
import socket
import time
import uuid

import mslib
from mslib import check, test

PER_ADDRESS = 8  # the default of minispark.ui.maxConnectionsPerAddress
SLOW = 70  # more than the UI's 64 connections in all
OTHER = "127.0.0.2"  # another client address, still loopback
# Generous bounds for a noisy machine: no answer or close is expected to
# take anywhere near this long.
ANSWER_S = 15.0
WAIT_S = 30.0

_files = {}


# ------------------------------------------------------------------ helpers

def job_for(env):
    if "events" not in _files:
        _files["events"] = env.gen(2000, "ui_limits_events.csv")
    return {"app_name": "ui-limits", "input": {"path": _files["events"]},
            "query": {"group_by": ["country"],
                      "aggregates": [{"fn": "count", "as": "n"}]},
            "shuffle_partitions": 2}


def start_ui(env, conf):
    """Runs a small job whose driver keeps its UI up afterwards; returns
    (mslib.Running, port)."""
    port = mslib.free_port()
    run_dir = env.new_dir("run")
    local_dir = os.path.join(run_dir, "local")
    os.makedirs(local_dir)
    conf = dict(conf, **{"minispark.ui.lingerAfterEnd": "10min"})
    args = env.base_args(env.write_job(job_for(env)), "local[2]", conf,
                         os.path.join(run_dir, "out.csv"), True,
                         local_dir) + ["--ui-port", str(port)]
    tag = uuid.uuid4().hex
    p, files = env._spawn_captured(args, tag)
    run = mslib.Running(env, p, files, tag, local_dir, None, args, None)
    deadline = time.monotonic() + WAIT_S
    while not mslib.port_answers(port):
        if p.poll() is not None or time.monotonic() > deadline:
            res = run.wait()
            raise mslib.TestFailure("the UI did not come up on port %d\n%s"
                                    % (port, res.describe()))
        time.sleep(0.05)
    return run, port


def stop_ui(env, run):
    """Stops the lingering driver by its PID and checks for leaks."""
    if run.proc.poll() is None:
        run.proc.send_signal(signal.SIGTERM)
    res = run.wait(timeout=WAIT_S)
    env.check_leaks(run.tag, [run.local_dir], res)


def slow_client(port, source="127.0.0.1"):
    """A connection that has sent the start of a request header."""
    s = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S,
                                 source_address=(source, 0))
    s.sendall(b"GET /api/v1/applications HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return s


def is_closed(s):
    """Whether the server has closed s (end of stream or reset); never
    blocks."""
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except OSError as e:
        return e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK)
    finally:
        s.settimeout(ANSWER_S)


def get(port, path, source="127.0.0.1", sock=None):
    """GETs path (on sock, kept alive, or on a new connection from source);
    returns (status, body). Raises OSError when the server closes on us."""
    s = sock or socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S,
                                         source_address=(source, 0))
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path)
                  .encode())
        f = s.makefile("rb")
        status = int(f.readline().split()[1])
        length = 0
        while True:
            line = f.readline()
            if not line:
                raise ConnectionError("closed in the middle of the headers")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        body = f.read(length)
        f.close()
        return status, body
    finally:
        if sock is None:
            s.close()


def answered(port, source, what):
    try:
        status, body = get(port, "/api/v1/applications", source)
    except (OSError, ValueError, IndexError) as e:
        raise mslib.TestFailure("%s: /api/v1/applications from %s not "
                                "answered: %r" % (what, source, e))
    check(status == 200, "%s: status %d" % (what, status))
    apps = json.loads(body)
    check(len(apps) == 1 and apps[0]["name"] == "ui-limits",
          "%s: applications %r" % (what, apps))


def trickle(socks):
    """One more header byte on every open connection, so that none is ever
    idle long enough for an idle timeout."""
    for s in socks:
        if not is_closed(s):
            try:
                s.send(b"X")
            except OSError:
                pass


def close_all(socks):
    for s in socks:
        s.close()


# -------------------------------------------------------------------- tests

@test
def one_address_cannot_hold_every_connection(env):
    # No deadline within the test: only the per-address limit is at work.
    run, port = start_ui(env, {"minispark.ui.requestTimeout": "1h"})
    socks = []
    try:
        socks = [slow_client(port) for _ in range(SLOW)]
        deadline = time.monotonic() + WAIT_S
        while sum(map(is_closed, socks)) < SLOW - PER_ADDRESS:
            check(time.monotonic() < deadline,
                  "%d of %d slow connections from one address still open "
                  "after %.0fs; at most %d should be"
                  % (SLOW - sum(map(is_closed, socks)), SLOW, WAIT_S,
                     PER_ADDRESS))
            trickle(socks)
            time.sleep(0.05)
        answered(port, OTHER, "%d slow connections open from 127.0.0.1"
                 % (SLOW - sum(map(is_closed, socks))))
        trickle(socks)
        held = [s for s in socks if not is_closed(s)]
        check(len(held) == PER_ADDRESS,
              "%d slow connections still open after the other client's "
              "answer, expected %d" % (len(held), PER_ADDRESS))
    finally:
        close_all(socks)
        stop_ui(env, run)


@test
def a_slow_header_is_closed_at_the_deadline_however_steady(env):
    timeout_s = 2.0
    run, port = start_ui(env, {"minispark.ui.requestTimeout": "2s"})
    socks = []
    try:
        t0 = time.monotonic()
        socks = [slow_client(port) for _ in range(3)]
        closed_after = [None] * len(socks)
        # A byte every 0.2 s: never idle long enough for an idle timeout.
        while None in closed_after:
            now = time.monotonic()
            check(now - t0 < WAIT_S, "slow connections still open %.0fs "
                  "after opening (request timeout %.0fs): %r"
                  % (WAIT_S, timeout_s, closed_after))
            for i, s in enumerate(socks):
                if closed_after[i] is not None:
                    continue
                if is_closed(s):
                    closed_after[i] = now - t0
                    continue
                try:
                    s.send(b"X")
                except OSError:
                    closed_after[i] = now - t0
            time.sleep(0.2)
        check(min(closed_after) >= timeout_s,
              "a slow connection was closed after %.2fs, before the %.0fs "
              "request timeout" % (min(closed_after), timeout_s))
        answered(port, "127.0.0.1", "after the slow connections were closed")
    finally:
        close_all(socks)
        stop_ui(env, run)


@test
def a_browsers_six_kept_alive_connections_are_all_answered(env):
    run, port = start_ui(env, {})
    socks = []
    try:
        socks = [socket.create_connection(("127.0.0.1", port),
                                          timeout=ANSWER_S)
                 for _ in range(6)]
        for _ in range(3):
            for path in ("/", "/ui/fragment", "/timeline.svg",
                         "/api/v1/applications", "/metrics"):
                for s in socks:
                    status, _ = get(port, path, sock=s)
                    check(status == 200, "GET %s: %d" % (path, status))
    finally:
        close_all(socks)
        stop_ui(env, run)


@test
def bad_limits_are_refused_naming_the_key(env):
    for key, value in (("minispark.ui.requestTimeout", "0"),
                       ("minispark.ui.requestTimeout", "soon"),
                       ("minispark.ui.maxConnectionsPerAddress", "0"),
                       ("minispark.ui.maxConnectionsPerAddress", "65")):
        res = env.run_job(job_for(env), conf={key: value}, timeout=60)
        res.expect_rc(2)
        check(key in res.err and "'%s'" % value in res.err,
              "stderr does not name %s=%s\n%s" % (key, value, res.describe()))


if __name__ == "__main__":
    mslib.main()
