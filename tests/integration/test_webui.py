"""The live web UI, watched from outside while a dynamic allocation run goes
on: the REST API under /api/v1 and /metrics agree with the executor
processes the driver really has (read from /proc), removed executors say
why, jobs and stages only move forward; the page, loaded in headless
chromium, draws the chart with its removal markers; the HTTP surface is
strict (types, no-store, CSP, 404/405/414, no path tricks); --no-ui serves
nothing and a taken port moves the UI to the next one. Every run also passes
both leak checks. Only 127.0.0.1 is used."""

import http.client
from http.client import HTTPException
import json
import os
import re
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET

import browser_check
import mslib
from mslib import check, test

ROWS = 14000  # ~590 KB: 37 map tasks at 16k splits
APP_NAME = "webui-it"
UI_LINE = re.compile(r"minispark: web UI at http://127\.0\.0\.1:(\d+)/")
CSP = ("default-src 'self'; script-src 'unsafe-inline' 'self'; "
       "style-src 'unsafe-inline'")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?")
POLL_S = 0.05
# A count read from the UI and one read from /proc at nearly the same moment
# may differ by one executor that is starting or stopping; a larger gap may
# last only as long as a launch or a removal takes.
RACE_S = 1.0

DA = {"spark.dynamicAllocation.enabled": "true",
      "spark.dynamicAllocation.minExecutors": "1",
      "spark.dynamicAllocation.initialExecutors": "1",
      "spark.dynamicAllocation.maxExecutors": "4",
      "spark.dynamicAllocation.schedulerBacklogTimeout": "100ms",
      "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout": "100ms",
      "spark.dynamicAllocation.executorIdleTimeout": "500ms",
      "minispark.test.taskDelay": "40ms",
      "spark.files.maxPartitionBytes": "16k"}

Q0 = {"group_by": ["country", "device"],
      "aggregates": [{"fn": "count", "as": "n"},
                     {"fn": "sum", "column": "amount", "as": "total"}]}
Q1 = {"group_by": [{"column": "event_id", "mod": 7, "as": "k"}],
      "aggregates": [{"fn": "count"}, {"fn": "avg", "column": "amount"}]}

_files = {}


# ------------------------------------------------------------------ helpers

def events_csv(env):
    if "events" not in _files:
        _files["events"] = env.gen(ROWS, "webui_events.csv")
    return _files["events"]


def two_jobs(env, pause="2s"):
    out_dir = env.new_dir("outputs")
    jobs = []
    for i, q in enumerate((Q0, Q1)):
        j = dict(q, output={"path": os.path.join(out_dir, "job%d.csv" % i),
                            "format": "csv"})
        if i == 0 and pause:
            j["pause_after"] = pause
        jobs.append(j)
    return {"app_name": APP_NAME, "input": {"path": events_csv(env)},
            "jobs": jobs, "shuffle_partitions": 4}


def start(env, job, conf, extra):
    """Starts `minispark run` (not quiet, so the UI line is printed);
    returns an mslib.Running."""
    job_path = env.write_job(job)
    run_dir = env.new_dir("run")
    local_dir = os.path.join(run_dir, "local")
    os.makedirs(local_dir)
    args = env.base_args(job_path, "local[4]", conf, None, False,
                         local_dir) + list(extra)
    tag = uuid.uuid4().hex
    p, files = env._spawn_captured(args, tag)
    return mslib.Running(env, p, files, tag, local_dir, None, args, job)


def finish(env, run, timeout=60):
    """Waits for the driver, checks exit 0 and both leak checks."""
    res = run.wait(timeout)
    env.check_leaks(run.tag, [run.local_dir], res)
    return res.expect_rc(0)


def stderr_now(run):
    with open(run.files[1], "rb") as f:
        return f.read().decode(errors="replace")


