/* Plan lifetime and its msgpack codec. The codec is the only way a plan
 * reaches an executor, so the decoder checks every index against the
 * schema: a task never trusts what arrived. */
#include "common/plan.h"

#include <stdlib.h>
#include <string.h>

#include "common/mp.h"

#define MS_PLAN_MAGIC "msplan"
#define MS_PLAN_VERSION 3

ms_plan_t *ms_plan_new(void)
{
    ms_plan_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->csv.delimiter = ',';
    self->csv.quote = '"';
    self->num_partitions = 1;
    self->limit = -1;
    return self;
}

void ms_plan_destroy(ms_plan_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_plan_t *self = *self_p;
    for (int i = 0; i < self->nfilters; i++) {
        ms_filter_t *f = &self->filters[i];
        for (int j = 0; j < f->nvalues; j++)
            if (f->values[j].type == MS_TYPE_STRING)
                free((char *)f->values[j].s);
        free(f->values);
    }
    for (int i = 0; i < self->nkeys; i++)
        free(self->keys[i].name);
    for (int i = 0; i < self->naggs; i++)
        free(self->aggs[i].name);
    free(self->filters);
    free(self->keys);
    free(self->aggs);
    free(self->order);
    free(self->referenced);
    free(self->input_path);
    free(self);
    *self_p = NULL;
}

ms_coltype_t ms_agg_result_type(ms_agg_fn_t fn, ms_coltype_t in)
{
    ms_coltype_t t = in;
    if (fn == MS_AGG_COUNT || fn == MS_AGG_COUNT_DISTINCT) {
        t.type = MS_TYPE_INT64;
        t.scale = 0;
    } else if (fn == MS_AGG_AVG && in.type == MS_TYPE_DECIMAL) {
        /* Spark's is s + 4; the cap keeps results as they always were
         * here (results of up to 38 digits are exact either way). */
        t.scale = in.scale + 4 < MS_DECIMAL_MAX_SCALE ? in.scale + 4
                                                      : MS_DECIMAL_MAX_SCALE;
    } else if (fn == MS_AGG_AVG && in.type != MS_TYPE_NULL) {
        t.type = MS_TYPE_DOUBLE;
    }
    return t;
}

int ms_plan_finish(ms_plan_t *self, ms_error_t *err)
{
    int n = self->schema.ncols;
    free(self->referenced);
    self->referenced = calloc(n > 0 ? (size_t)n : 1, sizeof(bool));
    if (!self->referenced) return ms_error_set(err, MS_ERR_NOMEM, "plan");
    for (int i = 0; i < self->nfilters; i++)
        self->referenced[self->filters[i].col] = true;
    for (int i = 0; i < self->nkeys; i++)
        self->referenced[self->keys[i].col] = true;
    for (int i = 0; i < self->naggs; i++)
        if (self->aggs[i].col >= 0) self->referenced[self->aggs[i].col] = true;
    return 0;
}

static void s_pack_type(msgpack_packer *pk, ms_coltype_t t)
{
    msgpack_pack_int(pk, t.type);
    msgpack_pack_int(pk, t.scale);
}

static void s_pack_filters(msgpack_packer *pk, const ms_plan_t *self)
{
    msgpack_pack_array(pk, self->nfilters);
    for (int i = 0; i < self->nfilters; i++) {
        const ms_filter_t *f = &self->filters[i];
        msgpack_pack_array(pk, 3);
        msgpack_pack_int(pk, f->col);
        msgpack_pack_int(pk, f->op);
        msgpack_pack_array(pk, f->nvalues);
        for (int j = 0; j < f->nvalues; j++)
            ms_mp_pack_value(pk, &f->values[j]);
    }
}

static void s_pack_keys_aggs(msgpack_packer *pk, const ms_plan_t *self)
{
    msgpack_pack_array(pk, self->nkeys);
    for (int i = 0; i < self->nkeys; i++) {
        const ms_key_t *k = &self->keys[i];
        msgpack_pack_array(pk, 7);
        msgpack_pack_int(pk, k->kind);
        msgpack_pack_int(pk, k->col);
        msgpack_pack_int(pk, k->trunc);
        msgpack_pack_int64(pk, k->mod);
        s_pack_type(pk, k->type);
        ms_mp_pack_str(pk, k->name);
    }
    msgpack_pack_array(pk, self->naggs);
    for (int i = 0; i < self->naggs; i++) {
        const ms_agg_t *a = &self->aggs[i];
        msgpack_pack_array(pk, 7);
        msgpack_pack_int(pk, a->fn);
        msgpack_pack_int(pk, a->col);
        s_pack_type(pk, a->in);
        s_pack_type(pk, a->type);
        ms_mp_pack_str(pk, a->name);
    }
}

