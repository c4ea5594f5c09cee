/* Filesystem helpers. */
#include "common/fsutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ms_mkdirs(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(dir, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

int ms_write_atomic(const char *path, ms_fill_fn *fill, void *arg,
                    ms_error_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", tmp,
                            strerror(errno));
    int bad = fill(f, arg) < 0 || ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", path,
                            e ? strerror(e) : "write failed");
    }
    return 0;
}
