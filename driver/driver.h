/* `minispark run`: the driver's entry point. */
#ifndef MS_DRIVER_H
#define MS_DRIVER_H

/* argv[0] is "run". Returns the process exit status (DESIGN.md). */
int ms_driver_main(int argc, char **argv);

#endif