int ms_plan_pack(const ms_plan_t *self, char **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 9);
    ms_mp_pack_str(&pk, MS_PLAN_MAGIC);
    msgpack_pack_int(&pk, MS_PLAN_VERSION);
    ms_mp_pack_str(&pk, self->input_path);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_int(&pk, (unsigned char)self->csv.delimiter);
    msgpack_pack_int(&pk, (unsigned char)self->csv.quote);
    if (self->csv.header)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_int(&pk, self->csv.mode);
    msgpack_pack_array(&pk, self->schema.ncols);
    for (int i = 0; i < self->schema.ncols; i++) {
        msgpack_pack_array(&pk, 3);
        ms_mp_pack_str(&pk, self->schema.cols[i].name);
        s_pack_type(&pk, self->schema.cols[i].type);
    }
    s_pack_filters(&pk, self);
    s_pack_keys_aggs(&pk, self);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_int(&pk, self->num_partitions);
    msgpack_pack_int(&pk, self->codec);
    msgpack_pack_int(&pk, self->zlib_level);
    msgpack_pack_int64(&pk, self->agg_memory);
    msgpack_pack_int64(&pk, self->limit);
    msgpack_pack_array(&pk, (size_t)self->norder);
    for (int i = 0; i < self->norder; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, self->order[i].col);
        if (self->order[i].desc)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
    const ms_file_id_t *id = &self->input_id;
    msgpack_pack_array(&pk, 5);
    msgpack_pack_int64(&pk, (int64_t)id->host);
    msgpack_pack_int64(&pk, (int64_t)id->dev);
    msgpack_pack_int64(&pk, (int64_t)id->ino);
    msgpack_pack_int64(&pk, id->size);
    msgpack_pack_int64(&pk, id->mtime_ns);
    if (!sb.data) return MS_ERR_NOMEM;
    *out = sb.data;
    *len = sb.size;
    return 0;
}

/* ---- decoding ---------------------------------------------------------- */

static bool s_type(const msgpack_object *o, bool allow_null, ms_coltype_t *t)
{
    int64_t type, scale;
    if (!ms_mp_int(&o[0], allow_null ? MS_TYPE_NULL : MS_TYPE_INT64,
                   MS_TYPE_STRING, &type) ||
        !ms_mp_int(&o[1], 0, MS_DECIMAL_MAX_SCALE, &scale))
        return false;
    t->type = (ms_type_t)type;
    t->scale = (int)scale;
    return true;
}

static bool s_str_into(const msgpack_object *o, char *dst, size_t size)
{
    const char *p;
    uint32_t len;
    if (o->type != MSGPACK_OBJECT_STR || !ms_mp_bytes(o, &p, &len) ||
        len >= size || memchr(p, '\0', len))
        return false;
    memcpy(dst, p, len);
    dst[len] = '\0';
    return true;
}

static bool s_schema(ms_plan_t *self, const msgpack_object *o)
{
    const msgpack_object *cols, *c;
    uint32_t n;
    if (!ms_mp_array(o, -1, &cols, &n) || n > MS_CSV_MAX_COLUMNS) return false;
    self->schema.ncols = (int)n;
    for (uint32_t i = 0; i < n; i++) {
        ms_column_t *col = &self->schema.cols[i];
        if (!ms_mp_array(&cols[i], 3, &c, NULL) ||
            !s_str_into(&c[0], col->name, sizeof col->name) ||
            !s_type(&c[1], true, &col->type))
            return false;
    }
    return true;
}

static bool s_csv(ms_plan_t *self, const msgpack_object *o)
{
    const msgpack_object *c;
    int64_t delim, quote, mode;
    if (!ms_mp_array(o, 4, &c, NULL) || !ms_mp_int(&c[0], 1, 255, &delim) ||
        !ms_mp_int(&c[1], 0, 255, &quote) ||
        !ms_mp_bool(&c[2], &self->csv.header) ||
        !ms_mp_int(&c[3], MS_CSV_PERMISSIVE, MS_CSV_FAILFAST, &mode))
        return false;
    self->csv.delimiter = (char)delim;
    self->csv.quote = (char)quote;
    self->csv.mode = (ms_csv_mode_t)mode;
    return true;
}

