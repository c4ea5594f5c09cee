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
