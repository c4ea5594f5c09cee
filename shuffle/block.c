/* Shuffle block encoding: header, CRC32 and raw deflate from zlib. */
#include "shuffle/block.h"

#include <libdeflate.h>
#include <lz4.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define S_MAGIC 0x3142534Du /* "MSB1" */

/* CRC-32 of p[0..len), as zlib's crc32(0, p, len). Every block is
 * checksummed once when written and once when fetched; zlib's table-driven
 * crc32 (about 6 GB/s) was a third of the writer's time, and libdeflate's
 * uses the CPU's carry-less multiply where it has one. */
static uint32_t s_crc32(const uint8_t *p, size_t len)
{
    return libdeflate_crc32(0, p, len);
}

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

static int s_deflate(const void *raw, size_t len, int level, uint8_t *dst,
                     size_t *dst_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return MS_ERR_NOMEM;
    z.next_in = (Bytef *)raw;
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)*dst_len;
    int zrc = deflate(&z, Z_FINISH);
    *dst_len = z.total_out;
    deflateEnd(&z);
    return zrc == Z_STREAM_END ? 0 : MS_ERR_IO;
}

void ms_block_header(uint8_t *hdr, ms_codec_t codec, const void *raw,
                     size_t len)
{
    s_put32(hdr, S_MAGIC);
    hdr[4] = (uint8_t)codec;
    hdr[5] = hdr[6] = hdr[7] = 0;
    s_put64(hdr + 8, len);
    s_put32(hdr + 16, s_crc32(raw, len));
}

int ms_block_encode(const void *raw, size_t len, ms_codec_t codec, int level,
                    uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len == 0) return 0;
    if (len > MS_BLOCK_MAX_RAW) return MS_ERR_OVERFLOW;
    if (codec == MS_CODEC_LZ4 && len > LZ4_MAX_INPUT_SIZE)
        return MS_ERR_OVERFLOW;
    size_t cap = codec == MS_CODEC_ZLIB  ? deflateBound(NULL, (uLong)len)
                 : codec == MS_CODEC_LZ4 ? (size_t)LZ4_compressBound((int)len)
                                         : len;
    uint8_t *blk = malloc(MS_BLOCK_HEADER + cap);
    if (!blk) return MS_ERR_NOMEM;
    size_t body = cap;
    if (codec == MS_CODEC_ZLIB) {
        int rc = s_deflate(raw, len, level, blk + MS_BLOCK_HEADER, &body);
        if (rc < 0) {
            free(blk);
            return rc;
        }
    } else if (codec == MS_CODEC_LZ4) {
        int n = LZ4_compress_default(raw, (char *)blk + MS_BLOCK_HEADER,
                                     (int)len, (int)cap);
        if (n <= 0) {
            free(blk);
            return MS_ERR_IO;
        }
        body = (size_t)n;
    } else {
        memcpy(blk + MS_BLOCK_HEADER, raw, len);
    }
    ms_block_header(blk, codec, raw, len);
    *out = blk;
    *out_len = MS_BLOCK_HEADER + body;
    return 0;
}

static int s_inflate(const uint8_t *src, size_t len, uint8_t *dst,
                     size_t raw_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) return MS_ERR_NOMEM;
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)raw_len;
    int zrc = inflate(&z, Z_FINISH);
    int ok = zrc == Z_STREAM_END && z.total_out == raw_len && z.avail_in == 0;
    inflateEnd(&z);
    return ok ? 0 : MS_ERR_CORRUPT;
}

int ms_block_view(const uint8_t *blk, size_t len, const uint8_t **raw,
                  size_t *raw_len, uint8_t **buf, size_t *cap, ms_error_t *err)
{
    *raw = NULL;
    *raw_len = 0;
    if (len == 0) return 0;
    if (len < MS_BLOCK_HEADER || s_get32(blk) != S_MAGIC)
        return ms_error_set(err, MS_ERR_CORRUPT, "bad block header");
    uint8_t codec = blk[4];
    uint64_t n = s_get64(blk + 8);
    size_t body = len - MS_BLOCK_HEADER;
    if (codec > MS_CODEC_LZ4 || blk[5] || blk[6] || blk[7])
        return ms_error_set(err, MS_ERR_CORRUPT, "unknown block codec %u",
                            codec);
    /* Deflate expands at most ~1032:1 and LZ4 at most ~255:1; a header
     * claiming more is lying, and must not make us allocate what it
     * claims. */
    if (n == 0 || n > MS_BLOCK_MAX_RAW ||
        (codec == MS_CODEC_NONE && n != body) ||
        (codec == MS_CODEC_ZLIB && n > (uint64_t)body * 1032 + 64) ||
        (codec == MS_CODEC_LZ4 &&
         (n > (uint64_t)body * 255 + 64 || body > LZ4_MAX_INPUT_SIZE)))
        return ms_error_set(err, MS_ERR_CORRUPT, "bad block length %llu",
                            (unsigned long long)n);
    const uint8_t *out = blk + MS_BLOCK_HEADER;
    if (codec != MS_CODEC_NONE) {
        if (*cap < n) {
            uint8_t *grown = realloc(*buf, n);
            if (!grown)
                return ms_error_set(err, MS_ERR_NOMEM, "block of %llu bytes",
                                    (unsigned long long)n);
            *buf = grown;
            *cap = n;
        }
        if (codec == MS_CODEC_ZLIB
                ? s_inflate(blk + MS_BLOCK_HEADER, body, *buf, n) < 0
                : LZ4_decompress_safe((const char *)blk + MS_BLOCK_HEADER,
                                      (char *)*buf, (int)body,
                                      (int)n) != (int)n)
            return ms_error_set(err, MS_ERR_CORRUPT,
                                "block does not decompress");
        out = *buf;
    }
    if (s_crc32(out, n) != s_get32(blk + 16))
        return ms_error_set(err, MS_ERR_CORRUPT, "CRC mismatch");
    *raw = out;
    *raw_len = n;
    return 0;
}

int ms_block_decode(const uint8_t *blk, size_t len, uint8_t **raw,
                    size_t *raw_len, ms_error_t *err)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    const uint8_t *view;
    *raw = NULL;
    *raw_len = 0;
    int rc = ms_block_view(blk, len, &view, raw_len, &buf, &cap, err);
    if (rc == 0 && *raw_len && view != buf) {
        buf = malloc(*raw_len);
        if (buf)
            memcpy(buf, view, *raw_len);
        else
            rc =
                ms_error_set(err, MS_ERR_NOMEM, "block of %zu bytes", *raw_len);
    }
    if (rc < 0) {
        free(buf);
        *raw_len = 0;
        return rc;
    }
    *raw = buf;
    return 0;
}
