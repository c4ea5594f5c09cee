/* The ledger of bytes in flight: an array of clients (a server has a
 * handful at a time) and one ticket per block, counted down by ZeroMQ. */
#include "shuffle/inflight.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

struct ms_inflight {
    _Atomic int refs; /* the server's, and one per block held */
    _Atomic uint64_t total;
    _Atomic bool waiting;
    int wake_fd;
    /* The server thread's only: */
    ms_inflight_client_t **clients;
    int nclients, cap;
};

/* What ZeroMQ hands back with a block. */
typedef struct {
    ms_inflight_t *ledger;
    ms_inflight_client_t *client;
    size_t len, map_len;
} s_ticket_t;

ms_inflight_t *ms_inflight_new(void)
{
    ms_inflight_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->wake_fd < 0) {
        free(self);
        return NULL;
    }
    atomic_init(&self->refs, 1);
    return self;
}

static void s_unref_ledger(ms_inflight_t *self)
{
    if (atomic_fetch_sub(&self->refs, 1) != 1) return;
    close(self->wake_fd);
    free(self);
}

static void s_unref_client(ms_inflight_client_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) == 1) free(c);
}

void ms_inflight_destroy(ms_inflight_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_inflight_t *self = *self_p;
    for (int i = 0; i < self->nclients; i++)
        s_unref_client(self->clients[i]);
    free(self->clients);
    self->clients = NULL;
    self->nclients = self->cap = 0;
    s_unref_ledger(self);
    *self_p = NULL;
}

int ms_inflight_wake_fd(const ms_inflight_t *self)
{
    return self->wake_fd;
}

void ms_inflight_wait(ms_inflight_t *self, bool on)
{
    uint64_t n;
    atomic_store(&self->waiting, on);
    (void)!read(self->wake_fd, &n, sizeof n);
}

uint64_t ms_inflight_total(const ms_inflight_t *self)
{
    return atomic_load(&self->total);
}

ms_inflight_client_t *ms_inflight_client(ms_inflight_t *self, const void *id,
                                         size_t len, int64_t now_ms)
{
    for (int i = 0; i < self->nclients; i++) {
        ms_inflight_client_t *c = self->clients[i];
        if (c->id_len == len && memcmp(c->id, id, len) == 0) return c;
    }
    if (len > sizeof self->clients[0]->id) return NULL;
    if (self->nclients == self->cap) {
        int cap = self->cap ? 2 * self->cap : 8;
        ms_inflight_client_t **grown =
            realloc(self->clients, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        self->clients = grown;
        self->cap = cap;
    }
    ms_inflight_client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->refs, 1);
    if (len) memcpy(c->id, id, len);
    c->id_len = len;
    c->fd = -1;
    c->quiet_since_ms = now_ms;
    self->clients[self->nclients++] = c;
    return c;
}

void ms_inflight_forget_idle(ms_inflight_t *self)
{
    for (int i = 0; i < self->nclients;) {
        ms_inflight_client_t *c = self->clients[i];
        if (c->waiting || atomic_load(&c->bytes)) {
            i++;
            continue;
        }
        s_unref_client(c);
        self->clients[i] = self->clients[--self->nclients];
    }
}

ms_inflight_client_t *ms_inflight_quietest(ms_inflight_t *self, int64_t now_ms)
{
    ms_inflight_client_t *best = NULL;
    uint64_t best_bytes = 0;
    for (int i = 0; i < self->nclients; i++) {
        ms_inflight_client_t *c = self->clients[i];
        uint64_t released = atomic_load(&c->released);
        uint64_t bytes = atomic_load(&c->bytes);
        if (released != c->released_seen || !bytes) {
            c->released_seen = released;
            c->quiet_since_ms = now_ms;
        }
        if (!bytes || c->dropped) continue;
        if (!best || c->quiet_since_ms < best->quiet_since_ms ||
            (c->quiet_since_ms == best->quiet_since_ms && bytes > best_bytes)) {
            best = c;
            best_bytes = bytes;
        }
    }
    return best;
}

static bool s_same_addr(const struct sockaddr_storage *a, socklen_t alen,
                        const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

void ms_inflight_note_fd(ms_inflight_client_t *c, int fd)
{
    c->fd = fd;
    c->peer_len = sizeof c->peer;
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&c->peer, &c->peer_len))
        c->fd = -1;
}

void ms_inflight_disconnect(ms_inflight_client_t *c)
{
    struct sockaddr_storage now;
    socklen_t len = sizeof now;
    /* ZeroMQ owns the descriptor and may have closed it and accepted
     * another connection on the same number since: only the peer that
     * sent the request is cut off. */
    if (c->fd >= 0 && getpeername(c->fd, (struct sockaddr *)&now, &len) == 0 &&
        s_same_addr(&now, len, &c->peer, c->peer_len))
        shutdown(c->fd, SHUT_RDWR);
    c->fd = -1;
}

void *ms_inflight_hold(ms_inflight_t *self, ms_inflight_client_t *c, size_t len,
                       size_t map_len)
{
    s_ticket_t *t = malloc(sizeof *t);
    if (!t) return NULL;
    *t = (s_ticket_t){self, c, len, map_len};
    atomic_fetch_add(&self->refs, 1);
    atomic_fetch_add(&c->refs, 1);
    atomic_fetch_add(&c->bytes, len);
    atomic_fetch_add(&self->total, len);
    return t;
}

void ms_inflight_release(void *data, void *hint)
{
    s_ticket_t *t = hint;
    if (!t->map_len) {
        free(data);
    } else {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
        munmap((void *)((uintptr_t)data & ~(page - 1)), t->map_len);
    }
    atomic_fetch_add(&t->client->released, t->len);
    atomic_fetch_sub(&t->client->bytes, t->len);
    atomic_fetch_sub(&t->ledger->total, t->len);
    /* Only while the server has requests waiting for room: a write per
     * block otherwise would cost every fetch a system call. */
    if (atomic_load(&t->ledger->waiting)) {
        uint64_t one = 1;
        (void)!write(t->ledger->wake_fd, &one, sizeof one);
    }
    s_unref_client(t->client);
    s_unref_ledger(t->ledger);
    free(t);
}
