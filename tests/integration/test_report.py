"""`minispark report`: a real run's event log drawn as an SVG chart and a
static HTML page. The chart's numbers are checked against the log itself
(peak executors from SparkListenerExecutorAdded/Removed, one removal marker
per "remove" decision carrying its reason); usage errors exit 2; a missing
or malformed log exits 3 naming the file (and the line); the output is
written atomically and never half-written."""

import glob
import json
import os
import re
import xml.etree.ElementTree as ET

import mslib
from mslib import check, test

SVG_NS = "{http://www.w3.org/2000/svg}"
_cache = {}


def demo_log(env):
    """Runs examples/dynamic-allocation.json (input made absolute) on
    local[4] with an event log; returns (log path, parsed events)."""
    if "log" in _cache:
        return _cache["log"]
    with open(os.path.join(mslib.REPO, "examples",
                           "dynamic-allocation.json")) as f:
        job = json.load(f)
    job["input"]["path"] = os.path.join(mslib.REPO, job["input"]["path"])
    check(os.path.exists(job["input"]["path"]),
          "missing dataset %s (make generates it)" % job["input"]["path"])
    log_dir = env.new_dir("events")
    res = env.run_job(env.write_job(job), output=False, master="local[4]",
                      extra=["--event-log", log_dir], timeout=180)
    res.expect_rc(0)
    logs = glob.glob(os.path.join(log_dir, "*.jsonl"))
    check(len(logs) == 1, "expected one event log in %s, found %s\n%s"
          % (log_dir, logs, res.describe()))
    with open(logs[0]) as f:
        events = [json.loads(line) for line in f if line.strip()]
    _cache["log"] = (logs[0], events)
    return _cache["log"]


def report(env, *args):
    return env.run_args([env.binary, "report"] + list(args))


def peak_executors(events):
    live = peak = 0
    for e in events:
        if e["Event"] == "SparkListenerExecutorAdded":
            live += 1
        elif e["Event"] == "SparkListenerExecutorRemoved":
            live -= 1
        peak = max(peak, live)
    return peak


def decisions(events, action=None):
    return [e for e in events if e["Event"] == "MinisparkAllocationDecision"
            and (action is None or e["Action"] == action)]


def no_temp_files(folder):
    left = [f for f in os.listdir(folder) if ".tmp" in f]
    check(not left, "temporary files left in %s: %s" % (folder, left))


def expect_exit(res, rc, *needles):
    res.expect_rc(rc)
    for n in needles:
        check(re.search(n, res.err), "stderr does not match %r\n%s"
              % (n, res.describe()))


# ------------------------------------------------------------------ output

@test
def svg_matches_the_event_log(env):
    log, events = demo_log(env)
    out_dir = env.new_dir("svg")
    out = os.path.join(out_dir, "timeline.svg")
    res = report(env, log, "-o", out)
    res.expect_rc(0)
    check(res.out.strip() == out, "stdout should be the written path, got "
          "%r\n%s" % (res.out, res.describe()))
    no_temp_files(out_dir)
    try:
        root = ET.parse(out).getroot()
    except ET.ParseError as e:
        raise mslib.TestFailure("%s is not well-formed XML: %s" % (out, e))
    check(root.tag == SVG_NS + "svg", "root element is %s" % root.tag)
    for attr in ("width", "height", "viewBox"):
        check(attr in root.attrib, "<svg> has no %s" % attr)
    peak = peak_executors(events)
    check(peak >= 2, "the demo should scale past one executor (peak %d)"
          % peak)
    check(root.get("data-max-executors") == str(peak),
          "data-max-executors=%r, but the log peaks at %d executors"
          % (root.get("data-max-executors"), peak))

    removes = decisions(events, "remove")
    check(removes, "the demo log has no remove decision")
    groups = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "remove"]
    check(len(groups) == len(removes), "%d removal markers for %d remove "
          "decisions" % (len(groups), len(removes)))
    for g, d in zip(groups, removes):
        title = g.find(SVG_NS + "title")
        check(title is not None, "a removal marker has no <title>")
        check(title.text == d["Reason"], "marker title %r, decision reason "
              "%r" % (title.text, d["Reason"]))
        check(g.get("data-executor") == d["Executor ID"], "marker for "
              "executor %s, decision for %s"
              % (g.get("data-executor"), d["Executor ID"]))
    adds = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "add"]
    check(len(adds) == len(decisions(events, "add")),
          "%d add markers for %d add decisions"
          % (len(adds), len(decisions(events, "add"))))


