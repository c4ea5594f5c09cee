/* Weighted max-min fair shares of a worker's cores: pure arithmetic, so
 * that the policy is tested without processes. */
#ifndef MS_FAIR_H
#define MS_FAIR_H

/* Gives each of n applications share[i] cores of `cores`: never more than
 * its demand[i], and the cores handed out one at a time to the
 * application with the smallest share per unit of weight[i] (>= 1) that
 * still wants more (ties: the lower index, i.e. the earlier one). That is
 * weighted max-min fairness in whole cores: nobody can get more without
 * taking from someone with a smaller weighted share. */
void ms_fair_shares(const int *demand, const int *weight, int n, int cores,
                    int *share);

#endif
