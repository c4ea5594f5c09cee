/* msgpack helpers shared by every codec: checked accessors that treat the
 * decoded object as untrusted (type and range checked, never asserted), and
 * packers for our typed values. */
#ifndef MS_MP_H
#define MS_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/value.h"

/* True when buf[0..len) is a sequence of whole msgpack objects in which no
 * array or map claims more elements than bytes remain. msgpack-c allocates
 * a container's declared size before reading it, so untrusted bytes pass
 * this check first: five bytes must not ask for gigabytes. */
bool ms_mp_sane(const char *buf, size_t len);

/* A sequence of msgpack objects in one buffer (rows of a block), decoded
 * one at a time into one reused zone: msgpack_unpack_next frees and
 * allocates a zone for every object, which costs more than decoding a
 * small row. Objects borrow from the buffer and the zone, and are valid
 * until the next call. */
typedef struct {
    msgpack_zone zone;
    bool zoned; /* zone initialised */
    const char *data;
    size_t len, off;
} ms_mp_seq_t;

/* False when the bytes fail ms_mp_sane or memory runs out; destroy it
 * either way. */
bool ms_mp_seq_init(ms_mp_seq_t *self, const void *data, size_t len);
/* Moves an initialised sequence to other bytes, keeping its zone; false
 * when they fail ms_mp_sane (the sequence is then empty). */
bool ms_mp_seq_reset(ms_mp_seq_t *self, const void *data, size_t len);
/* 1 with *out set, 0 at the end, -1 on undecodable bytes. */
int ms_mp_seq_next(ms_mp_seq_t *self, msgpack_object *out);
/* As ms_mp_seq_next, but the objects read before stay valid too, until
 * ms_mp_seq_release: for callers that work on a batch of objects. */
int ms_mp_seq_next_kept(ms_mp_seq_t *self, msgpack_object *out);
void ms_mp_seq_release(ms_mp_seq_t *self);
void ms_mp_seq_destroy(ms_mp_seq_t *self);

/* Integer (positive or negative msgpack int) within [min, max]. */
bool ms_mp_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out);
bool ms_mp_bool(const msgpack_object *o, bool *out);
/* String or bin: borrowed pointer into the unpacked zone. */
bool ms_mp_bytes(const msgpack_object *o, const char **p, uint32_t *len);
/* NUL-terminated malloc'ed copy of a string (no embedded NULs); NULL on a
 * type error or out of memory. */
char *ms_mp_strdup(const msgpack_object *o);
/* Copies a string that fits dst with its terminator and holds no NUL;
 * false (dst untouched) otherwise. */
bool ms_mp_str(const msgpack_object *o, char *dst, size_t size);
/* Array with exactly n elements (n < 0: any), giving its items. */
bool ms_mp_array(const msgpack_object *o, int n, const msgpack_object **items,
                 uint32_t *count);

void ms_mp_pack_str(msgpack_packer *pk, const char *s);
void ms_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len);
/* A 128-bit integer (sum states, wide decimals): an int when it fits 64
 * bits, else ext type MS_MP_EXT_I128 of 16 bytes, big-endian two's
 * complement, which then never fits 64 bits (one encoding per value). */
#define MS_MP_EXT_I128 1
void ms_mp_pack_i128(msgpack_packer *pk, ms_i128_t x);
/* Decodes either form; false for anything else, a non-canonical ext
 * included. */
bool ms_mp_i128(const msgpack_object *o, ms_i128_t *out);

/* Packs a value: nil, int (int64/decimal/timestamp; a wide decimal as
 * ms_mp_pack_i128), float64, str. */
void ms_mp_pack_value(msgpack_packer *pk, const ms_value_t *v);
/* Decodes a value that must be of column type t or nil; strings borrow
 * from the zone. */
bool ms_mp_value(const msgpack_object *o, ms_coltype_t t, ms_value_t *out);
/* As ms_mp_value, but a decimal may also be wide (result columns of sum and
 * avg over decimals), up to MS_DECIMAL_RESULT_DIGITS digits; its bytes are
 * borrowed from the object. */
bool ms_mp_wide_value(const msgpack_object *o, ms_coltype_t t, ms_value_t *out);

#endif
