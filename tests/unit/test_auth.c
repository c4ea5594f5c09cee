/* Behaviour of spark.authenticate over loopback TCP: peers with the secret
 * talk, anyone else is refused and the refusal is logged; and where the
 * secret comes from (configuration, file, environment). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/auth.h"

#define S_SECRET "correct horse battery staple"
/* Long enough for a CURVE handshake on loopback, short enough to keep the
 * negative tests fast. */
#define S_WAIT_MS 400

static void *s_zctx;
static void *s_server, *s_client;
static char s_endpoint[64];
static int s_saved_stderr = -1, s_log_fd = -1;
static char s_log[16384];
static size_t s_log_len;

static void s_setup(void)
{
    unsetenv(MS_AUTH_ENV);
    cr_assert_eq(ms_auth_set_secret(NULL, NULL), 0);
    s_zctx = zmq_ctx_new();
    cr_assert_not_null(s_zctx);
}

/* Terminating the context also checks that the guard's threads let it go:
 * a hang here is the suite's timeout. */
static void s_teardown(void)
{
    if (s_client) zmq_close(s_client);
    if (s_server) zmq_close(s_server);
    zmq_ctx_term(s_zctx);
    if (s_saved_stderr >= 0) {
        dup2(s_saved_stderr, STDERR_FILENO);
        close(s_saved_stderr);
        close(s_log_fd);
    }
    ms_auth_set_secret(NULL, NULL);
    unsetenv(MS_AUTH_ENV);
}

TestSuite(auth, .init = s_setup, .fini = s_teardown, .timeout = 10);

/* Sends what the guard threads print into a pipe the test reads. */
static void s_capture_stderr(void)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    fflush(stderr);
    s_saved_stderr = dup(STDERR_FILENO);
    cr_assert_eq(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    close(p[1]);
    s_log_fd = p[0];
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether text shows on the captured stderr within ms. */
static bool s_logged(const char *text, int ms)
{
    int64_t deadline = s_now_ms() + ms;
    while (!strstr(s_log, text) && s_log_len < sizeof s_log - 1) {
        int left = (int)(deadline - s_now_ms());
        struct pollfd pfd = {s_log_fd, POLLIN, 0};
        if (poll(&pfd, 1, left > 0 ? left : 0) <= 0) return false;
        ssize_t n =
            read(s_log_fd, s_log + s_log_len, sizeof s_log - 1 - s_log_len);
        if (n <= 0) return false;
        s_log_len += (size_t)n;
        s_log[s_log_len] = '\0';
    }
    return strstr(s_log, text) != NULL;
}

static void *s_socket(int type)
{
    int linger = 0, timeout = S_WAIT_MS;
    void *sock = zmq_socket(s_zctx, type);
    cr_assert_not_null(sock);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    return sock;
}

/* A guarded ROUTER on a loopback port, keyed from the current secret. */
static void *s_start_server(char *endpoint, size_t size)
{
    ms_error_t err = {0};
    void *sock = s_socket(ZMQ_ROUTER);
    cr_assert_eq(ms_auth_server(sock, &err), 0, "%s", err.msg);
    cr_assert_eq(ms_auth_guard(s_zctx, sock, "test server", &err), 0, "%s",
                 err.msg);
    cr_assert_eq(zmq_bind(sock, "tcp://127.0.0.1:*"), 0);
    cr_assert_eq(zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &size), 0);
    return sock;
}

/* A DEALER keyed from the current secret, not yet connected. */
static void *s_new_client(void)
{
    ms_error_t err = {0};
    void *sock = s_socket(ZMQ_DEALER);
    cr_assert_eq(ms_auth_client(sock, &err), 0, "%s", err.msg);
    return sock;
}

static bool s_readable(void *sock, int ms)
{
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, ms) == 1;
}

/* The client says ping, the server answers pong to that client. */
static void s_assert_exchange(void *server, void *client)
{
    char id[256], buf[16];
    cr_assert_eq(zmq_send(client, "ping", 4, 0), 4);
    cr_assert(s_readable(server, 3000), "the server got nothing");
    int idlen = zmq_recv(server, id, sizeof id, 0);
    cr_assert_gt(idlen, 0);
    cr_assert_eq(zmq_recv(server, buf, sizeof buf, 0), 4);
    cr_assert_eq(memcmp(buf, "ping", 4), 0);
    cr_assert_eq(zmq_send(server, id, (size_t)idlen, ZMQ_SNDMORE), idlen);
    cr_assert_eq(zmq_send(server, "pong", 4, 0), 4);
    cr_assert(s_readable(client, 3000), "the client got nothing");
    cr_assert_eq(zmq_recv(client, buf, sizeof buf, 0), 4);
    cr_assert_eq(memcmp(buf, "pong", 4), 0);
}

