/* Which queued launch runs next, and reclaiming executors for fairness.
 * Each worker arbitrates its own cores among the applications that hold or
 * want them (weighted max-min, worker/fair.c); drivers spread their
 * waiting launches over the workers, so the shares add up across hosts.
 * Reclaiming only asks: the driver stops the executors it picks once their
 * running tasks have ended. */
#include <stdio.h>
#include <string.h>

#include "worker/agent.h"
#include "worker/fair.h"

/* An application with nothing here and no word for this long is
 * forgotten (with its weight). */
#define S_FORGET_MS 60000
/* A request to release executors not met by then is made again (the
 * driver may have had fewer executors to give than it was asked for). */
#define S_ASK_AGAIN_MS 30000
#define S_MAX_APPS 64

ms_agent_app_t *ms_agent_app(ms_agent_t *a, const ms_peer_t *driver,
                             const char *app, int64_t now)
{
    for (int i = 0; i < a->napps; i++)
        if (ms_peer_eq(&a->apps[i].driver, driver)) return &a->apps[i];
    if (ms_agent_grow(&a->apps, a->napps, &a->apps_cap, sizeof *a->apps) < 0)
        return NULL;
    ms_agent_app_t *p = &a->apps[a->napps++];
    memset(p, 0, sizeof *p);
    p->driver = *driver;
    snprintf(p->app, sizeof p->app, "%s", app);
    p->weight = 1;
    p->heard_ms = now;
    return p;
}

int ms_agent_enqueue(ms_agent_t *a, const ms_peer_t *driver,
                     const ms_exec_launch_t *l, int64_t now)
{
    ms_agent_app_t *p = ms_agent_app(a, driver, l->app, now);
    if (!p || ms_agent_grow(&a->queue, a->nqueued, &a->queue_cap,
                            sizeof *a->queue) < 0)
        return -1;
    p->heard_ms = now;
    a->queue[a->nqueued++] = (ms_agent_request_t){*driver, *l};
    return 0;
}

static void s_dequeue(ms_agent_t *a, int i)
{
    memmove(&a->queue[i], &a->queue[i + 1],
            (size_t)(a->nqueued - i - 1) * sizeof *a->queue);
    a->nqueued--;
}

void ms_agent_cancel(ms_agent_t *a, const ms_peer_t *driver, int exec)
{
    for (int i = 0; i < a->nqueued;) {
        ms_agent_request_t *q = &a->queue[i];
        if (!ms_peer_eq(&q->driver, driver) ||
            (exec >= 0 && q->launch.exec != exec)) {
            i++;
            continue;
        }
        ms_exec_report_t r = {.exec = q->launch.exec, .state = MS_EXEC_FAILED};
        snprintf(r.message, sizeof r.message, "cancelled before it started");
        ms_agent_report(a, driver, &r);
        s_dequeue(a, i);
    }
}

void ms_agent_released(ms_agent_t *a, const ms_peer_t *driver)
{
    for (int i = 0; i < a->napps; i++)
        if (ms_peer_eq(&a->apps[i].driver, driver) && a->apps[i].asked > 0) {
            a->apps[i].asked--;
            if (a->apps[i].kept > a->apps[i].asked)
                a->apps[i].kept = a->apps[i].asked;
        }
}

void ms_agent_kept(ms_agent_t *a, const ms_peer_t *driver, int count,
                   const char *why)
{
    for (int i = 0; i < a->napps; i++) {
        ms_agent_app_t *p = &a->apps[i];
        if (!ms_peer_eq(&p->driver, driver) || !p->asked) continue;
        p->kept = count < p->asked ? count : p->asked;
        snprintf(p->kept_reason, sizeof p->kept_reason, "%s", why);
    }
    /* The launches that wait learn why they wait longer. */
    for (int k = 0; k < a->nqueued; k++)
        if (!ms_peer_eq(&a->queue[k].driver, driver))
            ms_agent_waiting(a, &a->queue[k].driver, a->queue[k].launch.exec);
}

/* ---- shares ---------------------------------------------------------------
 */

typedef struct {
    int n;
    int held[S_MAX_APPS], queued[S_MAX_APPS], demand[S_MAX_APPS];
    int weight[S_MAX_APPS], share[S_MAX_APPS];
    int exec_cores[S_MAX_APPS]; /* cores of one of its executors */
} s_shares_t;

