"""Dynamic allocation, watched through the event log: the target rises on a
task backlog (after schedulerBacklogTimeout, then every
sustainedSchedulerBacklogTimeout, adding 1, 2, 4, ... executors) and falls
when tasks drain; idle executors are released down to minExecutors; with the
external shuffle service executors may go while a job runs, with shuffle
tracking those holding the running job's map output are kept until it ends;
invalid settings are refused; removed executors are reaped at once (no
zombies). Results always equal the reference's and static allocation's.
Every run also passes both leak checks."""

import collections
import json
import os
import re
import time

import mslib
import reference as ref
from mslib import check, test

_files = {}

# Delays in ms that stand for "a moment later" on a loaded 2-core machine.
# Lower bounds are checked to within clock rounding; upper bounds get SLACK.
ROUND_MS = 2
SLACK_MS = 2000

Q0 = {"group_by": ["country", "device"],
      "aggregates": [{"fn": "count", "as": "n"},
                     {"fn": "sum", "column": "amount", "as": "total"},
                     {"fn": "max", "column": "amount"}],
      "order_by": [{"column": "total", "desc": True}]}
Q1 = {"group_by": [{"column": "event_id", "mod": 7, "as": "k"}],
      "aggregates": [{"fn": "count"},
                     {"fn": "avg", "column": "amount"},
                     {"fn": "count_distinct", "column": "country"}]}


def events_csv(env):
    """14000 generated events, ~590 KB: 37 map tasks at 16k splits, 10 at
    64k."""
    if "events" not in _files:
        _files["events"] = env.gen(14000, "da_events.csv")
    return _files["events"]


def da_conf(**kw):
    conf = {"spark.dynamicAllocation.enabled": "true"}
    for k, v in kw.items():
        conf["spark.dynamicAllocation." + k] = str(v)
    return conf


def jobs_file(env, path, queries, partitions, pause=None):
    """A job file with "jobs": queries run in sequence, each writing its own
    output CSV; pause (e.g. "3s") goes after every job but the last.
    Returns (job dict, output paths)."""
    out_dir = env.new_dir("outputs")
    jobs, outs = [], []
    for i, q in enumerate(queries):
        outs.append(os.path.join(out_dir, "job%d.csv" % i))
        j = dict(q, output={"path": outs[-1], "format": "csv"})
        if pause and i + 1 < len(queries):
            j["pause_after"] = pause
        jobs.append(j)
    return ({"app_name": "dynamic-allocation-it", "input": {"path": path},
             "jobs": jobs, "shuffle_partitions": partitions}, outs)


def expected(path, query):
    return ref.expected_csv({"input": {"path": path}, "query": query})


def read(path, res):
    check(os.path.exists(path), "no output file %s\n%s"
          % (path, res.describe()))
    with open(path, "rb") as f:
        return f.read()


def check_same(want, got, what, res):
    check(got == want, "%s\n%s\n%s" % (what, mslib.csv_diff(want, got),
                                       res.describe()))


# ------------------------------------------------------------- event log

