/* The reduce side's block fetcher: asks every location that serves one of
 * the needed map outputs for its block of a partition, pipelining requests
 * across locations, checks each block (header and CRC) and hands the raw
 * rows to a callback. Any failure names the map output and location so the
 * driver can tell which output is lost. */
#ifndef MS_SHUFFLE_FETCH_H
#define MS_SHUFFLE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct {
    int map;
    /* A shuffle server's endpoint, or "file://" and a folder of outputs
     * read directly (fallback storage, see migrate.h). */
    const char *endpoint;
} ms_map_loc_t;

typedef struct {
    int map; /* the map output that could not be fetched */
    char endpoint[256];
    /* The location did not answer (no connection, dropped, timed out), as
     * opposed to answering with a missing or bad block: the output may
     * still be on disk there. */
    bool unreachable;
} ms_fetch_failure_t;

/* Receives one map output's raw (decompressed, CRC-checked) rows. */
typedef int (*ms_fetch_block_fn)(void *arg, int map, const uint8_t *raw,
                                 size_t len, ms_error_t *err);

/* Returns 0; MS_ERR_FETCH with *fail and err filled when a block is
 * missing, corrupt or its location does not answer within timeout_ms (0:
 * no time at all; INT64_MAX, or any time the clock cannot reach: no
 * limit); or the callback's error. *bytes counts block bytes received. */
int ms_shuffle_fetch(void *zctx, const char *app, int shuffle, int partition,
                     const ms_map_loc_t *locs, int nlocs, int64_t timeout_ms,
                     ms_fetch_block_fn fn, void *arg, uint64_t *bytes,
                     ms_fetch_failure_t *fail, ms_error_t *err);

#endif
