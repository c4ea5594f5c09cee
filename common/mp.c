/* Checked msgpack accessors and value packers. */
#include "common/mp.h"

#include <stdlib.h>
#include <string.h>

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Size of the header at p (0 if invalid), its payload bytes and how many
 * child objects follow. */
static int s_header(const uint8_t *p, size_t left, uint64_t *payload,
                    uint64_t *children)
{
    static const uint8_t fixed[32] = {
        /* 0xc0..0xdf: header size incl. length bytes; 0 = special */
        1, 0, 1, 1, 2, 3, 5, 3,  4,  6, 5, 9, 2, 3, 5, 9,
        2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5};
    uint8_t b = p[0];
    *payload = *children = 0;
    if (b <= 0x7f || b >= 0xe0) return 1;
    if (b <= 0x8f) return *children = 2u * (b & 0x0f), 1;
    if (b <= 0x9f) return *children = b & 0x0f, 1;
    if (b <= 0xbf) return *payload = b & 0x1f, 1;
    int h = fixed[b - 0xc0];
    if (h == 0 || (size_t)h > left) return 0;
    switch (b) {
    case 0xc4:
    case 0xd9:
        *payload = p[1];
        break;
    case 0xc5:
    case 0xda:
        *payload = s_be(p + 1, 2);
        break;
    case 0xc6:
    case 0xdb:
        *payload = s_be(p + 1, 4);
        break;
    case 0xc7:
        *payload = p[1];
        break;
    case 0xc8:
        *payload = s_be(p + 1, 2);
        break;
    case 0xc9:
        *payload = s_be(p + 1, 4);
        break;
    case 0xdc:
        *children = s_be(p + 1, 2);
        break;
    case 0xdd:
        *children = s_be(p + 1, 4);
        break;
    case 0xde:
        *children = 2 * s_be(p + 1, 2);
        break;
    case 0xdf:
        *children = 2 * s_be(p + 1, 4);
        break;
    default:
        break;
    }
    return h;
}

bool ms_mp_sane(const char *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)buf;
    size_t pos = 0;
    uint64_t pending = 0;
    while (pos < len || pending > 0) {
        if (pos >= len) return false;
        if (pending == 0) pending = 1;
        uint64_t payload, children;
        int h = s_header(p + pos, len - pos, &payload, &children);
        if (h == 0) return false;
        pos += (size_t)h;
        pending--;
        if (payload > len - pos) return false;
        pos += (size_t)payload;
        /* every element needs at least one byte */
        if (children > len - pos || pending + children > len - pos)
            return false;
        pending += children;
    }
    return true;
}

bool ms_mp_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out)
{
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX) return false;
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return false;
    }
    if (v < min || v > max) return false;
    *out = v;
    return true;
}

bool ms_mp_bool(const msgpack_object *o, bool *out)
{
    if (o->type != MSGPACK_OBJECT_BOOLEAN) return false;
    *out = o->via.boolean;
    return true;
}

bool ms_mp_bytes(const msgpack_object *o, const char **p, uint32_t *len)
{
    if (o->type == MSGPACK_OBJECT_STR) {
        *p = o->via.str.ptr;
        *len = o->via.str.size;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_BIN) {
        *p = o->via.bin.ptr;
        *len = o->via.bin.size;
        return true;
    }
    return false;
}

char *ms_mp_strdup(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR) return NULL;
    const char *p = o->via.str.ptr;
    uint32_t len = o->via.str.size;
    /* An empty string may have no pointer at all: memchr and memcpy must
     * not see it. */
    if (len && memchr(p, '\0', len)) return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s) return NULL;
    if (len) memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

bool ms_mp_str(const msgpack_object *o, char *dst, size_t size)
{
    uint32_t len = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : 0;
    /* An empty string may have no pointer at all. */
    if (o->type != MSGPACK_OBJECT_STR || len >= size ||
        (len && memchr(o->via.str.ptr, '\0', len)))
        return false;
    if (len) memcpy(dst, o->via.str.ptr, len);
    dst[len] = '\0';
    return true;
}

bool ms_mp_array(const msgpack_object *o, int n, const msgpack_object **items,
                 uint32_t *count)
{
    if (o->type != MSGPACK_OBJECT_ARRAY) return false;
    if (n >= 0 && o->via.array.size != (uint32_t)n) return false;
    *items = o->via.array.ptr;
    if (count) *count = o->via.array.size;
    return true;
}

void ms_mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s ? s : "", len);
}

void ms_mp_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

void ms_mp_pack_i128(msgpack_packer *pk, ms_i128_t x)
{
    if (x >= INT64_MIN && x <= INT64_MAX) {
        msgpack_pack_int64(pk, (int64_t)x);
        return;
    }
    uint8_t b[16];
    ms_i128_store(b, x);
    msgpack_pack_ext(pk, sizeof b, MS_MP_EXT_I128);
    msgpack_pack_ext_body(pk, b, sizeof b);
}