class Log:
    """The parsed event log of one application."""

    def __init__(self, path, res):
        self.path, self.res = path, res
        self.events = []
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    e = json.loads(line)
                except ValueError as ex:
                    raise mslib.TestFailure("%s line %d is not JSON (%s): %r"
                                            % (path, n, ex, line[:200]))
                self.fail_unless(isinstance(e, dict) and "Event" in e
                                 and isinstance(e.get("Timestamp"), int),
                                 "line %d lacks Event or Timestamp: %r"
                                 % (n, line[:200]))
                self.events.append(e)
        self.stage_names = {}
        for e in self.of("SparkListenerStageSubmitted"):
            info = e["Stage Info"]
            self.stage_names[info["Stage ID"]] = info["Stage Name"]

    def describe(self, limit=60):
        """The log without task events, for failure messages."""
        lines = []
        for i, e in self.indexed():
            if e["Event"].startswith("SparkListenerTask"):
                continue
            short = {k: v for k, v in e.items() if k != "Event"}
            lines.append("%4d %s %s" % (i, e["Event"].replace(
                "SparkListener", ""), json.dumps(short)[:220]))
        if len(lines) > limit:
            lines = lines[:limit // 2] + ["..."] + lines[-limit // 2:]
        return "event log %s (without task events):\n%s\n%s" % (
            self.path, "\n".join(lines), self.res.describe())

    def fail_unless(self, cond, msg):
        if not cond:
            raise mslib.TestFailure("%s\n%s" % (msg, self.describe()))

    def indexed(self):
        return enumerate(self.events)

    def of(self, *names):
        return [e for e in self.events if e["Event"] in names]

    def index_of(self, pred, what):
        for i, e in self.indexed():
            if pred(e):
                return i
        self.fail_unless(False, "no %s in the event log" % what)

    def job_span(self, job):
        """(index of JobStart, index of JobEnd) of job."""
        s = self.index_of(lambda e: e["Event"] == "SparkListenerJobStart"
                          and e["Job ID"] == job, "JobStart of job %d" % job)
        t = self.index_of(lambda e: e["Event"] == "SparkListenerJobEnd"
                          and e["Job ID"] == job, "JobEnd of job %d" % job)
        self.fail_unless(
            self.events[t]["Job Result"]["Result"] == "JobSucceeded",
            "job %d did not succeed" % job)
        return s, t

    def job_stages(self, job):
        s, _ = self.job_span(job)
        return self.events[s]["Stage IDs"]

    def map_stages(self, job):
        return [s for s in self.job_stages(job)
                if self.stage_names.get(s) == "map"]

    def stage_submitted(self, stage):
        return self.index_of(
            lambda e: e["Event"] == "SparkListenerStageSubmitted"
            and e["Stage Info"]["Stage ID"] == stage,
            "StageSubmitted of stage %d" % stage)

    def executor_counts(self):
        """[(log index, timestamp, live executors)] after every
        ExecutorAdded/Removed, in log order."""
        live, out = set(), []
        for i, e in self.indexed():
            if e["Event"] == "SparkListenerExecutorAdded":
                self.fail_unless(e["Executor ID"] not in live,
                                 "executor %s added twice" % e["Executor ID"])
                live.add(e["Executor ID"])
            elif e["Event"] == "SparkListenerExecutorRemoved":
                self.fail_unless(e["Executor ID"] in live,
                                 "executor %s removed but not live"
                                 % e["Executor ID"])
                live.discard(e["Executor ID"])
            else:
                continue
            out.append((i, e["Timestamp"], len(live)))
        return out

    def count_at(self, index):
        """Live executors just after log index."""
        n = 0
        for i, _, c in self.executor_counts():
            if i > index:
                break
            n = c
        return n

    def decisions(self, action, lo=0, hi=None):
        hi = len(self.events) if hi is None else hi
        return [(i, e) for i, e in self.indexed()
                if lo <= i < hi and e["Event"] == "MinisparkAllocationDecision"
                and e["Action"] == action]

    def map_task_ends(self, job):
        stages = set(self.map_stages(job))
        return [(i, e) for i, e in self.indexed()
                if e["Event"] == "SparkListenerTaskEnd"
                and e["Stage ID"] in stages]


def log_conf(log_dir):
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": log_dir}


def the_log(log_dir, res):
    names = [n for n in os.listdir(log_dir) if n.endswith(".jsonl")]
    check(len(names) == 1, "expected one event log in %s, found %s\n%s"
          % (log_dir, names, res.describe()))
    return Log(os.path.join(log_dir, names[0]), res)


def run_logged(env, job, conf, master="local[4]", leak_dirs=(), quiet=True):
    """Runs job (expecting success) with the event log on; returns
    (Result, Log)."""
    log_dir = env.new_dir("events")
    res = env.run_job(job, conf=dict(conf, **log_conf(log_dir)), output=False,
                      master=master, leak_dirs=leak_dirs, quiet=quiet)
    res.expect_rc(0)
    return res, the_log(log_dir, res)


def check_released_after(log, job, min_execs, idle_ms, next_job=None):
    """After job ends, executors drop to min_execs within idle + 1 s (and
    before next_job starts), never below it."""
    _, end = log.job_span(job)
    end_ts = log.events[end]["Timestamp"]
    limit = (log.job_span(next_job)[0] if next_job is not None
             else len(log.events))
    reached = None
    for i, ts, c in log.executor_counts():
        if i <= end or i >= limit:
            continue
        log.fail_unless(c >= min_execs, "executors fell to %d (< min %d) at "
                        "log line %d" % (c, min_execs, i + 1))
        if c == min_execs and reached is None:
            reached = ts
    if reached is None and log.count_at(end) == min_execs:
        reached = end_ts
    log.fail_unless(reached is not None, "executors never dropped to %d "
                    "after job %d ended" % (min_execs, job))
    log.fail_unless(reached - end_ts <= idle_ms + 1000,
                    "executors dropped to %d only %d ms after job %d ended "
                    "(idle timeout %d ms + 1 s allowed)"
                    % (min_execs, reached - end_ts, job, idle_ms))


def check_started(log, n):
    """n executors were asked for and registered before the first job, and
    there were never more than n."""
    s0, _ = log.job_span(0)
    adds = log.decisions("add", 0, s0)
    log.fail_unless(len(adds) == n, "%d executors asked for at start, "
                    "expected %d" % (len(adds), n))
    counts = log.executor_counts()
    peak = max(c for _, _, c in counts)
    log.fail_unless(peak == n, "peak executors %d, expected %d" % (peak, n))


def check_map_tasks_once(log, job):
    """Every map task index of job ran exactly once, successfully, in a
    single map stage attempt."""
    stages = log.map_stages(job)
    log.fail_unless(len(stages) == 1, "job %d has map stages %s"
                    % (job, stages))
    sub = log.events[log.stage_submitted(stages[0])]["Stage Info"]
    ntasks = sub["Number of Tasks"]
    attempts = {e["Stage Info"].get("Stage Attempt ID", 0)
                for e in log.of("SparkListenerStageSubmitted")
                if e["Stage Info"]["Stage ID"] == stages[0]}
    log.fail_unless(attempts == {0}, "map stage %d submitted with attempts "
                    "%s" % (stages[0], sorted(attempts)))
    ends = log.map_task_ends(job)
    per_index = collections.Counter(e["Task Info"]["Index"] for _, e in ends)
    bad = {k: v for k, v in per_index.items() if v != 1}
    log.fail_unless(not bad and set(per_index) == set(range(ntasks)),
                    "map task indexes of job %d (%d tasks) ran %s times; "
                    "missing %s" % (job, ntasks, bad or "1",
                                    sorted(set(range(ntasks)) -
                                           set(per_index))))
    failed = [e["Task Info"]["Index"] for _, e in ends
              if e["Task End Reason"]["Reason"] != "Success"]
    log.fail_unless(not failed, "map tasks %s did not succeed" % failed)
    return ntasks


# ------------------------------------------------------ ramp and release

RAMP = dict(da_conf(minExecutors=1, initialExecutors=1, maxExecutors=4,
                    schedulerBacklogTimeout="200ms",
                    sustainedSchedulerBacklogTimeout="200ms",
                    executorIdleTimeout="1s"),
            **{"minispark.test.taskDelay": "60ms",
               "spark.files.maxPartitionBytes": "16k"})


@test
def ramp_up_on_backlog_and_release_when_idle(env):
    path = events_csv(env)
    job, outs = jobs_file(env, path, [Q0, Q1], 4, pause="3s")
    res, log = run_logged(env, job, RAMP, quiet=False)
    s0, e0 = log.job_span(0)
    map0 = log.map_stages(0)[0]
    sub = log.stage_submitted(map0)
    ntasks = log.events[sub]["Stage Info"]["Number of Tasks"]
    log.fail_unless(ntasks >= 32, "only %d map tasks; the test needs >= 32"
                    % ntasks)

    # Targets while job 0 runs: first two raises are 1 -> 2 -> 4.
    targets = log.decisions("target", s0, e0)
    log.fail_unless(len(targets) >= 2, "fewer than two target changes in "
                    "job 0")
    (i1, t1), (i2, t2) = targets[0], targets[1]
    log.fail_unless((t1["Old Target"], t1["New Target"]) == (1, 2) and
                    (t2["Old Target"], t2["New Target"]) == (2, 4),
                    "target changes in job 0 start %d -> %d, %d -> %d, "
                    "expected 1 -> 2, 2 -> 4" % (
                        t1["Old Target"], t1["New Target"],
                        t2["Old Target"], t2["New Target"]))
    all_targets = [e["New Target"] for _, e in log.decisions("target")]
    log.fail_unless(max(all_targets) <= 4, "target above maxExecutors 4: %s"
                    % all_targets)
    sub_ts = log.events[sub]["Timestamp"]
    first = t1["Timestamp"] - sub_ts
    second = t2["Timestamp"] - t1["Timestamp"]
    log.fail_unless(200 - ROUND_MS <= first <= 200 + SLACK_MS,
                    "first raise %d ms after the map stage was submitted "
                    "(schedulerBacklogTimeout 200ms)" % first)
    log.fail_unless(200 - ROUND_MS <= second <= 200 + SLACK_MS,
                    "second raise %d ms after the first "
                    "(sustainedSchedulerBacklogTimeout 200ms)" % second)
    for _, t in (targets[0], targets[1]):
        log.fail_unless(t["Pending Tasks"] > 0 and "backlog" in t["Reason"],
                        "raise without a backlog: %r" % t["Reason"])

    # Executors: 1 before the backlog, 2 after the first raise, 4 after the
    # second (3 only on the way), never more than 4.
    counts = log.executor_counts()
    log.fail_unless(len(log.decisions("add", 0, s0)) == 1, "not 1 executor "
                    "asked for at start (min 1, initial 1)")
    log.fail_unless(max(c for _, _, c in counts) == 4, "peak executors %d, "
                    "expected 4" % max(c for _, _, c in counts))
    log.fail_unless(log.count_at(sub) == 1 or
                    (log.count_at(sub) == 0 and
                     [c for i, _, c in counts if i > sub][:1] == [1]),
                    "%d executors when the map stage was submitted, "
                    "expected 1" % log.count_at(sub))
    seq = []
    for i, _, c in counts:
        if i < e0 and (not seq or seq[-1] != c):
            seq.append(c)
    log.fail_unless(seq[:4] == [1, 2, 3, 4], "executors in job 0 went %s, "
                    "expected 1 -> 2 -> 4" % " -> ".join(map(str, seq)))
    first2 = min(i for i, _, c in counts if c == 2)
    first3 = min(i for i, _, c in counts if c == 3)
    log.fail_unless(i1 < first2 and i2 < first3,
                    "executors grew before the target did")
    log.fail_unless(log.count_at(i2 - 1) <= 2, "more than 2 executors "
                    "before the target rose to 4")
    adds = [e["Executor ID"] for _, e in log.decisions("add", s0, e0)]
    log.fail_unless(len(adds) == 3, "job 0 added executors %s, expected 3"
                    % adds)

    # Released after the job: back to minExecutors 1 within idle + 1 s,
    # every removal explained as idle.
    check_released_after(log, 0, 1, 1000, next_job=1)
    removes = log.decisions("remove", e0, log.job_span(1)[0])
    log.fail_unless(len(removes) == 3, "%d executors removed between the "
                    "jobs, expected 3" % len(removes))
    for _, e in removes:
        log.fail_unless("idle" in e["Reason"], "remove reason %r does not "
                        "say idle" % e["Reason"])
    for e in log.of("SparkListenerExecutorRemoved"):
        log.fail_unless(e.get("Removed Reason"), "ExecutorRemoved without a "
                        "Removed Reason: %r" % e)
    check_map_tasks_once(log, 0)
    for needle in ("minispark: target 1 -> 2:", "minispark: target 2 -> 4:",
                   "minispark: add executor 2:", "minispark: remove executor"):
        check(needle in res.err, "stderr lacks %r\n%s"
              % (needle, res.describe()))

    # Results: the reference, and the same jobs under static allocation.
    static_job, static_outs = jobs_file(env, path, [Q0, Q1], 4)
    sres = env.run_job(static_job, output=False, master="local[4]", conf={
        "spark.dynamicAllocation.enabled": "false",
        "spark.executor.instances": "2",
        "spark.files.maxPartitionBytes": "16k"}, expect=0)
    for q, out, sout in zip((Q0, Q1), outs, static_outs):
        got = read(out, res)
        check_same(expected(path, q), got, "%s differs from the reference"
                   % out, res)
        check_same(read(sout, sres), got, "%s differs from static "
                   "allocation's %s" % (out, sout), res)


# --------------------------------------------------- removals during a job

# 4 executors for 10 map tasks of 300 ms (waves of 4, 4, 2), then one reduce
# task of 300 ms: executors idle for 200 ms while the job still runs.
BUSY = dict(da_conf(minExecutors=1, initialExecutors=4, maxExecutors=4,
                    schedulerBacklogTimeout="100ms",
                    executorIdleTimeout="200ms"),
            **{"minispark.test.taskDelay": "300ms",
               "spark.files.maxPartitionBytes": "64k"})


@test
def shuffle_service_lets_executors_go_mid_job(env):
    path = events_csv(env)
    server = env.start_shuffle_server()
    try:
        job, outs = jobs_file(env, path, [Q0], 1)
        conf = dict(BUSY, **server.conf())
        res, log = run_logged(env, job, conf, leak_dirs=[server.dir])
        check(server.proc.poll() is None, "shuffle server died during the "
              "run\n%s" % server.log())
    finally:
        server.stop()
    check_same(expected(path, Q0), read(outs[0], res), "output differs from "
               "the reference", res)
    s0, e0 = log.job_span(0)
    ntasks = check_map_tasks_once(log, 0)
    log.fail_unless(ntasks >= 8, "only %d map tasks" % ntasks)
    check_started(log, 4)
    early = [e for i, e in log.indexed() if s0 < i < e0 and
             e["Event"] == "SparkListenerExecutorRemoved"]
    log.fail_unless(early, "no executor removed before the job ended")
    for e in early:
        log.fail_unless("dynamic allocation" in e["Removed Reason"] and
                        "idle" in e["Removed Reason"],
                        "unexpected Removed Reason %r" % e["Removed Reason"])
    keeps = log.decisions("keep")
    log.fail_unless(not keeps, "keep decisions with the shuffle service: %s"
                    % [e["Reason"] for _, e in keeps])
    removed_before = {e["Executor ID"] for e in early}
    mappers = {e["Task Info"]["Executor ID"] for _, e in
               log.map_task_ends(0)}
    log.fail_unless(removed_before & mappers, "no executor holding map "
                    "output was removed mid-job (removed %s, mappers %s)"
                    % (sorted(removed_before), sorted(mappers)))


@test
def shuffle_tracking_keeps_map_output_holders(env):
    path = events_csv(env)
    conf = dict(BUSY, **{"spark.shuffle.service.enabled": "false",
                         "spark.dynamicAllocation.shuffleTracking.enabled":
                         "true"})
    job, outs = jobs_file(env, path, [Q0, Q1], 1, pause="1500ms")
    res, log = run_logged(env, job, conf, quiet=False)
    check(re.search(r"^minispark: keep executor \d+: idle .* but holds "
                    r"shuffle \d+ output needed by job 0$", res.err, re.M),
          "stderr has no keep decision for job 0\n%s" % res.describe())
    for q, out in zip((Q0, Q1), outs):
        check_same(expected(path, q), read(out, res), "%s differs from the "
                   "reference" % out, res)
    for j in (0, 1):
        s, t = log.job_span(j)
        check_map_tasks_once(log, j)
        holders = {}  # executor -> log index of its first map output
        for i, e in log.map_task_ends(j):
            if e["Task End Reason"]["Reason"] == "Success":
                holders.setdefault(e["Task Info"]["Executor ID"], i)
        for i, e in log.indexed():
            if (e["Event"] == "SparkListenerExecutorRemoved" and
                    holders.get(e["Executor ID"], i) < i < t):
                log.fail_unless(False, "executor %s holds map output of "
                                "job %d but was removed at log line %d, "
                                "before the job ended (line %d)"
                                % (e["Executor ID"], j, i + 1, t + 1))
        for i, e in log.decisions("remove", s, t):
            log.fail_unless(e["Executor ID"] not in holders or
                            holders[e["Executor ID"]] > i,
                            "remove decision for map output holder %s "
                            "while job %d ran" % (e["Executor ID"], j))
        if j == 0:
            keeps = [e for i, e in log.decisions("keep", s, t)
                     if holders.get(e["Executor ID"], i) < i]
            log.fail_unless(keeps, "no keep decision for a map output "
                            "holder while job 0 ran")
            for e in keeps:
                r = e["Reason"]
                log.fail_unless(re.search(r"shuffle \d+", r) and "job 0" in r,
                                "keep reason %r names no shuffle and job"
                                % r)
    check_released_after(log, 0, 1, 200, next_job=1)


# ------------------------------------------------------------ validation

@test
def invalid_settings_exit_2(env):
    path = events_csv(env)
    job = {"input": {"path": path}, "query": Q0}
    cases = [
        ({"spark.shuffle.service.enabled": "false",
          "spark.dynamicAllocation.shuffleTracking.enabled": "false"},
         ["spark.shuffle.service.enabled",
          "spark.dynamicAllocation.shuffleTracking.enabled"]),
        ({"spark.dynamicAllocation.minExecutors": "3",
          "spark.dynamicAllocation.maxExecutors": "2"},
         ["spark.dynamicAllocation.minExecutors",
          "spark.dynamicAllocation.maxExecutors"]),
        ({"spark.dynamicAllocation.executorAllocationRatio": "0"},
         ["spark.dynamicAllocation.executorAllocationRatio"]),
        ({"spark.dynamicAllocation.executorAllocationRatio": "1.5"},
         ["spark.dynamicAllocation.executorAllocationRatio"]),
        ({"spark.dynamicAllocation.schedulerBacklogTimeout": "0"},
         ["spark.dynamicAllocation.schedulerBacklogTimeout"]),
    ]
    for conf, keys in cases:
        res = env.run_job(job, conf=dict(da_conf(), **conf))
        res.expect_rc(2)
        for k in keys:
            check(k in res.err, "stderr does not name %s\n%s"
                  % (k, res.describe()))
        check(not os.path.exists(res.output), "output written by a refused "
              "run\n%s" % res.describe())


# ----------------------------------------------------------------- zombies

def zombie_children(ppid):
    """PIDs of zombie processes whose parent is ppid."""
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) >= 2 and fields[0] == "Z" and int(fields[1]) == ppid:
            found.add(int(name))
    return found


