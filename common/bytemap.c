/* Open-addressing byte-string map. Slots hold (entry index + 1, upper hash
 * bits) so most probes that miss never touch the key arena. */
#include "common/bytemap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

typedef struct {
    uint32_t idx1; /* entry index + 1; 0 = empty */
    uint32_t tag;  /* upper 32 bits of the hash */
} s_slot_t;

typedef struct {
    uint64_t hash;
    uint64_t off; /* into the arena */
    uint32_t len;
} s_entry_t;

struct ms_bytemap {
    s_slot_t *slots;
    uint32_t mask;
    s_entry_t *entries;
    uint32_t count, cap;
    uint8_t *arena;
    size_t used, size;
};

uint64_t ms_hash_bytes(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

ms_bytemap_t *ms_bytemap_new(void)
{
    ms_bytemap_t *self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->mask = 255;
    self->slots = calloc(self->mask + 1, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    return self;
}

void ms_bytemap_destroy(ms_bytemap_t **self_p)
{
    if (!self_p || !*self_p) return;
    ms_bytemap_t *self = *self_p;
    free(self->slots);
    free(self->entries);
    free(self->arena);
    free(self);
    *self_p = NULL;
}

void ms_bytemap_clear(ms_bytemap_t *self)
{
    free(self->entries);
    free(self->arena);
    self->entries = NULL;
    self->arena = NULL;
    self->count = self->cap = 0;
    self->used = self->size = 0;
    if (self->mask > 255) {
        s_slot_t *slots = calloc(256, sizeof *slots);
        if (slots) {
            free(self->slots);
            self->slots = slots;
            self->mask = 255;
            return;
        }
    }
    memset(self->slots, 0, ((size_t)self->mask + 1) * sizeof *self->slots);
}

static int s_grow_slots(ms_bytemap_t *self)
{
    uint32_t mask = self->mask * 2 + 1;
    size_t bytes = ((size_t)mask + 1) * sizeof(s_slot_t);
    s_slot_t *slots;
    if (bytes >= (2u << 20)) {
        slots = aligned_alloc(2u << 20, bytes);
        if (slots) {
            madvise(slots, bytes, MADV_HUGEPAGE);
            memset(slots, 0, bytes);
        }
    } else {
        slots = calloc((size_t)mask + 1, sizeof *slots);
    }
    if (!slots) return -1;
    for (uint32_t i = 0; i < self->count; i++) {
        uint64_t h = self->entries[i].hash;
        uint32_t pos = (uint32_t)h & mask;
        while (slots[pos].idx1)
            pos = (pos + 1) & mask;
        slots[pos].idx1 = i + 1;
        slots[pos].tag = (uint32_t)(h >> 32);
    }
    free(self->slots);
    self->slots = slots;
    self->mask = mask;
    return 0;
}

static int s_append(ms_bytemap_t *self, const void *key, uint32_t len,
                    uint64_t hash)
{
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 256;
        s_entry_t *e = realloc(self->entries, (size_t)cap * sizeof *e);
        if (!e) return -1;
        self->entries = e;
        self->cap = cap;
    }
    if (self->used + len > self->size) {
        size_t size = self->size ? self->size * 2 : 4096;
        while (size < self->used + len)
            size *= 2;
        uint8_t *a = realloc(self->arena, size);
        if (!a) return -1;
        self->arena = a;
        self->size = size;
    }
    if (len) memcpy(self->arena + self->used, key, len);
    self->entries[self->count] = (s_entry_t){hash, self->used, len};
    self->used += len;
    return (int)self->count++;
}

int64_t ms_bytemap_put(ms_bytemap_t *self, const void *key, uint32_t len,
                       uint64_t hash, int *is_new)
{
    uint32_t tag = (uint32_t)(hash >> 32);
    uint32_t pos = (uint32_t)hash & self->mask;
    for (;; pos = (pos + 1) & self->mask) {
        s_slot_t *s = &self->slots[pos];
        if (!s->idx1) break;
        if (s->tag != tag) continue;
        const s_entry_t *e = &self->entries[s->idx1 - 1];
        if (e->len == len &&
            (len == 0 || memcmp(self->arena + e->off, key, len) == 0)) {
            *is_new = 0;
            return s->idx1 - 1;
        }
    }
    if (s_append(self, key, len, hash) < 0) return -1;
    self->slots[pos].idx1 = self->count;
    self->slots[pos].tag = tag;
    *is_new = 1;
    /* Keep the load factor at or below 1/2: probes stay short. */
    if ((uint64_t)self->count * 2 > self->mask && s_grow_slots(self) < 0)
        return -1;
    return self->count - 1;
}

void ms_bytemap_prefetch(const ms_bytemap_t *self, uint64_t hash)
{
    __builtin_prefetch(&self->slots[(uint32_t)hash & self->mask]);
}

int64_t ms_bytemap_prefetch_entry(const ms_bytemap_t *self, uint64_t hash)
{
    const s_slot_t *s = &self->slots[(uint32_t)hash & self->mask];
    if (!s->idx1 || s->tag != (uint32_t)(hash >> 32)) return -1;
    const s_entry_t *e = &self->entries[s->idx1 - 1];
    __builtin_prefetch(e);
    return s->idx1 - 1;
}

uint32_t ms_bytemap_count(const ms_bytemap_t *self)
{
    return self->count;
}

const uint8_t *ms_bytemap_key(const ms_bytemap_t *self, uint32_t idx,
                              uint32_t *len)
{
    *len = self->entries[idx].len;
    return self->arena + self->entries[idx].off;
}

uint64_t ms_bytemap_hash(const ms_bytemap_t *self, uint32_t idx)
{
    return self->entries[idx].hash;
}

size_t ms_bytemap_memory(const ms_bytemap_t *self)
{
    return ((size_t)self->mask + 1) * sizeof(s_slot_t) +
           (size_t)self->cap * sizeof(s_entry_t) + self->size;
}
