/* The web UI's defences against slow clients, over loopback: a connection
 * whose request is not answered within the request timeout is closed
 * however steadily it sends (an answer restarts its clock), one address
 * holds only so many connections while another is still answered, and
 * stopping with such connections open frees everything. Time bounds are
 * only lower bounds, or generous. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "driver/webui.h"

#define S_PATIENCE_MS 10000 /* far beyond any expected wait */

static ms_ui_state_t *s_state;
static ms_webui_t *s_ui;

static void s_setup(void)
{
    s_state = ms_ui_state_new();
    cr_assert_not_null(s_state);
}

static void s_teardown(void)
{
    ms_webui_stop(&s_ui);
    ms_ui_state_destroy(&s_state);
}

TestSuite(webui, .init = s_setup, .fini = s_teardown);

static void s_start(int per_address, int64_t timeout_ms)
{
    ms_webui_limits_t limits = {per_address, timeout_ms};
    ms_error_t err = {0};
    cr_assert_eq(ms_webui_start(&s_ui, s_state, "127.0.0.1", 0, &limits, &err),
                 0, "%s", err.msg);
}

/* A connection from source to the UI that has sent half a header. */
static int s_slow(const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)ms_webui_port(s_ui))};
    inet_pton(AF_INET, source, &from.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&from, sizeof from), 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&to, sizeof to), 0, "%s",
                 strerror(errno));
    const char *half = "GET /api/v1/applications HTTP/1.1\r\nHost: x\r\n";
    cr_assert_eq(send(fd, half, strlen(half), MSG_NOSIGNAL),
                 (ssize_t)strlen(half));
    return fd;
}

/* Waits up to wait_ms for the server to end fd's stream; true if it did. */
static bool s_closed_within(int fd, int wait_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    char c;
    if (poll(&p, 1, wait_ms) <= 0) return false;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

/* The status of a whole GET sent on a fresh connection from source. */
static int s_status(const char *source)
{
    int fd = s_slow(source);
    char reply[256] = {0};
    cr_assert_eq(send(fd, "\r\n", 2, MSG_NOSIGNAL), 2);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    cr_assert_eq(poll(&p, 1, S_PATIENCE_MS), 1, "no answer from %s", source);
    ssize_t n = recv(fd, reply, sizeof reply - 1, 0);
    close(fd);
    int status = 0;
    if (n > 0) sscanf(reply, "HTTP/1.1 %d", &status);
    return status;
}

Test(webui, a_steady_slow_header_is_closed_at_the_request_timeout)
{
    s_start(8, 300);
    int64_t t0 = ms_clock_now_ms();
    int fd = s_slow("127.0.0.1");
    bool closed = false;
    /* A byte every 20 ms: libmicrohttpd's idle timeout never fires. */
    while (!closed && ms_clock_now_ms() - t0 < S_PATIENCE_MS) {
        closed = s_closed_within(fd, 20);
        if (!closed) send(fd, "X", 1, MSG_NOSIGNAL);
    }
    int64_t took = ms_clock_now_ms() - t0;
    close(fd);
    cr_assert(closed, "still open after %lld ms", (long long)took);
    cr_assert_geq(took, 300, "closed after %lld ms", (long long)took);
    cr_assert_eq(s_status("127.0.0.1"), 200);
}

/* Reads and drops what fd receives until the server ends the stream
 * (true) or wait_ms pass (false). */
static bool s_drain_to_end(int fd, int wait_ms)
{
    int64_t end = ms_clock_now_ms() + wait_ms;
    char buf[4096];
    for (int64_t left = wait_ms; left > 0; left = end - ms_clock_now_ms()) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0) continue;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
    }
    return false;
}

/* An answer restarts the clock: a kept-alive connection is closed no
 * sooner than the timeout after its last request was sent, though the
 * connection is older. A try whose request came too late (the machine
 * stalled) is made again. */
