/* The live web UI: a libmicrohttpd daemon whose one handler maps GET paths to
 * the UI state's JSON and metrics renderers and to the HTML and SVG views,
 * taking one snapshot per request, and a watchdog thread that closes
 * connections too slow to make a request. It serves no files and prints
 * nothing; what is shown is decided in ui_state.c and ui_render.c, not
 * here. */
#include "driver/webui.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/conf_keys.h"
#include "driver/ui_render.h"

#define S_PORT_TRIES 100
#define S_MAX_PATH 256 /* longer request paths get 414 */
#define S_MAX_CONNECTIONS 64
#define S_IDLE_TIMEOUT_S 10
#define S_API_APP "/api/v1/applications/"

#define S_HTML "text/html; charset=utf-8"
#define S_SVG "image/svg+xml"
#define S_JSON "application/json"
#define S_TEXT "text/plain; charset=utf-8"
#define S_PROM "text/plain; version=0.0.4; charset=utf-8"
#define S_CSP                                                                  \
    "default-src 'self'; script-src 'unsafe-inline' 'self'; "                  \
    "style-src 'unsafe-inline'"

/* One open connection, from libmicrohttpd's start notice to its close
 * notice. */
typedef struct s_conn {
    struct s_conn *prev, *next;
    int fd;
    int64_t since_ms; /* opened, or its last request answered */
    bool cut;         /* shut down for being late: closing */
} s_conn_t;

struct ms_webui {
    struct MHD_Daemon *daemon;
    ms_ui_state_t *state;
    int port;
    ms_webui_limits_t limits;
    pthread_mutex_t lock; /* guards conns and stopping */
    pthread_cond_t wake;  /* on CLOCK_MONOTONIC */
    bool synced, watching, stopping;
    pthread_t watchdog;
    s_conn_t *conns;
};

typedef char *s_render_fn(const ms_ui_snapshot_t *s);

/* What one request gets back; body is malloc'ed (NULL: out of memory). */
typedef struct {
    unsigned status;
    const char *type;
    char *body;
} s_reply_t;

/* ---- views ------------------------------------------------------------ */

static char *s_page(const ms_ui_snapshot_t *s)
{
    return ms_ui_render_page(s, true);
}

static char *s_svg(const ms_ui_snapshot_t *s)
{
    return ms_ui_render_svg(s, 1000, 420);
}

/* Spark's /executors lists live executors only; /allexecutors all. */
static char *s_live_executors(const ms_ui_snapshot_t *s)
{
    ms_ui_snapshot_t view = *s;
    view.execs = malloc(((size_t)s->nexecs + 1) * sizeof *view.execs);
    if (!view.execs) return NULL;
    view.nexecs = 0;
    for (int i = 0; i < s->nexecs; i++)
        if (s->execs[i].active) view.execs[view.nexecs++] = s->execs[i];
    char *body = ms_ui_json_executors(&view);
    free(view.execs);
    return body;
}

static const struct {
    const char *path;
    const char *type;
    s_render_fn *fn;
} s_pages[] = {
    {"/", S_HTML, s_page},
    {"/ui/fragment", S_HTML, ms_ui_render_fragment},
    {"/timeline.svg", S_SVG, s_svg},
    {"/api/v1/applications", S_JSON, ms_ui_json_applications},
    {"/metrics", S_PROM, ms_ui_metrics_text},
};

/* /api/v1/applications/<appId>/<name> */
static const struct {
    const char *name;
    s_render_fn *fn;
} s_app_views[] = {
    {"executors", s_live_executors},
    {"allexecutors", ms_ui_json_executors},
    {"jobs", ms_ui_json_jobs},
    {"stages", ms_ui_json_stages},
    {"allocation", ms_ui_json_allocation},
    {"timeline", ms_ui_json_timeline},
};

/* ---- routing ---------------------------------------------------------- */

static s_reply_t s_text(unsigned status, const char *type, const char *text)
{
    return (s_reply_t){status, type, strdup(text)};
}

