/* Behaviour of the shuffle block codec: round trips for each codec, and a
 * decoder that never hands back bytes other than those encoded, whatever
 * was flipped, cut or claimed in the header. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "shuffle/block.h"

typedef struct {
    ms_codec_t codec;
    int level;
} s_codec_t;

static const s_codec_t s_codecs[] = {{MS_CODEC_NONE, 0},
                                     {MS_CODEC_ZLIB, 1},
                                     {MS_CODEC_ZLIB, 6},
                                     {MS_CODEC_LZ4, 0}};
#define S_NCODECS 4

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Text-like, compressible bytes of length n. */
static uint8_t *s_text(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)("row,key,42.50\n"[i % 14]);
    return p;
}

/* Random, incompressible bytes of length n. */
static uint8_t *s_noise(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
    return p;
}

static void s_encode(const uint8_t *raw, size_t len, s_codec_t c, uint8_t **blk,
                     size_t *blk_len)
{
    cr_assert_eq(ms_block_encode(raw, len, c.codec, c.level, blk, blk_len), 0);
}

static void s_round_trip(const uint8_t *raw, size_t len, s_codec_t c)
{
    uint8_t *blk, *out;
    size_t blk_len, out_len;
    ms_error_t err = {0};
    s_encode(raw, len, c, &blk, &blk_len);
    cr_assert_geq(blk_len, MS_BLOCK_HEADER);
    cr_assert_eq(ms_block_decode(blk, blk_len, &out, &out_len, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(out_len, len);
    cr_assert_eq(memcmp(out, raw, len), 0);
    free(out);
    free(blk);
}

Test(block, round_trips_for_every_codec)
{
    const size_t sizes[] = {1, 2, 100, 4096, 65537, 1 << 20};
    for (int c = 0; c < S_NCODECS; c++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint8_t *text = s_text(sizes[s]), *noise = s_noise(sizes[s]);
            s_round_trip(text, sizes[s], s_codecs[c]);
            s_round_trip(noise, sizes[s], s_codecs[c]);
            free(text);
            free(noise);
        }
    }
}

Test(block, header_holds_magic_codec_length_and_crc)
{
    uint8_t *raw = s_text(1000);
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk;
        size_t blk_len;
        s_encode(raw, 1000, s_codecs[c], &blk, &blk_len);
        cr_assert_eq(memcmp(blk, "MSB1", 4), 0);
        cr_assert_eq(blk[4], s_codecs[c].codec);
        cr_assert(blk[5] == 0 && blk[6] == 0 && blk[7] == 0);
        cr_assert_eq(s_get32(blk + 8), 1000);
        cr_assert_eq(s_get32(blk + 12), 0);
        cr_assert_eq(s_get32(blk + 16), (uint32_t)crc32(0L, raw, 1000));
        if (s_codecs[c].codec == MS_CODEC_NONE) {
            cr_assert_eq(blk_len, MS_BLOCK_HEADER + 1000);
            cr_assert_eq(memcmp(blk + MS_BLOCK_HEADER, raw, 1000), 0);
        } else {
            cr_assert_lt(blk_len, MS_BLOCK_HEADER + 200, "text did not shrink");
        }
        free(blk);
    }
    free(raw);
}

/* The header's CRC is zlib's crc32, and a stored body the input, whatever
 * the length and alignment (the encoder folds and copies 64-byte steps with
 * carry-less multiplication and leaves the tail to zlib, so every length
 * around those steps matters). */
Test(block, crc_matches_zlib_for_every_length_and_alignment)
{
    uint8_t *noise = s_noise(70000);
    const size_t big[] = {4096, 65536, 65537, 69999 - 15};
    for (size_t len = 1; len <= 600 + 4; len++) {
        for (size_t at = 0; at < 16; at += (len < 300 ? 1 : 5)) {
            uint8_t *blk;
            size_t n;
            s_encode(noise + at, len, s_codecs[0], &blk, &n);
            cr_assert_eq(s_get32(blk + 16),
                         (uint32_t)crc32(0L, noise + at, (uInt)len),
                         "length %zu at offset %zu", len, at);
            cr_assert_eq(n, MS_BLOCK_HEADER + len);
            cr_assert_eq(memcmp(blk + MS_BLOCK_HEADER, noise + at, len), 0,
                         "body of length %zu at offset %zu", len, at);
            free(blk);
        }
    }
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        uint8_t *blk;
        size_t n;
        s_encode(noise + 3, big[i], s_codecs[0], &blk, &n);
        cr_assert_eq(s_get32(blk + 16),
                     (uint32_t)crc32(0L, noise + 3, (uInt)big[i]));
        free(blk);
    }
    free(noise);
}

