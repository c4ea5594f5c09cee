/* Writing and reading map output files. */
#include "shuffle/files.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

static int s_writev_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        for (; n > 0 && (size_t)w >= iov->iov_len; iov++, n--)
            w -= (ssize_t)iov->iov_len;
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Closes fd (or creates tmp holding p[0..len)) and renames tmp to final. */
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

/* Once a process gives its outputs up (an executor that stops removes
 * them), no map output may appear any more: a task thread still running
 * would otherwise create or rename one into place after the removal, and
 * leave it behind. Opening a writer and committing one happen under this
 * lock, and not at all once closed. */
static pthread_mutex_t s_gate = PTHREAD_MUTEX_INITIALIZER;
static bool s_gate_closed;

void ms_shuffle_outputs_close(void)
{
    pthread_mutex_lock(&s_gate);
    s_gate_closed = true;
    pthread_mutex_unlock(&s_gate);
}

/* Creates tmp, unless outputs are closed (-1, ESHUTDOWN). */
static int s_open_gated(const char *tmp)
{
    pthread_mutex_lock(&s_gate);
    int fd = s_gate_closed ? (errno = ESHUTDOWN, -1)
                           : open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pthread_mutex_unlock(&s_gate);
    return fd;
}

/* Puts an output in place under the gate: closes fd (the data, written as
 * data_tmp) and renames it, then writes the index le[0..len) as index_tmp
 * and renames it. No temporary file is left either way; -1 with errno
 * (ESHUTDOWN once outputs are closed) on failure. */
static int s_commit(const char *data, const char *data_tmp, int fd,
                    const char *index, const char *index_tmp, const uint8_t *le,
                    size_t len)
{
    int rc = -1;
    pthread_mutex_lock(&s_gate);
    if (s_gate_closed) {
        close(fd);
        unlink(data_tmp);
        errno = ESHUTDOWN;
    } else {
        rc = s_write_file(data, data_tmp, NULL, 0, fd);
        if (rc == 0 && s_write_file(index, index_tmp, le, len, -1) < 0) {
            int e = errno;
            unlink(data);
            errno = e;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&s_gate);
    return rc;
}

struct ms_shuffle_writer {
    char data[4096], index[4096], tmp[4200];
    int fd;
    int nparts, next; /* next partition whose offset is still open */
    ms_codec_t codec;
    int level;
    uint64_t *offsets; /* [nparts + 1] */
};

int ms_shuffle_writer_open(ms_shuffle_writer_t **out, const char *dir,
                           const char *app, int shuffle, int map, int nparts,
                           ms_codec_t codec, int level, ms_error_t *err)
{
    ms_shuffle_writer_t *self = calloc(1, sizeof *self);
    if (self) self->offsets = calloc((size_t)nparts + 1, sizeof *self->offsets);
    if (!self || !self->offsets) {
        free(self);
        return ms_error_set(err, MS_ERR_NOMEM, "map output writer");
    }
    self->nparts = nparts;
    self->codec = codec;
    self->level = level;
    ms_shuffle_path(self->data, sizeof self->data, dir, app, shuffle, map,
                    "data");
    ms_shuffle_path(self->index, sizeof self->index, dir, app, shuffle, map,
                    "index");
    snprintf(self->tmp, sizeof self->tmp, "%s.tmp.%d", self->data,
             (int)getpid());
    self->fd = s_open_gated(self->tmp);
    if (self->fd < 0) {
        int rc = ms_error_set(err, MS_ERR_IO, "cannot create %s: %s", self->tmp,
                              strerror(errno));
        ms_shuffle_writer_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

/* Closes the offsets of the empty partitions before partition. */
static void s_skip_to(ms_shuffle_writer_t *self, int partition)
{
    for (; self->next < partition; self->next++)
        self->offsets[self->next + 1] = self->offsets[self->next];
}

int ms_shuffle_writer_add(ms_shuffle_writer_t *self, int partition,
                          const void *raw, size_t len, ms_error_t *err)
{
    assert(partition >= self->next && partition < self->nparts);
    s_skip_to(self, partition);
    uint8_t *blk = NULL;
    size_t blen = 0;
    int rc = 0;
    if (self->codec == MS_CODEC_NONE && len > 0) {
        /* A stored body goes out from the caller's buffer, uncopied. */
        uint8_t hdr[MS_BLOCK_HEADER];
        ms_block_header(hdr, MS_CODEC_NONE, raw, len);
        struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)raw, len}};
        blen = sizeof hdr + len;
        rc = s_writev_all(self->fd, iov, 2);
    } else {
        rc = ms_block_encode(raw, len, self->codec, self->level, &blk, &blen);
        if (rc < 0)
            return ms_error_set(err, rc, "encoding a block of %s: %s",
                                self->data, ms_strerror(rc));
        rc = blen ? s_write_all(self->fd, blk, blen) : 0;
        free(blk);
    }
    if (rc < 0)
        return ms_error_set(err, MS_ERR_IO, "writing %s: %s", self->tmp,
                            strerror(errno));
    self->offsets[partition + 1] = self->offsets[partition] + blen;
    self->next = partition + 1;
    return 0;
}

