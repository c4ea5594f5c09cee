/* The `worker` subcommand: one agent per host in LAN mode. Drivers ask it
 * to start and stop executors on its host, within its cores; it reports
 * how each one ended. */
#ifndef MS_WORKER_H
#define MS_WORKER_H

int ms_worker_main(int argc, char **argv);

#endif
