/* An insert-only hash map from byte strings to dense indexes 0, 1, 2, ...
 * in insertion order: the storage under the aggregation table (group key ->
 * group index) and under count_distinct sets. Open addressing with stored
 * hashes; keys live in one growing arena. Callers supply the hash, so a key
 * is hashed once per row however many structures it touches. */
#ifndef MS_BYTEMAP_H
#define MS_BYTEMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_bytemap ms_bytemap_t;

ms_bytemap_t *ms_bytemap_new(void);
void ms_bytemap_destroy(ms_bytemap_t **self_p);

/* Forgets every key and gives back the memory they took (the slots shrink
 * to their first size). */
void ms_bytemap_clear(ms_bytemap_t *self);

/* Index of key, inserting it if absent (*is_new tells which). Returns -1
 * when memory runs out. */
int64_t ms_bytemap_put(ms_bytemap_t *self, const void *key, uint32_t len,
                       uint64_t hash, int *is_new);

/* Starts loading the slot where a key with this hash would be probed first:
 * a hint for callers that know their next keys. */
void ms_bytemap_prefetch(const ms_bytemap_t *self, uint64_t hash);
/* Once that slot is loaded: the index of the entry it names when the hash
 * matches (probably the key's), with that entry starting to load; -1 when
 * the slot tells nothing. */
int64_t ms_bytemap_prefetch_entry(const ms_bytemap_t *self, uint64_t hash);

uint32_t ms_bytemap_count(const ms_bytemap_t *self);
/* The key of entry idx: borrowed, valid until the next put. */
const uint8_t *ms_bytemap_key(const ms_bytemap_t *self, uint32_t idx,
                              uint32_t *len);
uint64_t ms_bytemap_hash(const ms_bytemap_t *self, uint32_t idx);
/* Bytes of memory held (slots, entries and arena). */
size_t ms_bytemap_memory(const ms_bytemap_t *self);

/* The hash every caller uses (XXH3, 64 bits). */
uint64_t ms_hash_bytes(const void *p, size_t len);

#endif
