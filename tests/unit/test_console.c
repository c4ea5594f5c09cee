/* The console's live line: its text, and when it is (not) redrawn. */
#include <criterion/criterion.h>
#include <string.h>

#include "driver/console.h"

Test(console, line_shows_stage_tasks_and_executors_like_spark)
{
    ms_console_line_t l = {.stage = 0,
                           .stage_name = "map",
                           .done = 12,
                           .running = 4,
                           .total = 40,
                           .executors = 4,
                           .target = 6,
                           .min = 1,
                           .max = 20,
                           .input_mb_per_s = 312.44};
    char buf[256];
    ms_console_format(buf, sizeof buf, &l);
    cr_assert_str_eq(buf, "[Stage 0: map (12 + 4) / 40] executors 4 "
                          "(target 6, min 1, max 20) 312.4 MB/s");
}

Test(console, static_allocation_has_no_bounds)
{
    ms_console_line_t l = {.stage = 1,
                           .stage_name = "reduce",
                           .done = 0,
                           .running = 2,
                           .total = 8,
                           .executors = 2,
                           .target = 2,
                           .min = -1,
                           .max = -1};
    char buf[256];
    ms_console_format(buf, sizeof buf, &l);
    cr_assert_str_eq(buf, "[Stage 1: reduce (0 + 2) / 8] executors 2 "
                          "(target 2) 0.0 MB/s");
}

Test(console, short_buffer_is_truncated_not_overrun)
{
    ms_console_line_t l = {.stage_name = "map", .max = -1};
    char buf[8];
    memset(buf, 'x', sizeof buf);
    int n = ms_console_format(buf, sizeof buf, &l);
    cr_assert_gt(n, 7);
    cr_assert_eq(buf[7], '\0');
}

Test(console, nothing_is_redrawn_without_a_tty)
{
    cr_assert_not(ms_console_due(false, false, 10000, 0));
}

Test(console, nothing_is_redrawn_when_quiet)
{
    cr_assert_not(ms_console_due(true, true, 10000, 0));
}

Test(console, redrawn_at_most_five_times_a_second)
{
    cr_assert(ms_console_due(true, false, 1000, 0));
    cr_assert_not(ms_console_due(true, false, 1199, 1000));
    cr_assert(ms_console_due(true, false, 1200, 1000));
}
