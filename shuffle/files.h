/* Map output files in a host's shuffle directory:
 *   shuffle_<app>_<shuffle>_<map>.data   the partitions' blocks, in order
 *   shuffle_<app>_<shuffle>_<map>.index  R+1 little-endian u64 offsets
 * Both are written under temporary names and renamed into place (data
 * first), so a reader that finds the index finds a complete attempt. */
#ifndef MS_SHUFFLE_FILES_H
#define MS_SHUFFLE_FILES_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "common/err.h"
#include "common/plan.h"

#define MS_APP_ID_MAX 64

/* True when id is a safe application id: 1..63 of [A-Za-z0-9-] (no '_': it
 * separates the fields of a file name). */
int ms_shuffle_valid_app_id(const char *id);

void ms_shuffle_path(char *buf, size_t size, const char *dir, const char *app,
                     int shuffle, int map, const char *ext);

/* A map output written one partition at a time, so that a caller producing
 * partitions in order never holds more than one. Nothing is visible to
 * readers until commit; destroying an uncommitted writer removes its
 * temporary file. */
typedef struct ms_shuffle_writer ms_shuffle_writer_t;

int ms_shuffle_writer_open(ms_shuffle_writer_t **out, const char *dir,
                           const char *app, int shuffle, int map, int nparts,
                           ms_codec_t codec, int level, ms_error_t *err);
/* Writes partition's block. Partitions come in increasing order; those
 * never added are empty. */
int ms_shuffle_writer_add(ms_shuffle_writer_t *self, int partition,
                          const void *raw, size_t len, ms_error_t *err);
/* Writes the index and renames both files into place. */
int ms_shuffle_writer_commit(ms_shuffle_writer_t *self, uint64_t *bytes_written,
                             ms_error_t *err);
void ms_shuffle_writer_destroy(ms_shuffle_writer_t **self_p);

/* From now on no writer of this process opens or commits (both fail):
 * called before a stopping executor removes its outputs, so that a task
 * still running cannot put one back. Waits for a commit under way. */
void ms_shuffle_outputs_close(void);

/* Compresses and writes parts[0..nparts) as one map output. */
int ms_shuffle_write(const char *dir, const char *app, int shuffle, int map,
                     msgpack_sbuffer *parts, int nparts, ms_codec_t codec,
                     int level, uint64_t *bytes_written, ms_error_t *err);

/* Stores a map output given whole, as a writer's commit does: the data
 * (ndata pieces) then the index (index_len bytes) written under temporary
 * names and renamed into place, replacing an older copy. Checks nothing
 * of the bytes (ms_shuffle_put in migrate.h does, then calls this). No
 * temporary file is left on failure: MS_ERR_FAILED once outputs are
 * closed, MS_ERR_IO otherwise. */
int ms_shuffle_store_output(const char *dir, const char *app, int shuffle,
                            int map, const uint8_t *index, size_t index_len,
                            const struct iovec *data, int ndata,
                            ms_error_t *err);

/* Reads partition's block of a map output into a malloc'ed buffer (NULL
 * and 0 for an empty block). MS_ERR_NOTFOUND when the output is absent,
 * MS_ERR_CORRUPT when the index is inconsistent with the data file. */
int ms_shuffle_read_block(const char *dir, const char *app, int shuffle,
                          int map, int partition, uint8_t **out, size_t *len,
                          ms_error_t *err);

/* Deletes every shuffle file of app in dir; *removed counts them. */
int ms_shuffle_remove_app(const char *dir, const char *app, int *removed);
/* The one way a folder of app's outputs goes: its files, then the folder
 * if that left it empty, and with parent_too its parent folder if that
 * left it empty (an application's folder after its last executor's). */
void ms_shuffle_remove_dir(const char *dir, const char *app, bool parent_too);
/* The same for one shuffle of app. */
int ms_shuffle_remove_shuffle(const char *dir, const char *app, int shuffle,
                              int *removed);

/* Offset and length of partition's block, from the index (test hooks). */
int ms_shuffle_block_range(const char *dir, const char *app, int shuffle,
                           int map, int partition, uint64_t *off, uint64_t *len,
                           ms_error_t *err);

#endif
