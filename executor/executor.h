/* The executor process: registers with the driver, heartbeats, runs up to
 * `cores` tasks at a time on threads of its own, and (without an external
 * shuffle service) serves its own map outputs. It exits when told to stop,
 * or by itself when the driver has been silent for three heartbeats. */
#ifndef MS_EXECUTOR_H
#define MS_EXECUTOR_H

/* `minispark executor --driver E --app-id A --executor-id N --dir D
 *  [--cores C] [--heartbeat-ms H] [--shuffle-endpoint E] [--host H]` */
int ms_executor_main(int argc, char **argv);

#endif