Test(block, empty_block_is_zero_bytes_and_decodes_to_nothing)
{
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk = (uint8_t *)1, *out = (uint8_t *)1;
        size_t blk_len = 99, out_len = 99;
        cr_assert_eq(ms_block_encode("", 0, s_codecs[c].codec,
                                     s_codecs[c].level, &blk, &blk_len),
                     0);
        cr_assert_null(blk);
        cr_assert_eq(blk_len, 0);
        ms_error_t err = {0};
        cr_assert_eq(ms_block_decode(blk, 0, &out, &out_len, &err), 0);
        cr_assert_null(out);
        cr_assert_eq(out_len, 0);
    }
}

Test(block, view_points_into_a_stored_block_and_reuses_the_inflate_buffer)
{
    uint8_t *text = s_text(5000), *buf = NULL;
    size_t cap = 0;
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk;
        size_t len, raw_len;
        const uint8_t *raw;
        ms_error_t err = {0};
        s_encode(text, 5000, s_codecs[c], &blk, &len);
        cr_assert_eq(ms_block_view(blk, len, &raw, &raw_len, &buf, &cap, &err),
                     0, "%s", err.msg);
        cr_assert_eq(raw_len, 5000);
        cr_assert_eq(memcmp(raw, text, 5000), 0);
        if (s_codecs[c].codec == MS_CODEC_NONE)
            cr_assert_eq(raw, blk + MS_BLOCK_HEADER, "stored body was copied");
        else
            cr_assert(raw == buf && cap >= 5000);
        /* A later block with a wrong CRC: no view, the buffer stays the
         * caller's. */
        blk[16] ^= 0x40;
        cr_assert_eq(ms_block_view(blk, len, &raw, &raw_len, &buf, &cap, &err),
                     MS_ERR_CORRUPT);
        cr_assert_null(raw);
        cr_assert_eq(raw_len, 0);
        free(blk);
    }
    free(buf);
    free(text);
}

/* Decodes and checks the one acceptable outcome besides rejection: success
 * with exactly the original bytes. Returns 1 when rejected. */
static int s_decode_rejects(const uint8_t *blk, size_t len, const uint8_t *raw,
                            size_t raw_len, const char *what, size_t where)
{
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 99;
    ms_error_t err = {0};
    int rc = ms_block_decode(blk, len, &out, &out_len, &err);
    if (rc == 0) {
        cr_assert(out_len == raw_len && memcmp(out, raw, raw_len) == 0,
                  "%s at %zu decoded to different bytes", what, where);
        free(out);
        return 0;
    }
    cr_assert_eq(rc, MS_ERR_CORRUPT, "%s at %zu: %d (%s)", what, where, rc,
                 err.msg);
    cr_assert_eq(err.code, MS_ERR_CORRUPT);
    cr_assert_null(out, "%s at %zu: output set on failure", what, where);
    cr_assert_eq(out_len, 0);
    return 1;
}

Test(block, every_single_byte_corruption_is_caught)
{
    static const uint8_t masks[] = {0x01, 0x02, 0x10, 0x80, 0xff};
    uint8_t *raw = s_text(300);
    raw[7] = 0x00;
    raw[100] = 0xfe;
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk;
        size_t len;
        s_encode(raw, 300, s_codecs[c], &blk, &len);
        int accepted = 0;
        for (size_t i = 0; i < len; i++) {
            for (size_t m = 0; m < sizeof masks; m++) {
                blk[i] ^= masks[m];
                accepted += !s_decode_rejects(blk, len, raw, 300, "flip", i);
                blk[i] ^= masks[m];
            }
        }
        /* A stored block has no slack at all; a deflate stream may carry
         * ignored padding bits in its last byte, and only there. */
        if (s_codecs[c].codec == MS_CODEC_NONE)
            cr_assert_eq(accepted, 0, "stored block accepted a corruption");
        else
            cr_assert_leq(accepted, (int)sizeof masks,
                          "level %d: %d corruptions accepted",
                          s_codecs[c].level, accepted);
        free(blk);
    }
    free(raw);
}

