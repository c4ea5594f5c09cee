/* Moving map outputs off an executor that goes away (graceful
 * decommissioning): to a peer's or its host's shuffle server over the
 * shuffle protocol (PUT_OUTPUT), or into a fallback folder every host can
 * see. The receiver checks what arrives (the index against the data, every
 * block's header and CRC) and writes it under a temporary name renamed into
 * place, as a map task does: an output is served whole or not at all. */
#ifndef MS_SHUFFLE_MIGRATE_H
#define MS_SHUFFLE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/err.h"

/* Data frames of a PUT_OUTPUT are at most this large (below every frame
 * limit of the protocol), and an output at most this many of them. */
#define MS_SHUFFLE_PUT_CHUNK (16u << 20)
#define MS_SHUFFLE_PUT_MAX_CHUNKS 128

/* A location that is a folder read directly rather than a server:
 * "file://" followed by an absolute path (fallback storage). */
#define MS_SHUFFLE_FILE_SCHEME "file://"

typedef struct {
    int shuffle, map;
} ms_output_ref_t;

/* The committed map outputs of app in dir (those whose index is in place,
 * named exactly as ms_shuffle_path names them), sorted by shuffle, then
 * map; *out is malloc'ed (NULL when none, a missing dir included). */
int ms_shuffle_list_outputs(const char *dir, const char *app,
                            ms_output_ref_t **out, int *n, ms_error_t *err);

/* Checks a map output given as its index (R+1 little-endian u64 offsets,
 * from 0, never decreasing, the last equal to the data's length) and data
 * (in ndata pieces), every non-empty block's header and CRC, and stores
 * it as app's output (shuffle, map) in dir: data then index renamed into
 * place, replacing an older copy. MS_ERR_CORRUPT when the bytes are not a
 * valid output (at most MS_PLAN_MAX_PARTITIONS partitions), MS_ERR_IO when
 * they cannot be written, MS_ERR_FAILED when this process has closed its
 * outputs (ms_shuffle_outputs_close). No file is left behind on failure.
 * The pieces are borrowed for the call; a block may span several. */
int ms_shuffle_put(const char *dir, const char *app, int shuffle, int map,
                   const uint8_t *index, size_t index_len,
                   const struct iovec *data, int ndata, ms_error_t *err);

/* Sends output (shuffle, map) of app in dir to the shuffle server at
 * endpoint and waits up to timeout_ms, sending included, for it to be
 * stored there. 0 and the bytes sent (index and data); the server's
 * refusal (its code, and its message in err), MS_ERR_TIMEOUT (also when
 * nothing listens there), MS_ERR_NOTFOUND when the output is not in dir,
 * MS_ERR_USAGE when it is larger than a put may carry. */
int ms_shuffle_put_remote(void *zctx, const char *endpoint, const char *dir,
                          const char *app, int shuffle, int map,
                          int64_t timeout_ms, uint64_t *bytes, ms_error_t *err);

/* The location of app's outputs in the fallback folder: "file://" and
 * the absolute folder <fallback>/<app> (its real path once it exists). */
void ms_shuffle_fallback_location(char *buf, size_t size, const char *fallback,
                                  const char *app);

/* Copies output (shuffle, map) of app in dir into the fallback folder
 * (<fallback>/<app>, created), checked and renamed into place as above. */
int ms_shuffle_put_fallback(const char *dir, const char *app, int shuffle,
                            int map, const char *fallback, uint64_t *bytes,
                            ms_error_t *err);

#endif
