/* Checks of a result's destination at planning time (see output.h). */
#include "driver/output.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"

static int s_not_kept(const char *path, const struct stat *st,
                      const char *const *keep, int nkeep, ms_error_t *err)
{
    for (int i = 0; i < nkeep; i++) {
        struct stat k;
        if (keep[i] && stat(keep[i], &k) == 0 && k.st_dev == st->st_dev &&
            k.st_ino == st->st_ino)
            return ms_error_set(err, MS_ERR_USAGE,
                                "output %s is the same file as %s: refusing "
                                "to overwrite it",
                                path, keep[i]);
    }
    return 0;
}

/* Replaces path by its folder, in place (dirname's result may be a part
 * of its argument or a constant: it is copied out first). */
static void s_parent(char *path)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dirname(path));
    strcpy(path, parent);
}

/* The folder the result will be renamed into, or the nearest one above it
 * that exists (the rest is made at the end), must take a new file: tried
 * for real, as permissions, read-only mounts and ACLs all have a say. */
static int s_folder_takes_files(const char *path, const char *target,
                                ms_error_t *err)
{
    char dir[PATH_MAX], probe[PATH_MAX + 64];
    struct stat st;
    snprintf(dir, sizeof dir, "%s", target);
    s_parent(dir);
    while (stat(dir, &st) < 0 && errno == ENOENT && strcmp(dir, "/") != 0 &&
           strcmp(dir, ".") != 0)
        s_parent(dir);
    if (stat(dir, &st) < 0)
        return ms_error_set(err, MS_ERR_INPUT,
                            "cannot write output %s: folder %s: %s", path, dir,
                            strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ms_error_set(err, MS_ERR_INPUT,
                            "cannot write output %s: %s is not a folder", path,
                            dir);
    snprintf(probe, sizeof probe, "%s/.minispark-probe.%d", dir, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return ms_error_set(err, MS_ERR_INPUT,
                            "cannot write output %s: folder %s: %s", path, dir,
                            strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

int ms_output_check(const char *path, const char *const *keep, int nkeep,
                    ms_error_t *err)
{
    char target[PATH_MAX];
    struct stat st;
    int rc = ms_resolve_links(path, target, sizeof target);
    if (rc < 0)
        return ms_error_set(err, MS_ERR_INPUT, "cannot write output %s: %s",
                            path, strerror(-rc));
    if (stat(target, &st) < 0) {
        if (errno != ENOENT)
            return ms_error_set(err, MS_ERR_INPUT, "cannot write output %s: %s",
                                path, strerror(errno));
        return s_folder_takes_files(path, target, err);
    }
    if ((rc = s_not_kept(path, &st, keep, nkeep, err)) < 0) return rc;
    if (S_ISDIR(st.st_mode))
        return ms_error_set(err, MS_ERR_INPUT,
                            "cannot write output %s: it is a directory", path);
    if (!S_ISREG(st.st_mode)) /* written in place: open it later, not now */
        return access(target, W_OK) == 0
                   ? 0
                   : ms_error_set(err, MS_ERR_INPUT,
                                  "cannot write output %s: %s", path,
                                  strerror(errno));
    return s_folder_takes_files(path, target, err);
}
