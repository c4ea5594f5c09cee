/* Where a result may go: checked at planning, before any task runs, so that
 * a job never overwrites its own input or job file and an output that
 * cannot be written is found before the work is done, not after. Writing
 * itself is ms_write_atomic's (common/fsutil.h). */
#ifndef MS_OUTPUT_H
#define MS_OUTPUT_H

#include "common/err.h"

/* Checks that path can receive a result: it is not the same file (device
 * and inode, through any symbolic or hard link) as any of keep[0..nkeep)
 * (MS_ERR_USAGE, naming both), not a folder, and its folder exists or can
 * be made there and takes new files (MS_ERR_INPUT otherwise). Creates
 * nothing that outlives the call. */
int ms_output_check(const char *path, const char *const *keep, int nkeep,
                    ms_error_t *err);

#endif