/* Renders fn over a fresh snapshot; app_id, when set, must be the
 * application's. */
static s_reply_t s_render(ms_webui_t *self, s_render_fn *fn, const char *type,
                          const char *app_id)
{
    ms_ui_snapshot_t *snap = ms_ui_state_snapshot(self->state);
    if (!snap)
        return s_text(MHD_HTTP_INTERNAL_SERVER_ERROR, S_TEXT,
                      "out of memory\n");
    s_reply_t r;
    if (app_id && strcmp(app_id, snap->app_id) != 0)
        r = s_text(MHD_HTTP_NOT_FOUND, S_JSON,
                   "{\"error\": \"no such application; "
                   "see /api/v1/applications\"}\n");
    else
        r = (s_reply_t){MHD_HTTP_OK, type, fn(snap)};
    ms_ui_snapshot_free(&snap);
    if (!r.body)
        return s_text(MHD_HTTP_INTERNAL_SERVER_ERROR, S_TEXT,
                      "out of memory\n");
    return r;
}

/* Only plain segments of [A-Za-z0-9._-]: no escapes, no empty, "." or ".."
 * segments. Paths reach us undecoded (see s_no_unescape). */
static bool s_plain_path(const char *path)
{
    if (path[0] != '/') return false;
    for (const char *p = path; *p; p++) {
        if (*p == '/') {
            if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || !p[2])) ||
                (p[1] == '.' && p[2] == '.' && (p[3] == '/' || !p[3])))
                return false;
        } else if (!strchr("abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
                           *p)) {
            return false;
        }
    }
    return true;
}

static s_reply_t s_app_view(ms_webui_t *self, const char *rest)
{
    const char *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : 0;
    char app_id[sizeof((ms_ui_snapshot_t *)0)->app_id];
    if (slash && id_len > 0 && id_len < sizeof app_id) {
        memcpy(app_id, rest, id_len);
        app_id[id_len] = '\0';
        for (size_t i = 0; i < sizeof s_app_views / sizeof s_app_views[0]; i++)
            if (strcmp(slash + 1, s_app_views[i].name) == 0)
                return s_render(self, s_app_views[i].fn, S_JSON, app_id);
    }
    return s_text(MHD_HTTP_NOT_FOUND, S_JSON,
                  "{\"error\": \"no such endpoint\"}\n");
}

static s_reply_t s_route(ms_webui_t *self, const char *url)
{
    size_t len = strlen(url);
    if (len > S_MAX_PATH)
        return s_text(MHD_HTTP_URI_TOO_LONG, S_TEXT, "path too long\n");
    char path[S_MAX_PATH + 1];
    memcpy(path, url, len + 1);
    if (len > 1 && path[len - 1] == '/') path[len - 1] = '\0';
    if (!s_plain_path(path))
        return s_text(MHD_HTTP_NOT_FOUND, S_TEXT, "not found\n");
    for (size_t i = 0; i < sizeof s_pages / sizeof s_pages[0]; i++)
        if (strcmp(path, s_pages[i].path) == 0)
            return s_render(self, s_pages[i].fn, s_pages[i].type, NULL);
    if (strncmp(path, S_API_APP, strlen(S_API_APP)) == 0)
        return s_app_view(self, path + strlen(S_API_APP));
    return s_text(MHD_HTTP_NOT_FOUND, S_TEXT,
                  "not found; try / or /api/v1/applications\n");
}

/* ---- libmicrohttpd ---------------------------------------------------- */

