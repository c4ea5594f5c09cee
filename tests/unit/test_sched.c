/* The worker's scheduling policy with the time driven by hand: a waiting
 * application below its fair share makes the worker ask the one above it
 * to release executors (once, and again only after S_ASK_AGAIN_MS), a
 * silent driver's waiting launches are dropped, and FIFO never reclaims.
 * The worker is full from the start, so nothing is ever spawned; what it
 * sends is read by the drivers' DEALERs over inproc. */
#include <criterion/criterion.h>

#include <string.h>
#include <zmq.h>

#include "common/mp.h"
#include "common/proto.h"
#include "common/worker_msg.h"
#include "worker/agent.h"

static void *s_ctx, *s_router, *s_driver[2];
static ms_agent_t s_agent;
static ms_peer_t s_peer[2] = {{"app-a", 5}, {"app-b", 5}};

/* Two drivers connected and known to the router (it routes only to peers
 * it has heard from); app-a holds both cores with two executors. */
static void s_setup(void)
{
    int linger = 0, wait = 2000;
    s_ctx = zmq_ctx_new();
    s_router = zmq_socket(s_ctx, ZMQ_ROUTER);
    zmq_setsockopt(s_router, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_bind(s_router, "inproc://sched-test"), 0);
    zmq_setsockopt(s_router, ZMQ_RCVTIMEO, &wait, sizeof wait);
    for (int i = 0; i < 2; i++) {
        s_driver[i] = zmq_socket(s_ctx, ZMQ_DEALER);
        zmq_setsockopt(s_driver[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(s_driver[i], ZMQ_RCVTIMEO, &wait, sizeof wait);
        zmq_setsockopt(s_driver[i], ZMQ_ROUTING_ID, s_peer[i].id,
                       s_peer[i].len);
        cr_assert_eq(zmq_connect(s_driver[i], "inproc://sched-test"), 0);
        zmq_send(s_driver[i], "hi", 2, 0);
        char buf[16];
        zmq_recv(s_router, buf, sizeof buf, 0); /* routing id */
        zmq_recv(s_router, buf, sizeof buf, 0); /* "hi" */
    }
    memset(&s_agent, 0, sizeof s_agent);
    s_agent.cores = s_agent.used = 2;
    s_agent.fair = true;
    s_agent.router = s_router;
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(ms_agent_grow(&s_agent.execs, s_agent.nexecs,
                                   &s_agent.execs_cap, sizeof *s_agent.execs),
                     0);
        ms_agent_exec_t *e = &s_agent.execs[s_agent.nexecs++];
        memset(e, 0, sizeof *e);
        e->driver = s_peer[0];
        snprintf(e->app, sizeof e->app, "app-a");
        e->exec = k + 1;
        e->cores = 1;
    }
    cr_assert_not_null(ms_agent_app(&s_agent, &s_peer[0], "app-a", 0));
}

static void s_teardown(void)
{
    free(s_agent.execs);
    free(s_agent.apps);
    free(s_agent.queue);
    for (int i = 0; i < 2; i++)
        zmq_close(s_driver[i]);
    zmq_close(s_router);
    zmq_ctx_term(s_ctx);
}

/* app-b asks for one executor of one core at time now. */
static void s_b_waits(int64_t now)
{
    ms_exec_launch_t l;
    memset(&l, 0, sizeof l);
    snprintf(l.app, sizeof l.app, "app-b");
    l.exec = 1;
    l.cores = 1;
    l.heartbeat_ms = 1000;
    cr_assert_eq(ms_agent_enqueue(&s_agent, &s_peer[1], &l, now), 0);
}

/* The next message to driver i within 200 ms: its type and body, or -1. */
static int s_next(int i, ms_exec_release_t *rel)
{
    int wait = 200;
    zmq_setsockopt(s_driver[i], ZMQ_RCVTIMEO, &wait, sizeof wait);
    char buf[2048];
    int n = zmq_recv(s_driver[i], buf, sizeof buf, 0);
    if (n < 0) return -1;
    ms_msg_t m;
    cr_assert_eq(ms_msg_parse(&m, buf, (size_t)n, NULL), 0);
    int type = m.type;
    if (type == MS_MSG_EXEC_RELEASE)
        cr_assert_eq(ms_exec_release_unpack(&m, rel, NULL), 0);
    ms_msg_free(&m);
    return type;
}

TestSuite(sched, .init = s_setup, .fini = s_teardown);

Test(sched, a_waiting_app_below_its_share_gets_cores_reclaimed_once)
{
    ms_exec_release_t rel;
    s_b_waits(1000);
    ms_agent_schedule(&s_agent, 1000);
    cr_assert_eq(s_next(0, &rel), MS_MSG_EXEC_RELEASE);
    cr_assert_eq(rel.count, 1);
    cr_assert(strstr(rel.reason, "app-a holds 2 of share 1"), "%s", rel.reason);
    cr_assert(strstr(rel.reason, "app-b holds 0 of share 1 (waits for 1)"),
              "%s", rel.reason);
    /* Asked already: not again while the release is under way... */
    ms_agent_schedule(&s_agent, 1500);
    cr_assert_eq(s_next(0, &rel), -1);
    /* ...nor once app-a has given the executor back (the core goes to
     * app-b, which would be started here; the test keeps it full). */
    ms_agent_released(&s_agent, &s_peer[0]);
    s_agent.nexecs = 1;
    ms_agent_schedule(&s_agent, 1800);
    cr_assert_eq(s_next(0, &rel), -1);
}

Test(sched, a_kept_release_is_told_to_the_waiting_app)
{
    ms_exec_release_t rel;
    s_b_waits(1000);
    ms_agent_schedule(&s_agent, 1000);
    cr_assert_eq(s_next(0, &rel), MS_MSG_EXEC_RELEASE);
    ms_agent_kept(&s_agent, &s_peer[0], 1, "they hold map output");
    char buf[2048];
    int n = zmq_recv(s_driver[1], buf, sizeof buf, 0);
    cr_assert_gt(n, 0, "app-b was not told");
    ms_msg_t m;
    ms_exec_report_t r;
    cr_assert_eq(ms_msg_parse(&m, buf, (size_t)n, NULL), 0);
    cr_assert_eq(ms_exec_report_unpack(&m, &r, NULL), 0);
    ms_msg_free(&m);
    cr_assert_eq(r.state, MS_EXEC_QUEUED);
    cr_assert(strstr(r.message, "app-a releases 0 executors and keeps 1: they "
                                "hold map output"),
              "%s", r.message);
}

Test(sched, an_unmet_request_is_made_again_later)
{
    ms_exec_release_t rel;
    s_b_waits(1000);
    ms_agent_schedule(&s_agent, 1000);
    cr_assert_eq(s_next(0, &rel), MS_MSG_EXEC_RELEASE);
    /* app-b keeps saying hello; app-a gave nothing back. */
    for (int64_t t = 2000; t <= 31000; t += 1000) {
        ms_agent_app(&s_agent, &s_peer[1], "app-b", t)->heard_ms = t;
        ms_agent_schedule(&s_agent, t);
    }
    cr_assert_eq(s_next(0, &rel), -1, "asked again too soon");
    ms_agent_app(&s_agent, &s_peer[1], "app-b", 31500)->heard_ms = 31500;
    ms_agent_schedule(&s_agent, 31500);
    cr_assert_eq(s_next(0, &rel), MS_MSG_EXEC_RELEASE);
}

Test(sched, a_silent_driver_s_waiting_launches_are_dropped)
{
    ms_exec_release_t rel;
    s_b_waits(1000);
    ms_agent_schedule(&s_agent, 1000);
    cr_assert_eq(s_next(0, &rel), MS_MSG_EXEC_RELEASE);
    /* Three heartbeats and a second without a word from app-b. */
    ms_agent_schedule(&s_agent, 5001);
    cr_assert_eq(s_agent.nqueued, 0);
    int held, share;
    ms_agent_share(&s_agent, &s_peer[0], &held, &share);
    cr_assert_eq(held, 2);
    cr_assert_eq(share, 2, "app-a's share is whole again");
}

Test(sched, fifo_never_reclaims)
{
    ms_exec_release_t rel;
    s_agent.fair = false;
    s_b_waits(1000);
    ms_agent_schedule(&s_agent, 1000);
    cr_assert_eq(s_next(0, &rel), -1);
    ms_agent_waiting(&s_agent, &s_peer[1], 1);
    cr_assert_eq(s_next(1, &rel), MS_MSG_EXEC_STATE);
}