static void s_shares(const ms_agent_t *a, s_shares_t *s)
{
    memset(s, 0, sizeof *s);
    s->n = a->napps < S_MAX_APPS ? a->napps : S_MAX_APPS;
    for (int i = 0; i < s->n; i++) {
        const ms_agent_app_t *p = &a->apps[i];
        s->weight[i] = p->weight;
        for (int k = 0; k < a->nexecs; k++)
            if (ms_peer_eq(&a->execs[k].driver, &p->driver)) {
                s->held[i] += a->execs[k].cores;
                s->exec_cores[i] = a->execs[k].cores;
            }
        for (int k = 0; k < a->nqueued; k++)
            if (ms_peer_eq(&a->queue[k].driver, &p->driver))
                s->queued[i] += a->queue[k].launch.cores;
        s->demand[i] = s->held[i] + s->queued[i];
    }
    ms_fair_shares(s->demand, s->weight, s->n, a->cores, s->share);
}

static int s_index(const ms_agent_t *a, const ms_peer_t *driver)
{
    for (int i = 0; i < a->napps && i < S_MAX_APPS; i++)
        if (ms_peer_eq(&a->apps[i].driver, driver)) return i;
    return -1;
}

void ms_agent_share(ms_agent_t *a, const ms_peer_t *driver, int *held,
                    int *share)
{
    s_shares_t s;
    s_shares(a, &s);
    int i = s_index(a, driver);
    *held = i < 0 ? 0 : s.held[i];
    *share = i < 0 ? 0 : a->fair ? s.share[i] : s.demand[i];
    if (*share > a->cores) *share = a->cores;
}

/* "app-A holds 2 of share 1, app-B holds 0 of share 1 (waits for 1)" */
static void s_describe(const ms_agent_t *a, const s_shares_t *s, char *buf,
                       size_t size)
{
    size_t at = 0;
    for (int i = 0; i < s->n && at < size; i++) {
        if (!s->demand[i]) continue;
        int n = snprintf(buf + at, size - at, "%s%s holds %d of share %d%s",
                         at ? ", " : "", a->apps[i].app, s->held[i],
                         s->share[i], s->weight[i] != 1 ? " (weighted)" : "");
        at += n > 0 ? (size_t)n : 0;
        if (s->queued[i] && at < size) {
            n = snprintf(buf + at, size - at, " (waits for %d)", s->queued[i]);
            at += n > 0 ? (size_t)n : 0;
        }
    }
}

/* The next queued launch to start: fair, the one whose application has
 * the fewest cores per weight here (the oldest among equals); FIFO, the
 * oldest. Only launches that fit the free cores; -1 if none does. */
static int s_next(const ms_agent_t *a, const s_shares_t *s)
{
    int best = -1, free = a->cores - a->used;
    long long best_key = 0;
    for (int k = 0; k < a->nqueued; k++) {
        const ms_agent_request_t *q = &a->queue[k];
        if (q->launch.cores > free) continue;
        if (!a->fair) return k;
        int i = s_index(a, &q->driver);
        /* cores held per unit of weight, in millionths */
        long long key = i < 0 ? 0
                              : (long long)s->held[i] * 1000000 /
                                    (s->weight[i] ? s->weight[i] : 1);
        if (best < 0 || key < best_key) {
            best = k;
            best_key = key;
        }
    }
    return best;
}

/* Asks the applications above their share to give back executors, as
 * many as the waiting ones below their share still lack (less the cores
 * free and those already being given back). */