static enum MHD_Result s_send(struct MHD_Connection *conn, s_reply_t r,
                              bool allow_header)
{
    if (!r.body) return MHD_NO; /* out of memory: drop the connection */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(r.body), r.body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(r.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r.type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", S_CSP);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (allow_header)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, r.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* libmicrohttpd calls this when the headers are in, then for each piece
 * of body, then once more at the end of the request: GET and HEAD are
 * answered at the end (which keeps the connection alive), other methods at
 * once (their body is never read; the connection closes). */
static enum MHD_Result s_on_request(void *cls, struct MHD_Connection *conn,
                                    const char *url, const char *method,
                                    const char *version,
                                    const char *upload_data,
                                    size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
        strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_send(conn,
                      s_text(MHD_HTTP_METHOD_NOT_ALLOWED, S_TEXT, "only GET\n"),
                      true);
    if (!*req_cls) {
        *req_cls = cls; /* headers seen */
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* a GET body means nothing: skip it */
        return MHD_YES;
    }
    return s_send(conn, s_route(cls, url), false);
}

/* ---- slow clients ---------------------------------------------------- */

/* libmicrohttpd's own timeout restarts at every byte, so a client sending a
 * header a byte at a time would hold its connection for ever; the deadline
 * here runs from the connection's opening (then from each answer) whatever
 * arrives meanwhile. Both notices below run on libmicrohttpd's thread, and
 * the close notice comes before the socket is closed: a socket still in
 * the list is always the connection's, so the watchdog may shut it down. */
static s_conn_t *s_track(ms_webui_t *self, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info) return NULL;
    s_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        shutdown(info->connect_fd, SHUT_RDWR); /* cannot watch it: refuse */
        return NULL;
    }
    c->fd = info->connect_fd;
    pthread_mutex_lock(&self->lock);
    c->since_ms = ms_clock_now_ms();
    c->next = self->conns;
    if (c->next) c->next->prev = c;
    self->conns = c;
    pthread_mutex_unlock(&self->lock);
    return c;
}

static void s_untrack(ms_webui_t *self, s_conn_t *c)
{
    if (!c) return;
    pthread_mutex_lock(&self->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        self->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&self->lock);
    free(c);
}

static void s_on_connection(void *cls, struct MHD_Connection *conn,
                            void **socket_ctx,
                            enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_ctx = s_track(cls, conn);
    } else {
        s_untrack(cls, *socket_ctx);
        *socket_ctx = NULL;
    }
}

/* A request answered (or abandoned): the next one has the whole timeout. */
static void s_on_completed(void *cls, struct MHD_Connection *conn,
                           void **req_cls, enum MHD_RequestTerminationCode toe)
{
    ms_webui_t *self = cls;
    (void)req_cls;
    (void)toe;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    s_conn_t *c = info ? info->socket_context : NULL;
    if (!c) return;
    pthread_mutex_lock(&self->lock);
    c->since_ms = ms_clock_now_ms();
    pthread_mutex_unlock(&self->lock);
}

/* Shuts down every connection whose deadline is past at now (with the lock
 * held); libmicrohttpd then sees its end and closes it. Returns the next
 * deadline. */
static int64_t s_cut_late(ms_webui_t *self, int64_t now)
{
    int64_t timeout = self->limits.request_timeout_ms, next = now + timeout;
    for (s_conn_t *c = self->conns; c; c = c->next) {
        if (c->cut) continue;
        if (now - c->since_ms >= timeout) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
        } else if (c->since_ms + timeout < next) {
            next = c->since_ms + timeout;
        }
    }
    return next;
}

/* A connection opened after a pass has a deadline after that pass's next
 * one, so the watchdog need not be woken for it. */
static void *s_watch(void *arg)
{
    ms_webui_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        int64_t next = s_cut_late(self, ms_clock_now_ms());
        struct timespec at = {.tv_sec = next / 1000,
                              .tv_nsec = (long)(next % 1000) * 1000000};
        pthread_cond_timedwait(&self->wake, &self->lock, &at);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

static int s_watch_start(ms_webui_t *self, ms_error_t *err)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0) rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc == 0 && (rc = pthread_mutex_init(&self->lock, NULL)) != 0)
        pthread_cond_destroy(&self->wake);
    self->synced = rc == 0;
    if (rc == 0 && self->limits.request_timeout_ms != MS_CONF_INFINITE)
        self->watching =
            (rc = pthread_create(&self->watchdog, NULL, s_watch, self)) == 0;
    if (rc != 0)
        return ms_error_set(err, MS_ERR_IO, "web UI: cannot start: %s",
                            strerror(rc));
    return 0;
}

