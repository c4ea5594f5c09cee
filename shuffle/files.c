/* Writing and reading map output files. */
#include "shuffle/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shuffle/block.h"

int ms_shuffle_valid_app_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= MS_APP_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

void ms_shuffle_path(char *buf, size_t size, const char *dir, const char *app,
                     int shuffle, int map, const char *ext)
{
    snprintf(buf, size, "%s/shuffle_%s_%d_%d.%s", dir, app, shuffle, map, ext);
}

static int s_write_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t n = write(fd, c, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        c += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes the blocks to fd and fills offsets[0..nparts]. */
static int s_write_blocks(int fd, msgpack_sbuffer *parts, int nparts,
                          ms_codec_t codec, int level, uint64_t *offsets)
{
    offsets[0] = 0;
    for (int p = 0; p < nparts; p++) {
        uint8_t *blk;
        size_t len;
        int rc = ms_block_encode(parts[p].data, parts[p].size, codec, level,
                                 &blk, &len);
        if (rc < 0) return rc;
        rc = len ? s_write_all(fd, blk, len) : 0;
        free(blk);
        if (rc < 0) return MS_ERR_IO;
        offsets[p + 1] = offsets[p] + len;
    }
    return 0;
}

static int s_write_file(const char *final, const char *tmp, const void *p,
                        size_t len, int fd_in)
{
    int fd = fd_in >= 0 ? fd_in : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    int rc = p ? s_write_all(fd, p, len) : 0;
    if (close(fd) < 0) rc = -1;
    if (rc == 0 && rename(tmp, final) < 0) rc = -1;
    if (rc < 0) unlink(tmp);
    return rc;
}

int ms_shuffle_write(const char *dir, const char *app, int shuffle, int map,
                     msgpack_sbuffer *parts, int nparts, ms_codec_t codec,
                     int level, uint64_t *bytes_written, ms_error_t *err)
{
    char data[4096], index[4096], tmp[4200];
    ms_shuffle_path(data, sizeof data, dir, app, shuffle, map, "data");
    ms_shuffle_path(index, sizeof index, dir, app, shuffle, map, "index");
    uint64_t *offsets = malloc(((size_t)nparts + 1) * sizeof *offsets);
    uint8_t *le = malloc(((size_t)nparts + 1) * 8);
    int rc = MS_ERR_NOMEM;
    if (!offsets || !le) goto done;
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", data, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rc = ms_error_set(err, MS_ERR_IO, "cannot create %s: %s", tmp,
                          strerror(errno));
        goto done;
    }
    rc = s_write_blocks(fd, parts, nparts, codec, level, offsets);
    if (rc < 0) {
        close(fd);
        unlink(tmp);
        ms_error_set(err, rc, "writing %s: %s", tmp, ms_strerror(rc));
        goto done;
    }
    if (s_write_file(data, tmp, NULL, 0, fd) < 0) goto io;
    for (int i = 0; i <= nparts; i++)
        for (int b = 0; b < 8; b++)
            le[i * 8 + b] = (uint8_t)(offsets[i] >> (8 * b));
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", index, (int)getpid());
    if (s_write_file(index, tmp, le, ((size_t)nparts + 1) * 8, -1) < 0) goto io;
    *bytes_written = offsets[nparts] + ((uint64_t)nparts + 1) * 8;
    rc = 0;
    goto done;
io:
    rc = ms_error_set(err, MS_ERR_IO, "writing map output %s: %s", data,
                      strerror(errno));
done:
    free(offsets);
    free(le);
    return rc;
}

int ms_shuffle_block_range(const char *dir, const char *app, int shuffle,
                           int map, int partition, uint64_t *off, uint64_t *len,
                           ms_error_t *err)
{
    char path[4096];
    uint8_t le[16];
    ms_shuffle_path(path, sizeof path, dir, app, shuffle, map, "index");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ms_error_set(err, MS_ERR_NOTFOUND, "map output %s is missing",
                            path);
    ssize_t n = pread(fd, le, sizeof le, (off_t)partition * 8);
    close(fd);
    if (n != (ssize_t)sizeof le)
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "index %s has no entry for partition %d", path,
                            partition);
    uint64_t a = 0, b = 0;
    for (int i = 7; i >= 0; i--) {
        a = a << 8 | le[i];
        b = b << 8 | le[8 + i];
    }
    if (b < a)
        return ms_error_set(err, MS_ERR_CORRUPT, "index %s is inconsistent",
                            path);
    *off = a;
    *len = b - a;
    return 0;
}

int ms_shuffle_read_block(const char *dir, const char *app, int shuffle,
                          int map, int partition, uint8_t **out, size_t *len,
                          ms_error_t *err)
{
    uint64_t off, n;
    char path[4096];
    *out = NULL;
    *len = 0;
    int rc = ms_shuffle_block_range(dir, app, shuffle, map, partition, &off, &n,
                                    err);
    if (rc < 0 || n == 0) return rc;
    if (n > MS_BLOCK_MAX_RAW + MS_BLOCK_HEADER)
        return ms_error_set(err, MS_ERR_CORRUPT, "block too large");
    ms_shuffle_path(path, sizeof path, dir, app, shuffle, map, "data");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return ms_error_set(err, MS_ERR_NOTFOUND, "map output %s is missing",
                            path);
    uint8_t *buf = malloc(n);
    ssize_t got = buf ? pread(fd, buf, n, (off_t)off) : -1;
    close(fd);
    if (got != (ssize_t)n) {
        free(buf);
        return ms_error_set(err, MS_ERR_CORRUPT,
                            "data file %s is shorter than its index", path);
    }
    *out = buf;
    *len = n;
    return 0;
}

static int s_remove_prefix(const char *dir, const char *prefix, int *removed)
{
    char path[4096];
    size_t plen = strlen(prefix);
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : MS_ERR_IO;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, plen) != 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0) (*removed)++;
    }
    closedir(d);
    return 0;
}

int ms_shuffle_remove_app(const char *dir, const char *app, int *removed)
{
    char prefix[MS_APP_ID_MAX + 16];
    *removed = 0;
    if (!ms_shuffle_valid_app_id(app)) return MS_ERR_USAGE;
    snprintf(prefix, sizeof prefix, "shuffle_%s_", app);
    return s_remove_prefix(dir, prefix, removed);
}

int ms_shuffle_remove_shuffle(const char *dir, const char *app, int shuffle,
                              int *removed)
{
    char prefix[MS_APP_ID_MAX + 32];
    *removed = 0;
    if (!ms_shuffle_valid_app_id(app) || shuffle < 0) return MS_ERR_USAGE;
    snprintf(prefix, sizeof prefix, "shuffle_%s_%d_", app, shuffle);
    return s_remove_prefix(dir, prefix, removed);
}
