/* One partition's block in a map output file: a fixed little-endian header
 *   magic "MSB1" u32 | codec u8 | 3 zero bytes | raw length u64 | CRC32 u32
 * followed by the (zlib raw-deflate or stored) msgpack rows. An empty
 * partition is a zero-length block. The decoder treats blocks as hostile:
 * every length is checked before use and the CRC covers the raw bytes. */
#ifndef MS_BLOCK_H
#define MS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/plan.h"

#define MS_BLOCK_HEADER 20
/* Largest raw block we agree to inflate (guards allocation on bad input). */
#define MS_BLOCK_MAX_RAW ((uint64_t)1 << 31)

/* The header of a block of codec holding raw[0..len) (len > 0), for a
 * writer that sends a stored body from where it lies. */
void ms_block_header(uint8_t *hdr, ms_codec_t codec, const void *raw,
                     size_t len);

/* Encodes raw[0..len) into a malloc'ed block; len 0 gives an empty block. */
int ms_block_encode(const void *raw, size_t len, ms_codec_t codec, int level,
                    uint8_t **out, size_t *out_len);

/* Checks a block and finds its raw bytes, copying nothing it need not: for
 * a stored block *raw points into blk itself; a deflated one is inflated
 * into *buf, which is grown (realloc) to *cap bytes as needed and stays the
 * caller's to reuse for the next block and to free. *raw is valid while blk
 * and *buf are; NULL and 0 for an empty block. MS_ERR_CORRUPT (bad magic,
 * codec, length, inflate error, CRC mismatch) with the reason in err. */
int ms_block_view(const uint8_t *blk, size_t len, const uint8_t **raw,
                  size_t *raw_len, uint8_t **buf, size_t *cap, ms_error_t *err);

/* The same into a malloc'ed raw buffer of the caller's (NULL for an empty
 * block). */
int ms_block_decode(const uint8_t *blk, size_t len, uint8_t **raw,
                    size_t *raw_len, ms_error_t *err);

#endif