int ms_shuffle_writer_commit(ms_shuffle_writer_t *self, uint64_t *bytes_written,
                             ms_error_t *err)
{
    int nparts = self->nparts;
    char index_tmp[4200];
    s_skip_to(self, nparts);
    uint8_t *le = malloc(((size_t)nparts + 1) * 8);
    if (!le) return ms_error_set(err, MS_ERR_NOMEM, "map output index");
    for (int i = 0; i <= nparts; i++)
        for (int b = 0; b < 8; b++)
            le[i * 8 + b] = (uint8_t)(self->offsets[i] >> (8 * b));
    snprintf(index_tmp, sizeof index_tmp, "%s.tmp.%d", self->index,
             (int)getpid());
    int fd = self->fd;
    self->fd = -1;
    int rc = s_commit(self->data, self->tmp, fd, self->index, index_tmp, le,
                      ((size_t)nparts + 1) * 8);
    free(le);
    if (rc < 0)
        return ms_error_set(
            err, MS_ERR_IO, "writing map output %s: %s", self->data,
            errno == ESHUTDOWN ? "the executor is stopping" : strerror(errno));
    *bytes_written = self->offsets[nparts] + ((uint64_t)nparts + 1) * 8;
    return 0;
}

void ms_shuffle_writer_destroy(ms_shuffle_writer_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_shuffle_writer_t *self = *self_p;
    if (self->fd >= 0) {
        close(self->fd);
        unlink(self->tmp);
    }
    free(self->offsets);
    free(self);
    *self_p = NULL;
}

int ms_shuffle_write(const char *dir, const char *app, int shuffle, int map,
                     msgpack_sbuffer *parts, int nparts, ms_codec_t codec,
                     int level, uint64_t *bytes_written, ms_error_t *err)
{
    ms_shuffle_writer_t *w = NULL;
    int rc = ms_shuffle_writer_open(&w, dir, app, shuffle, map, nparts, codec,
                                    level, err);
    for (int p = 0; rc == 0 && p < nparts; p++)
        if (parts[p].size)
            rc = ms_shuffle_writer_add(w, p, parts[p].data, parts[p].size, err);
    if (rc == 0) rc = ms_shuffle_writer_commit(w, bytes_written, err);
    ms_shuffle_writer_destroy(&w);
    return rc;
}

/* Temporary names of stored outputs: a server may store an output while
 * a task of the same process writes that output too. */
static void s_store_tmp(char *buf, size_t size, const char *final)
{
    static _Atomic unsigned s_serial;
    snprintf(buf, size, "%s.tmp.%d.%u", final, (int)getpid(), s_serial++);
}

int ms_shuffle_store_output(const char *dir, const char *app, int shuffle,
                            int map, const uint8_t *index, size_t index_len,
                            const struct iovec *data, int ndata,
                            ms_error_t *err)
{
    char path[2][4096], tmp[2][4200];
    ms_shuffle_path(path[0], sizeof path[0], dir, app, shuffle, map, "data");
    ms_shuffle_path(path[1], sizeof path[1], dir, app, shuffle, map, "index");
    for (int i = 0; i < 2; i++)
        s_store_tmp(tmp[i], sizeof tmp[i], path[i]);
    int fd = s_open_gated(tmp[0]);
    int rc = fd < 0 ? -1 : 0;
    for (int i = 0; rc == 0 && i < ndata; i++)
        rc = s_write_all(fd, data[i].iov_base, data[i].iov_len);
    if (rc < 0 && fd >= 0) {
        int e = errno;
        close(fd);
        unlink(tmp[0]);
        errno = e;
    }
    if (rc == 0)
        rc = s_commit(path[0], tmp[0], fd, path[1], tmp[1], index, index_len);
    if (rc == 0) return 0;
    if (errno == ESHUTDOWN)
        return ms_error_set(err, MS_ERR_FAILED,
                            "storing map output %s: this process has closed "
                            "its outputs",
                            path[0]);
    return ms_error_set(err, MS_ERR_IO, "storing map output %s: %s", path[0],
                        strerror(errno));
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

void ms_shuffle_remove_dir(const char *dir, const char *app, bool parent_too)
{
    int removed;
    char parent[4096];
    ms_shuffle_remove_app(dir, app, &removed);
    rmdir(dir);
    snprintf(parent, sizeof parent, "%s", dir);
    if (parent_too) rmdir(dirname(parent));
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
