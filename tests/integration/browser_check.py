"""Loads a page in headless Debian chromium and reads the executor chart out
of the DOM it ends with: what the web UI shows a person, scripts included.

Chromium runs with its networking features off, a fresh profile and HOME in
a temporary folder, and in its own session; all its processes carry a test
tag, so an overrun is killed by PID, children included. A missing chromium
is an error, not a skip (`sh scripts/setup.sh test` installs it).

    python3 browser_check.py http://127.0.0.1:4040/   # prints the chart facts
"""

import html.parser
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import mslib

NAMES = ("chromium", "chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def find_chromium():
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise mslib.TestFailure("chromium not found (looked for %s on PATH); "
                            "`sh scripts/setup.sh test` installs it"
                            % ", ".join(NAMES))


def dump_dom(env, url, budget_ms=5000, timeout=60):
    """The DOM of url after budget_ms of virtual time, as chromium
    serialises it. env is an mslib.Env (it tracks the processes)."""
    exe = find_chromium()
    home = tempfile.mkdtemp(prefix="chromium-", dir=env.tmp)
    profile = os.path.join(home, "profile")
    out_path, err_path = (os.path.join(home, "dom.html"),
                          os.path.join(home, "stderr"))
    args = [exe] + FLAGS + ["--user-data-dir=%s" % profile,
                            "--virtual-time-budget=%d" % budget_ms,
                            "--dump-dom", url]
    tag = uuid.uuid4().hex
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        p = env.spawn(args, tag=tag, what="chromium", stdout=out, stderr=err,
                      stdin=subprocess.DEVNULL, start_new_session=True,
                      env_extra={"HOME": home, "XDG_CONFIG_HOME": home,
                                 "XDG_CACHE_HOME": home})
    t0 = time.monotonic()
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise mslib.TestFailure("chromium still running after %ds (killed "
                                "by PID %d): %s\n%s" % (
                                    timeout, p.pid, " ".join(args),
                                    _tail(err_path)))
    finally:
        env.forget(p)
        mslib.kill_pids(mslib.wait_no_tagged(tag, 5.0))
    with open(out_path, "rb") as f:
        dom = f.read().decode(errors="replace")
    mslib.check(p.returncode == 0 and dom.strip(),
                "chromium exited %s after %.1fs with %d bytes of DOM: %s\n%s"
                % (p.returncode, time.monotonic() - t0, len(dom),
                   " ".join(args), _tail(err_path)))
    return dom


def _tail(path, limit=2000):
    try:
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


class _Chart(html.parser.HTMLParser):
    """Finds every <svg data-max-executors> and every <g> whose class names
    a removal, with the text of its own <title>."""

    def __init__(self):
        super().__init__()
        self.max_executors = []
        self.removals = []  # {"class", "executor", "title"}
        self._stack = []     # open <g>: its removal dict or None
        self._title = None   # the removal whose <title> is being read

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "data-max-executors" in a:
            self.max_executors.append(a["data-max-executors"])
        elif tag == "g":
            cls = a.get("class") or ""
            mark = None
            if any("remov" in c for c in cls.split()):
                mark = {"class": cls, "executor": a.get("data-executor"),
                        "title": None}
                self.removals.append(mark)
            self._stack.append(mark)
        elif tag == "title" and self._stack and self._stack[-1] is not None \
                and self._stack[-1]["title"] is None:
            self._title = self._stack[-1]
            self._title["title"] = ""

    def handle_endtag(self, tag):
        if tag == "g" and self._stack:
            self._stack.pop()
        elif tag == "title":
            self._title = None

    def handle_data(self, data):
        if self._title is not None:
            self._title["title"] += data


def chart_facts(dom):
    """{"max_executors": [str...], "removals": [{class, executor, title}]}
    from a serialised DOM."""
    p = _Chart()
    p.feed(dom)
    p.close()
    return {"max_executors": p.max_executors, "removals": p.removals}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: %s URL" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    e = mslib.Env(sys.executable)
    try:
        print(json.dumps(chart_facts(dump_dom(e, sys.argv[1])), indent=2))
    finally:
        e.close()
