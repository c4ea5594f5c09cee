/* Behaviour of the byte-string map under the aggregation table: dense
 * indexes in insertion order, keys compared by their bytes (not by their
 * hash), growth, and the zero-length key a global aggregate uses. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "common/bytemap.h"

static int64_t s_put(ms_bytemap_t *map, const char *key, int *is_new)
{
    return ms_bytemap_put(map, key, (uint32_t)strlen(key),
                          ms_hash_bytes(key, strlen(key)), is_new);
}

static void s_expect_key(const ms_bytemap_t *map, uint32_t idx, const void *key,
                         uint32_t len)
{
    uint32_t got_len = 0;
    const uint8_t *got = ms_bytemap_key(map, idx, &got_len);
    cr_assert_eq(got_len, len, "entry %u has length %u, expected %u", idx,
                 got_len, len);
    cr_assert(len == 0 || memcmp(got, key, len) == 0, "entry %u differs", idx);
}

Test(bytemap, new_map_is_empty_and_destroy_nulls_the_pointer)
{
    ms_bytemap_t *map = ms_bytemap_new();
    cr_assert_not_null(map);
    cr_assert_eq(ms_bytemap_count(map), 0);
    cr_assert_gt(ms_bytemap_memory(map), 0);
    ms_bytemap_destroy(&map);
    cr_assert_null(map);
    ms_bytemap_destroy(&map);
    ms_bytemap_destroy(NULL);
}

Test(bytemap, put_gives_dense_indexes_in_insertion_order)
{
    ms_bytemap_t *map = ms_bytemap_new();
    const char *keys[] = {"banana", "apple", "cherry", "a", "ab"};
    int is_new = -1;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(s_put(map, keys[i], &is_new), i);
        cr_assert_eq(is_new, 1);
        cr_assert_eq(ms_bytemap_count(map), (uint32_t)i + 1);
    }
    for (int i = 0; i < 5; i++) {
        s_expect_key(map, (uint32_t)i, keys[i], (uint32_t)strlen(keys[i]));
        cr_assert_eq(ms_bytemap_hash(map, (uint32_t)i),
                     ms_hash_bytes(keys[i], strlen(keys[i])));
    }
    ms_bytemap_destroy(&map);
}

Test(bytemap, put_of_a_present_key_finds_it_without_inserting)
{
    ms_bytemap_t *map = ms_bytemap_new();
    int is_new = -1;
    s_put(map, "x", &is_new);
    s_put(map, "y", &is_new);
    cr_assert_eq(s_put(map, "x", &is_new), 0);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(s_put(map, "y", &is_new), 1);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(ms_bytemap_count(map), 2);
    ms_bytemap_destroy(&map);
}

Test(bytemap, keys_are_bytes_not_c_strings)
{
    ms_bytemap_t *map = ms_bytemap_new();
    const char a[] = {'k', '\0', 'a'}, b[] = {'k', '\0', 'b'};
    int is_new;
    int64_t ia = ms_bytemap_put(map, a, 3, ms_hash_bytes(a, 3), &is_new);
    int64_t ib = ms_bytemap_put(map, b, 3, ms_hash_bytes(b, 3), &is_new);
    int64_t ik = ms_bytemap_put(map, "k", 1, ms_hash_bytes("k", 1), &is_new);
    cr_assert_eq(ia, 0);
    cr_assert_eq(ib, 1);
    cr_assert_eq(ik, 2);
    s_expect_key(map, 1, b, 3);
    ms_bytemap_destroy(&map);
}

Test(bytemap, grows_past_many_thousands_of_keys)
{
    enum { N = 200000 };
    ms_bytemap_t *map = ms_bytemap_new();
    size_t before = ms_bytemap_memory(map);
    char key[32];
    int is_new;
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(ms_bytemap_put(map, key, (uint32_t)n,
                                    ms_hash_bytes(key, (size_t)n), &is_new),
                     i);
        cr_assert_eq(is_new, 1);
    }
    cr_assert_eq(ms_bytemap_count(map), N);
    cr_assert_gt(ms_bytemap_memory(map), before);
    /* Every key is still found at its index, and read back intact. */
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "key-%d", i);
        cr_assert_eq(ms_bytemap_put(map, key, (uint32_t)n,
                                    ms_hash_bytes(key, (size_t)n), &is_new),
                     i);
        cr_assert_eq(is_new, 0);
        s_expect_key(map, (uint32_t)i, key, (uint32_t)n);
    }
    cr_assert_eq(ms_bytemap_count(map), N);
    ms_bytemap_destroy(&map);
}

Test(bytemap, keys_with_equal_hashes_stay_distinct)
{
    enum { N = 3000 };
    const uint64_t hash = 0x1234567800000042ull;
    ms_bytemap_t *map = ms_bytemap_new();
    char key[32];
    int is_new;
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof key, "%d", i);
        cr_assert_eq(ms_bytemap_put(map, key, (uint32_t)n, hash, &is_new), i);
        cr_assert_eq(is_new, 1, "key %s collided with an older one", key);
    }
    for (int i = N - 1; i >= 0; i--) {
        int n = snprintf(key, sizeof key, "%d", i);
        cr_assert_eq(ms_bytemap_put(map, key, (uint32_t)n, hash, &is_new), i);
        cr_assert_eq(is_new, 0);
        s_expect_key(map, (uint32_t)i, key, (uint32_t)n);
    }
    ms_bytemap_destroy(&map);
}

Test(bytemap, a_prefix_with_the_same_hash_is_another_key)
{
    ms_bytemap_t *map = ms_bytemap_new();
    int is_new;
    cr_assert_eq(ms_bytemap_put(map, "abc", 3, 7, &is_new), 0);
    cr_assert_eq(ms_bytemap_put(map, "ab", 2, 7, &is_new), 1);
    cr_assert_eq(ms_bytemap_put(map, "abcd", 4, 7, &is_new), 2);
    cr_assert_eq(ms_bytemap_put(map, "", 0, 7, &is_new), 3);
    cr_assert_eq(ms_bytemap_put(map, "ab", 2, 7, &is_new), 1);
    cr_assert_eq(is_new, 0);
    ms_bytemap_destroy(&map);
}

Test(bytemap, zero_length_key_first_is_a_key_like_any_other)
{
    ms_bytemap_t *map = ms_bytemap_new();
    uint64_t h0 = ms_hash_bytes("", 0);
    int is_new;
    cr_assert_eq(ms_bytemap_put(map, "", 0, h0, &is_new), 0);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(ms_bytemap_put(map, "", 0, h0, &is_new), 0);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(s_put(map, "a", &is_new), 1);
    cr_assert_eq(ms_bytemap_put(map, "\0", 1, ms_hash_bytes("\0", 1), &is_new),
                 2);
    cr_assert_eq(ms_bytemap_put(map, "", 0, h0, &is_new), 0);
    cr_assert_eq(is_new, 0);
    s_expect_key(map, 0, "", 0);
    cr_assert_eq(ms_bytemap_count(map), 3);
    ms_bytemap_destroy(&map);
}

Test(bytemap, hash_is_deterministic_and_sees_every_byte)
{
    cr_assert_eq(ms_hash_bytes("abc", 3), ms_hash_bytes("abc", 3));
    cr_assert_neq(ms_hash_bytes("abc", 3), ms_hash_bytes("abd", 3));
    cr_assert_neq(ms_hash_bytes("abc", 3), ms_hash_bytes("abc", 2));
    cr_assert_neq(ms_hash_bytes("", 0), ms_hash_bytes("\0", 1));
}
