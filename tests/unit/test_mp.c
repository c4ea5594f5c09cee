/* Reading a sequence of msgpack objects with one reused zone: objects come
 * in order, offsets advance by each object's bytes, and bytes that fail the
 * sanity check (a cut object, a container claiming more than the bytes)
 * are refused up front. */
#include <criterion/criterion.h>

#include "common/mp.h"

static void s_pack_three(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_array(&pk, 2);
        msgpack_pack_int(&pk, i);
        ms_mp_pack_str(&pk, i == 1 ? "one" : "x");
    }
}

Test(mp, sequence_gives_each_object_in_order)
{
    msgpack_sbuffer sb;
    s_pack_three(&sb);
    ms_mp_seq_t seq;
    cr_assert(ms_mp_seq_init(&seq, sb.data, sb.size));
    msgpack_object o;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ms_mp_seq_next(&seq, &o), 1, "object %d", i);
        const msgpack_object *items;
        int64_t v;
        cr_assert(ms_mp_array(&o, 2, &items, NULL));
        cr_assert(ms_mp_int(&items[0], 0, 9, &v));
        cr_assert_eq(v, i);
    }
    cr_assert_eq(seq.off, sb.size);
    cr_assert_eq(ms_mp_seq_next(&seq, &o), 0);
    ms_mp_seq_destroy(&seq);
    msgpack_sbuffer_destroy(&sb);
}

Test(mp, sequence_of_a_cut_object_is_refused_up_front)
{
    msgpack_sbuffer sb;
    s_pack_three(&sb);
    ms_mp_seq_t seq;
    cr_assert_not(ms_mp_seq_init(&seq, sb.data, sb.size - 1));
    msgpack_object o;
    cr_assert_eq(ms_mp_seq_next(&seq, &o), 0);
    ms_mp_seq_destroy(&seq);
    msgpack_sbuffer_destroy(&sb);
}

Test(mp, sequence_refuses_containers_claiming_more_than_the_bytes)
{
    const char huge[] = {(char)0xdd, 0x7f, (char)0xff, (char)0xff, (char)0xff};
    ms_mp_seq_t seq;
    cr_assert_not(ms_mp_seq_init(&seq, huge, sizeof huge));
    msgpack_object o;
    cr_assert_eq(ms_mp_seq_next(&seq, &o), 0);
    ms_mp_seq_destroy(&seq);
}

Test(mp, sequence_reset_reads_other_bytes_with_the_same_zone)
{
    msgpack_sbuffer sb;
    s_pack_three(&sb);
    ms_mp_seq_t seq;
    cr_assert(ms_mp_seq_init(&seq, "", 0));
    msgpack_object o;
    cr_assert_eq(ms_mp_seq_next(&seq, &o), 0);
    for (int round = 0; round < 2; round++) {
        cr_assert(ms_mp_seq_reset(&seq, sb.data, sb.size));
        int n = 0;
        while (ms_mp_seq_next(&seq, &o) == 1)
            n++;
        cr_assert_eq(n, 3);
    }
    ms_mp_seq_destroy(&seq);
    msgpack_sbuffer_destroy(&sb);
}

Test(mp, kept_objects_stay_valid_until_released)
{
    msgpack_sbuffer sb;
    s_pack_three(&sb);
    ms_mp_seq_t seq;
    cr_assert(ms_mp_seq_init(&seq, sb.data, sb.size));
    msgpack_object o[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ms_mp_seq_next_kept(&seq, &o[i]), 1);
    for (int i = 0; i < 3; i++) {
        const msgpack_object *items;
        int64_t v;
        cr_assert(ms_mp_array(&o[i], 2, &items, NULL), "object %d", i);
        cr_assert(ms_mp_int(&items[0], 0, 9, &v));
        cr_assert_eq(v, i);
    }
    ms_mp_seq_release(&seq);
    cr_assert_eq(ms_mp_seq_next_kept(&seq, &o[0]), 0);
    ms_mp_seq_destroy(&seq);
    msgpack_sbuffer_destroy(&sb);
}

/* 128-bit integers: an int when they fit 64 bits, else a 16-byte ext; the
 * decoder takes each in its one form only. */
Test(mp, i128_round_trips_in_its_shortest_form)
{
    const ms_i128_t vals[] = {0,
                              -1,
                              INT64_MAX,
                              INT64_MIN,
                              (ms_i128_t)INT64_MAX + 1,
                              (ms_i128_t)INT64_MIN - 1,
                              (ms_i128_t)1 << 126,
                              -((ms_i128_t)1 << 126)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        ms_mp_pack_i128(&pk, vals[i]);
        bool fits = vals[i] >= INT64_MIN && vals[i] <= INT64_MAX;
        cr_assert_eq(sb.size <= 9, fits, "value %zu: %zu bytes", i, sb.size);
        if (!fits) cr_assert_eq(sb.size, 18u); /* fixext 16 */
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
        ms_i128_t back = 7;
        cr_assert(ms_mp_i128(&up.data, &back));
        cr_assert(back == vals[i], "value %zu", i);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
    }
}

Test(mp, i128_refuses_other_forms)
{
    uint8_t b[16] = {0};
    b[15] = 1; /* 1, which fits 64 bits: not canonical as an ext */
    msgpack_object o = {.type = MSGPACK_OBJECT_EXT};
    o.via.ext.type = MS_MP_EXT_I128;
    o.via.ext.size = 16;
    o.via.ext.ptr = (const char *)b;
    ms_i128_t x;
    cr_assert(!ms_mp_i128(&o, &x));
    b[0] = 1;
    cr_assert(ms_mp_i128(&o, &x));
    o.via.ext.type = 2;
    cr_assert(!ms_mp_i128(&o, &x));
    o.via.ext.type = MS_MP_EXT_I128;
    o.via.ext.size = 15;
    cr_assert(!ms_mp_i128(&o, &x));
    o = (msgpack_object){.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
    o.via.u64 = UINT64_MAX;
    cr_assert(!ms_mp_i128(&o, &x));
    o = (msgpack_object){.type = MSGPACK_OBJECT_FLOAT64};
    o.via.f64 = 1.0;
    cr_assert(!ms_mp_i128(&o, &x));
}

Test(mp, strdup_of_an_empty_string_without_a_pointer)
{
    /* msgpack-c leaves ptr NULL for a zero-length string: copying it must
     * not hand NULL to memchr or memcpy (UBSan's nonnull check). */
    msgpack_object o = {.type = MSGPACK_OBJECT_STR};
    o.via.str.ptr = NULL;
    o.via.str.size = 0;
    char *s = ms_mp_strdup(&o);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "");
    free(s);
}
