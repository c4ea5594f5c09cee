/* Small filesystem helpers shared by every role. */
#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
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

int ms_resolve_links(const char *path, char *out, size_t size)
{
    char link[PATH_MAX], dir[PATH_MAX];
    if (snprintf(out, size, "%s", path) >= (int)size) return -ENAMETOOLONG;
    for (int hops = 0;; hops++) {
        struct stat st;
        if (lstat(out, &st) < 0 || !S_ISLNK(st.st_mode)) return 0;
        if (hops == 40) return -ELOOP; /* as the kernel's own limit */
        ssize_t n = readlink(out, link, sizeof link - 1);
        if (n < 0) return -errno;
        link[n] = '\0';
        snprintf(dir, sizeof dir, "%s", out);
        int len = link[0] == '/'
                      ? snprintf(out, size, "%s", link)
                      : snprintf(out, size, "%s/%s", dirname(dir), link);
        if (len >= (int)size) return -ENAMETOOLONG;
    }
}

/* A device or FIFO cannot be replaced without breaking whoever uses it
 * (--output /dev/stdout, a pipe a reader waits on): it is written in place. */
static int s_write_in_place(const char *path, ms_fill_fn *fill, void *arg,
                            ms_error_t *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", path,
                            strerror(errno));
    int bad = fill(f, arg) < 0 || ferror(f);
    int e = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad)
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", path,
                            e ? strerror(e) : "write failed");
    return 0;
}

int ms_write_atomic(const char *path, ms_fill_fn *fill, void *arg,
                    ms_error_t *err)
{
    char target[PATH_MAX], tmp[PATH_MAX + 32];
    struct stat st;
    int rc = ms_resolve_links(path, target, sizeof target);
    if (rc < 0)
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", path,
                            strerror(-rc));
    bool exists = stat(target, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: Is a directory",
                            path);
    if (exists && !S_ISREG(st.st_mode))
        return s_write_in_place(target, fill, arg, err);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", target, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", tmp,
                            strerror(errno));
    int bad = fill(f, arg) < 0 || ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, target) < 0) {
        int e = errno;
        unlink(tmp);
        return ms_error_set(err, MS_ERR_IO, "cannot write %s: %s", path,
                            e ? strerror(e) : "write failed");
    }
    return 0;
}

static const char *s_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
           : S_ISSOCK(mode) ? "a socket"
                            : "not a regular file";
}

int ms_open_regular(const char *path, struct stat *st, ms_error_t *err)
{
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ms_error_set(err, errno == ENOENT ? MS_ERR_NOTFOUND : MS_ERR_IO,
                            "%s: open: %s", path, strerror(errno));
    if (fstat(fd, st) < 0) {
        int e = errno;
        close(fd);
        return ms_error_set(err, MS_ERR_IO, "%s: stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return ms_error_set(err, MS_ERR_INPUT, "%s is %s, not a regular file",
                            path, s_kind(st->st_mode));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* The boot id is per kernel instance: processes in other network or mount
 * namespaces of this machine share it, other hosts do not. */
static uint64_t s_host(void)
{
    static uint64_t host;
    if (host) return host;
    char id[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(id, sizeof id, f)) id[0] = '\0';
        fclose(f);
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    host = h;
    return host;
}

void ms_file_id_of(const struct stat *st, ms_file_id_t *out)
{
    out->host = s_host();
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
    out->size = (int64_t)st->st_size;
    out->mtime_ns =
        (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int ms_file_id_check(const ms_file_id_t *planned, const struct stat *st,
                     const char *path, ms_error_t *err)
{
    ms_file_id_t now;
    ms_file_id_of(st, &now);
    const char *what = NULL;
    if (now.size != planned->size)
        what = "its size changed";
    else if (now.host != planned->host)
        return 0;
    else if (now.dev != planned->dev || now.ino != planned->ino)
        what = "it was replaced by another file";
    else if (now.mtime_ns != planned->mtime_ns)
        what = "it was modified";
    if (!what) return 0;
    return ms_error_set(err, MS_ERR_INPUT,
                        "%s changed while the job ran (%s: %lld bytes at "
                        "planning, %lld now)",
                        path, what, (long long)planned->size,
                        (long long)now.size);
}
