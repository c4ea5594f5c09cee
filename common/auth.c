/* spark.authenticate: the keys derived from the shared secret, the CURVE
 * options that use them, and the helper threads that pin client keys (ZAP)
 * and log refused handshakes (socket monitors). The sockets that carry
 * traffic belong to their modules, not to this one. */
#include "common/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common/clock.h"
#include "common/conf_keys.h"

#define S_KEY_BYTES 32
#define S_MIN_SECRET 8
/* A secret file holds one line; anything larger is the wrong file. */
#define S_MAX_SECRET_FILE 4096
#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* A ZAP request has 7 frames with CURVE (RFC 27); more are ignored. */
#define S_ZAP_FRAMES 7
/* Refusals that never reach ZAP: a plain peer (mechanism mismatch), a
 * wrong server key (the client's HELLO does not open), a peer that hangs
 * up mid-handshake. HANDSHAKE_FAILED_AUTH is left out: on a server it only
 * reports a ZAP denial, which the ZAP handler has already logged, with the
 * peer's address. */
#define S_REFUSALS                                                             \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)

/* BLAKE2b keys that make the server and client seeds unrelated; "v1" lets
 * a later derivation differ without ambiguity. Each is at least
 * crypto_generichash_KEYBYTES_MIN (16) bytes. */
static const char s_server_context[] = "minispark auth server v1";
static const char s_client_context[] = "minispark auth client v1";

typedef struct {
    uint8_t server_pk[S_KEY_BYTES];
    uint8_t server_sk[S_KEY_BYTES];
    uint8_t client_pk[S_KEY_BYTES];
    uint8_t client_sk[S_KEY_BYTES];
} s_keys_t;

/* Written at startup, read by every thread that makes a socket and by ZAP
 * handlers: a lock keeps that plainly correct (and quiet under TSan). */
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static bool s_enabled;
static s_keys_t s_keys;

/* A server socket's monitor, owned by the thread that reads it. */
typedef struct {
    void *mon;
    char what[64];
} s_watch_t;

/* A refused peer retries every 100 ms (ZeroMQ's reconnect interval): one
 * line per refusal would flood the log. At most one line per
 * S_LOG_EVERY_MS per socket (and per ZAP handler), with the count of
 * those not shown since. */
#define S_LOG_EVERY_MS 10000

typedef struct {
    int64_t next_ms;
    int quiet; /* refusals not shown since the last line */
} s_throttle_t;

/* True when a line may be printed now; more is then what to append to
 * it: the count of refusals held back since the last line, if any. */
static bool s_may_log(s_throttle_t *t, char *more, size_t size)
{
    int64_t now = ms_clock_now_ms();
    if (now < t->next_ms) {
        t->quiet++;
        return false;
    }
    more[0] = '\0';
    if (t->quiet)
        snprintf(more, size, " [%d more since the last report]", t->quiet);
    t->quiet = 0;
    t->next_ms = now + S_LOG_EVERY_MS;
    return true;
}

