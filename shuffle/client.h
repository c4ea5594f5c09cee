/* Control requests to a shuffle server: is it there (and where are its
 * files), and drop an application's files. Each call uses a short-lived
 * DEALER and gives up after timeout_ms. */
#ifndef MS_SHUFFLE_CLIENT_H
#define MS_SHUFFLE_CLIENT_H

#include <stddef.h>

#include "common/err.h"

/* A DEALER connected to endpoint as every short-lived shuffle client's:
 * no linger, CURVE when authentication is on. The caller's to close;
 * NULL when it cannot be made. */
void *ms_shuffle_connect(void *zctx, const char *endpoint);

/* 0 and the server's directory when it answered; MS_ERR_TIMEOUT if not.
 * A driver names its application (app), which registers it there; others
 * pass NULL. */
int ms_shuffle_ping(void *zctx, const char *endpoint, const char *app,
                    int timeout_ms, char *dir, size_t dir_size);

/* 0 and the number of files removed; MS_ERR_TIMEOUT if no answer. */
int ms_shuffle_remove_app_remote(void *zctx, const char *endpoint,
                                 const char *app, int timeout_ms, int *removed);

/* 0 and the number of files of one shuffle removed. */
int ms_shuffle_remove_shuffle_remote(void *zctx, const char *endpoint,
                                     const char *app, int shuffle,
                                     int timeout_ms, int *removed);

#endif
