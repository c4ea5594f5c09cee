/* Water-filling one core at a time: n and cores are small (a handful of
 * applications, tens of cores), so clarity beats a closed form. */
#include "worker/fair.h"

void ms_fair_shares(const int *demand, const int *weight, int n, int cores,
                    int *share)
{
    for (int i = 0; i < n; i++)
        share[i] = 0;
    for (int c = 0; c < cores; c++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (share[i] >= demand[i]) continue;
            /* share[i]/weight[i] < share[best]/weight[best], exactly */
            if (best < 0 || (long long)share[i] * weight[best] <
                                (long long)share[best] * weight[i])
                best = i;
        }
        if (best < 0) return;
        share[best]++;
    }
}