static int s_derive(const char *secret, size_t len, const char *context,
                    uint8_t *pk, uint8_t *sk)
{
    uint8_t seed[crypto_box_SEEDBYTES];
    int rc = crypto_generichash(seed, sizeof seed, (const uint8_t *)secret, len,
                                (const uint8_t *)context, strlen(context));
    if (rc == 0) rc = crypto_box_seed_keypair(pk, sk, seed);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int ms_auth_set_secret(const char *secret, ms_error_t *err)
{
    s_keys_t keys;
    size_t len = secret ? strlen(secret) : 0;
    if (len > 0 && len < S_MIN_SECRET)
        return ms_error_set(err, MS_ERR_USAGE,
                            "spark.authenticate.secret is too short (%zu "
                            "bytes): use at least %d",
                            len, S_MIN_SECRET);
    sodium_memzero(&keys, sizeof keys);
    if (len > 0) {
        if (sodium_init() < 0)
            return ms_error_set(err, MS_ERR_IO, "libsodium failed to start");
        if (s_derive(secret, len, s_server_context, keys.server_pk,
                     keys.server_sk) != 0 ||
            s_derive(secret, len, s_client_context, keys.client_pk,
                     keys.client_sk) != 0) {
            sodium_memzero(&keys, sizeof keys);
            return ms_error_set(err, MS_ERR_IO,
                                "cannot derive keys from the secret");
        }
    }
    pthread_mutex_lock(&s_lock);
    s_enabled = len > 0;
    s_keys = keys;
    pthread_mutex_unlock(&s_lock);
    sodium_memzero(&keys, sizeof keys);
    return 0;
}

/* Copies the keys out (the caller wipes them); false when disabled. */
static bool s_keys_get(s_keys_t *out)
{
    pthread_mutex_lock(&s_lock);
    bool on = s_enabled;
    *out = s_keys;
    pthread_mutex_unlock(&s_lock);
    return on;
}

bool ms_auth_enabled(void)
{
    pthread_mutex_lock(&s_lock);
    bool on = s_enabled;
    pthread_mutex_unlock(&s_lock);
    return on;
}

/* Reads up to size bytes of fd; returns the count or -1 (errno set). */
static ssize_t s_read_all(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n < size) {
        ssize_t r = read(fd, buf + n, size - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

/* The content of the secret file without trailing newlines, in *out (the
 * caller wipes and frees it). read(2) rather than stdio, so that no buffer
 * we cannot wipe ever holds the secret. */
static int s_read_secret(const char *path, char **out, ms_error_t *err)
{
    char *buf = malloc(S_MAX_SECRET_FILE + 1);
    if (!buf) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : s_read_all(fd, buf, S_MAX_SECRET_FILE + 1);
    if (n < 0)
        rc = ms_error_set(err, MS_ERR_IO,
                          "cannot read spark.authenticate.secret.file %s: %s",
                          path, strerror(errno));
    else if (n > S_MAX_SECRET_FILE)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "spark.authenticate.secret.file %s is over %d bytes",
                          path, S_MAX_SECRET_FILE);
    if (fd >= 0) close(fd);
    while (rc == 0 && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (rc == 0 && n == 0)
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "spark.authenticate.secret.file %s is empty", path);
    else if (rc == 0 && memchr(buf, '\0', (size_t)n))
        rc = ms_error_set(err, MS_ERR_USAGE,
                          "spark.authenticate.secret.file %s holds a NUL byte",
                          path);
    if (rc < 0) {
        sodium_memzero(buf, S_MAX_SECRET_FILE + 1);
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static const char *s_nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int ms_auth_conf(const ms_conf_t *conf, ms_error_t *err)
{
    bool on;
    char *from_file = NULL;
    int rc = ms_conf_key_bool(conf, "spark.authenticate", &on, err);
    if (rc < 0) return rc;
    const char *env = s_nonempty(getenv(MS_AUTH_ENV));
    const char *secret = env;
    if (on) {
        /* Spark's own order: an explicit secret beats the file. */
        const char *key = ms_conf_get(conf, "spark.authenticate.secret");
        const char *path = ms_conf_get(conf, "spark.authenticate.secret.file");
        if (s_nonempty(key)) {
            secret = key;
        } else if (s_nonempty(path)) {
            if ((rc = s_read_secret(path, &from_file, err)) < 0) return rc;
            secret = from_file;
        } else if (!secret) {
            return ms_error_set(err, MS_ERR_USAGE,
                                "spark.authenticate is true but no secret: "
                                "set spark.authenticate.secret or "
                                "spark.authenticate.secret.file");
        }
    }
    rc = ms_auth_set_secret(secret, err);
    /* Children started with posix_spawn inherit the environment. */
    if (rc == 0 && secret && secret != env &&
        setenv(MS_AUTH_ENV, secret, 1) < 0)
        rc = ms_error_set(err, MS_ERR_NOMEM, "cannot set %s", MS_AUTH_ENV);
    if (from_file) {
        sodium_memzero(from_file, strlen(from_file));
        free(from_file);
    }
    return rc;
}

static int s_setopt(void *sock, int opt, const void *value, size_t len,
                    ms_error_t *err)
{
    if (zmq_setsockopt(sock, opt, value, len) == 0) return 0;
    return ms_error_set(err, MS_ERR_IO,
                        "cannot set up CURVE for spark.authenticate (does "
                        "libzmq have it?): %s",
                        zmq_strerror(errno));
}

int ms_auth_server(void *sock, ms_error_t *err)
{
    s_keys_t keys;
    if (!s_keys_get(&keys)) return 0;
    int one = 1;
    int rc = s_setopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one, err);
    if (rc == 0)
        rc = s_setopt(sock, ZMQ_CURVE_SECRETKEY, keys.server_sk, S_KEY_BYTES,
                      err);
    sodium_memzero(&keys, sizeof keys);
    return rc;
}

int ms_auth_client(void *sock, ms_error_t *err)
{
    s_keys_t keys;
    if (!s_keys_get(&keys)) return 0;
    int rc =
        s_setopt(sock, ZMQ_CURVE_SERVERKEY, keys.server_pk, S_KEY_BYTES, err);
    if (rc == 0)
        rc = s_setopt(sock, ZMQ_CURVE_PUBLICKEY, keys.client_pk, S_KEY_BYTES,
                      err);
    if (rc == 0)
        rc = s_setopt(sock, ZMQ_CURVE_SECRETKEY, keys.client_sk, S_KEY_BYTES,
                      err);
    sodium_memzero(&keys, sizeof keys);
    return rc;
}

/* The helper threads below print refusals to stderr themselves: that line
 * is the refusal log spark.authenticate asks for, and there is no caller
 * to hand an error to. One fprintf per line keeps lines whole. */

static void s_close_frames(zmq_msg_t *f, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* Receives one whole message, keeping its first max frames in f (*n of
 * them). Returns -1 once the context is terminated (ETERM). */
static int s_recv_frames(void *sock, zmq_msg_t *f, int max, int *n)
{
    zmq_msg_t extra;
    int more = 1;
    *n = 0;
    while (more) {
        zmq_msg_t *m = *n < max ? &f[*n] : &extra;
        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, 0) < 0) {
            zmq_msg_close(m);
            if (errno == EINTR) continue;
            s_close_frames(f, *n);
            return -1;
        }
        more = zmq_msg_more(m);
        if (m == &extra)
            zmq_msg_close(m);
        else
            (*n)++;
    }
    return 0;
}

static bool s_frame_is(zmq_msg_t *f, const char *text)
{
    size_t len = strlen(text);
    return zmq_msg_size(f) == len && memcmp(zmq_msg_data(f), text, len) == 0;
}

static bool s_client_key_ok(zmq_msg_t *f)
{
    if (zmq_msg_size(f) != S_KEY_BYTES) return false;
    pthread_mutex_lock(&s_lock);
    bool ok = s_enabled && sodium_memcmp(zmq_msg_data(f), s_keys.client_pk,
                                         S_KEY_BYTES) == 0;
    pthread_mutex_unlock(&s_lock);
    return ok;
}

typedef struct {
    const char *code; /* RFC 27 status code */
    const char *text;
} s_verdict_t;

/* The verdict on a ZAP request: version, request id, domain (the what of
 * ms_auth_guard), address, routing id, mechanism, credentials. A denial
 * is logged here, where the peer's address is known. */
static s_verdict_t s_zap_verdict(zmq_msg_t *f, int n, s_throttle_t *t)
{
    if (n < 6 || !s_frame_is(&f[0], "1.0"))
        return (s_verdict_t){"500", "malformed ZAP request"};
    /* A guarded socket that is not CURVE is refused too: it would
     * otherwise serve anyone. */
    const char *why = !s_frame_is(&f[5], "CURVE")        ? "not CURVE"
                      : n < 7 || !s_client_key_ok(&f[6]) ? "wrong key"
                                                         : NULL;
    if (!why) return (s_verdict_t){"200", "OK"};
    int dlen = (int)zmq_msg_size(&f[2]);
    char more[64];
    if (s_may_log(t, more, sizeof more))
        fprintf(stderr,
                "minispark: %.*s: refused a connection from %.*s: %s "
                "(spark.authenticate)%s\n",
                dlen ? dlen : 6, dlen ? (char *)zmq_msg_data(&f[2]) : "server",
                (int)zmq_msg_size(&f[3]), (char *)zmq_msg_data(&f[3]), why,
                more);
    return (s_verdict_t){"400", why};
}

/* Answers one ZAP request (RFC 27); -1 once the context is terminated. */
static int s_zap_answer(void *zap, s_throttle_t *t)
{
    zmq_msg_t f[S_ZAP_FRAMES];
    int n, rc = 0;
    if (s_recv_frames(zap, f, S_ZAP_FRAMES, &n) < 0) return -1;
    s_verdict_t v = s_zap_verdict(f, n, t);
    /* Every request gets a reply carrying its own request id: REP takes no
     * request before it answers the last, and libzmq checks the id. User
     * id and metadata are empty. */
    const struct {
        const void *data;
        size_t len;
    } reply[] = {
        {"1.0", 3},
        {n >= 2 ? zmq_msg_data(&f[1]) : "", n >= 2 ? zmq_msg_size(&f[1]) : 0},
        {v.code, 3},
        {v.text, strlen(v.text)},
        {"", 0},
        {"", 0},
    };
    int last = (int)(sizeof reply / sizeof reply[0]) - 1;
    for (int i = 0; i <= last && rc == 0; i++)
        if (zmq_send(zap, reply[i].data, reply[i].len,
                     i < last ? ZMQ_SNDMORE : 0) < 0)
            rc = -1;
    s_close_frames(f, n);
    return rc;
}

static void *s_zap_main(void *zap)
{
    /* zmq_ctx_term makes the blocked receive fail with ETERM; the context
     * then waits only for this socket to close. Nothing else ends this
     * loop, which matters: without a handler, libzmq would let CURVE
     * clients in unchecked (the server key would still keep out peers
     * without the secret). */
    s_throttle_t throttle = {0, 0};
    while (s_zap_answer(zap, &throttle) == 0) {
    }
    zmq_close(zap);
    return NULL;
}

static void *s_watch_main(void *arg)
{
    s_watch_t *w = arg;
    zmq_msg_t f[2];
    int n;
    uint16_t event = 0;
    s_throttle_t throttle = {0, 0};
    char more[64];
    /* Each event is a 6-byte frame (16-bit event, 32-bit value) and the
     * endpoint; MONITOR_STOPPED comes when the watched socket is closed. */
    while (event != ZMQ_EVENT_MONITOR_STOPPED &&
           s_recv_frames(w->mon, f, 2, &n) == 0) {
        event = 0;
        if (n == 2 && zmq_msg_size(&f[0]) >= sizeof event)
            memcpy(&event, zmq_msg_data(&f[0]), sizeof event);
        if ((event & S_REFUSALS) && s_may_log(&throttle, more, sizeof more))
            fprintf(stderr,
                    "minispark: %s: refused a connection on %.*s: "
                    "authentication failed (spark.authenticate is on; the "
                    "peer lacks the secret)%s\n",
                    w->what, (int)zmq_msg_size(&f[1]),
                    (const char *)zmq_msg_data(&f[1]), more);
        s_close_frames(f, n);
    }
    zmq_close(w->mon);
    free(w);
    return NULL;
}

/* Starts a detached thread with every signal blocked, so that signals go
 * on reaching the threads that handle them. Nobody joins it: it ends with
 * its context or its socket, and a process may also just exit. */
static int s_start_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_attr_t attr;
    sigset_t all, old;
    sigfillset(&all);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&th, &attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    errno = rc;
    return rc == 0 ? 0 : -1;
}

/* A context has at most one ZAP handler, at a fixed inproc address: a bind
 * that fails with EADDRINUSE means this one has it already. That needs no
 * registry of contexts, whose addresses the allocator may reuse. */
static int s_zap_start(void *zctx, ms_error_t *err)
{
    int linger = 0;
    void *zap = zmq_socket(zctx, ZMQ_REP);
    if (!zap) goto fail;
    zmq_setsockopt(zap, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(zap, S_ZAP_ENDPOINT) < 0) {
        if (errno != EADDRINUSE) goto fail_socket;
        zmq_close(zap);
        return 0;
    }
    if (s_start_thread(s_zap_main, zap) < 0) goto fail_socket;
    return 0;
fail_socket:
    ms_error_set(err, MS_ERR_IO, "cannot start the ZAP handler: %s",
                 zmq_strerror(errno));
    zmq_close(zap);
    return MS_ERR_IO;
fail:
    return ms_error_set(err, MS_ERR_IO, "cannot start the ZAP handler: %s",
                        zmq_strerror(errno));
}

/* Monitors sock from a thread of its own. The PAIR end is connected here,
 * before sock binds, so that no early event is lost. */
static int s_watch_start(void *zctx, void *sock, const char *what,
                         ms_error_t *err)
{
    static atomic_uint seq;
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://minispark-auth-monitor-%u",
             atomic_fetch_add(&seq, 1));
    s_watch_t *w = calloc(1, sizeof *w);
    if (!w) return ms_error_set(err, MS_ERR_NOMEM, "out of memory");
    snprintf(w->what, sizeof w->what, "%s", what);
    if (zmq_socket_monitor(sock, ep, S_REFUSALS | ZMQ_EVENT_MONITOR_STOPPED) <
            0 ||
        !(w->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(w->mon, ep) < 0 ||
        s_start_thread(s_watch_main, w) < 0)
        goto fail;
    return 0;
fail:
    ms_error_set(err, MS_ERR_IO, "%s: cannot watch for refused connections: %s",
                 what, zmq_strerror(errno));
    if (w->mon) zmq_close(w->mon);
    zmq_socket_monitor(sock, NULL, 0);
    free(w);
    return MS_ERR_IO;
}

int ms_auth_guard(void *zctx, void *sock, const char *what, ms_error_t *err)
{
    if (!ms_auth_enabled()) return 0;
    /* The ZAP request carries the domain: it names the socket in the log.
     * Options are copied at bind time, hence "before zmq_bind". */
    size_t len = strnlen(what, 64);
    if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, what, len) < 0)
        return ms_error_set(err, MS_ERR_IO, "%s: cannot set ZMQ_ZAP_DOMAIN: %s",
                            what, zmq_strerror(errno));
    int rc = s_zap_start(zctx, err);
    return rc < 0 ? rc : s_watch_start(zctx, sock, what, err);
}