def wait_ui_line(run, timeout=15.0):
    """The port in "web UI at http://127.0.0.1:PORT/" once it is printed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = UI_LINE.search(stderr_now(run))
        if m:
            return int(m.group(1))
        if run.proc.poll() is not None:
            break
        time.sleep(0.02)
    res = run.wait()
    raise mslib.TestFailure("no \"web UI at\" line on stderr\n%s"
                            % res.describe())


def held_port():
    """A listening socket on a loopback port whose next port was free a
    moment ago: (socket, port)."""
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if port < 65535:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as n:
                    n.bind(("127.0.0.1", port + 1))
                s.listen(1)
                return s, port
            except OSError:
                pass
        s.close()
    raise mslib.TestFailure("found no two free consecutive ports")


class Http:
    """GETs against the UI with http.client (no proxies from the
    environment), one connection per request."""

    def __init__(self, port):
        self.port = port

    def request(self, path, method="GET", timeout=5.0):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        try:
            c.request(method, path)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, \
                r.read()
        finally:
            c.close()

    def json(self, path):
        status, headers, body = self.request(path)
        check(status == 200, "GET %s: %d %r" % (path, status, body[:300]))
        check(headers.get("content-type", "").startswith("application/json"),
              "GET %s: Content-Type %r" % (path, headers.get("content-type")))
        try:
            return json.loads(body)
        except ValueError as e:
            raise mslib.TestFailure("GET %s: not JSON (%s): %r"
                                    % (path, e, body[:300]))

    def text(self, path):
        status, headers, body = self.request(path)
        check(status == 200, "GET %s: %d %r" % (path, status, body[:300]))
        return headers, body.decode()


# ---------------------------------------------------------------- /proc

def _stat(pid):
    """(state, ppid) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _argv(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def live_executors(driver_pid):
    """`minispark executor` processes whose parent is the driver and which
    have not exited (zombies not counted)."""
    n = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _stat(int(name))
        if not st or st[1] != driver_pid or st[0] in ("Z", "X"):
            continue
        argv = _argv(int(name))
        if len(argv) > 1 and argv[1] == b"executor":
            n += 1
    return n


# ----------------------------------------------------------- prometheus

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_SAMPLE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*,?)?\})? "
                     r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
                     r"|[-+]?Inf|NaN)(?: -?\d+)?$" % (_NAME, _LABEL, _LABEL))
_HELP = re.compile(r"^# HELP (%s) .*$" % _NAME)
_TYPE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$"
                   % _NAME)


