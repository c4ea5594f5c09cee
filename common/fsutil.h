/* Small filesystem helpers shared by every role. */
#ifndef MS_FSUTIL_H
#define MS_FSUTIL_H

#include <stdio.h>

#include "common/err.h"

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0,
 * or -1 with errno set. */
int ms_mkdirs(const char *path);

/* Writes a file whole or not at all: fill writes to a temporary file
 * beside path, which is then renamed over
 * path; on any failure the temporary file is removed and path is left as it
 * was. fill returns 0, or <0 to abandon. Returns 0 or MS_ERR_IO with the
 * reason in err. */
typedef int ms_fill_fn(FILE *f, void *arg);
int ms_write_atomic(const char *path, ms_fill_fn *fill, void *arg,
                    ms_error_t *err);

#endif