static void s_reclaim(ms_agent_t *a, const s_shares_t *s, int64_t now)
{
    int owed = 0;
    for (int i = 0; i < s->n; i++)
        if (a->apps[i].asked && now - a->apps[i].asked_ms > S_ASK_AGAIN_MS)
            a->apps[i].asked = a->apps[i].kept = 0;
    for (int i = 0; i < s->n; i++) {
        int want = s->share[i] < s->demand[i] ? s->share[i] : s->demand[i];
        if (s->queued[i] && want > s->held[i]) owed += want - s->held[i];
        owed -= a->apps[i].asked * s->exec_cores[i];
    }
    owed -= a->cores - a->used;
    char why[400];
    why[0] = '\0';
    for (int j = 0; j < s->n && owed > 0; j++) {
        ms_agent_app_t *p = &a->apps[j];
        int size = s->exec_cores[j];
        if (!size || s->held[j] <= s->share[j]) continue;
        int excess = (s->held[j] - s->share[j]) / size - p->asked;
        int count = (owed + size - 1) / size;
        if (count > excess) count = excess;
        if (count <= 0) continue;
        if (!why[0]) s_describe(a, s, why, sizeof why);
        ms_exec_release_t r = {.count = count};
        snprintf(r.reason, sizeof r.reason, "fair shares of its %d cores: %s",
                 a->cores, why);
        printf("minispark worker: asking %s to release %d executor%s: %s\n",
               p->app, count, count == 1 ? "" : "s", r.reason);
        fflush(stdout);
        ms_msg_builder_t b;
        ms_exec_release_pack(&r, &b);
        ms_agent_send(a, &p->driver, &b);
        p->asked += count;
        p->asked_ms = now;
        owed -= count * size;
    }
}

/* Forgets applications with nothing here that went silent. */
static void s_forget(ms_agent_t *a, const s_shares_t *s, int64_t now)
{
    for (int i = a->napps - 1; i >= 0; i--)
        if ((i >= s->n || !s->demand[i]) &&
            now - a->apps[i].heard_ms > S_FORGET_MS)
            a->apps[i] = a->apps[--a->napps];
}

/* A driver that stopped saying hello (three heartbeats and a second) is
 * gone: its waiting launches would start executors for nobody, and count
 * as demand that takes cores from the others. */
static void s_drop_orphans(ms_agent_t *a, int64_t now)
{
    for (int k = 0; k < a->nqueued;) {
        const ms_agent_request_t *q = &a->queue[k];
        int i = s_index(a, &q->driver);
        if (i >= 0 &&
            now - a->apps[i].heard_ms <= 3 * q->launch.heartbeat_ms + 1000) {
            k++;
            continue;
        }
        printf("minispark worker: dropped the waiting executor %d of %s: its "
               "driver is silent\n",
               q->launch.exec, q->launch.app);
        fflush(stdout);
        s_dequeue(a, k);
    }
}

void ms_agent_schedule(ms_agent_t *a, int64_t now)
{
    s_shares_t s;
    s_drop_orphans(a, now);
    for (;;) {
        s_shares(a, &s);
        int k = s_next(a, &s);
        if (k < 0) break;
        ms_agent_request_t q = a->queue[k];
        s_dequeue(a, k);
        ms_agent_start(a, &q);
    }
    if (a->fair) s_reclaim(a, &s, now);
    s_forget(a, &s, now);
}

void ms_agent_waiting(ms_agent_t *a, const ms_peer_t *driver, int exec)
{
    for (int k = 0; k < a->nqueued; k++) {
        const ms_agent_request_t *q = &a->queue[k];
        if (q->launch.exec != exec || !ms_peer_eq(&q->driver, driver)) continue;
        s_shares_t s;
        char why[400] = "";
        s_shares(a, &s);
        if (a->fair) s_describe(a, &s, why, sizeof why);
        /* and who was asked to make room */
        size_t at = strlen(why);
        for (int i = 0; i < a->napps && at < sizeof why; i++) {
            if (!a->apps[i].asked) continue;
            const ms_agent_app_t *p = &a->apps[i];
            int n = snprintf(
                why + at, sizeof why - at, "; %s releases %d executor%s",
                p->app, p->asked - p->kept, p->asked - p->kept == 1 ? "" : "s");
            at += n > 0 ? (size_t)n : 0;
            if (p->kept && at < sizeof why) {
                n = snprintf(why + at, sizeof why - at, " and keeps %d: %s",
                             p->kept, p->kept_reason);
                at += n > 0 ? (size_t)n : 0;
            }
        }
        ms_exec_report_t r = {.exec = exec, .state = MS_EXEC_QUEUED};
        snprintf(r.message, sizeof r.message, "%d of %d cores free; %s%s",
                 a->cores - a->used, a->cores,
                 a->fair ? "fair shares: " : "first come, first served", why);
        ms_agent_report(a, driver, &r);
        return;
    }
}