def parse_metrics(text):
    """Prometheus text format 0.0.4 -> {name: (labels text, value)}; every
    sample's family declared by a TYPE line before it, once."""
    check(text.endswith("\n"), "metrics do not end with a newline")
    types, out = {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("#"):
            m = _TYPE.match(line)
            if m:
                check(m.group(1) not in types, "metrics line %d: second TYPE "
                      "for %s" % (n, m.group(1)))
                types[m.group(1)] = m.group(2)
            else:
                check(_HELP.match(line) or not line.startswith(("# HELP",
                                                                "# TYPE")),
                      "metrics line %d malformed: %r" % (n, line))
            continue
        m = _SAMPLE.match(line)
        check(m, "metrics line %d is not a Prometheus sample: %r" % (n, line))
        name = m.group(1)
        check(name in types, "metrics line %d: %s has no TYPE before it"
              % (n, name))
        out[name] = (m.group(2) or "", float(m.group(3)))
    return out


def one_metric(metrics, suffix):
    names = [k for k in metrics if k.endswith(suffix)]
    check(len(names) == 1, "expected one metric ending %r, found %s"
          % (suffix, sorted(metrics)))
    return metrics[names[0]][1]


# ------------------------------------------------------------- watching

class Sample:
    pass


def watch(http, app_id, run):
    """Polls the API and /metrics every POLL_S until the driver exits or,
    after every job ended, the UI goes away. Returns the samples."""
    base = "/api/v1/applications/%s/" % app_id
    samples = []
    while run.proc.poll() is None:
        s = Sample()
        s.t = time.monotonic()
        try:
            s.before = live_executors(run.proc.pid)
            s.execs = http.json(base + "allexecutors")
            s.after = live_executors(run.proc.pid)
            s.metrics = parse_metrics(http.text("/metrics")[1])
            s.jobs = http.json(base + "jobs")
            s.stages = http.json(base + "stages")
            s.decisions = http.json(base + "allocation")
        except (OSError, HTTPException) as e:
            done = samples and len(samples[-1].jobs) == 2 and all(
                j["status"] == "SUCCEEDED" for j in samples[-1].jobs)
            if done or run.proc.poll() is not None:
                break
            raise mslib.TestFailure("UI stopped answering before the jobs "
                                    "ended: %r\n%s" % (e, stderr_now(run)))
        samples.append(s)
        time.sleep(POLL_S)
    return samples


def check_agrees(samples, what, value, other, tolerance=1):
    """value(s) and other(s) differ by at most tolerance, or by more only
    for less than RACE_S; they agree exactly in most samples."""
    bad_since, exact, used = None, 0, 0
    for s in samples:
        a, b = value(s), other(s)
        if a is None or b is None:
            continue
        used += 1
        exact += a == b
        if abs(a - b) <= tolerance:
            bad_since = None
            continue
        bad_since = bad_since or s.t
        check(s.t - bad_since < RACE_S, "%s: %s vs %s for %.1fs (%d samples)"
              % (what, a, b, s.t - bad_since, len(samples)))
    check(used >= 10, "%s: only %d comparable samples" % (what, used))
    check(exact * 2 > used, "%s: equal in only %d of %d samples"
          % (what, exact, used))


def active(s):
    return sum(1 for e in s.execs if e["isActive"])


def check_executor_shapes(execs):
    ints = ("totalCores", "activeTasks", "completedTasks", "failedTasks",
            "totalShuffleRead", "totalShuffleWrite")
    ids = [e.get("id") for e in execs]
    check(len(set(ids)) == len(ids), "executor ids repeat: %s" % ids)
    for e in execs:
        check(isinstance(e.get("id"), str) and
              isinstance(e.get("hostPort"), str) and
              isinstance(e.get("isActive"), bool) and
              all(isinstance(e.get(k), int) for k in ints) and
              ISO.match(str(e.get("addTime"))),
              "executor summary of the wrong shape: %r" % e)
        if e["isActive"]:
            check(not e.get("removeReason"), "active executor has a remove "
                  "reason: %r" % e)
        else:
            # Idle during the run; or stopped with the application, when a
            # sample lands between that and the UI going away.
            why = str(e.get("removeReason"))
            check(ISO.match(str(e.get("removeTime"))) and
                  ("idle" in why or "application finished" in why),
                  "removed executor without a removeTime or an idle "
                  "removeReason: %r" % e)


def check_forward(samples, key, field, order, what):
    """Per id (key), field only moves forward through order, and the
    completed-task count never falls."""
    seen = {}
    for s in samples:
        for x in getattr(s, what):
            st = x[field]
            check(st in order, "%s %s has status %r" % (what, x[key], st))
            prev = seen.get(x[key])
            done = x.get("numCompleteTasks", x.get("numCompletedTasks"))
            if prev:
                check(order.index(st) >= order.index(prev[0]) and
                      done >= prev[1], "%s %s went from %s (%d done) to %s "
                      "(%d done)" % (what, x[key], prev[0], prev[1], st, done))
            seen[x[key]] = (st, done)
    return seen


# ------------------------------------------------------------ the tests

@test
def rest_api_and_metrics_follow_dynamic_allocation(env):
    port = mslib.free_port()
    log_dir = env.new_dir("events")
    conf = dict(DA, **{"minispark.ui.lingerAfterEnd": "3s",
                       "spark.eventLog.enabled": "true",
                       "spark.eventLog.dir": log_dir})
    run = start(env, two_jobs(env), conf, ["--ui-port", str(port)])
    check(wait_ui_line(run) == port, "UI not on the port asked for\n%s"
          % stderr_now(run))
    http = Http(port)
    apps = http.json("/api/v1/applications")
    check(isinstance(apps, list) and len(apps) == 1 and
          apps[0].get("name") == APP_NAME and
          isinstance(apps[0].get("attempts"), list),
          "applications: %r" % apps)
    app_id = apps[0]["id"]
    check_http_surface(http, app_id)
    samples = watch(http, app_id, run)
    res = finish(env, run)

    # The application is the one in the event log.
    logs = os.listdir(log_dir)
    check(logs == [app_id + ".jsonl"], "event logs %s for application %s"
          % (logs, app_id))
    with open(os.path.join(log_dir, logs[0])) as f:
        first = json.loads(f.readline())
    check(first.get("App ID") == app_id, "event log starts %r" % first)

    check(len(samples) >= 20, "only %d samples\n%s"
          % (len(samples), res.describe()))
    for s in samples:
        check_executor_shapes(s.execs)
    check_agrees(samples, "isActive executors vs executor processes",
                 active, lambda s: s.before if s.before == s.after else None)
    check_agrees(samples, "number_all_executors vs isActive executors",
                 lambda s: int(one_metric(s.metrics,
                                          "_number_all_executors")), active)
    peak = max(active(s) for s in samples)
    check(2 <= peak <= 4, "peak active executors %d (max 4, backlog should "
          "have raised it)" % peak)
    last = samples[-1]
    removed = [e for e in last.execs if not e["isActive"]]
    check(removed, "no executor removed: %r" % last.execs)
    first_peak = next(i for i, s in enumerate(samples) if active(s) == peak)
    check(any(active(s) < peak for s in samples[first_peak:]),
          "active executors never fell back from %d" % peak)
    check(any(active(s) == s.before == s.after >= 2 for s in samples),
          "never saw 2 or more executors in both the UI and /proc at once")

    tasks = [one_metric(s.metrics, "tasks_completed_total") for s in samples]
    check(tasks == sorted(tasks) and tasks[-1] > 0, "tasks_completed_total "
          "not rising: %s" % tasks[::10])
    for s in samples:
        for name, (labels, _) in s.metrics.items():
            check(app_id in labels, "metric %s labels %r lack the app id"
                  % (name, labels))

    check_report_replays_what_the_api_showed(env, samples,
                                             os.path.join(log_dir, logs[0]))

    jobs = check_forward(samples, "jobId", "status",
                         ["RUNNING", "SUCCEEDED"], "jobs")
    check(sorted(jobs) == [0, 1] and
          all(st == "SUCCEEDED" for st, _ in jobs.values()),
          "jobs at the end: %r" % last.jobs)
    for j in (0, 1):
        check(any(x["jobId"] == j and x["status"] == "RUNNING"
                  for s in samples for x in s.jobs),
              "job %d never seen RUNNING" % j)
    stages = check_forward(samples, "stageId", "status",
                           ["ACTIVE", "COMPLETE"], "stages")
    check(len(stages) == 4 and all(
        x["status"] == "COMPLETE" and x["numCompleteTasks"] == x["numTasks"]
        for x in last.stages), "stages at the end: %r" % last.stages)
    check(any(x["status"] == "ACTIVE" and
              0 < x["numCompleteTasks"] < x["numTasks"]
              for s in samples for x in s.stages),
          "no stage seen part-way done")


def check_report_replays_what_the_api_showed(env, samples, log):
    """`minispark report` on the run's event log draws the decisions the
    live API listed (same reasons, same executors) and the same peak."""
    svg = os.path.join(env.new_dir("report"), "timeline.svg")
    res = subprocess.run([env.binary, "report", log, "-o", svg],
                         capture_output=True, text=True, timeout=60)
    check(res.returncode == 0, "report failed: %s" % res.stderr)
    root = ET.parse(svg).getroot()
    drawn = set()
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        kind = g.get("class")
        title = g.find("{http://www.w3.org/2000/svg}title")
        if kind in ("add", "remove") and title is not None:
            drawn.add((kind, int(g.get("data-executor")), title.text))
    live = samples[-1].decisions
    shown = set((d["action"], d["executorId"] and int(d["executorId"]),
                 d["reason"]) for d in live if d["action"] in ("add",
                                                               "remove"))
    check(shown and shown <= drawn, "decisions the API listed but the report "
          "lacks: %s" % sorted(shown - drawn, key=str))
    peak = max(active(s) for s in samples)
    check(int(root.get("data-max-executors")) >= peak,
          "report peak %s, API saw %d" % (root.get("data-max-executors"),
                                          peak))


def check_http_surface(http, app_id):
    """Types, headers and refusals, checked once while the run goes on."""
    base = "/api/v1/applications/%s/" % app_id
    for path, ctype in (("/", "text/html"), ("/ui/fragment", "text/html"),
                        ("/timeline.svg", "image/svg+xml"),
                        ("/metrics", "text/plain; version=0.0.4"),
                        ("/api/v1/applications", "application/json"),
                        (base + "allocation", "application/json"),
                        (base + "timeline", "application/json")):
        status, h, body = http.request(path)
        check(status == 200 and h.get("content-type", "").startswith(ctype),
              "GET %s: %d %r" % (path, status, h.get("content-type")))
        check(h.get("cache-control") == "no-store" and
              h.get("content-security-policy") == CSP,
              "GET %s: Cache-Control %r, CSP %r" % (
                  path, h.get("cache-control"),
                  h.get("content-security-policy")))
    _, page = http.text("/")
    check("data-max-executors" in page and "<svg" in page,
          "the page has no chart: %r" % page[:500])
    _, svg = http.text("/timeline.svg")
    check(re.match(r"\s*(<\?xml[^>]*>\s*)?<svg", svg), "timeline.svg: %r"
          % svg[:200])
    for e in http.json(base + "executors"):
        check(e["isActive"], "/executors lists a removed executor: %r" % e)
    check(isinstance(http.json(base + "allocation"), list) and
          isinstance(http.json(base + "timeline"), list),
          "allocation or timeline is not a list")

    status, h, body = http.request("/api/v1/applications/app-nope/jobs")
    check(status == 404 and "error" in json.loads(body),
          "wrong app id: %d %r" % (status, body))
    refusals = [("/nope", "GET", 404), ("/metrics", "POST", 405),
                ("/metrics", "DELETE", 405), (base + "nope", "GET", 404),
                ("/api/v1/applications/%2e%2e/metrics", "GET", 404),
                ("/%2e%2e/%2e%2e/etc/passwd", "GET", 404),
                ("/metrics%00", "GET", 404), ("//metrics", "GET", 404),
                ("/api/v1/applications/../metrics", "GET", 404),
                ("/" + "a" * 5000, "GET", 414)]
    for path, method, want in refusals:
        status, h, body = http.request(path, method)
        check(status == want, "%s %s: %d, expected %d: %r"
              % (method, path[:60], status, want, body[:200]))
    status, h, _ = http.request("/metrics", "HEAD")
    check(status == 200, "HEAD /metrics: %d" % status)


@test
def browser_draws_the_chart_with_idle_removals(env):
    browser_check.find_chromium()  # fail early, before any run
    port = mslib.free_port()
    run = start(env, two_jobs(env), dict(DA, **{
        "minispark.ui.lingerAfterEnd": "3s"}), ["--ui-port", str(port)])
    check(wait_ui_line(run) == port, "UI not on the port asked for")
    http = Http(port)
    app_id = http.json("/api/v1/applications")[0]["id"]
    jobs = "/api/v1/applications/%s/jobs" % app_id
    deadline = time.monotonic() + 60
    while True:  # until the last job ended: the linger window
        js = http.json(jobs)
        if len(js) == 2 and all(j["status"] == "SUCCEEDED" for j in js):
            break
        check(time.monotonic() < deadline and run.proc.poll() is None,
              "jobs did not end: %r" % js)
        time.sleep(POLL_S)
    t0 = time.monotonic()
    dom = browser_check.dump_dom(env, "http://127.0.0.1:%d/" % port)
    took = time.monotonic() - t0
    finish(env, run)
    facts = browser_check.chart_facts(dom)
    check(facts["max_executors"] and
          all(int(n) > 1 for n in facts["max_executors"]),
          "chart data-max-executors %s, expected > 1 (chromium took %.1fs)"
          "\n%s" % (facts["max_executors"], took, dom[:2000]))
    idle = [r for r in facts["removals"] if "idle" in (r["title"] or "")]
    check(idle, "no removal marker whose title mentions idle: %r\n%s"
          % (facts["removals"], dom[:2000]))


@test
def no_ui_serves_nothing(env):
    port = mslib.free_port()
    job = two_jobs(env, pause="1s")
    run = start(env, job, DA, ["--ui-port", str(port), "--no-ui"])
    answered = 0
    while run.proc.poll() is None:
        answered += mslib.port_answers(port)
        time.sleep(POLL_S)
    res = finish(env, run)
    check(not answered, "something answered on port %d %d times with "
          "--no-ui\n%s" % (port, answered, res.describe()))
    check("web UI" not in res.err, "--no-ui still printed the UI line\n%s"
          % res.describe())


@test
def taken_port_moves_the_ui_to_the_next(env):
    sock, port = held_port()
    try:
        run = start(env, two_jobs(env, pause=None), dict(DA, **{
            "minispark.ui.lingerAfterEnd": "2s"}), ["--ui-port", str(port)])
        got = wait_ui_line(run)
        check(got == port + 1, "port %d taken: UI on %d, expected %d\n%s"
              % (port, got, port + 1, stderr_now(run)))
        apps = Http(got).json("/api/v1/applications")
        check(len(apps) == 1 and apps[0]["name"] == APP_NAME,
              "applications on port %d: %r" % (got, apps))
        finish(env, run)
    finally:
        sock.close()


if __name__ == "__main__":
    mslib.main()
