/* The map output registry: registration, losses (stale ones ignored by
 * epoch), moves (only of the copy registered on the executor that moves
 * it), counts per executor and the locations reduce tasks get. */
#include <criterion/criterion.h>

#include <string.h>

#include "driver/map_outputs.h"

static ms_map_outputs_t *s_reg;

static void s_setup(void)
{
    s_reg = ms_map_outputs_new(4);
    cr_assert_not_null(s_reg);
}

static void s_teardown(void)
{
    ms_map_outputs_destroy(&s_reg);
    cr_assert_null(s_reg);
}

TestSuite(map_outputs, .init = s_setup, .fini = s_teardown);

Test(map_outputs, nothing_is_registered_at_first)
{
    for (int m = 0; m < 4; m++) {
        cr_assert_not(ms_map_outputs_registered(s_reg, m));
        cr_assert_null(ms_map_outputs_where(s_reg, m));
        cr_assert_eq(ms_map_outputs_exec(s_reg, m), -1);
    }
    cr_assert_eq(ms_map_outputs_epoch(s_reg), 0);
    cr_assert_not(ms_map_outputs_registered(s_reg, -1));
    cr_assert_not(ms_map_outputs_registered(s_reg, 4));
    cr_assert_not(ms_map_outputs_register(s_reg, 4, "tcp://a:1", 0));
}

Test(map_outputs, registration_bumps_the_epoch)
{
    cr_assert(ms_map_outputs_register(s_reg, 0, "tcp://a:1", 0));
    cr_assert(ms_map_outputs_register(s_reg, 1, "tcp://b:2", 1));
    cr_assert_eq(ms_map_outputs_epoch(s_reg), 2);
    cr_assert_eq(ms_map_outputs_since(s_reg, 1), 2);
    cr_assert_str_eq(ms_map_outputs_where(s_reg, 1), "tcp://b:2");
    cr_assert_eq(ms_map_outputs_exec(s_reg, 1), 1);
    cr_assert_eq(ms_map_outputs_on(s_reg, 0), 1);
    cr_assert_eq(ms_map_outputs_on(s_reg, 7), 0);
}

Test(map_outputs, a_loss_reported_before_a_newer_copy_is_stale)
{
    ms_map_outputs_register(s_reg, 0, "tcp://a:1", 0);
    int64_t seen = ms_map_outputs_epoch(s_reg);
    /* the map ran again elsewhere after the reporter launched */
    ms_map_outputs_lose(s_reg, 0, seen);
    ms_map_outputs_register(s_reg, 0, "tcp://b:2", 1);
    cr_assert_not(ms_map_outputs_lose(s_reg, 0, seen));
    cr_assert_str_eq(ms_map_outputs_where(s_reg, 0), "tcp://b:2");
    cr_assert(ms_map_outputs_lose(s_reg, 0, ms_map_outputs_epoch(s_reg)));
    cr_assert_not(ms_map_outputs_registered(s_reg, 0));
    cr_assert_not(ms_map_outputs_lose(s_reg, 0, ms_map_outputs_epoch(s_reg)));
}

Test(map_outputs, only_the_registered_copy_moves)
{
    ms_map_outputs_register(s_reg, 2, "tcp://a:1", 0);
    int64_t before = ms_map_outputs_epoch(s_reg);
    /* executor 1 holds an older attempt's copy: nothing changes */
    cr_assert_eq(ms_map_outputs_move(s_reg, 2, 1, "tcp://c:3", 3), 0);
    cr_assert_eq(ms_map_outputs_epoch(s_reg), before);
    cr_assert_eq(ms_map_outputs_move(s_reg, 2, 0, "file:///fallback/app", -1),
                 1);
    cr_assert_str_eq(ms_map_outputs_where(s_reg, 2), "file:///fallback/app");
    cr_assert_eq(ms_map_outputs_exec(s_reg, 2), -1);
    cr_assert_eq(ms_map_outputs_on(s_reg, 0), 0);
    /* a reducer launched before the move reports it lost: stale */
    cr_assert_not(ms_map_outputs_lose(s_reg, 2, before));
    cr_assert_eq(ms_map_outputs_move(s_reg, 3, 0, "tcp://c:3", 3), 0,
                 "an output never registered does not move");
}

Test(map_outputs, reduce_tasks_get_the_locations_of_now)
{
    ms_map_outputs_register(s_reg, 0, "tcp://a:1", 0);
    ms_map_outputs_register(s_reg, 1, "tcp://a:1", 0);
    ms_task_loc_t *locs = ms_map_outputs_locs(s_reg);
    cr_assert_eq(locs[1].map, 1);
    cr_assert_str_eq(locs[1].endpoint, "tcp://a:1");
    cr_assert_str_eq(locs[3].endpoint, "");
    ms_map_outputs_move(s_reg, 1, 0, "tcp://b:2", 1);
    locs = ms_map_outputs_locs(s_reg);
    cr_assert_str_eq(locs[0].endpoint, "tcp://a:1");
    cr_assert_str_eq(locs[1].endpoint, "tcp://b:2");
    ms_map_outputs_lose(s_reg, 0, ms_map_outputs_epoch(s_reg));
    cr_assert_str_eq(ms_map_outputs_locs(s_reg)[0].endpoint, "");
}