@test
def html_is_a_static_page_with_every_decision(env):
    log, events = demo_log(env)
    out_dir = env.new_dir("html")
    out = os.path.join(out_dir, "report.html")
    res = report(env, log, "-o", out)
    res.expect_rc(0)
    check(res.out.strip() == out, "stdout should be the written path, got "
          "%r" % res.out)
    no_temp_files(out_dir)
    with open(out, encoding="utf-8") as f:
        page = f.read()
    check(page.startswith("<!DOCTYPE html>"), "not an HTML document: %r"
          % page[:80])
    check("<script" not in page.lower(), "the static report has a script")
    for needle in ('id="executors"', 'id="stages"', 'id="decisions"',
                   "<svg "):
        check(needle in page, "the page lacks %s" % needle)
    rows = page.count('<tr class="decision ')
    check(rows == len(decisions(events)), "%d decision rows for %d "
          "decisions in the log" % (rows, len(decisions(events))))
    removes = page.count('<tr class="decision action-remove"')
    check(removes == len(decisions(events, "remove")),
          "%d remove rows for %d remove decisions"
          % (removes, len(decisions(events, "remove"))))


@test
def default_output_is_timeline_html(env):
    log, _ = demo_log(env)
    cwd = os.getcwd()
    work = env.new_dir("default")
    os.chdir(work)
    try:
        res = report(env, log)
    finally:
        os.chdir(cwd)
    res.expect_rc(0)
    check(res.out.strip() == "timeline.html", "stdout %r" % res.out)
    check(os.path.exists(os.path.join(work, "timeline.html")),
          "no timeline.html in the current directory")


# ------------------------------------------------------------------ errors

@test
def usage_errors_exit_2(env):
    log = env.write("tiny.jsonl", "")
    res = report(env, "--help")
    res.expect_rc(0)
    check("-o" in res.out, "--help does not mention -o\n%s"
          % res.describe())
    for args in ([], ["--bogus"], [log, "-o"], [log, log],
                 [log, "-o", env.path("chart.png")],
                 [log, "-o", env.path("noext")]):
        res = report(env, *args)
        check(res.rc == 2, "expected exit status 2\n%s" % res.describe())
        check(res.err.strip(), "no message on stderr: %s" % res.cmd)
    res = report(env, log, "-o", env.path("chart.png"))
    expect_exit(res, 2, r"\.svg", r"\.html")
    check(not os.path.exists(env.path("chart.png")), "wrote chart.png")


@test
def missing_log_exits_3_naming_it(env):
    missing = env.path("no_such_log.jsonl")
    out = env.path("never.svg")
    res = report(env, missing, "-o", out)
    expect_exit(res, 3, re.escape(missing))
    check(not os.path.exists(out), "an output was written for a missing log")


@test
def malformed_log_exits_3_naming_file_and_line(env):
    log, _ = demo_log(env)
    with open(log) as f:
        lines = f.readlines()
    bad = env.write("bad.jsonl", lines[0] + lines[1]
                    + '{"Event": "SparkListenerJobStart", "Job ID": \n'
                    + "".join(lines[2:]))
    out_dir = env.new_dir("bad")
    out = os.path.join(out_dir, "never.html")
    res = report(env, bad, "-o", out)
    expect_exit(res, 3, re.escape(bad), r"(line 3\b|:3\b)")
    check(not os.listdir(out_dir), "files left after a failed report: %s"
          % os.listdir(out_dir))


@test
def unwritable_output_exits_3(env):
    log, _ = demo_log(env)
    out = env.path("no", "such", "folder", "t.svg")
    res = report(env, log, "-o", out)
    expect_exit(res, 3, re.escape(out))


if __name__ == "__main__":
    mslib.main()