Test(block, truncated_blocks_are_rejected)
{
    uint8_t *raw = s_noise(500);
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk;
        size_t len;
        s_encode(raw, 500, s_codecs[c], &blk, &len);
        for (size_t cut = 1; cut < len; cut++) {
            /* A copy of exactly the prefix, so a read past it is caught. */
            uint8_t *prefix = malloc(cut);
            memcpy(prefix, blk, cut);
            cr_assert(s_decode_rejects(prefix, cut, raw, 500, "cut", cut));
            free(prefix);
        }
        free(blk);
    }
    free(raw);
}

Test(block, trailing_bytes_are_rejected)
{
    uint8_t *raw = s_text(500);
    for (int c = 0; c < S_NCODECS; c++) {
        uint8_t *blk;
        size_t len;
        s_encode(raw, 500, s_codecs[c], &blk, &len);
        uint8_t *longer = malloc(len + 3);
        memcpy(longer, blk, len);
        memcpy(longer + len, "xyz", 3);
        cr_assert(s_decode_rejects(longer, len + 3, raw, 500, "extra", len));
        free(longer);
        free(blk);
    }
    free(raw);
}

/* A header claiming `raw_len` bytes, with a small stored or deflated body. */
static uint8_t *s_forged(ms_codec_t codec, uint64_t raw_len, size_t *len)
{
    uint8_t *raw = s_text(64), *blk;
    size_t n;
    cr_assert_eq(ms_block_encode(raw, 64, codec, 6, &blk, &n), 0);
    s_put64(blk + 8, raw_len);
    free(raw);
    *len = n;
    return blk;
}

Test(block, raw_length_above_the_limit_is_rejected_before_allocation)
{
    const uint64_t lens[] = {MS_BLOCK_MAX_RAW + 1, (uint64_t)1 << 40,
                             UINT64_MAX};
    for (int c = 0; c <= MS_CODEC_LZ4; c++) {
        for (int i = 0; i < 3; i++) {
            size_t len;
            uint8_t *blk = s_forged((ms_codec_t)c, lens[i], &len);
            uint8_t *out = (uint8_t *)1;
            size_t out_len;
            ms_error_t err = {0};
            /* An attempt to allocate UINT64_MAX bytes would be NOMEM. */
            cr_assert_eq(ms_block_decode(blk, len, &out, &out_len, &err),
                         MS_ERR_CORRUPT, "codec %d, length %llu: %s", c,
                         (unsigned long long)lens[i], err.msg);
            cr_assert_null(out);
            free(blk);
        }
    }
}

Test(block, raw_length_that_disagrees_with_the_body_is_rejected)
{
    const uint64_t lens[] = {0, 1, 63, 65, 4096};
    for (int c = 0; c <= MS_CODEC_LZ4; c++) {
        for (int i = 0; i < 5; i++) {
            size_t len;
            uint8_t *blk = s_forged((ms_codec_t)c, lens[i], &len);
            uint8_t *out;
            size_t out_len;
            ms_error_t err = {0};
            cr_assert_eq(ms_block_decode(blk, len, &out, &out_len, &err),
                         MS_ERR_CORRUPT, "codec %d, length %llu", c,
                         (unsigned long long)lens[i]);
            free(blk);
        }
    }
}

Test(block, unknown_codec_and_reserved_bytes_are_rejected)
{
    uint8_t *raw = s_text(64);
    uint8_t *blk;
    size_t len;
    s_encode(raw, 64, s_codecs[0], &blk, &len);
    const struct {
        int at;
        uint8_t v;
    } edits[] = {{4, 3}, {4, 0xff}, {5, 1}, {6, 1}, {7, 0x80}};
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        uint8_t saved = blk[edits[e].at];
        blk[edits[e].at] = edits[e].v;
        cr_assert(s_decode_rejects(blk, len, raw, 64, "edit", (size_t)e));
        blk[edits[e].at] = saved;
    }
    free(blk);
    free(raw);
}

Test(block, short_or_foreign_headers_are_rejected)
{
    uint8_t junk[MS_BLOCK_HEADER + 8];
    memset(junk, 0, sizeof junk);
    for (size_t n = 1; n <= sizeof junk; n++)
        cr_assert(s_decode_rejects(junk, n, NULL, 0, "zeros", n));
    memcpy(junk, "MSB2", 4);
    cr_assert(s_decode_rejects(junk, sizeof junk, NULL, 0, "magic", 0));
    memcpy(junk, "1BSM", 4);
    cr_assert(s_decode_rejects(junk, sizeof junk, NULL, 0, "magic", 0));
}