@test
def removed_executors_are_reaped(env):
    path = events_csv(env)
    server = env.start_shuffle_server()
    try:
        log_dir = env.new_dir("events")
        # The driver starts max(min, initial, spark.executor.instances).
        conf = dict(BUSY, **server.conf())
        conf.update({"spark.dynamicAllocation.initialExecutors": "2",
                     "spark.executor.instances": "4"})
        conf.update(log_conf(log_dir))
        run = env.start_job(dict({"input": {"path": path}, "query": Q0},
                                 shuffle_partitions=1), conf=conf,
                            master="local[4]")
        driver = run.proc.pid
        samples, previous, persistent = 0, set(), set()
        while run.proc.poll() is None:
            now = zombie_children(driver)
            persistent |= now & previous
            previous = now
            samples += 1
            time.sleep(0.1)
        res = run.wait(timeout=60)
        env.check_leaks(run.tag, [run.local_dir, server.dir], res)
        check(server.proc.poll() is None, "shuffle server died during the "
              "run\n%s" % server.log())
    finally:
        server.stop()
    res.expect_rc(0)
    check(samples >= 5, "only %d samples while the driver ran\n%s"
          % (samples, res.describe()))
    check(not persistent, "zombie children of the driver (pid %d) seen in "
          "two samples 100 ms apart: %s\n%s"
          % (driver, sorted(persistent), res.describe()))
    log = the_log(log_dir, res)
    check_started(log, 4)
    _, e0 = log.job_span(0)
    removed = [i for i, e in log.indexed() if i < e0 and
               e["Event"] == "SparkListenerExecutorRemoved"]
    log.fail_unless(removed, "no executor removed while the job ran: the "
                    "zombie check saw no removal")
    check_same(expected(path, Q0), res.output_bytes(), "output differs from "
               "the reference", res)


if __name__ == "__main__":
    mslib.main()
