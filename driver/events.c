/* The listener bus. */
#include "driver/events.h"

void ms_bus_subscribe(ms_bus_t *bus, ms_listener_fn *fn, void *arg)
{
    if (bus->n == MS_BUS_MAX_LISTENERS) return;
    bus->l[bus->n].fn = fn;
    bus->l[bus->n].arg = arg;
    bus->n++;
}

void ms_bus_post(ms_bus_t *bus, ms_event_t *ev)
{
    if (!ev->time_ms) ev->time_ms = ms_clock_wall_ms();
    for (int i = 0; i < bus->n; i++)
        bus->l[i].fn(bus->l[i].arg, ev);
}