static bool s_col(const msgpack_object *o, const ms_plan_t *self, bool opt,
                  int *col)
{
    int64_t v;
    if (!ms_mp_int(o, opt ? -1 : 0, self->schema.ncols - 1, &v)) return false;
    *col = (int)v;
    return true;
}

static bool s_filter(ms_plan_t *self, ms_filter_t *f, const msgpack_object *o)
{
    const msgpack_object *c, *vals;
    uint32_t n;
    int64_t op;
    if (!ms_mp_array(o, 3, &c, NULL) || !s_col(&c[0], self, false, &f->col) ||
        !ms_mp_int(&c[1], MS_OP_EQ, MS_OP_NOT_NULL, &op) ||
        !ms_mp_array(&c[2], -1, &vals, &n) || n > MS_PLAN_MAX_VALUES)
        return false;
    f->op = (ms_op_t)op;
    f->values = calloc(n ? n : 1, sizeof *f->values);
    if (!f->values) return false;
    ms_coltype_t t = self->schema.cols[f->col].type;
    for (uint32_t j = 0; j < n; j++) {
        ms_value_t v;
        if (!ms_mp_value(&vals[j], t, &v)) return false;
        if (v.type == MS_TYPE_STRING) {
            char *copy = malloc(v.len ? v.len : 1);
            if (!copy) return false;
            memcpy(copy, v.s, v.len);
            v.s = copy;
        }
        f->values[f->nvalues++] = v;
    }
    return true;
}

static bool s_key(ms_plan_t *self, ms_key_t *k, const msgpack_object *o)
{
    const msgpack_object *c;
    int64_t kind, trunc;
    if (!ms_mp_array(o, 7, &c, NULL) ||
        !ms_mp_int(&c[0], MS_KEY_COLUMN, MS_KEY_MOD, &kind) ||
        !s_col(&c[1], self, false, &k->col) ||
        !ms_mp_int(&c[2], MS_TRUNC_HOUR, MS_TRUNC_MONTH, &trunc) ||
        !ms_mp_int(&c[3], 0, INT64_MAX, &k->mod) ||
        !s_type(&c[4], true, &k->type) || !(k->name = ms_mp_strdup(&c[6])))
        return false;
    k->kind = (ms_key_kind_t)kind;
    k->trunc = (ms_trunc_t)trunc;
    /* The key's type must be what its column and derivation give. */
    ms_coltype_t col = self->schema.cols[k->col].type;
    if (col.type == MS_TYPE_NULL) return k->type.type == MS_TYPE_NULL;
    if (k->kind == MS_KEY_TRUNC)
        return col.type == MS_TYPE_TIMESTAMP && k->type.type == col.type;
    if (k->kind == MS_KEY_MOD)
        return col.type == MS_TYPE_INT64 && k->type.type == col.type &&
               k->mod > 0;
    return k->type.type == col.type && k->type.scale == col.scale;
}

static bool s_agg(ms_plan_t *self, ms_agg_t *a, const msgpack_object *o)
{
    const msgpack_object *c;
    int64_t fn;
    if (!ms_mp_array(o, 7, &c, NULL) ||
        !ms_mp_int(&c[0], MS_AGG_COUNT, MS_AGG_COUNT_DISTINCT, &fn) ||
        !s_col(&c[1], self, true, &a->col) || !s_type(&c[2], true, &a->in) ||
        !s_type(&c[4], true, &a->type) || !(a->name = ms_mp_strdup(&c[6])))
        return false;
    a->fn = (ms_agg_fn_t)fn;
    if (a->col < 0) return a->fn == MS_AGG_COUNT && a->in.type == MS_TYPE_NULL;
    /* Types must agree with the schema and the function, or a task could
     * index past a table (decimal scales) or misread a state. */
    ms_coltype_t col = self->schema.cols[a->col].type;
    ms_coltype_t want = ms_agg_result_type(a->fn, col);
    if ((a->fn == MS_AGG_SUM || a->fn == MS_AGG_AVG) &&
        (col.type == MS_TYPE_STRING || col.type == MS_TYPE_TIMESTAMP))
        return false;
    return a->in.type == col.type && a->in.scale == col.scale &&
           a->type.type == want.type && a->type.scale == want.scale;
}

