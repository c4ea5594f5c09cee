/* The socket factory (see sock.h). */
#include "common/sock.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

#include "common/auth.h"

static void *s_new(void *zctx, int type, const ms_sock_opts_t *o,
                   ms_error_t *err)
{
    static const ms_sock_opts_t none;
    int linger = 0, never = 0, on = 1;
    void *sock = zmq_socket(zctx, type);
    if (!sock) {
        ms_error_set(err, MS_ERR_NOMEM, "zmq socket: %s", zmq_strerror(errno));
        return NULL;
    }
    if (!o) o = &none;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    if (o->max_frame)
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &o->max_frame,
                       sizeof o->max_frame);
    if (o->routing_id)
        zmq_setsockopt(sock, ZMQ_ROUTING_ID, o->routing_id,
                       strlen(o->routing_id));
    if (o->sndhwm)
        zmq_setsockopt(sock, ZMQ_SNDHWM, &o->sndhwm, sizeof o->sndhwm);
    if (o->never_block)
        zmq_setsockopt(sock, ZMQ_SNDTIMEO, &never, sizeof never);
    if (o->rcvbuf)
        zmq_setsockopt(sock, ZMQ_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
    if (o->handover) zmq_setsockopt(sock, ZMQ_ROUTER_HANDOVER, &on, sizeof on);
    return sock;
}

void *ms_sock_client(void *zctx, int type, const ms_sock_opts_t *o,
                     ms_error_t *err)
{
    void *sock = s_new(zctx, type, o, err);
    if (sock && ms_auth_client(sock, err) < 0) {
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void *ms_sock_connect(void *zctx, int type, const ms_sock_opts_t *o,
                      const char *endpoint, ms_error_t *err)
{
    void *sock = ms_sock_client(zctx, type, o, err);
    if (sock && zmq_connect(sock, endpoint) < 0) {
        ms_error_set(err, MS_ERR_IO, "cannot connect to %s: %s", endpoint,
                     zmq_strerror(errno));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

void *ms_sock_server(void *zctx, int type, const ms_sock_opts_t *o,
                     const char *what, const char *endpoint, ms_error_t *err)
{
    void *sock = s_new(zctx, type, o, err);
    if (!sock) return NULL;
    if (ms_auth_server(sock, err) < 0 ||
        ms_auth_guard(zctx, sock, what, err) < 0)
        goto fail;
    if (zmq_bind(sock, endpoint) < 0) {
        ms_error_set(err, MS_ERR_IO, "%s cannot bind %s: %s", what, endpoint,
                     zmq_strerror(errno));
        goto fail;
    }
    return sock;
fail:
    zmq_close(sock);
    return NULL;
}
