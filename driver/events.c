/* The listener bus. */
#include "driver/events.h"

#include <time.h>

void ms_bus_subscribe(ms_bus_t *bus, ms_listener_fn *fn, void *arg)
{
    if (bus->n == MS_BUS_MAX_LISTENERS) return;
    bus->l[bus->n].fn = fn;
    bus->l[bus->n].arg = arg;
    bus->n++;
}

void ms_bus_post(ms_bus_t *bus, ms_event_t *ev)
{
    if (!ev->time_ms) ev->time_ms = ms_wall_ms();
    for (int i = 0; i < bus->n; i++)
        bus->l[i].fn(bus->l[i].arg, ev);
}

int64_t ms_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