bool ms_mp_i128(const msgpack_object *o, ms_i128_t *out)
{
    int64_t v;
    if (ms_mp_int(o, INT64_MIN, INT64_MAX, &v)) {
        *out = v;
        return true;
    }
    if (o->type != MSGPACK_OBJECT_EXT || o->via.ext.type != MS_MP_EXT_I128 ||
        o->via.ext.size != 16)
        return false;
    ms_i128_t x = ms_i128_load((const uint8_t *)o->via.ext.ptr);
    if (x >= INT64_MIN && x <= INT64_MAX) return false;
    *out = x;
    return true;
}

void ms_mp_pack_value(msgpack_packer *pk, const ms_value_t *v)
{
    if (v->type == MS_TYPE_DECIMAL && v->len == MS_VALUE_WIDE) {
        ms_mp_pack_i128(pk, ms_value_i128(v));
        return;
    }
    switch (v->type) {
    case MS_TYPE_INT64:
    case MS_TYPE_DECIMAL:
    case MS_TYPE_TIMESTAMP:
        msgpack_pack_int64(pk, v->i);
        return;
    case MS_TYPE_DOUBLE:
        msgpack_pack_double(pk, v->d);
        return;
    case MS_TYPE_STRING:
        msgpack_pack_str(pk, v->len);
        msgpack_pack_str_body(pk, v->s, v->len);
        return;
    default:
        msgpack_pack_nil(pk);
        return;
    }
}

bool ms_mp_value(const msgpack_object *o, ms_coltype_t t, ms_value_t *out)
{
    memset(out, 0, sizeof *out);
    if (o->type == MSGPACK_OBJECT_NIL) return true;
    out->type = (uint8_t)t.type;
    out->scale = (uint8_t)t.scale;
    switch (t.type) {
    case MS_TYPE_INT64:
    case MS_TYPE_DECIMAL:
    case MS_TYPE_TIMESTAMP:
        return ms_mp_int(o, INT64_MIN, INT64_MAX, &out->i);
    case MS_TYPE_DOUBLE:
        if (o->type != MSGPACK_OBJECT_FLOAT64 &&
            o->type != MSGPACK_OBJECT_FLOAT32)
            return false;
        out->d = o->via.f64;
        return true;
    case MS_TYPE_STRING:
        if (o->type != MSGPACK_OBJECT_STR) return false;
        /* msgpack-c may give an empty string a NULL pointer. */
        out->s = o->via.str.size ? o->via.str.ptr : "";
        out->len = o->via.str.size;
        return true;
    default:
        return false;
    }
}

bool ms_mp_wide_value(const msgpack_object *o, ms_coltype_t t, ms_value_t *out)
{
    ms_i128_t x;
    if (t.type != MS_TYPE_DECIMAL || o->type != MSGPACK_OBJECT_EXT)
        return ms_mp_value(o, t, out);
    if (!ms_mp_i128(o, &x) || !ms_i128_fits_digits(x, MS_DECIMAL_RESULT_DIGITS))
        return false;
    memset(out, 0, sizeof *out);
    out->type = MS_TYPE_DECIMAL;
    out->scale = (uint8_t)t.scale;
    out->len = MS_VALUE_WIDE;
    out->s = o->via.ext.ptr;
    return true;
}

bool ms_mp_seq_reset(ms_mp_seq_t *self, const void *data, size_t len)
{
    bool sane = ms_mp_sane(data, len);
    self->data = data;
    self->len = sane ? len : 0;
    self->off = 0;
    return sane;
}

bool ms_mp_seq_init(ms_mp_seq_t *self, const void *data, size_t len)
{
    self->zoned = msgpack_zone_init(&self->zone, MSGPACK_ZONE_CHUNK_SIZE);
    return ms_mp_seq_reset(self, data, len) && self->zoned;
}

int ms_mp_seq_next(ms_mp_seq_t *self, msgpack_object *out)
{
    ms_mp_seq_release(self);
    return ms_mp_seq_next_kept(self, out);
}

void ms_mp_seq_release(ms_mp_seq_t *self)
{
    msgpack_zone_clear(&self->zone);
}

int ms_mp_seq_next_kept(ms_mp_seq_t *self, msgpack_object *out)
{
    if (self->off >= self->len) return 0;
    msgpack_unpack_return r =
        msgpack_unpack(self->data, self->len, &self->off, &self->zone, out);
    return r == MSGPACK_UNPACK_SUCCESS || r == MSGPACK_UNPACK_EXTRA_BYTES ? 1
                                                                          : -1;
}

void ms_mp_seq_destroy(ms_mp_seq_t *self)
{
    if (self->zoned) msgpack_zone_destroy(&self->zone);
    self->zoned = false;
}