/* The client's message stays queued: the handshake never completes. */
static void s_assert_nothing_gets_through(void)
{
    zmq_send(s_client, "ping", 4, ZMQ_DONTWAIT);
    cr_assert_not(s_readable(s_server, S_WAIT_MS), "a message got through");
}

static int s_mechanism(void *sock)
{
    int mech = -1;
    size_t len = sizeof mech;
    zmq_getsockopt(sock, ZMQ_MECHANISM, &mech, &len);
    return mech;
}

Test(auth, same_secret_talks_both_ways_over_curve)
{
    s_capture_stderr();
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    cr_assert(ms_auth_enabled());
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    s_client = s_new_client();
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    s_assert_exchange(s_server, s_client);
    cr_assert_eq(s_mechanism(s_server), ZMQ_CURVE);
    cr_assert_eq(s_mechanism(s_client), ZMQ_CURVE);
    cr_assert_not(s_logged("refused", 0), "%s", s_log);
}

Test(auth, two_guarded_servers_share_the_context_zap_handler)
{
    char other_ep[64];
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    void *other = s_start_server(other_ep, sizeof other_ep);
    s_client = s_new_client();
    void *other_client = s_new_client();
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    cr_assert_eq(zmq_connect(other_client, other_ep), 0);
    s_assert_exchange(s_server, s_client);
    s_assert_exchange(other, other_client);
    zmq_close(other_client);
    zmq_close(other);
}

Test(auth, client_with_another_secret_is_refused_and_logged)
{
    char line[256];
    s_capture_stderr();
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    cr_assert_eq(ms_auth_set_secret("another secret entirely", NULL), 0);
    s_client = s_new_client();
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    s_assert_nothing_gets_through();
    snprintf(line, sizeof line,
             "minispark: test server: refused a connection on %s: "
             "authentication failed (spark.authenticate is on; the peer "
             "lacks the secret)\n",
             s_endpoint);
    cr_assert(s_logged(line, 2000), "stderr: %s", s_log);
}

Test(auth, plain_client_is_refused_and_logged)
{
    s_capture_stderr();
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    s_client = s_socket(ZMQ_DEALER);
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    s_assert_nothing_gets_through();
    cr_assert(s_logged("minispark: test server: refused a connection on "
                       "tcp://127.0.0.1:",
                       2000),
              "stderr: %s", s_log);
    cr_assert(s_logged("authentication failed (spark.authenticate is on; the "
                       "peer lacks the secret)\n",
                       0),
              "stderr: %s", s_log);
    /* The client retried every 100 ms; one line said it all. */
    const char *first = strstr(s_log, "refused");
    cr_assert(first && !strstr(first + 1, "refused"), "stderr: %s", s_log);
}

/* The server public key is not a secret in CURVE's model; the ZAP check
 * is what keeps out a client that learnt it but lacks the client key. */