static void s_watch_stop(ms_webui_t *self)
{
    if (self->watching) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        pthread_cond_signal(&self->wake);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
    }
    if (self->synced) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
    }
}

/* ---- the daemon ------------------------------------------------------- */

/* Leaves request paths as sent, so that "%2e%2e" or "%00" never turn into
 * something that matches a route. */
static size_t s_no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    return strlen(s);
}

/* The daemon on addr, or NULL with errno set (EADDRINUSE: port taken). */
static struct MHD_Daemon *s_daemon(ms_webui_t *self,
                                   const struct sockaddr_in *addr)
{
    errno = 0;
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
        s_on_request, self, MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)S_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)self->limits.per_address,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)S_IDLE_TIMEOUT_S,
        MHD_OPTION_NOTIFY_CONNECTION, s_on_connection, self,
        MHD_OPTION_NOTIFY_COMPLETED, s_on_completed, self,
        MHD_OPTION_UNESCAPE_CALLBACK, s_no_unescape, NULL, MHD_OPTION_END);
}

static int s_bound_port(struct MHD_Daemon *d, int asked)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    return info && info->port ? info->port : asked;
}

/* Serves on port, or the next free one up to S_PORT_TRIES further. */
static int s_listen(ms_webui_t *self, struct sockaddr_in *addr,
                    const char *host, int port, ms_error_t *err)
{
    int last = port == 0 ? 0 : port + S_PORT_TRIES - 1;
    if (last > 65535) last = 65535;
    for (int p = port; p <= last; p++) {
        addr->sin_port = htons((uint16_t)p);
        if ((self->daemon = s_daemon(self, addr))) {
            self->port = s_bound_port(self->daemon, p);
            return 0;
        }
        if (errno != EADDRINUSE)
            return ms_error_set(
                err, MS_ERR_IO, "web UI: cannot serve on %s:%d: %s", host, p,
                errno ? strerror(errno) : "libmicrohttpd failed");
    }
    return ms_error_set(err, MS_ERR_IO,
                        "web UI: ports %d-%d on %s are all in use", port, last,
                        host);
}

int ms_webui_limits(const ms_conf_t *conf, ms_webui_limits_t *out,
                    ms_error_t *err)
{
    int64_t per_address;
    /* defaults (common/conf_keys.c): 8 per address (a browser opens up to
     * 6 per host), 10 s per request */
    int rc = ms_conf_key_int(conf, "minispark.ui.maxConnectionsPerAddress",
                             &per_address, err);
    if (rc == 0)
        rc = ms_conf_key_int(conf, "minispark.ui.requestTimeout",
                             &out->request_timeout_ms, err);
    if (rc == 0) out->per_address = (int)per_address;
    return rc;
}

int ms_webui_start(ms_webui_t **out, ms_ui_state_t *state, const char *host,
                   int port, const ms_webui_limits_t *limits, ms_error_t *err)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
        return ms_error_set(err, MS_ERR_USAGE,
                            "web UI: host '%s' is not a numeric IPv4 address",
                            host);
    if (port < 0 || port > 65535)
        return ms_error_set(err, MS_ERR_USAGE, "web UI: bad port %d", port);
    ms_webui_t *self = calloc(1, sizeof *self);
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "web UI");
    self->state = state;
    self->limits = *limits;
    /* Our threads start with every signal blocked, so that signals keep
     * going to the driver's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = s_watch_start(self, err);
    if (rc == 0) rc = s_listen(self, &addr, host, port, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc < 0) {
        ms_webui_stop(&self);
        return rc;
    }
    *out = self;
    return 0;
}

/* The daemon goes first: its close notices empty the connection list. */
void ms_webui_stop(ms_webui_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_webui_t *self = *self_p;
    if (self->daemon) MHD_stop_daemon(self->daemon);
    s_watch_stop(self);
    free(self);
    *self_p = NULL;
}

int ms_webui_port(const ms_webui_t *self)
{
    return self->port;
}