/* ---- launch tokens ---------------------------------------------------- */

#define S_TOKEN_BYTES (MS_AUTH_TOKEN_LEN / 2)

int ms_auth_token_new(char out[MS_AUTH_TOKEN_LEN + 1], ms_error_t *err)
{
    uint8_t raw[S_TOKEN_BYTES];
    if (sodium_init() < 0)
        return ms_error_set(err, MS_ERR_IO, "libsodium failed to start");
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, MS_AUTH_TOKEN_LEN + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    return 0;
}

bool ms_auth_token_eq(const char *want, const void *got, size_t len)
{
    /* The length is no secret: every token has the same. */
    return len == MS_AUTH_TOKEN_LEN && strlen(want) == MS_AUTH_TOKEN_LEN &&
           sodium_memcmp(want, got, MS_AUTH_TOKEN_LEN) == 0;
}

bool ms_auth_token_take(char out[MS_AUTH_TOKEN_LEN + 1])
{
    char *env = getenv(MS_AUTH_TOKEN_ENV);
    size_t len = env ? strlen(env) : 0;
    bool ok = len == MS_AUTH_TOKEN_LEN &&
              strspn(env, "0123456789abcdef") == MS_AUTH_TOKEN_LEN;
    if (ok) memcpy(out, env, MS_AUTH_TOKEN_LEN + 1);
    /* getenv points into the block /proc/PID/environ shows. */
    if (env) sodium_memzero(env, len);
    unsetenv(MS_AUTH_TOKEN_ENV);
    return ok;
}
