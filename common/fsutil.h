/* Small filesystem helpers shared by every role. */
#ifndef MS_FSUTIL_H
#define MS_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0,
 * or -1 with errno set. */
int ms_mkdirs(const char *path);

/* Follows path's symbolic links (a dangling last one included) to the
 * file they name, written to out. Returns 0 or a negative errno (ELOOP,
 * ENAMETOOLONG, or readlink's). Only the last component is resolved:
 * folders on the way are the kernel's business. */
int ms_resolve_links(const char *path, char *out, size_t size);

/* Writes a file whole or not at all: fill writes to a temporary file
 * beside path, which is then renamed over path; on any failure the
 * temporary file is removed and path is left as it was. A symbolic link is
 * followed, and its target written that way; a device or FIFO is written
 * in place (a rename would replace it), a folder refused. fill returns 0,
 * or <0 to abandon. Returns 0 or MS_ERR_IO with the reason in err. */
typedef int ms_fill_fn(FILE *f, void *arg);
int ms_write_atomic(const char *path, ms_fill_fn *fill, void *arg,
                    ms_error_t *err);

/* Opens path for reading if it is a regular file, without blocking on a
 * FIFO (which is refused, as are devices, sockets and folders: MS_ERR_INPUT
 * naming what it is). Fills *st. Returns the descriptor (blocking, close on
 * exec) or a negative error. */
struct stat;
int ms_open_regular(const char *path, struct stat *st, ms_error_t *err);

/* What a file was when a job was planned, so that a task can tell it has
 * changed since: device and inode (meaningful only on the host that took
 * them, named by its boot id), size and modification time. */
typedef struct {
    uint64_t host; /* hash of the kernel's boot id */
    uint64_t dev, ino;
    int64_t size, mtime_ns;
} ms_file_id_t;

void ms_file_id_of(const struct stat *st, ms_file_id_t *out);
/* Returns 0 when the file whose state is st is still the one planned, or
 * MS_ERR_INPUT naming path and what changed. On another host than the
 * planning one only the size can be compared (its copy of the file has its
 * own inode and times). */
int ms_file_id_check(const ms_file_id_t *planned, const struct stat *st,
                     const char *path, ms_error_t *err);

#endif
