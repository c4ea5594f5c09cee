/* Shuffle block encoding: header, CRC32 and raw deflate from zlib. */
#include "shuffle/block.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define S_MAGIC 0x3142534Du /* "MSB1" */

/* ---- CRC-32 ----------------------------------------------------------------
 * Every block is checksummed once when written and once when fetched, and
 * zlib's table-driven crc32 (about 6 GB/s) is then a third of the writer's
 * time. Carry-less multiplication folds 64 bytes per step into the same
 * CRC-32 several times faster (Intel's "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ"; constants for the reflected polynomial
 * 0xEDB88320 from that paper, as the Linux kernel and Chromium's zlib use
 * them). zlib still does the unaligned tail and CPUs without PCLMULQDQ. */

#if defined(__x86_64__)
/* The raw (not inverted) CRC register after folding len bytes into crc;
 * len is a multiple of 16 and at least 64. With dst, the bytes are also
 * copied there as they are loaded, so a stored block costs one pass. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
s_crc32_fold(uint32_t crc, const uint8_t *p, size_t len, uint8_t *dst)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
    const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);
    const __m128i mask32 = _mm_setr_epi32(~0, 0, ~0, 0);
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 0));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    if (dst) {
        _mm_storeu_si128((__m128i *)(dst + 0), x1);
        _mm_storeu_si128((__m128i *)(dst + 16), x2);
        _mm_storeu_si128((__m128i *)(dst + 32), x3);
        _mm_storeu_si128((__m128i *)(dst + 48), x4);
        dst += 64;
    }
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
        __m128i d1 = _mm_loadu_si128((const __m128i *)(p + 0));
        __m128i d2 = _mm_loadu_si128((const __m128i *)(p + 16));
        __m128i d3 = _mm_loadu_si128((const __m128i *)(p + 32));
        __m128i d4 = _mm_loadu_si128((const __m128i *)(p + 48));
        if (dst) {
            _mm_storeu_si128((__m128i *)(dst + 0), d1);
            _mm_storeu_si128((__m128i *)(dst + 16), d2);
            _mm_storeu_si128((__m128i *)(dst + 32), d3);
            _mm_storeu_si128((__m128i *)(dst + 48), d4);
            dst += 64;
        }
        __m128i y1 = _mm_clmulepi64_si128(x1, k1k2, 0x00);
        __m128i y2 = _mm_clmulepi64_si128(x2, k1k2, 0x00);
        __m128i y3 = _mm_clmulepi64_si128(x3, k1k2, 0x00);
        __m128i y4 = _mm_clmulepi64_si128(x4, k1k2, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k1k2, 0x11);
        x2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
        x3 = _mm_clmulepi64_si128(x3, k1k2, 0x11);
        x4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, y1), d1);
        x2 = _mm_xor_si128(_mm_xor_si128(x2, y2), d2);
        x3 = _mm_xor_si128(_mm_xor_si128(x3, y3), d3);
        x4 = _mm_xor_si128(_mm_xor_si128(x4, y4), d4);
    }
    /* Fold the four lanes into one, then any further 16-byte blocks. */
    __m128i next[3] = {x2, x3, x4};
    for (int i = 0; i < 3; i++) {
        __m128i lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, next[i]), lo);
    }
    for (; len >= 16; p += 16, len -= 16) {
        __m128i d = _mm_loadu_si128((const __m128i *)p);
        if (dst) {
            _mm_storeu_si128((__m128i *)dst, d);
            dst += 16;
        }
        __m128i lo = _mm_clmulepi64_si128(x1, k3k4, 0x00);
        x1 = _mm_clmulepi64_si128(x1, k3k4, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(x1, lo), d);
    }
    /* 128 -> 64 bits, then Barrett reduction to 32. */
    __m128i t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), k5, 0x00);
    x1 = _mm_xor_si128(x1, t);
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, t), 1);
}
#endif

/* CRC-32 of p[0..len), as zlib's crc32(0, p, len); with dst, also copies
 * the bytes to dst[0..len). */
static uint32_t s_crc32(const uint8_t *p, size_t len, uint8_t *dst)
{
    uLong crc = 0;
#if defined(__x86_64__)
    size_t bulk = len & ~(size_t)15;
    if (bulk >= 64 && __builtin_cpu_supports("pclmul") &&
        __builtin_cpu_supports("sse4.1")) {
        crc = ~s_crc32_fold(~(uint32_t)0, p, bulk, dst);
        p += bulk;
        len -= bulk;
        dst = dst ? dst + bulk : NULL;
    }
#endif
    if (dst) memcpy(dst, p, len);
    return (uint32_t)crc32_z(crc, p, len);
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

int ms_block_encode(const void *raw, size_t len, ms_codec_t codec, int level,
                    uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len == 0) return 0;
    if (len > MS_BLOCK_MAX_RAW) return MS_ERR_OVERFLOW;
    size_t cap = codec == MS_CODEC_ZLIB ? deflateBound(NULL, (uLong)len) : len;
    uint8_t *blk = malloc(MS_BLOCK_HEADER + cap);
    if (!blk) return MS_ERR_NOMEM;
    size_t body = cap;
    /* A stored body is copied by the CRC pass itself, in one sweep. */
    uint8_t *copy = codec == MS_CODEC_ZLIB ? NULL : blk + MS_BLOCK_HEADER;
    if (codec == MS_CODEC_ZLIB) {
        int rc = s_deflate(raw, len, level, blk + MS_BLOCK_HEADER, &body);
        if (rc < 0) {
            free(blk);
            return rc;
        }
    }
    s_put32(blk, S_MAGIC);
    blk[4] = (uint8_t)codec;
    blk[5] = blk[6] = blk[7] = 0;
    s_put64(blk + 8, len);
    s_put32(blk + 16, s_crc32(raw, len, copy));
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
    if (codec > MS_CODEC_ZLIB || blk[5] || blk[6] || blk[7])
        return ms_error_set(err, MS_ERR_CORRUPT, "unknown block codec %u",
                            codec);
    /* Deflate expands at most ~1032:1; a header claiming more is lying, and
     * must not make us allocate what it claims. */
    if (n == 0 || n > MS_BLOCK_MAX_RAW ||
        (codec == MS_CODEC_NONE && n != body) ||
        (codec == MS_CODEC_ZLIB && n > (uint64_t)body * 1032 + 64))
        return ms_error_set(err, MS_ERR_CORRUPT, "bad block length %llu",
                            (unsigned long long)n);
    const uint8_t *out = blk + MS_BLOCK_HEADER;
    if (codec == MS_CODEC_ZLIB) {
        if (*cap < n) {
            uint8_t *grown = realloc(*buf, n);
            if (!grown)
                return ms_error_set(err, MS_ERR_NOMEM, "block of %llu bytes",
                                    (unsigned long long)n);
            *buf = grown;
            *cap = n;
        }
        if (s_inflate(blk + MS_BLOCK_HEADER, body, *buf, n) < 0)
            return ms_error_set(err, MS_ERR_CORRUPT, "block does not inflate");
        out = *buf;
    }
    if (s_crc32(out, n, NULL) != s_get32(blk + 16))
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