Test(webui, an_answer_gives_the_next_request_the_whole_timeout)
{
    s_start(8, 1000);
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = s_slow("127.0.0.1");
        usleep(600 * 1000);
        int64_t sent = ms_clock_now_ms();
        char head[16] = {0};
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (send(fd, "\r\n", 2, MSG_NOSIGNAL) != 2 ||
            poll(&p, 1, S_PATIENCE_MS) != 1 ||
            recv(fd, head, sizeof head - 1, 0) <= 0) {
            close(fd);
            continue;
        }
        cr_assert(strncmp(head, "HTTP/1.1 200", 12) == 0, "%s", head);
        bool closed = s_drain_to_end(fd, S_PATIENCE_MS);
        int64_t took = ms_clock_now_ms() - sent;
        close(fd);
        cr_assert(closed, "kept-alive connection still open after %lld ms",
                  (long long)took);
        cr_assert_geq(took, 1000, "closed %lld ms after the request",
                      (long long)took);
        return;
    }
    cr_assert_fail("no request answered in 5 tries");
}

Test(webui, one_address_holds_only_its_share_and_others_are_answered)
{
    s_start(3, 3600 * 1000);
    int fds[5];
    for (int i = 0; i < 5; i++)
        fds[i] = s_slow("127.0.0.1");
    int closed = 0;
    for (int i = 0; i < 5; i++)
        closed += s_closed_within(fds[i], i < 3 ? 0 : S_PATIENCE_MS);
    cr_assert_eq(closed, 2, "%d of 5 closed, expected the 2 beyond 3", closed);
    cr_assert_eq(s_status("127.0.0.2"), 200);
    for (int i = 0; i < 3; i++)
        cr_assert_not(s_closed_within(fds[i], 0), "connection %d closed", i);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
}

/* Stopping closes what is open and frees its bookkeeping (the sanitizer
 * build checks the freeing), with and without a deadline. */
Test(webui, stops_with_slow_connections_open)
{
    const int64_t timeouts[] = {60000, MS_CONF_INFINITE};
    for (size_t t = 0; t < 2; t++) {
        s_start(4, timeouts[t]);
        int fds[3];
        for (int i = 0; i < 3; i++)
            fds[i] = s_slow(i ? "127.0.0.3" : "127.0.0.1");
        cr_assert_eq(s_status("127.0.0.2"), 200);
        ms_webui_stop(&s_ui);
        cr_assert_null(s_ui);
        for (int i = 0; i < 3; i++) {
            cr_assert(s_closed_within(fds[i], S_PATIENCE_MS));
            close(fds[i]);
        }
    }
}

Test(webui, limits_come_from_the_conf_and_bad_ones_name_the_key)
{
    ms_conf_t *conf = ms_conf_new();
    ms_webui_limits_t l;
    ms_error_t err = {0};
    cr_assert_eq(ms_webui_limits(conf, &l, &err), 0);
    cr_assert_eq(l.per_address, 8);
    cr_assert_eq(l.request_timeout_ms, 10000);
    ms_conf_set(conf, "minispark.ui.maxConnectionsPerAddress", "2", &err);
    ms_conf_set(conf, "minispark.ui.requestTimeout", "infinity", &err);
    cr_assert_eq(ms_webui_limits(conf, &l, &err), 0);
    cr_assert_eq(l.per_address, 2);
    cr_assert_eq(l.request_timeout_ms, MS_CONF_INFINITE);
    ms_conf_set(conf, "minispark.ui.requestTimeout", "0", &err);
    cr_assert_eq(ms_webui_limits(conf, &l, &err), MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "minispark.ui.requestTimeout"), "%s", err.msg);
    ms_conf_set(conf, "minispark.ui.requestTimeout", "5s", &err);
    ms_conf_set(conf, "minispark.ui.maxConnectionsPerAddress", "0", &err);
    cr_assert_eq(ms_webui_limits(conf, &l, &err), MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "minispark.ui.maxConnectionsPerAddress"), "%s",
              err.msg);
    ms_conf_destroy(&conf);
}
