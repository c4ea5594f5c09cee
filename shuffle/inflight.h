/* Bytes a shuffle server has handed to ZeroMQ and ZeroMQ has not released
 * yet, per client and in total. Blocks go out without a copy, so a client
 * that does not read makes ZeroMQ keep them: this count is what the server
 * bounds. A block is held when handed over and released by ZeroMQ's free
 * callback, on ZeroMQ's I/O thread, possibly after the server is gone; so
 * the counters are atomic, and the ledger and a client live until their
 * last block is released. Everything else is for the server's thread. */
#ifndef MS_SHUFFLE_INFLIGHT_H
#define MS_SHUFFLE_INFLIGHT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct ms_inflight ms_inflight_t;

typedef struct {
    _Atomic uint64_t bytes;    /* held now */
    _Atomic uint64_t released; /* ever: its progress */
    _Atomic int refs;          /* the table's, and one per block held */
    /* The server thread's only: */
    uint8_t id[256]; /* routing id */
    size_t id_len;
    int waiting;  /* its requests the server keeps waiting */
    bool dropped; /* disconnected: its requests are ignored */
    uint64_t released_seen;
    int64_t quiet_since_ms; /* released nothing since then */
    int fd;                 /* the connection its last request came on */
    struct sockaddr_storage peer;
    socklen_t peer_len;
} ms_inflight_client_t;

/* NULL when out of memory or out of file descriptors. */
ms_inflight_t *ms_inflight_new(void);
/* Forgets every client; the memory goes with the last block released. */
void ms_inflight_destroy(ms_inflight_t **self_p);

/* Readable (poll it) once a block is released while ms_inflight_wait is
 * on; each call empties it. */
int ms_inflight_wake_fd(const ms_inflight_t *self);
void ms_inflight_wait(ms_inflight_t *self, bool on);

/* Bytes held, in total. */
uint64_t ms_inflight_total(const ms_inflight_t *self);

/* The client with this routing id, added if new (at now_ms); NULL when out
 * of memory. Borrowed: valid until ms_inflight_forget_idle. */
ms_inflight_client_t *ms_inflight_client(ms_inflight_t *self, const void *id,
                                         size_t len, int64_t now_ms);
/* Removes the clients that hold nothing and have nothing waiting. */
void ms_inflight_forget_idle(ms_inflight_t *self);

/* Notes at now_ms which clients released bytes since the last call, and
 * returns the one holding bytes that has been quiet longest (the most
 * bytes among equals), or NULL. */
ms_inflight_client_t *ms_inflight_quietest(ms_inflight_t *self, int64_t now_ms);

/* Remembers the connection (file descriptor, -1 for none) a request of c
 * came on, and later shuts it down, if it still is the same peer: ZeroMQ
 * then discards what it queued for c. */
void ms_inflight_note_fd(ms_inflight_client_t *c, int fd);
void ms_inflight_disconnect(ms_inflight_client_t *c);

/* A block of len bytes handed to ZeroMQ for c: heap bytes (map_len 0) or a
 * mapping of map_len bytes from the page boundary below the data. Returns
 * the hint for ms_inflight_release, or NULL when out of memory (then
 * nothing is held). */
void *ms_inflight_hold(ms_inflight_t *self, ms_inflight_client_t *c, size_t len,
                       size_t map_len);
/* A zmq_free_fn: frees or unmaps data and releases its bytes. */
void ms_inflight_release(void *data, void *hint);

#endif