Test(auth, client_knowing_the_server_key_but_not_the_client_key_is_refused)
{
    char pub[41], sec[41];
    s_capture_stderr();
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    s_client = s_new_client();
    cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
    cr_assert_eq(zmq_setsockopt(s_client, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    cr_assert_eq(zmq_setsockopt(s_client, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    s_assert_nothing_gets_through();
    cr_assert(s_logged("minispark: test server: refused a connection from "
                       "127.0.0.1: wrong key (spark.authenticate)\n",
                       2000),
              "stderr: %s", s_log);
}

Test(auth, disabled_leaves_sockets_plain)
{
    cr_assert_not(ms_auth_enabled());
    s_server = s_start_server(s_endpoint, sizeof s_endpoint);
    s_client = s_new_client();
    cr_assert_eq(zmq_connect(s_client, s_endpoint), 0);
    s_assert_exchange(s_server, s_client);
    cr_assert_eq(s_mechanism(s_server), ZMQ_NULL);
    cr_assert_eq(s_mechanism(s_client), ZMQ_NULL);
    /* The guard started nothing: the ZAP address is free. */
    void *zap = s_socket(ZMQ_REP);
    cr_assert_eq(zmq_bind(zap, "inproc://zeromq.zap.01"), 0);
    zmq_close(zap);
}

Test(auth, null_or_empty_secret_disables)
{
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    cr_assert(ms_auth_enabled());
    cr_assert_eq(ms_auth_set_secret("", NULL), 0);
    cr_assert_not(ms_auth_enabled());
    cr_assert_eq(ms_auth_set_secret(S_SECRET, NULL), 0);
    cr_assert_eq(ms_auth_set_secret(NULL, NULL), 0);
    cr_assert_not(ms_auth_enabled());
}

Test(auth, short_secret_is_refused_and_changes_nothing)
{
    ms_error_t err = {0};
    cr_assert_eq(ms_auth_set_secret("1234567", &err), MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "spark.authenticate.secret"), "%s", err.msg);
    cr_assert_not(ms_auth_enabled());
    cr_assert_eq(ms_auth_set_secret("12345678", &err), 0);
    cr_assert(ms_auth_enabled());
}

static ms_conf_t *s_conf(const char *key, const char *value)
{
    ms_error_t err = {0};
    ms_conf_t *conf = ms_conf_new();
    cr_assert_not_null(conf);
    if (key) cr_assert_eq(ms_conf_set(conf, key, value, &err), 0);
    return conf;
}

static void s_set(ms_conf_t *conf, const char *key, const char *value)
{
    ms_error_t err = {0};
    cr_assert_eq(ms_conf_set(conf, key, value, &err), 0, "%s", err.msg);
}

/* Applies conf; returns the code, with the message in err. */
static int s_apply(ms_conf_t **conf_p, ms_error_t *err)
{
    int rc = ms_auth_conf(*conf_p, err);
    ms_conf_destroy(conf_p);
    return rc;
}

Test(auth, conf_off_and_no_environment_is_disabled)
{
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate.secret", S_SECRET);
    cr_assert_eq(s_apply(&conf, &err), 0, "%s", err.msg);
    cr_assert_not(ms_auth_enabled());
    cr_assert_null(getenv(MS_AUTH_ENV));
}

Test(auth, conf_secret_enables_and_is_handed_to_children)
{
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    s_set(conf, "spark.authenticate.secret", S_SECRET);
    cr_assert_eq(s_apply(&conf, &err), 0, "%s", err.msg);
    cr_assert(ms_auth_enabled());
    cr_assert_str_eq(getenv(MS_AUTH_ENV), S_SECRET);
}

Test(auth, conf_secret_file_is_read_without_its_newline)
{
    char path[] = "/tmp/test_auth_XXXXXX";
    ms_error_t err = {0};
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "from a file 123\n", 16), 16);
    close(fd);
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    s_set(conf, "spark.authenticate.secret.file", path);
    int rc = s_apply(&conf, &err);
    unlink(path);
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert(ms_auth_enabled());
    cr_assert_str_eq(getenv(MS_AUTH_ENV), "from a file 123");
}

Test(auth, conf_secret_file_missing_or_empty_is_an_error)
{
    char path[] = "/tmp/test_auth_XXXXXX";
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    s_set(conf, "spark.authenticate.secret.file", "/nonexistent/secret");
    cr_assert_eq(s_apply(&conf, &err), MS_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/secret"), "%s", err.msg);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "\n", 1), 1);
    close(fd);
    conf = s_conf("spark.authenticate", "true");
    s_set(conf, "spark.authenticate.secret.file", path);
    int rc = s_apply(&conf, &err);
    unlink(path);
    cr_assert_eq(rc, MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "is empty"), "%s", err.msg);
    cr_assert_not(ms_auth_enabled());
}

Test(auth, conf_on_takes_the_secret_from_the_environment)
{
    ms_error_t err = {0};
    setenv(MS_AUTH_ENV, S_SECRET, 1);
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    cr_assert_eq(s_apply(&conf, &err), 0, "%s", err.msg);
    cr_assert(ms_auth_enabled());
}

/* A child started by an authenticated parent knows only the environment. */
Test(auth, conf_off_with_a_secret_in_the_environment_enables)
{
    ms_error_t err = {0};
    setenv(MS_AUTH_ENV, S_SECRET, 1);
    ms_conf_t *conf = s_conf(NULL, NULL);
    cr_assert_eq(s_apply(&conf, &err), 0, "%s", err.msg);
    cr_assert(ms_auth_enabled());
}

Test(auth, conf_on_without_a_secret_is_a_usage_error)
{
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    cr_assert_eq(s_apply(&conf, &err), MS_ERR_USAGE);
    cr_assert_str_eq(err.msg, "spark.authenticate is true but no secret: set "
                              "spark.authenticate.secret or "
                              "spark.authenticate.secret.file");
    cr_assert_not(ms_auth_enabled());
}

Test(auth, conf_short_secret_is_a_usage_error)
{
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate", "true");
    s_set(conf, "spark.authenticate.secret", "short");
    cr_assert_eq(s_apply(&conf, &err), MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "spark.authenticate.secret is too short"), "%s",
              err.msg);
    cr_assert_not(ms_auth_enabled());
    cr_assert_null(getenv(MS_AUTH_ENV));
}

Test(auth, conf_bad_boolean_names_the_key)
{
    ms_error_t err = {0};
    ms_conf_t *conf = s_conf("spark.authenticate", "maybe");
    cr_assert_eq(s_apply(&conf, &err), MS_ERR_USAGE);
    cr_assert(strstr(err.msg, "spark.authenticate"), "%s", err.msg);
}
