/* Reading the clocks. Policy code never calls these: it takes `now` as a
 * parameter (see driver/allocation.h), so tests drive time by hand; only
 * the event loops and the benchmarks read the real clock, through here. */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stdint.h>

/* Monotonic time, for deadlines and durations. */
int64_t ms_clock_now_ms(void);
int64_t ms_clock_now_us(void);
/* Wall-clock milliseconds since the epoch, for event timestamps only. */
int64_t ms_clock_wall_ms(void);

#endif
