/* Small filesystem helpers shared by every role. */
#ifndef MS_FSUTIL_H
#define MS_FSUTIL_H

/* mkdir -p: creates path and its missing parents (mode 0755). Returns 0,
 * or -1 with errno set. */
int ms_mkdirs(const char *path);

#endif
