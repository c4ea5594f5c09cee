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

/* Encodes raw[0..len) into a malloc'ed block; len 0 gives an empty block. */
int ms_block_encode(const void *raw, size_t len, ms_codec_t codec, int level,
                    uint8_t **out, size_t *out_len);

/* Decodes a block into a malloc'ed raw buffer (NULL for an empty block).
 * MS_ERR_CORRUPT (bad magic, codec, length, inflate error, CRC mismatch)
 * with the reason in err. */
int ms_block_decode(const uint8_t *blk, size_t len, uint8_t **raw,
                    size_t *raw_len, ms_error_t *err);

#endif
