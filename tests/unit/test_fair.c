/* Weighted max-min fair shares of a worker's cores. */
#include <criterion/criterion.h>

#include "worker/fair.h"

static void s_expect(const int *demand, const int *weight, int n, int cores,
                     const int *want)
{
    int share[8];
    ms_fair_shares(demand, weight, n, cores, share);
    for (int i = 0; i < n; i++)
        cr_expect_eq(share[i], want[i], "app %d: share %d, want %d", i,
                     share[i], want[i]);
}

Test(fair, equal_weights_split_evenly)
{
    s_expect((int[]){4, 4}, (int[]){1, 1}, 2, 4, (int[]){2, 2});
    s_expect((int[]){2, 1}, (int[]){1, 1}, 2, 2, (int[]){1, 1});
}

Test(fair, small_demand_is_met_and_the_rest_goes_to_the_others)
{
    /* max-min: B wants 1, gets 1; A and C share the other 5. */
    s_expect((int[]){9, 1, 9}, (int[]){1, 1, 1}, 3, 6, (int[]){3, 1, 2});
}

Test(fair, weights_scale_the_shares)
{
    s_expect((int[]){9, 9}, (int[]){2, 1}, 2, 6, (int[]){4, 2});
    s_expect((int[]){1, 9}, (int[]){3, 1}, 2, 6, (int[]){1, 5});
}

Test(fair, never_more_than_the_cores_or_the_demand)
{
    s_expect((int[]){1, 0}, (int[]){1, 1}, 2, 4, (int[]){1, 0});
    s_expect((int[]){5}, (int[]){1}, 1, 2, (int[]){2});
    s_expect((int[]){0}, (int[]){1}, 1, 0, (int[]){0});
}

Test(fair, ties_go_to_the_earlier_application)
{
    s_expect((int[]){3, 3}, (int[]){1, 1}, 2, 3, (int[]){2, 1});
}