/* Decodes an array of n items into calloc'ed storage with one callback. */
#define S_DECODE_LIST(obj, field, count, fn)                                   \
    do {                                                                       \
        const msgpack_object *items_;                                          \
        uint32_t n_;                                                           \
        if (!ms_mp_array((obj), -1, &items_, &n_) || n_ > MS_PLAN_MAX_ITEMS)   \
            goto fail;                                                         \
        self->field = calloc(n_ ? n_ : 1, sizeof *self->field);                \
        if (!self->field) goto fail;                                           \
        for (uint32_t i_ = 0; i_ < n_; i_++) {                                 \
            self->count++;                                                     \
            if (!fn(self, &self->field[i_], &items_[i_])) goto fail;           \
        }                                                                      \
    } while (0)

static bool s_order(ms_plan_t *self, ms_order_t *o, const msgpack_object *obj)
{
    const msgpack_object *f;
    int64_t col;
    if (!ms_mp_array(obj, 2, &f, NULL) ||
        !ms_mp_int(&f[0], 0, self->nkeys + self->naggs - 1, &col) ||
        f[1].type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    o->col = (int)col;
    o->desc = f[1].via.boolean;
    return true;
}

static bool s_file_id(ms_file_id_t *id, const msgpack_object *obj)
{
    const msgpack_object *f;
    int64_t v[5];
    if (!ms_mp_array(obj, 5, &f, NULL)) return false;
    for (int i = 0; i < 5; i++)
        if (!ms_mp_int(&f[i], INT64_MIN, INT64_MAX, &v[i])) return false;
    *id = (ms_file_id_t){(uint64_t)v[0], (uint64_t)v[1], (uint64_t)v[2], v[3],
                         v[4]};
    return id->size >= 0;
}

static int s_unpack(ms_plan_t *self, const msgpack_object *root,
                    ms_error_t *err)
{
    const msgpack_object *o, *tail;
    const char *magic;
    uint32_t mlen;
    int64_t version, parts, codec, level, memory, limit;
    if (!ms_mp_array(root, 9, &o, NULL) || !ms_mp_bytes(&o[0], &magic, &mlen) ||
        mlen != strlen(MS_PLAN_MAGIC) || memcmp(magic, MS_PLAN_MAGIC, mlen) ||
        !ms_mp_int(&o[1], MS_PLAN_VERSION, MS_PLAN_VERSION, &version) ||
        !(self->input_path = ms_mp_strdup(&o[2])) || !s_csv(self, &o[3]) ||
        !s_schema(self, &o[4]))
        goto fail;
    S_DECODE_LIST(&o[5], filters, nfilters, s_filter);
    S_DECODE_LIST(&o[6], keys, nkeys, s_key);
    S_DECODE_LIST(&o[7], aggs, naggs, s_agg);
    if (!ms_mp_array(&o[8], 7, &tail, NULL) ||
        !s_file_id(&self->input_id, &tail[6]) ||
        !ms_mp_int(&tail[0], 1, MS_PLAN_MAX_PARTITIONS, &parts) ||
        !ms_mp_int(&tail[1], MS_CODEC_NONE, MS_CODEC_LZ4, &codec) ||
        !ms_mp_int(&tail[2], 0, 9, &level) ||
        !ms_mp_int(&tail[3], 0, INT64_MAX, &memory) ||
        !ms_mp_int(&tail[4], -1, INT64_MAX, &limit) || self->naggs < 1)
        goto fail;
    self->agg_memory = memory;
    self->limit = limit;
    S_DECODE_LIST(&tail[5], order, norder, s_order);
    self->num_partitions = (int)parts;
    self->codec = (ms_codec_t)codec;
    self->zlib_level = (int)level;
    return ms_plan_finish(self, err);
fail:
    return ms_error_set(err, MS_ERR_PROTO, "malformed plan");
}

int ms_plan_unpack(ms_plan_t **out, const char *buf, size_t len,
                   ms_error_t *err)
{
    msgpack_unpacked up;
    size_t off = 0;
    ms_plan_t *self = ms_plan_new();
    if (!self) return ms_error_set(err, MS_ERR_NOMEM, "plan");
    msgpack_unpacked_init(&up);
    int rc = MS_ERR_PROTO;
    if (!ms_mp_sane(buf, len) ||
        msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len)
        ms_error_set(err, MS_ERR_PROTO,
                     "malformed plan: not one msgpack object");
    else
        rc = s_unpack(self, &up.data, err);
    msgpack_unpacked_destroy(&up);
    if (rc < 0) {
        ms_plan_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}
